//! Crash safety through the fault proxy: kill -9 at many points of `up` and
//! `destroy` (including right after a create reached the emulator and before
//! its answer came back), then rerun; and a run under throttling, 5xx and
//! lost responses. Checked by asking the emulator.

use std::process::Stdio;

use crate::support::*;

fn run_via(env: &TestEnv, proxy: &str, args: &[&str]) -> std::process::Child {
    let mut cmd = env.command(args);
    cmd.env("AWS_ENDPOINT_URL", proxy)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

/// Kills `command` at its k-th mutating call; returns whether it was held.
fn kill_at(env: &TestEnv, args: &[&str], k: u64, seed: u64) -> bool {
    let proxy = Proxy::start(&["--seed", &seed.to_string(), "--hold-at", &k.to_string()]);
    let mut child = run_via(env, &proxy.url, args);
    let held = proxy
        .wait_hold(&mut || child.try_wait().unwrap().is_some())
        .is_some();
    let _ = child.kill();
    let _ = child.wait();
    held
}

async fn assert_converged(env: &TestEnv, sdk: &Sdk, point: &str) {
    env.expect(&["plan", "--detailed-exitcode"], 0);
    let cloud = tagged_addresses(&env.name).await;
    assert!(
        duplicates(&cloud).is_empty(),
        "{point}: duplicates {:?}",
        duplicates(&cloud)
    );
    let state = state_addresses(&env.state_path());
    let orphans: Vec<&String> = cloud.iter().filter(|a| !state.contains(a)).collect();
    assert!(orphans.is_empty(), "{point}: orphans {orphans:?}");
    let _ = sdk;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_every_step_converges_without_duplicates_or_orphans() {
    let env = TestEnv::from_dev("it-kill9", 42);
    let sdk = clients().await;

    // Count the mutating calls of a clean run, through the proxy.
    let proxy = Proxy::start(&["--seed", "1"]);
    let status = run_via(&env, &proxy.url, &["up", "--yes"]).wait().unwrap();
    assert!(status.success());
    let total = proxy.stats()["mutating"].as_u64().unwrap();
    drop(proxy);
    env.expect(&["destroy", "--yes"], 0);
    assert!(total >= 30, "a dev up makes {total} mutating calls");

    // 15 kill points spread over the run, first and last included.
    let points: Vec<u64> = (0..15).map(|i| 1 + i * (total - 1) / 14).collect();
    let mut converged = 0;
    for (i, &k) in points.iter().enumerate() {
        let held = kill_at(&env, &["up", "--yes"], k, 100 + i as u64);
        assert!(held, "the run ended before mutating call {k} of {total}");
        let out = env.expect(&["up", "--yes"], 0);
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("locked by"),
            "a killed run left a lock: {stderr}"
        );
        assert_converged(&env, &sdk, &format!("up killed at call {k}/{total}")).await;
        converged += 1;
        env.expect(&["destroy", "--yes"], 0);
        assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    }
    eprintln!(
        "kill points: {}, converged: {converged}, calls per run: {total}",
        points.len()
    );

    // Destroy killed at 5 points, then rerun.
    env.expect(&["up", "--yes"], 0);
    let proxy = Proxy::start(&["--seed", "2"]);
    let status = run_via(&env, &proxy.url, &["destroy", "--yes"])
        .wait()
        .unwrap();
    assert!(status.success());
    let deletes = proxy.stats()["mutating"].as_u64().unwrap();
    drop(proxy);
    for i in 0..5u64 {
        env.expect(&["up", "--yes"], 0);
        let k = 1 + i * (deletes - 1) / 4;
        assert!(
            kill_at(&env, &["destroy", "--yes"], k, 200 + i),
            "destroy ended before call {k}"
        );
        env.expect(&["destroy", "--yes"], 0);
        assert!(
            ec2_inventory(&sdk.ec2, &env.name).await.is_empty(),
            "destroy killed at {k}: leftovers"
        );
        assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_5xx_and_lost_responses_converge_to_a_clean_inventory() {
    let clean = TestEnv::from_dev("it-clean", 43);
    clean.expect(&["up", "--yes"], 0);
    let want = tagged_addresses(&clean.name).await;
    clean.expect(&["destroy", "--yes"], 0);

    let env = TestEnv::from_dev("it-faulty", 44);
    let proxy = Proxy::start(&[
        "--seed",
        "7",
        "--throttle",
        "0.2",
        "--error5xx",
        "0.05",
        "--drop",
        "0.02",
    ]);
    let out = env
        .command(&["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stats = proxy.stats();
    eprintln!("faults survived: {}", stats["faults"]);
    assert!(stats["faults"]["throttle"].as_u64().unwrap() > 0);
    drop(proxy);
    let got = tagged_addresses(&env.name).await;
    assert!(
        duplicates(&got).is_empty(),
        "duplicates: {:?}",
        duplicates(&got)
    );
    assert_eq!(got, want, "same inventory as a clean run");
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());
}
