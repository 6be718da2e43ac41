//! Saved plans applied exactly or refused when stale, and a corrupt or newer
//! state refused untouched, through the binary against the emulator.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn saved_plans_apply_exactly_or_are_refused_when_stale() {
    let env = TestEnv::from_dev("it-saved", 34);
    let saved = env.dir.path().join("fresh.json");
    let saved_s = saved.to_str().unwrap();

    // Made with no state; someone else then creates the state: refused.
    env.expect(&["plan", "--out", saved_s], 0);
    env.expect(&["up", "--yes"], 0);
    let out = env.expect(&["up", "--yes", saved_s], 1);
    assert!(
        text(&out.stderr).contains("it was made with no state, and state has been created since"),
        "{}",
        text(&out.stderr)
    );

    // A fresh saved plan applies exactly.
    env.edit_plan("port = 443", "port = 9443");
    let next = env.dir.path().join("next.json");
    let next_s = next.to_str().unwrap();
    let planned = text(&env.expect(&["plan", "--out", next_s], 0).stdout);
    assert!(
        planned.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{planned}"
    );
    env.expect(&["up", "--yes", next_s], 0);
    let ec2 = ec2().await;
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap();
    assert!(
        rules
            .security_group_rules()
            .iter()
            .any(|r| r.from_port() == Some(9443))
    );

    // Another run changes state after the plan was saved: refused.
    env.edit_plan("port = 9443", "port = 7443");
    let stale = env.dir.path().join("stale.json");
    env.expect(&["plan", "--out", stale.to_str().unwrap()], 0);
    env.expect(&["up", "--yes"], 0);
    let out = env.expect(&["up", "--yes", stale.to_str().unwrap()], 1);
    assert!(
        text(&out.stderr).contains("state changed since"),
        "{}",
        text(&out.stderr)
    );
    // The plan file changed after the plan was saved: refused.
    let again = env.dir.path().join("again.json");
    env.expect(&["plan", "--out", again.to_str().unwrap()], 0);
    env.edit_plan("port = 7443", "port = 6443");
    let out = env.expect(&["up", "--yes", again.to_str().unwrap()], 1);
    assert!(
        text(&out.stderr).contains("the plan file changed since"),
        "{}",
        text(&out.stderr)
    );

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_or_newer_state_exits_1_naming_the_backup_and_touches_nothing() {
    let env = TestEnv::from_dev("it-state", 35);
    env.expect(&["up", "--yes"], 0);
    let ec2 = ec2().await;
    let before_cloud = ec2_inventory(&ec2, &env.name).await;
    let path = env.state_path();
    let good = std::fs::read(&path).unwrap();

    // Truncated.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let damaged = std::fs::read(&path).unwrap();
    env.edit_plan("port = 443", "port = 8443");
    let out = env.expect(&["up", "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert!(
        stderr.contains("The latest backup is") && stderr.contains("backups"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        damaged,
        "the state file was changed"
    );
    assert_eq!(ec2_inventory(&ec2, &env.name).await, before_cloud);
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap();
    assert!(
        rules
            .security_group_rules()
            .iter()
            .all(|r| r.from_port() != Some(8443)),
        "the cloud was changed"
    );

    // Written by a newer schema.
    std::fs::write(&path, &good).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let newer = std::fs::read(&path).unwrap();
    let out = env.expect(&["up", "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("written by a newer infra (schema 99"),
        "{stderr}"
    );
    assert!(stderr.contains("The latest backup is"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), newer);

    // Restored from the good copy, the env destroys cleanly.
    std::fs::write(&path, &good).unwrap();
    env.edit_plan("port = 8443", "port = 443");
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}
