//! An operator's day (issue 16): interrupts at the prompt and mid-run,
//! force-unlock and --lock-timeout, outputs from state alone, and drift
//! that sees rules and policies added by hand. Octets 80-84.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Runs a command on a pseudo-terminal, waits for the confirmation prompt,
/// types `answer` (`\x03` is Ctrl-C) and returns the exit code and output.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
answer = sys.argv[1].encode().decode("unicode_escape").encode()
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf = b""
deadline = time.time() + 300
def pump(t):
    global buf
    r, _, _ = select.select([fd], [], [], t)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    buf += data
    return True
while b"Only 'yes' will be accepted" not in buf and time.time() < deadline:
    if not pump(1):
        break
time.sleep(0.3)
os.write(fd, answer)
while time.time() < deadline and pump(5):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
"#;

fn on_pty(cmd: &Command, answer: &str) -> (i32, String) {
    let mut py = Command::new("python3");
    py.arg("-c")
        .arg(PTY_DRIVER)
        .arg(answer)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py.output().expect("python3 pty driver");
    let stdout = text(&out.stdout);
    let code = stdout
        .rsplit("EXIT ")
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(-1);
    (code, stdout)
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    // Generous: the runs go through a slow proxy on a shared machine.
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &std::process::Child, signo: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signo) }, 0);
}

/// (lock id, user, host, pid) of the lock row.
fn lock_row(path: &std::path::Path) -> Option<(String, String, String, i64)> {
    let c = rusqlite::Connection::open(path).ok()?;
    c.query_row("SELECT lock_id, user, host, pid FROM lock", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .ok()
}

fn slow_proxy(env: &TestEnv, seconds: f64) -> Proxy {
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, format!(r#"{{"*": {seconds}}}"#)).unwrap();
    Proxy::start(&["--seed", "16", "--latency", latency.to_str().unwrap()])
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_prompt_cancels_at_once_and_no_exits_1() {
    let env = TestEnv::from_dev("it-prompt", 80);
    let sdk = clients().await;
    let (code, screen) = on_pty(&env.command(&["up"]), "\\x03");
    assert_eq!(code, 130, "{screen}");
    assert!(
        screen.contains("cancelled before any change; nothing was done"),
        "{screen}"
    );
    assert!(
        !screen.contains("Apply complete") && !screen.contains("Apply interrupted"),
        "nothing applied: {screen}"
    );
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
    assert_eq!(
        count(&env.state_path(), "SELECT count(*) FROM lock"),
        0,
        "the lock is released"
    );

    let (code, screen) = on_pty(&env.command(&["up"]), "no\\n");
    assert_eq!(code, 1, "'no' exits 1, as Terraform does: {screen}");
    assert!(
        screen.contains("Apply cancelled: nothing was changed"),
        "{screen}"
    );
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
    let out = env.expect(&["output"], 1);
    assert!(
        text(&out.stderr).contains("has nothing applied"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_and_sigterm_mid_up_drain_and_the_rerun_converges() {
    let env = TestEnv::from_dev("it-sig", 81);
    let proxy = slow_proxy(&env, 0.2);
    let state = env.state_path();
    let rows = |p: &std::path::Path| count(p, "SELECT count(*) FROM resources");
    for (signo, code, name) in [
        (libc::SIGINT, 130, "interrupt (Ctrl-C)"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let before = rows(&state);
        let child = env
            .command(&["up", "--yes"])
            .env("AWS_ENDPOINT_URL", &proxy.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("a few actions to finish", || rows(&state) >= before + 3);
        signal(&child, signo);
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{name}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!("{name}: no new action starts")),
            "{stderr}"
        );
        assert!(
            stdout.contains("Apply interrupted: ") && stdout.contains("finished and are saved"),
            "{stdout}"
        );
        assert!(
            stdout.contains("  done         ") && stdout.contains("  not started  "),
            "says what finished and what did not: {stdout}"
        );
        assert!(stdout.contains("No action was left half-done"), "{stdout}");
        assert_eq!(
            count(
                &state,
                "SELECT count(*) FROM journal WHERE finished_at IS NULL"
            ),
            0,
            "drained: nothing in flight was left"
        );
        assert_eq!(
            count(&state, "SELECT count(*) FROM lock"),
            0,
            "the lock is released"
        );
    }
    drop(proxy);
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        !text(&out.stderr).contains("recovered"),
        "nothing to recover: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("Apply complete"),
        "{}",
        text(&out.stdout)
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    let addresses = tagged_addresses(&env.name).await;
    assert!(
        duplicates(&addresses).is_empty(),
        "duplicates: {:?}",
        duplicates(&addresses)
    );
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn force_unlock_refuses_a_live_holder_and_lock_timeout_waits_for_it() {
    let env = TestEnv::from_dev("it-unlock", 82);
    let proxy = slow_proxy(&env, 0.2);
    let state = env.state_path();
    let mut first = env
        .command(&["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the first up to take the lock", || {
        lock_row(&state).is_some()
    });
    let (lock_id, user, host, pid) = lock_row(&state).unwrap();
    assert_eq!(pid, i64::from(first.id()));
    assert!(
        !user.is_empty() && user != "unknown",
        "the real user: {user}"
    );
    assert!(
        !host.is_empty() && host != "unknown-host",
        "the real host: {host}"
    );

    // A live holder is never unlocked, even with --yes.
    let out = env.expect(&["force-unlock", &lock_id, "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("its holder is still running") && stderr.contains(&format!("(pid {pid})")),
        "{stderr}"
    );
    assert_eq!(
        lock_row(&state).map(|r| r.0),
        Some(lock_id.clone()),
        "still locked"
    );

    // --lock-timeout: too short fails naming the holder; long enough waits, then runs.
    let out = env.expect(&["up", "--yes", "--lock-timeout", "1s"], 1);
    assert!(
        text(&out.stderr).contains("still locked after waiting 1s"),
        "{}",
        text(&out.stderr)
    );
    let out = env.expect(&["up", "--yes", "--lock-timeout", "10m"], 0);
    assert!(
        text(&out.stderr).contains("waiting up to 10m"),
        "{}",
        text(&out.stderr)
    );
    assert!(first.wait().unwrap().success(), "the first finished first");
    drop(proxy);

    // A holder that is gone: asked for (no terminal: --yes is required), then cleared.
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute("INSERT INTO lock(id, lock_id, user, host, pid, command, started_at) VALUES (1, 'gone-1', 'ada', 'elsewhere', 4194000, 'infra up', 0)", [])
        .unwrap();
    let out = env.expect(&["force-unlock", "gone-1"], 3);
    assert!(
        text(&out.stderr).contains("pass --yes to unlock"),
        "{}",
        text(&out.stderr)
    );
    let out = env.expect(&["force-unlock", "gone-1", "--yes"], 0);
    assert!(
        text(&out.stdout).contains("ada@elsewhere"),
        "{}",
        text(&out.stdout)
    );
    assert!(lock_row(&state).is_none());
    env.expect(&["force-unlock", "gone-1", "--yes"], 1);

    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn output_reads_state_alone_keeps_types_and_fails_when_unknown() {
    let env = TestEnv::from_dev("it-output", 83);
    let sdk = clients().await;
    for args in [
        &["output"][..],
        &["output", "--json"],
        &["output", "vpc_id"],
    ] {
        let out = env.expect(args, 1);
        assert!(
            text(&out.stderr).contains("has nothing applied"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).is_empty(),
            "no placeholder on stdout: {}",
            text(&out.stdout)
        );
    }
    env.expect(&["up", "--yes"], 0);

    let doc: Value = serde_json::from_slice(&env.expect(&["output", "--json"], 0).stdout).unwrap();
    assert_eq!(doc["format_version"], 1, "{doc:#}");
    let all = &doc["outputs"];
    let vpc = sdk
        .ec2
        .describe_vpcs()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    assert_eq!(all["vpc_id"], vpc.as_str());
    for list in ["app_subnet_ids", "public_subnet_ids", "data_subnet_ids"] {
        assert_eq!(
            all[list]
                .as_array()
                .map(|a| a.iter().filter(|v| v.is_string()).count()),
            Some(3),
            "{list}: {}",
            all[list]
        );
    }
    let zone = all["zone_id"].as_str().unwrap();
    let ns = sdk.route53.get_hosted_zone().id(zone).send().await.unwrap();
    let want: Vec<Value> = ns
        .delegation_set()
        .unwrap()
        .name_servers()
        .iter()
        .map(|n| Value::from(n.as_str()))
        .collect();
    assert_eq!(all["zone_name_servers"], Value::Array(want), "a list");
    let out = env.expect(&["output", "--raw", "vpc_id"], 0);
    assert_eq!(text(&out.stdout), format!("{vpc}\n"), "--raw: no quotes");

    // State alone: the plan file is not needed.
    let away = env.plan_path().with_extension("away");
    std::fs::rename(env.plan_path(), &away).unwrap();
    let out = env.expect(&["output", "vpc_id"], 0);
    assert_eq!(text(&out.stdout), format!("\"{vpc}\"\n"));
    let listing = text(&env.expect(&["output"], 0).stdout);
    let ca_line = listing
        .lines()
        .find(|l| l.starts_with("cluster_ca_data = "))
        .expect(&listing);
    assert!(
        ca_line.contains("bytes, `infra output cluster_ca_data` prints it)"),
        "{ca_line}"
    );
    assert!(
        listing.lines().all(|l| l.len() < 300),
        "no blob in the listing: {listing}"
    );
    let ca = text(
        &env.expect(&["output", "--raw", "cluster_ca_data"], 0)
            .stdout,
    );
    let cluster = sdk
        .eks
        .describe_cluster()
        .name(format!("todo-{}", env.name))
        .send()
        .await
        .unwrap();
    let want = cluster
        .cluster()
        .unwrap()
        .certificate_authority()
        .unwrap()
        .data()
        .unwrap();
    assert_eq!(ca.trim_end(), want, "whole when asked by name");
    let out = env.expect(&["output", "no_such_output"], 1);
    assert!(
        text(&out.stderr).contains("no output named"),
        "{}",
        text(&out.stderr)
    );
    env.expect(&["output", "--raw"], 3);
    std::fs::rename(&away, env.plan_path()).unwrap();

    env.expect(&["destroy", "--yes"], 0);
    env.expect(&["output"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_and_a_policy_added_by_hand_are_drift_and_up_removes_them() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let env = TestEnv::from_dev("it-byhand", 84);
    let sdk = clients().await;
    env.expect(&["up", "--yes"], 0);
    env.expect(&["drift"], 0);
    let nodes = text(
        &env.expect(&["output", "--raw", "nodes_security_group_id"], 0)
            .stdout,
    )
    .trim()
    .to_string();
    let vpc = text(&env.expect(&["output", "--raw", "vpc_id"], 0).stdout)
        .trim()
        .to_string();
    let ssh = || {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()
    };
    let added = sdk
        .ec2
        .authorize_security_group_ingress()
        .group_id(&nodes)
        .ip_permissions(ssh())
        .send()
        .await
        .unwrap();
    let rule_id = added.security_group_rules()[0]
        .security_group_rule_id()
        .unwrap()
        .to_string();
    let role = format!("todo-{}-node", env.name);
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    sdk.iam
        .attach_role_policy()
        .role_name(&role)
        .policy_arn(admin)
        .send()
        .await
        .unwrap();
    // Not infra's group: its rules are none of infra's business.
    let foreign = sdk
        .ec2
        .create_security_group()
        .group_name(format!("{}-foreign", env.name))
        .description("not infra's")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let foreign = foreign.group_id().unwrap().to_string();
    sdk.ec2
        .authorize_security_group_ingress()
        .group_id(&foreign)
        .ip_permissions(ssh())
        .send()
        .await
        .unwrap();

    let out = env.expect(&["drift", "--json"], 2);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(String, String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("finding"), s("parent"), s("what"), s("id"))
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "added_by_hand".into(),
                "iam_role.node".into(),
                format!("managed policy {admin}"),
                format!("{role}|{admin}")
            ),
            (
                "added_by_hand".into(),
                "security_group.nodes".into(),
                "ingress tcp/22 from 0.0.0.0/0".into(),
                rule_id.clone()
            ),
        ]
    );
    let human = text(&env.expect(&["drift"], 2).stdout);
    assert!(
        human.contains("security_group.nodes: ingress tcp/22 from 0.0.0.0/0"),
        "{human}"
    );
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(plan.contains("ingress tcp/22 from 0.0.0.0/0 added outside infra to security_group.nodes; the plan does not declare it"), "{plan}");
    assert!(
        plan.contains(&format!(
            "managed policy {admin} added outside infra to iam_role.node"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 0 to change, 2 to destroy."),
        "{plan}"
    );

    env.expect(&["up", "--yes"], 0);
    let rules = sdk
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&nodes)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        !rules
            .security_group_rules()
            .iter()
            .any(|r| r.security_group_rule_id() == Some(rule_id.as_str())),
        "the hand-added rule is gone"
    );
    assert_eq!(
        rules.security_group_rules().len(),
        3,
        "the plan's three rules stay"
    );
    let attached = sdk
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert!(!arns.contains(&admin) && arns.len() == 3, "{arns:?}");
    let foreign_rules = sdk
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&foreign)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        foreign_rules
            .security_group_rules()
            .iter()
            .any(|r| r.from_port() == Some(22)),
        "the foreign group is left alone"
    );
    env.expect(&["drift"], 0);
    env.expect(&["plan", "--detailed-exitcode"], 0);

    sdk.ec2
        .delete_security_group()
        .group_id(&foreign)
        .send()
        .await
        .unwrap();
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
}
