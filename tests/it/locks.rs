use crate::support::*;
use infra::state::StateStore;

/// A second writer is refused with the holder named, then runs once the
/// first is gone, with no manual step.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_writer_is_refused_naming_the_holder() {
    let env = TestEnv::from_dev("it-lock", 32);
    std::fs::create_dir_all(env.state_path().parent().unwrap()).unwrap();
    let mut holder = StateStore::open(&env.state_path()).unwrap();
    holder.lock("infra up --env holder-test").unwrap();
    let out = env.expect(&["up", "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("state is locked by"), "{stderr}");
    assert!(
        stderr.contains(&format!("(pid {})", std::process::id())),
        "{stderr}"
    );
    assert!(stderr.contains("infra up --env holder-test"), "{stderr}");
    // Nothing was created while locked.
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());

    // force-unlock with a wrong id is refused.
    let out = env.expect(&["force-unlock", "not-the-id"], 1);
    assert!(
        text(&out.stderr).contains("does not match"),
        "{}",
        text(&out.stderr)
    );
    drop(holder);

    // Once the holder is gone, the next run needs no manual step.
    env.expect(&["up", "--yes"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2().await, &env.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_leaves_no_lock_behind() {
    let env = TestEnv::from_dev("it-kill", 33);
    let mut child = env
        .command(&["up", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it holds the lock (its lock row exists), then kill -9.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(s) = rusqlite::Connection::open(env.state_path())
            && s.query_row("SELECT count(*) FROM lock", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0)
                == 1
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "up never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = env.expect(&["up", "--yes"], 0);
    let stderr = text(&out.stderr);
    // The killed run's lock row is still there; its process is gone, so the
    // rerun clears it and says whose it was.
    let killed = format!(" up --yes --env {}", env.name);
    assert!(
        stderr.contains("cleared a stale lock") && stderr.contains(&killed),
        "{stderr}"
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

/// Two real `up` runs at once: the first is slowed by the fault proxy's
/// latency, the second is refused naming the first's pid and command.
#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_up_is_refused_naming_the_running_one() {
    let env = TestEnv::from_dev("it-conc", 48);
    let latency = env.dir.path().join("latency.json");
    std::fs::write(&latency, r#"{"*": 0.2}"#).unwrap();
    let proxy = Proxy::start(&["--seed", "3", "--latency", latency.to_str().unwrap()]);
    let mut first = env
        .command(&["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !rusqlite::Connection::open(env.state_path())
        .and_then(|c| c.query_row("SELECT count(*) FROM lock", [], |r| r.get::<_, i64>(0)))
        .is_ok_and(|n| n == 1)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first up never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = env.expect(&["up", "--yes"], 1);
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains("state is locked by") && stderr.contains(&format!("(pid {})", first.id())),
        "{stderr}"
    );
    assert!(
        stderr.contains(" up --yes --env "),
        "names the command: {stderr}"
    );
    assert!(first.wait().unwrap().success());
    drop(proxy);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
}
