//! Fail fast, say why: before the first read, credentials resolve and the
//! endpoint answers within seconds, or the command exits 1 naming the cause
//! and the fix. Bad input is still exit 3, before any of it. A call that
//! gets no answer later on is retried a bounded number of times, on screen.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// The issue's limit for failing: generous, the point is "seconds, not minutes".
const FAST: Duration = Duration::from_secs(15);

fn timed(cmd: &mut std::process::Command) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = cmd.output().expect("run infra");
    (out, started.elapsed())
}

#[test]
fn an_unreachable_endpoint_fails_in_seconds_naming_it() {
    let env = TestEnv::from_dev("it-unreach", 74);
    let (out, took) = timed(
        env.command(&["plan"])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("INFRA_PREFLIGHT_TIMEOUT"),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < FAST, "took {took:?}: {stderr}");
    assert!(
        stderr.contains("cannot reach AWS at http://127.0.0.1:9: connection refused"),
        "{stderr}"
    );
    assert!(stderr.contains("fix: check AWS_ENDPOINT_URL"), "{stderr}");
    assert!(
        text(&out.stdout).is_empty(),
        "no plan: {}",
        text(&out.stdout)
    );

    // Every command that reads the cloud checks first.
    for args in [
        &["drift"][..],
        &["up", "--yes"],
        &["destroy", "--yes"],
        &["refresh"],
    ] {
        let (out, took) = timed(
            env.command(args)
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                .env_remove("INFRA_PREFLIGHT_TIMEOUT"),
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            took < FAST && text(&out.stderr).contains("cannot reach AWS"),
            "{args:?} took {took:?}: {}",
            text(&out.stderr)
        );
    }

    // A plan that reads nothing (`--refresh=false`, no interrupted run) needs no endpoint.
    let (out, _) = timed(
        env.command(&["plan", "--refresh=false"])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("INFRA_PREFLIGHT_TIMEOUT"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Bad input is found first: exit 3, whatever the endpoint.
    env.edit_plan("nat_gateways = 1", "nat_gateways = 1\nnot_a_key = true");
    let (out, _) = timed(
        env.command(&["plan"])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("INFRA_PREFLIGHT_TIMEOUT"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("cannot reach AWS"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_credentials_fail_in_seconds_naming_them() {
    let env = TestEnv::from_dev("it-nocreds", 75);
    let empty = env.dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let mut cmd = env.command(&["plan"]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    cmd.env_remove("INFRA_PREFLIGHT_TIMEOUT")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let (out, took) = timed(&mut cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < FAST, "took {took:?}: {stderr}");
    assert!(stderr.contains("error: no AWS credentials"), "{stderr}");
    assert!(
        stderr.contains(
            "fix: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set AWS_PROFILE"
        ),
        "{stderr}"
    );
}

#[test]
fn a_call_unanswered_after_the_first_is_retried_a_bounded_number_of_times_on_screen() {
    let env = TestEnv::from_dev("it-blip", 76);
    // The check passes through the proxy; DescribeVpcs is slowed down, and
    // while it is in flight the proxy goes away: that call and every retry
    // get no answer.
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"DescribeVpcs": 60}"#).unwrap();
    let proxy = Proxy::start(&["--latency", latency.to_str().unwrap()]);
    let started = Instant::now();
    let mut child = env
        .command(&["plan"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while proxy.stats()["by_operation"]["DescribeVpcs"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "plan ended before reading VPCs"
        );
        assert!(started.elapsed() < FAST, "no DescribeVpcs within {FAST:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        proxy.stats()["by_operation"]["GetCallerIdentity"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the check went first"
    );
    drop(proxy);
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        took < Duration::from_secs(60),
        "bounded: took {took:?}\n{stderr}"
    );
    assert!(
        stderr.contains("retrying DescribeVpcs (retry 1 of 3)"),
        "each retry is shown: {stderr}"
    );
    assert!(
        stderr.contains("retry 3 of 3") && !stderr.contains("retry 4 of"),
        "at most three: {stderr}"
    );
    assert!(stderr.contains("no answer after 4 tries"), "{stderr}");
}
