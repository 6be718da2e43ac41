//! Team state on S3 (issue 14), through the binary against the emulator's
//! S3: two working folders stand for two machines (separate local caches),
//! one bucket. Everything is checked by asking S3 and EC2 with SDK calls.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

async fn s3() -> aws_sdk_s3::Client {
    let conf = sdk_config("us-east-1").await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// A fresh bucket of our own, versioned or not.
async fn bucket(s3: &aws_sdk_s3::Client, prefix: &str, versioned: bool) -> String {
    let name = format!("{prefix}-{}", fastrand::u32(..));
    s3.create_bucket().bucket(&name).send().await.unwrap();
    if versioned {
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(on)
            .send()
            .await
            .unwrap();
    }
    name
}

/// The dev plan of `env` on the S3 backend.
fn on_s3(env: &TestEnv, bucket: &str, extra: &str) {
    let text = env.plan_text();
    env.write_plan(&format!(
        "{text}\n[state]\nbackend = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"teams\"\n{extra}"
    ));
}

fn keys(env: &TestEnv) -> (String, String) {
    (
        format!("teams/todo/{}/state.db", env.name),
        format!("teams/todo/{}/lease.json", env.name),
    )
}

/// A second machine: its own folder (plan copy, local cache), same env.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new(env: &TestEnv) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plans")).unwrap();
        std::fs::copy(
            env.plan_path(),
            dir.path().join("plans").join(format!("{}.toml", env.name)),
        )
        .unwrap();
        Machine { dir }
    }

    fn command(&self, env: &TestEnv, args: &[&str]) -> Command {
        let mut cmd = infra_command(&env.endpoint);
        cmd.arg("--plans")
            .arg(self.dir.path().join("plans"))
            .arg("--state")
            .arg(
                self.dir
                    .path()
                    .join("state")
                    .join(format!("{}.db", env.name)),
            );
        cmd.args(args).arg("--env").arg(&env.name);
        fast(&mut cmd);
        cmd
    }

    fn expect(&self, env: &TestEnv, args: &[&str], code: i32) -> std::process::Output {
        let out = self.command(env, args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "B: infra {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }
}

/// The lease's lifetime in these tests: seconds, not a minute, yet long
/// enough that renewals land in time on a loaded machine (several full
/// `up`s at once against one emulator: S3 calls of 2-8 s were measured).
const LEASE_SECONDS: u64 = 30;

/// A 30 s lease renewed every second, uploads at most every second.
fn fast(cmd: &mut Command) {
    cmd.env("INFRA_LEASE_SECONDS", LEASE_SECONDS.to_string())
        .env("INFRA_LEASE_HEARTBEAT_SECONDS", "1")
        .env("INFRA_STATE_UPLOAD_SECONDS", "1");
}

/// Where a background run's stderr goes, to show when it fails.
fn log_file(env: &TestEnv, name: &str) -> (PathBuf, Stdio) {
    let path = env.dir.path().join(name);
    let file = std::fs::File::create(&path).unwrap();
    (path, Stdio::from(file))
}

fn read_log(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn a_cmd(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = env.command(args);
    fast(&mut cmd);
    cmd
}

fn a_expect(env: &TestEnv, args: &[&str], code: i32) -> std::process::Output {
    let out = a_cmd(env, args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "A: infra {args:?}\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The lease's body, when there is one.
async fn lease(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<serde_json::Value> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).ok()
}

async fn wait_for_live_lease(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(l) = lease(s3, bucket, key)
            .await
            .filter(|l| l["released"] == false)
        {
            return l;
        }
        assert!(Instant::now() < deadline, "no live lease at {key}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The remote state's resource addresses (downloaded with the SDK).
async fn remote_addresses(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<String> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let bytes = out.body.collect().await.unwrap().into_bytes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remote.db");
    std::fs::write(&path, &bytes).unwrap();
    state_addresses(&path)
}

fn proxy_reset(proxy: &Proxy) {
    use std::io::{Read, Write};
    let hostport = proxy.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(s, "POST /__proxy/reset HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
}

async fn converged(env: &TestEnv, b: &Machine, s3: &aws_sdk_s3::Client, bucket: &str) {
    b.expect(env, &["plan", "--detailed-exitcode"], 0);
    let tagged = tagged_addresses(&env.name).await;
    assert!(
        duplicates(&tagged).is_empty(),
        "duplicates: {:?}",
        duplicates(&tagged)
    );
    let in_state = remote_addresses(s3, bucket, &keys(env).0).await;
    let orphans: Vec<&String> = tagged.iter().filter(|a| !in_state.contains(a)).collect();
    assert!(
        orphans.is_empty(),
        "orphans (tagged, not in the remote state): {orphans:?}"
    );
}

async fn clean_up(env: &TestEnv, b: &Machine) {
    b.expect(env, &["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());
}

/// Two machines, one bucket: a concurrent `up` is refused naming the holder;
/// the state is SSE-S3 encrypted; the other machine then sees the result.
#[tokio::test(flavor = "multi_thread")]
async fn s3_concurrent_up_on_two_machines_is_refused_naming_the_holder() {
    let env = TestEnv::from_dev("it-s3two", 110);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3two", false).await;
    on_s3(&env, &bucket, "");
    let b = Machine::new(&env);
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"*": 0.1}"#).unwrap();
    let proxy = Proxy::start(&["--seed", "3", "--latency", latency.to_str().unwrap()]);
    let (a_log, a_err) = log_file(&env, "a.stderr");
    let mut first = a_cmd(&env, &["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::null())
        .stderr(a_err)
        .spawn()
        .unwrap();
    let (state_key, lease_key) = keys(&env);
    let held = wait_for_live_lease(&s3, &bucket, &lease_key).await;
    assert_eq!(held["pid"].as_i64(), Some(first.id() as i64));

    let out = b.expect(&env, &["up", "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("state is locked by") && stderr.contains(&format!("(pid {})", first.id())),
        "{stderr}"
    );
    assert!(
        stderr.contains(" up --yes --env "),
        "names the command: {stderr}"
    );
    assert!(
        stderr.contains(&format!("s3://{bucket}/{lease_key}")),
        "names the lease: {stderr}"
    );
    // A wrong id cannot break it; the right one is refused while A runs
    // (same host, its pid alive) unless --force.
    let out = b.expect(&env, &["force-unlock", "--yes", "not-the-id"], 1);
    assert!(
        text(&out.stderr).contains("does not match"),
        "{}",
        text(&out.stderr)
    );
    let out = b.expect(
        &env,
        &["force-unlock", "--yes", held["lock_id"].as_str().unwrap()],
        1,
    );
    assert!(
        text(&out.stderr).contains("still running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        lease(&s3, &bucket, &lease_key).await.unwrap()["lock_id"],
        held["lock_id"],
        "the lease is kept"
    );

    let status = first.wait().unwrap();
    assert!(status.success(), "A failed: {}", read_log(&a_log));
    drop(proxy);
    // Released at the end (LocalStack: a conditional delete is NotImplemented, so marked released).
    assert!(
        lease(&s3, &bucket, &lease_key)
            .await
            .is_none_or(|l| l["released"] == true)
    );
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&state_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    // No local state file: the local files are caches only.
    assert!(!env.state_path().exists());
    converged(&env, &b, &s3, &bucket).await;
    clean_up(&env, &b).await;
}

/// kill -9 of the holder mid-`up` on machine A: B is refused until
/// `force-unlock` (the holder's pid is gone), then recovers A's actions by
/// tag and converges. (Take-over at expiry: the SIGSTOP test.)
#[tokio::test(flavor = "multi_thread")]
async fn s3_killed_holder_is_refused_until_force_unlock_then_recovered() {
    let env = TestEnv::from_dev("it-s3kill", 111);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3kill", true).await;
    on_s3(&env, &bucket, "");
    let b = Machine::new(&env);
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"*": 0.15}"#).unwrap();
    let proxy = Proxy::start(&["--seed", "5", "--latency", latency.to_str().unwrap()]);
    // A's cloud calls go through the proxy (counted); its S3 calls go straight to the emulator.
    let (a_log, a_err) = log_file(&env, "a.stderr");
    let mut a = a_cmd(&env, &["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_ENDPOINT_URL_S3", endpoint())
        .stdout(Stdio::null())
        .stderr(a_err)
        .spawn()
        .unwrap();
    let (state_key, lease_key) = keys(&env);
    // Let A create some of the platform and upload it, then kill it mid-flight.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n = s3
            .get_object()
            .bucket(&bucket)
            .key(&state_key)
            .send()
            .await
            .ok()
            .map(|_| ());
        if n.is_some() && proxy.stats()["mutating"].as_u64().unwrap_or(0) >= 12 {
            break;
        }
        if Instant::now() >= deadline || a.try_wait().unwrap().is_some() {
            let _ = a.kill();
            panic!("A never got going: {}\n{}", proxy.stats(), read_log(&a_log));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill().unwrap();
    a.wait().unwrap();
    let held = lease(&s3, &bucket, &lease_key).await.unwrap();
    let out = b.expect(&env, &["up", "--yes"], 1);
    assert!(
        text(&out.stderr).contains(&format!("(pid {})", a.id())),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains(held["lock_id"].as_str().unwrap()),
        "names the lock id: {}",
        text(&out.stderr)
    );
    // The lease is still live (A never released it): force-unlock breaks it,
    // without --force since A's pid is gone from this host.
    assert_eq!(
        lease(&s3, &bucket, &lease_key).await.unwrap()["released"],
        false
    );
    let out = b.expect(
        &env,
        &["force-unlock", "--yes", held["lock_id"].as_str().unwrap()],
        0,
    );
    assert!(
        text(&out.stdout).contains(&format!("(pid {})", a.id())),
        "names A: {}",
        text(&out.stdout)
    );
    let out = b.expect(&env, &["up", "--yes"], 0);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("recovered") || all.contains("adopted"),
        "A's interrupted actions recovered by tag: {all}"
    );
    let after = lease(&s3, &bucket, &lease_key).await;
    assert!(after.is_none_or(|l| l["generation"].as_u64() > held["generation"].as_u64()));
    drop(proxy);
    converged(&env, &b, &s3, &bucket).await;
    // Machine A's next run sees B's state (its cache is replaced, not trusted).
    a_expect(&env, &["plan", "--detailed-exitcode"], 0);
    clean_up(&env, &b).await;
}

/// SIGSTOP A past its lease; B takes over and finishes; SIGCONT A: A's next
/// renewal or upload gets 412, A starts no further mutating AWS call
/// (counted at the fault proxy) and exits 1 naming the take-over.
#[tokio::test(flavor = "multi_thread")]
async fn s3_a_stopped_holder_is_fenced_after_takeover_and_makes_no_more_calls() {
    let env = TestEnv::from_dev("it-s3stop", 112);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3stop", false).await;
    on_s3(&env, &bucket, "");
    let b = Machine::new(&env);
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"*": 0.15}"#).unwrap();
    let proxy = Proxy::start(&["--seed", "9", "--latency", latency.to_str().unwrap()]);
    // A's cloud calls go through the proxy (counted); its S3 calls go straight to the emulator.
    let mut a = a_cmd(&env, &["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_ENDPOINT_URL_S3", endpoint())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (_, lease_key) = keys(&env);
    let held = wait_for_live_lease(&s3, &bucket, &lease_key).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while proxy.stats()["mutating"].as_u64().unwrap_or(0) < 8 {
        if Instant::now() >= deadline || a.try_wait().unwrap().is_some() {
            let _ = a.kill();
            let out = a.wait_with_output().unwrap();
            panic!(
                "A never got going: {}\n{}",
                proxy.stats(),
                text(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = a.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS + 1)).await;
    let out = b.expect(&env, &["up", "--yes"], 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("took over the expired state lease")
            && stderr.contains(&format!("(pid {})", a.id())),
        "names A: {stderr}"
    );
    // Whatever A had in flight when stopped was counted before this.
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy_reset(&proxy);
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = a.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost the state lease"), "{stderr}");
    assert!(
        stderr.contains("took it over") || stderr.contains("someone else wrote"),
        "names what happened: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stats = proxy.stats();
    assert_eq!(
        stats["mutating"].as_u64(),
        Some(0),
        "A made mutating calls after SIGCONT: {stats}"
    );
    let now = lease(&s3, &bucket, &lease_key).await;
    assert!(now.is_none_or(|l| l["generation"].as_u64() > held["generation"].as_u64()));
    drop(proxy);
    converged(&env, &b, &s3, &bucket).await;
    clean_up(&env, &b).await;
}

/// Throttled and 5xx S3 answers (and the cloud's) are retried: one state,
/// neither lost nor doubled, and it matches the cloud.
#[tokio::test(flavor = "multi_thread")]
async fn s3_throttled_and_5xx_answers_are_retried_without_losing_state() {
    let env = TestEnv::from_dev("it-s3flaky", 113);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3flaky", true).await;
    on_s3(&env, &bucket, "");
    let b = Machine::new(&env);
    let proxy = Proxy::start(&["--seed", "11", "--throttle", "0.15", "--error5xx", "0.1"]);
    let out = a_cmd(&env, &["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stats = proxy.stats();
    assert!(
        stats["faults"]["throttle"].as_u64().unwrap() + stats["faults"]["5xx"].as_u64().unwrap()
            > 0,
        "{stats}"
    );
    assert!(
        stats["by_service"]["s3"].as_u64().unwrap_or(0) > 0,
        "S3 went through the proxy: {stats}"
    );
    drop(proxy);
    let (state_key, lease_key) = keys(&env);
    // One state object, current; the lease is free.
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("teams/todo/{}/", env.name))
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(names.contains(&state_key.as_str()), "{names:?}");
    assert!(
        lease(&s3, &bucket, &lease_key)
            .await
            .is_none_or(|l| l["released"] == true)
    );
    converged(&env, &b, &s3, &bucket).await;
    clean_up(&env, &b).await;
}

/// A corrupt remote state: exit 1 naming the key and the previous version;
/// nothing is created, the object is left as it is.
#[tokio::test(flavor = "multi_thread")]
async fn s3_corrupt_remote_state_exits_1_naming_the_key_and_previous_version() {
    let env = TestEnv::from_dev("it-s3bad", 114);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3bad", true).await;
    let sdk = clients().await;
    let key_id = sdk
        .kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    on_s3(&env, &bucket, &format!("kms_key_id = \"{key_id}\"\n"));
    // Two good versions (each write run fences the state), then garbage.
    a_expect(&env, &["refresh"], 0);
    a_expect(&env, &["refresh"], 0);
    let (state_key, _) = keys(&env);
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&state_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert!(
        head.ssekms_key_id().unwrap_or_default().contains(&key_id),
        "{:?}",
        head.ssekms_key_id()
    );
    let good_version = head.version_id().unwrap().to_string();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(&state_key)
        .body(b"SQLite format 3\0not really"[..].to_vec().into())
        .send()
        .await
        .unwrap();
    let bad_version = put.version_id().unwrap().to_string();

    for args in [&["plan"][..], &["up", "--yes"][..], &["drift"][..]] {
        let out = a_expect(&env, args, 1);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("s3://{bucket}/{state_key}")) && stderr.contains("corrupt"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&good_version),
            "names the previous version {good_version}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&state_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.version_id(),
        Some(bad_version.as_str()),
        "the object was left as it is"
    );
    // No lease was left behind by the refused up.
    assert!(
        lease(&s3, &bucket, &keys(&env).1)
            .await
            .is_none_or(|l| l["released"] == true)
    );
}

/// `drift` (read-only) runs while an `up` holds the lease, on the same
/// machine and on another, and never takes the lease; a plan saved before
/// another machine wrote the state is refused.
#[tokio::test(flavor = "multi_thread")]
async fn s3_drift_runs_while_up_holds_the_lease() {
    let env = TestEnv::from_dev("it-s3drift", 115);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3drift", false).await;
    on_s3(&env, &bucket, "");
    let b = Machine::new(&env);
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"*": 0.1}"#).unwrap();
    let proxy = Proxy::start(&["--seed", "4", "--latency", latency.to_str().unwrap()]);
    let (a_log, a_err) = log_file(&env, "a.stderr");
    let mut a = a_cmd(&env, &["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::null())
        .stderr(a_err)
        .spawn()
        .unwrap();
    let (_, lease_key) = keys(&env);
    let held = wait_for_live_lease(&s3, &bucket, &lease_key).await;
    for out in [
        b.command(&env, &["drift", "--json"]).output().unwrap(),
        a_cmd(&env, &["drift", "--json"]).output().unwrap(),
    ] {
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{}",
            text(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["env"], env.name.as_str());
    }
    // `output` reads too: mid-run its outputs may not be known yet (exit 1
    // saying so), but it is never refused for the lease.
    let out = b.command(&env, &["output"]).output().unwrap();
    let stderr = text(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)) && !stderr.contains("locked"),
        "{stderr}"
    );
    // Still A's lease, same generation: drift never took it.
    let now = lease(&s3, &bucket, &lease_key).await.unwrap();
    assert_eq!(now["lock_id"], held["lock_id"]);
    assert_eq!(now["generation"], held["generation"]);
    assert!(
        a.wait().unwrap().success(),
        "A failed: {}",
        read_log(&a_log)
    );
    drop(proxy);
    b.expect(&env, &["drift"], 0);
    let out = b.expect(&env, &["output", "--json"], 0);
    let outputs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        outputs["outputs"]["vpc_id"]
            .as_str()
            .is_some_and(|v| v.starts_with("vpc-")),
        "{outputs}"
    );
    // A plan saved on A is refused once B has written the remote state.
    let saved = env.dir.path().join("saved.plan");
    a_expect(&env, &["plan", "--out", saved.to_str().unwrap()], 0);
    b.expect(&env, &["refresh"], 0);
    let out = a_expect(&env, &["up", saved.to_str().unwrap(), "--yes"], 1);
    assert!(
        text(&out.stderr).contains("the remote state moved since"),
        "{}",
        text(&out.stderr)
    );
    clean_up(&env, &b).await;
}

/// `state migrate` moves a local state in one command and refuses a remote
/// of another lineage; `state pull` / `state push` refuse an older serial
/// without --force; a local state that was not migrated stops `up`.
#[tokio::test(flavor = "multi_thread")]
async fn s3_migrate_pull_and_push() {
    let env = TestEnv::from_dev("it-s3move", 116);
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3move", true).await;
    // A local state with a resource in it.
    let row = |address: &str| infra::state::StateResource {
        address: address.into(),
        kind: "Vpc".into(),
        id: "vpc-0".into(),
        props: Default::default(),
        outputs: Default::default(),
        deps: vec![],
        protect: false,
    };
    std::fs::create_dir_all(env.state_path().parent().unwrap()).unwrap();
    {
        let mut local = infra::state::StateStore::open(&env.state_path()).unwrap();
        local.put_resources(&[row("vpc.main")]).unwrap();
        local.put_resources(&[row("vpc.main")]).unwrap();
    }
    on_s3(&env, &bucket, "");
    // Not migrated yet: a write run refuses rather than start from nothing.
    let out = a_expect(&env, &["up", "--yes"], 1);
    assert!(
        text(&out.stderr).contains("infra state migrate"),
        "{}",
        text(&out.stderr)
    );
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());

    let out = a_expect(&env, &["state", "migrate"], 0);
    assert!(
        text(&out.stdout).contains(&format!("s3://{bucket}/teams/todo/{}/state.db", env.name)),
        "{}",
        text(&out.stdout)
    );
    assert!(!env.state_path().exists());
    let (state_key, _) = keys(&env);
    assert_eq!(
        remote_addresses(&s3, &bucket, &state_key).await,
        vec!["vpc.main".to_string()]
    );

    // Another local state (another lineage: different resources) is refused.
    let other = env.dir.path().join("other.db");
    {
        let mut o = infra::state::StateStore::open(&other).unwrap();
        o.put_resources(&[row("vpc.other")]).unwrap();
    }
    let out = a_expect(
        &env,
        &["state", "migrate", "--from", other.to_str().unwrap()],
        1,
    );
    assert!(
        text(&out.stderr).contains("another lineage"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        remote_addresses(&s3, &bucket, &state_key).await,
        vec!["vpc.main".to_string()]
    );

    // pull, then a newer write, then pushing the older pull is refused.
    let pulled = env.dir.path().join("pulled.db");
    a_expect(&env, &["state", "pull", pulled.to_str().unwrap()], 0);
    assert_eq!(state_addresses(&pulled), vec!["vpc.main".to_string()]);
    let newer = env.dir.path().join("newer.db");
    std::fs::copy(&pulled, &newer).unwrap();
    {
        let mut n = infra::state::StateStore::open(&newer).unwrap();
        n.put_resources(&[row("vpc.second")]).unwrap();
    }
    a_expect(&env, &["state", "push", newer.to_str().unwrap()], 0);
    assert_eq!(
        remote_addresses(&s3, &bucket, &state_key).await,
        vec!["vpc.main".to_string(), "vpc.second".to_string()]
    );
    let out = a_expect(&env, &["state", "push", pulled.to_str().unwrap()], 1);
    assert!(text(&out.stderr).contains("older"), "{}", text(&out.stderr));
    a_expect(
        &env,
        &["state", "push", "--force", pulled.to_str().unwrap()],
        0,
    );
    assert_eq!(
        remote_addresses(&s3, &bucket, &state_key).await,
        vec!["vpc.main".to_string()]
    );
    // The state-reading commands read the remote state, from any machine.
    let b = Machine::new(&env);
    let out = b.expect(&env, &["state", "list", "--json"], 0);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listed.to_string().contains("vpc.main") && !listed.to_string().contains("vpc.second"),
        "{listed}"
    );
    // Every write is a version: the history is there.
    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .prefix(&state_key)
        .send()
        .await
        .unwrap();
    assert!(
        versions.versions().len() >= 3,
        "{:?}",
        versions.versions().len()
    );
}

/// A missing bucket fails at once, naming it; `--state s3://` works without `[state]`.
#[tokio::test(flavor = "multi_thread")]
async fn s3_missing_bucket_fails_naming_it_and_the_url_override_works() {
    let env = TestEnv::from_dev("it-s3none", 117);
    let missing = format!("it-s3none-missing-{}", fastrand::u32(..));
    let state_flag: PathBuf = PathBuf::from(format!("s3://{missing}/x"));
    let mut cmd = infra_command(&env.endpoint);
    cmd.current_dir(env.dir.path())
        .arg("--plans")
        .arg(env.dir.path().join("plans"))
        .arg("--state")
        .arg(&state_flag)
        .args(["plan", "--env", &env.name]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("S3 bucket `{missing}` does not exist")),
        "{}",
        text(&out.stderr)
    );
    let s3 = s3().await;
    let bucket = bucket(&s3, "it-s3none", false).await;
    let mut cmd = infra_command(&env.endpoint);
    cmd.current_dir(env.dir.path())
        .arg("--plans")
        .arg(env.dir.path().join("plans"))
        .arg("--state")
        .arg(format!("s3://{bucket}/y"))
        .args(["refresh", "--env", &env.name]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    s3.head_object()
        .bucket(&bucket)
        .key(format!("y/todo/{}/state.db", env.name))
        .send()
        .await
        .unwrap();
}
