//! Issue 13: the safety holes, each through the real binary against the
//! emulator (or offline where no AWS call is involved).

use crate::support::*;

/// Every EC2 resource tagged with the env, with its `infra:project` tag.
async fn ec2_by_project(ec2: &aws_sdk_ec2::Client, env: &str) -> Vec<String> {
    let tagged = ec2_tagged(ec2, env).await;
    let mut out: Vec<String> = tagged
        .into_iter()
        .map(|(p, r)| format!("{p} {r}"))
        .collect();
    out.sort();
    out
}

/// The rest of the env name's inventory (EKS, IAM, SQS, EventBridge, RDS,
/// Route53, ACM), under each project that may have made it.
async fn other_by_project(sdk: &Sdk, env: &str) -> Vec<String> {
    let mut out = Vec::new();
    for project in ["todo", "other"] {
        for r in sdk.other_inventory_of(project, env).await {
            out.push(format!("{project}: {r}"));
        }
    }
    out
}

/// The tags of an RDS resource, as `key=value`.
async fn rds_tags(rds: &aws_sdk_rds::Client, arn: &str) -> Vec<String> {
    let listed = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap();
    let mut tags: Vec<String> = listed
        .tag_list()
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                t.key().unwrap_or_default(),
                t.value().unwrap_or_default()
            )
        })
        .collect();
    tags.sort();
    tags
}

/// Named groups another infra project or env already holds under the names
/// this plan wants (project and env names that join alike: `a-b` + `c` and
/// `a` + `b-c`) are never taken over by their names: `up` stops, naming the
/// holder, and their tags stay the holder's.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_group_another_project_holds_is_never_taken_by_its_name() {
    let env = TestEnv::from_dev("it-claimed", 134);
    let sdk = clients().await;
    let holder = |address: &str| {
        [
            ("infra:env", env.name.as_str()),
            ("infra:project", "other"),
            ("infra:address", address),
        ]
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .to_vec()
    };
    let parameter_group = format!("todo-{}-postgres16", env.name);
    let made = sdk
        .rds
        .create_db_parameter_group()
        .db_parameter_group_name(&parameter_group)
        .db_parameter_group_family("postgres16")
        .description("another project's")
        .set_tags(Some(holder("db_parameter_group.main")))
        .send()
        .await
        .unwrap();
    let parameter_group_arn = made
        .db_parameter_group()
        .unwrap()
        .db_parameter_group_arn()
        .unwrap()
        .to_string();
    let default_subnets: Vec<String> = sdk
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(String::from))
        .take(2)
        .collect();
    let subnet_group = format!("todo-{}-data", env.name);
    let made = sdk
        .rds
        .create_db_subnet_group()
        .db_subnet_group_name(&subnet_group)
        .db_subnet_group_description("another project's")
        .set_subnet_ids(Some(default_subnets))
        .set_tags(Some(holder("db_subnet_group.main")))
        .send()
        .await
        .unwrap();
    let subnet_group_arn = made
        .db_subnet_group()
        .unwrap()
        .db_subnet_group_arn()
        .unwrap()
        .to_string();
    let before = (
        rds_tags(&sdk.rds, &parameter_group_arn).await,
        rds_tags(&sdk.rds, &subnet_group_arn).await,
    );

    let out = env.expect(&["up", "--yes"], 1);
    let said = text(&out.stderr) + &text(&out.stdout);
    for name in [&parameter_group, &subnet_group] {
        assert!(
            said.contains(&format!(
                "{name} already exists and is tagged for other/{}",
                env.name
            )),
            "{name}: {said}"
        );
    }
    let after = (
        rds_tags(&sdk.rds, &parameter_group_arn).await,
        rds_tags(&sdk.rds, &subnet_group_arn).await,
    );
    assert_eq!(after, before, "the holder's tags stay");
    let state = env.expect(&["state", "list", "--json"], 0);
    let state = text(&state.stdout);
    assert!(
        !state.contains(&parameter_group) && !state.contains(&subnet_group),
        "{state}"
    );

    env.expect(&["destroy", "--yes"], 0);
    let described = sdk
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(&parameter_group)
        .send()
        .await;
    assert!(described.is_ok(), "destroy left the holder's group alone");
    sdk.rds
        .delete_db_subnet_group()
        .db_subnet_group_name(&subnet_group)
        .send()
        .await
        .unwrap();
    sdk.rds
        .delete_db_parameter_group()
        .db_parameter_group_name(&parameter_group)
        .send()
        .await
        .unwrap();
}

/// Two projects, one env name, one account: each sees only its own.
#[tokio::test(flavor = "multi_thread")]
async fn two_projects_with_one_env_name_never_touch_each_other() {
    let a = TestEnv::from_dev("it-proj", 90);
    // B: the same env name, another project, another CIDR.
    let b = TestEnv {
        name: a.name.clone(),
        dir: tempfile::tempdir().unwrap(),
        endpoint: a.endpoint.clone(),
    };
    std::fs::create_dir_all(b.dir.path().join("plans")).unwrap();
    b.write_plan(
        &a.plan_text()
            .replace("project = \"todo\"", "project = \"other\"")
            .replace("10.90.", "10.91."),
    );
    let sdk = clients().await;

    a.expect(&["up", "--yes"], 0);
    let out = b.expect(&["up", "--yes"], 0);
    // B adopted nothing of A's: it made its own of everything.
    assert!(
        !text(&out.stdout).contains("adopt"),
        "{}",
        text(&out.stdout)
    );
    a.expect(&["plan", "--detailed-exitcode"], 0);
    b.expect(&["plan", "--detailed-exitcode"], 0);

    let ec2_before = ec2_by_project(&sdk.ec2, &a.name).await;
    let other_before = other_by_project(&sdk, &a.name).await;
    assert!(
        ec2_before.iter().any(|r| r.starts_with("other vpc"))
            && ec2_before.iter().any(|r| r.starts_with("todo vpc")),
        "{ec2_before:#?}"
    );
    assert!(
        other_before
            .iter()
            .any(|r| r.starts_with("other: eks other-"))
            && other_before
                .iter()
                .any(|r| r.starts_with("todo: eks todo-")),
        "{other_before:#?}"
    );

    // A prunes its orphans: B's resources are not A's orphans.
    let out = a.expect(&["up", "--yes", "--prune-orphans"], 0);
    assert!(
        text(&out.stdout).contains("No changes") || !text(&out.stdout).contains("destroy"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(ec2_by_project(&sdk.ec2, &a.name).await, ec2_before);
    assert_eq!(other_by_project(&sdk, &a.name).await, other_before);
    // Drift of one is not the other's.
    a.expect(&["drift"], 0);

    // A's destroy leaves B's inventory whole.
    a.expect(&["destroy", "--yes"], 0);
    let left = ec2_by_project(&sdk.ec2, &a.name).await;
    assert!(left.iter().all(|r| r.starts_with("other ")), "{left:#?}");
    assert_eq!(
        left,
        ec2_before
            .iter()
            .filter(|r| r.starts_with("other "))
            .cloned()
            .collect::<Vec<_>>()
    );
    b.expect(&["plan", "--detailed-exitcode"], 0);
    b.expect(&["destroy", "--yes"], 0);
    assert!(ec2_by_project(&sdk.ec2, &a.name).await.is_empty());
}

/// Resources made before projects were tagged gain `infra:project` on the
/// next `up`, in place: same ids, nothing replaced.
#[tokio::test(flavor = "multi_thread")]
async fn resources_without_the_project_tag_gain_it_in_place() {
    let env = TestEnv::from_dev("it-legacy", 92);
    // The network tier is enough: EC2 and its one rule.
    let text_all = env.plan_text();
    env.write_plan(&text_all[..text_all.find("\n[cluster]").unwrap()]);
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let before = ec2_by_project(&sdk.ec2, &env.name).await;
    assert!(before.iter().all(|r| r.starts_with("todo ")), "{before:#?}");
    // As today's main made them: no project tag.
    let ids: Vec<String> = before
        .iter()
        .map(|r| r.rsplit(' ').next().unwrap().to_string())
        .collect();
    sdk.ec2
        .delete_tags()
        .set_resources(Some(ids.clone()))
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("infra:project")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        ec2_by_project(&sdk.ec2, &env.name)
            .await
            .iter()
            .all(|r| r.starts_with("- "))
    );

    let out = env.expect(&["plan"], 0);
    let plan = text(&out.stdout);
    assert!(
        !plan.contains("-/+") && !plan.contains(" to add, 0") || plan.contains("0 to add"),
        "{plan}"
    );
    assert!(
        plan.contains("0 to add") && plan.contains("0 to destroy"),
        "{plan}"
    );
    assert!(plan.contains("infra:project"), "{plan}");
    env.expect(&["up", "--yes"], 0);
    let after = ec2_by_project(&sdk.ec2, &env.name).await;
    assert_eq!(after, before, "same ids, the tag back");
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
}

/// `protect = true` holds for `up`: a replacement forced by cascade, and a
/// removal from the plan, are refused before any change, named with the
/// field that forces them.
#[tokio::test(flavor = "multi_thread")]
async fn up_refuses_to_replace_or_remove_a_protected_cluster() {
    let env = TestEnv::from_dev("it-protect", 93);
    let all = env.plan_text();
    env.write_plan(
        &all[..all.find("\n[database]").unwrap()].replace("protect = false", "protect = true"),
    );
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let cluster = format!("todo-{}", env.name);
    let groups = || async {
        let mut ids: Vec<String> = sdk
            .ec2
            .describe_security_groups()
            .filters(env_filter(&env.name))
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .map(|g| g.group_id().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = groups().await;
    let arn = sdk
        .eks
        .describe_cluster()
        .name(&cluster)
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();

    // By cascade: the nodes group's description forces its replacement,
    // which forces the cluster's.
    env.edit_plan(
        "description = \"EKS worker nodes\"",
        "description = \"EKS worker nodes (v2)\"",
    );
    let out = env.expect(&["plan"], 0);
    assert!(
        text(&out.stdout).contains("PROTECTED"),
        "{}",
        text(&out.stdout)
    );
    let out = env.expect(&["up", "--yes"], 1);
    let err = text(&out.stderr);
    assert!(err.contains("eks_cluster.main must be replaced"), "{err}");
    assert!(
        err.contains("security_group.nodes")
            && err.contains("`description` cannot change in place"),
        "{err}"
    );
    assert_eq!(groups().await, before, "nothing was changed");
    assert_eq!(
        sdk.eks
            .describe_cluster()
            .name(&cluster)
            .send()
            .await
            .unwrap()
            .cluster()
            .unwrap()
            .arn(),
        Some(arn.as_str())
    );

    // Removing the cluster from the plan.
    env.edit_plan(
        "description = \"EKS worker nodes (v2)\"",
        "description = \"EKS worker nodes\"",
    );
    let text_now = env.plan_text();
    env.write_plan(&text_now[..text_now.find("\n[cluster]").unwrap()]);
    let out = env.expect(&["up", "--yes"], 1);
    let err = text(&out.stderr);
    assert!(err.contains("eks_cluster.main would be destroyed"), "{err}");
    assert!(
        sdk.eks
            .describe_cluster()
            .name(&cluster)
            .send()
            .await
            .is_ok(),
        "the cluster is still there"
    );

    // Lifted: back to the full plan with protect = false, then destroy.
    env.write_plan(&all[..all.find("\n[database]").unwrap()]);
    env.expect(&["up", "--yes"], 0);
    env.expect(&["destroy", "--yes"], 0);
}

/// A plan of one VPC, for tests about state rather than the platform.
fn one_vpc_plan(project: &str, octet: u8) -> String {
    format!(
        "project = \"{project}\"\nregion = \"us-east-1\"\n\n[resources.\"vpc.main\"]\nkind = \"Vpc\"\nprops = {{ cidr = \"10.{octet}.0.0/16\", tags = {{ Name = \"{project}\" }} }}\n"
    )
}

/// An env with its own name whose plan is [`one_vpc_plan`].
fn one_vpc_env(prefix: &str, project: &str, octet: u8) -> TestEnv {
    require_emulator();
    let name = format!("{prefix}-{}", fastrand::u32(100_000..999_999));
    let env = TestEnv {
        name,
        dir: tempfile::tempdir().unwrap(),
        endpoint: endpoint(),
    };
    std::fs::create_dir_all(env.dir.path().join("plans")).unwrap();
    env.write_plan(&one_vpc_plan(project, octet));
    env
}

async fn vpcs_of(env: &str) -> Vec<String> {
    let ec2 = ec2().await;
    let mut ids: Vec<String> = ec2
        .describe_vpcs()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .map(|v| v.vpc_id().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// State records its project, env, region and lineage: another env's
/// command on it is refused, and a saved plan is never applied to another
/// state with the same serial.
#[tokio::test(flavor = "multi_thread")]
async fn state_knows_its_env_and_a_saved_plan_its_lineage() {
    let dev = one_vpc_env("it-owner", "todo", 94);
    dev.expect(&["up", "--yes"], 0);
    let dev_vpcs = vpcs_of(&dev.name).await;
    assert_eq!(dev_vpcs.len(), 1);

    // `destroy --env qa --state <dev's state>`.
    let qa = one_vpc_env("it-owner-qa", "todo", 95);
    let mut cmd = infra_command(&qa.endpoint);
    cmd.arg("--plans")
        .arg(qa.dir.path().join("plans"))
        .arg("--state")
        .arg(dev.state_path())
        .args(["destroy", "--yes", "--env", &qa.name]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("env `{}`", dev.name)) && err.contains(&qa.name),
        "{err}"
    );
    for args in [&["plan"][..], &["up", "--yes"], &["drift"], &["output"]] {
        let mut cmd = infra_command(&qa.endpoint);
        cmd.arg("--plans")
            .arg(qa.dir.path().join("plans"))
            .arg("--state")
            .arg(dev.state_path())
            .args(args)
            .args(["--env", &qa.name]);
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(vpcs_of(&dev.name).await, dev_vpcs, "dev's VPC is untouched");
    assert!(vpcs_of(&qa.name).await.is_empty());

    // Another project with the same env name and the same state file.
    let other = TestEnv {
        name: dev.name.clone(),
        dir: tempfile::tempdir().unwrap(),
        endpoint: dev.endpoint.clone(),
    };
    std::fs::create_dir_all(other.dir.path().join("plans")).unwrap();
    other.write_plan(&one_vpc_plan("other", 94));
    let mut cmd = infra_command(&other.endpoint);
    cmd.arg("--plans")
        .arg(other.dir.path().join("plans"))
        .arg("--state")
        .arg(dev.state_path())
        .args(["destroy", "--yes", "--env", &other.name]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("project `todo`"),
        "{}",
        text(&out.stderr)
    );

    // A saved plan is refused on a copy of another state with the same serial.
    dev.edit_plan("Name = \"todo\"", "Name = \"todo2\"");
    let saved = dev.dir.path().join("saved.json");
    dev.expect(&["plan", "--out", saved.to_str().unwrap()], 0);
    let twin = one_vpc_env("it-owner-twin", "todo", 96);
    // The twin: dev's name, a fresh state brought to the same serial.
    let twin = TestEnv {
        name: dev.name.clone(),
        ..twin
    };
    twin.write_plan(&dev.plan_text());
    let serial = |p: &std::path::Path| -> i64 {
        let c = rusqlite::Connection::open(p).unwrap();
        c.query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'serial'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    {
        // A state of the same owner and serial, made by hand from dev's, with its own lineage.
        std::fs::create_dir_all(twin.state_path().parent().unwrap()).unwrap();
        let c = rusqlite::Connection::open(dev.state_path()).unwrap();
        c.execute("VACUUM INTO ?1", [twin.state_path().to_string_lossy()])
            .unwrap();
        let t = rusqlite::Connection::open(twin.state_path()).unwrap();
        t.execute(
            "UPDATE meta SET value = 'another-lineage' WHERE key = 'lineage'",
            [],
        )
        .unwrap();
    }
    assert_eq!(serial(&twin.state_path()), serial(&dev.state_path()));
    let out = twin.expect(&["up", "--yes", saved.to_str().unwrap()], 1);
    assert!(
        text(&out.stderr).contains("another state"),
        "{}",
        text(&out.stderr)
    );
    // On its own state it applies.
    dev.expect(&["up", "--yes", saved.to_str().unwrap()], 0);
    dev.expect(&["destroy", "--yes"], 0);
    assert!(vpcs_of(&dev.name).await.is_empty());
}

/// A corrupt JSON cell fails the run naming the address and the latest
/// backup; a foreign SQLite file and an empty file are never written.
#[tokio::test(flavor = "multi_thread")]
async fn state_integrity_corrupt_cells_foreign_and_empty_files() {
    let env = one_vpc_env("it-integrity", "todo", 97);
    env.expect(&["up", "--yes"], 0);
    let vpcs = vpcs_of(&env.name).await;
    {
        let c = rusqlite::Connection::open(env.state_path()).unwrap();
        c.execute(
            "UPDATE resources SET props = '{\"cidr\": ' WHERE address = 'vpc.main'",
            [],
        )
        .unwrap();
    }
    for args in [&["plan"][..], &["up", "--yes"], &["destroy", "--yes"]] {
        let out = env.expect(args, 1);
        let err = text(&out.stderr);
        assert!(
            err.contains("vpc.main") && err.contains("props"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("latest backup is") && err.contains("backups"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        vpcs_of(&env.name).await,
        vpcs,
        "nothing replaced, nothing deleted"
    );

    // A SQLite file that is not infra's.
    let foreign = env.dir.path().join("notes.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    for args in [&["plan"][..], &["up", "--yes"], &["drift"]] {
        let mut cmd = infra_command(&env.endpoint);
        cmd.arg("--plans")
            .arg(env.dir.path().join("plans"))
            .arg("--state")
            .arg(&foreign)
            .args(args)
            .args(["--env", &env.name]);
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("not an infra state"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&foreign).unwrap(),
            before,
            "{args:?} left the file as it was"
        );
        assert!(!env.dir.path().join("notes.db-wal").exists());
    }
    // An empty file: `plan` reads it as empty and writes nothing.
    let empty = env.dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let mut cmd = infra_command(&env.endpoint);
    cmd.arg("--plans")
        .arg(env.dir.path().join("plans"))
        .arg("--state")
        .arg(&empty)
        .args(["plan", "--env", &env.name]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);

    // Clean up: the state repaired from its backup by hand, then destroy.
    {
        let c = rusqlite::Connection::open(env.state_path()).unwrap();
        c.execute("UPDATE resources SET props = '{\"cidr\": \"10.97.0.0/16\"}' WHERE address = 'vpc.main'", []).unwrap();
    }
    env.expect(&["destroy", "--yes"], 0);
    assert!(vpcs_of(&env.name).await.is_empty());
}

/// One lock per state file, however it is spelled: a run through a
/// symlink, a hard link or a path with `..` meets the running one's lock and
/// is refused naming it, also after every `*.lock` file is deleted by hand.
#[tokio::test(flavor = "multi_thread")]
async fn one_lock_per_state_file_however_it_is_spelled() {
    let env = one_vpc_env("it-spell", "todo", 97);
    // The first run holds the lock, stopped inside its one create.
    let proxy = Proxy::start(&["--hold-op", "CreateVpc"]);
    let mut first = env
        .command(&["up", "--yes"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        proxy
            .wait_hold(&mut || first.try_wait().unwrap().is_some())
            .is_some(),
        "the first up never called CreateVpc"
    );

    let state = env.state_path();
    let symlink = env.dir.path().join("via-symlink.db");
    std::os::unix::fs::symlink(&state, &symlink).unwrap();
    let hard_link = env.dir.path().join("via-hard-link.db");
    std::fs::hard_link(&state, &hard_link).unwrap();
    let dotted = env
        .dir
        .path()
        .join("plans")
        .join("..")
        .join("state")
        .join(state.file_name().unwrap());
    let up_via = |path: &std::path::Path| {
        let mut cmd = infra_command(&env.endpoint);
        cmd.arg("--plans")
            .arg(env.dir.path().join("plans"))
            .arg("--state")
            .arg(path)
            .args(["up", "--yes", "--env", &env.name]);
        cmd.output().unwrap()
    };
    let refused = |path: &std::path::Path, how: &str| {
        let out = up_via(path);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{how}: {err}\n{}",
            text(&out.stdout)
        );
        assert!(
            err.contains("state is locked by") && err.contains(&format!("(pid {})", first.id())),
            "{how}: {err}"
        );
        assert!(!text(&out.stdout).contains("create started"), "{how}");
    };
    refused(&symlink, "through a symlink");
    refused(&hard_link, "through a hard link");
    refused(&dotted, "through a path with ..");
    // Lock files deleted by hand change nothing: the lock is the state file's own.
    for dir in [state.parent().unwrap(), env.dir.path()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "lock") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    refused(&state, "after lock files were deleted");
    refused(&symlink, "through a symlink, after lock files were deleted");
    assert!(
        vpcs_of(&env.name).await.len() <= 1,
        "only the first run created"
    );

    // Killed, then rerun through the symlink: one VPC, converged.
    first.kill().unwrap();
    first.wait().unwrap();
    drop(proxy);
    let out = up_via(&symlink);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(vpcs_of(&env.name).await.len(), 1, "nothing duplicated");
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert!(vpcs_of(&env.name).await.is_empty());
}

/// A lock row whose process is alive on this host is never called stale,
/// even with no OS lock held; once that process is gone (or its pid was
/// reused by a process started after the lock), the row is cleared.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_holder_is_never_stale() {
    let env = one_vpc_env("it-alive", "todo", 98);
    env.expect(&["up", "--yes"], 0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut holder = std::process::Command::new("sleep")
        .arg("120")
        .spawn()
        .unwrap();
    let write_row = |pid: u32, started_at: i64| {
        let c = rusqlite::Connection::open(env.state_path()).unwrap();
        c.execute("DELETE FROM lock", []).unwrap();
        c.execute(
            "INSERT INTO lock(id, lock_id, user, host, pid, command, started_at) VALUES (1, 'held-elsewhere', 'ada', ?1, ?2, 'infra up (a build that locked another file)', ?3)",
            rusqlite::params![host, pid, started_at],
        )
        .unwrap();
    };

    write_row(holder.id(), now);
    let out = env.expect(&["up", "--yes"], 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("state is locked by") && err.contains(&format!("(pid {})", holder.id())),
        "{err}"
    );
    assert!(!err.contains("stale"), "{err}");

    // The same pid, but its process started after the lock was taken: reused.
    write_row(holder.id(), now - 3600);
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&out.stderr).contains("cleared a stale lock"),
        "{}",
        text(&out.stderr)
    );

    // The holder's process is gone.
    write_row(holder.id(), now);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&out.stderr).contains("cleared a stale lock"),
        "{}",
        text(&out.stderr)
    );
    env.expect(&["destroy", "--yes"], 0);
    assert!(vpcs_of(&env.name).await.is_empty());
}

/// An IAM policy document as the emulator returns it (URL-encoded JSON).
fn policy_json(doc: &str) -> serde_json::Value {
    serde_json::from_str(&percent_encoding::percent_decode_str(doc).decode_utf8_lossy()).unwrap()
}

/// A statement's actions, as a list.
fn actions(statement: &serde_json::Value) -> Vec<String> {
    match &statement["Action"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// The policies infra writes are tight, read back from the emulator: the
/// interruption queue takes messages only from this cluster's rules in this
/// account and never without TLS; a Pod Identity role trusts this account's
/// EKS for one service account of this cluster; the load balancer
/// controller's conditions name this cluster's tag value; Karpenter may
/// create instance profiles on the tags of the request.
#[tokio::test(flavor = "multi_thread")]
async fn the_policies_infra_writes_are_tight() {
    let env = TestEnv::from_dev("it-policy", 99);
    env.edit_plan(
        "service_account = \"todo-api\"\n",
        "service_account = \"todo-api\"\npod_identity = true\n",
    );
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let cluster = format!("todo-{}", env.name);
    let account = sdk
        .eks
        .describe_cluster()
        .name(&cluster)
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .arn()
        .unwrap()
        .split(':')
        .nth(4)
        .unwrap()
        .to_string();
    assert!(!account.is_empty());

    // The interruption queue.
    let url = sdk
        .sqs
        .get_queue_url()
        .queue_name(format!("{cluster}-karpenter"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let attrs = sdk
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let policy: serde_json::Value = serde_json::from_str(
        &attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::Policy],
    )
    .unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let mut rule_arns: Vec<String> = Vec::new();
    for key in [
        "spot-interruption",
        "rebalance",
        "instance-state-change",
        "scheduled-change",
    ] {
        let rule = sdk
            .events
            .describe_rule()
            .name(format!("{cluster}-karpenter-{key}"))
            .send()
            .await
            .unwrap();
        rule_arns.push(rule.arn().unwrap().to_string());
    }
    rule_arns.sort();
    let allows: Vec<&serde_json::Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert!(!allows.is_empty(), "{policy:#}");
    for s in &allows {
        assert_eq!(
            s["Principal"]["Service"], "events.amazonaws.com",
            "only EventBridge sends: {s:#}"
        );
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            account.as_str(),
            "{s:#}"
        );
        let mut sources: Vec<String> = match &s["Condition"]["ArnEquals"]["aws:SourceArn"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            other => panic!("no aws:SourceArn: {other}"),
        };
        sources.sort();
        assert_eq!(
            sources, rule_arns,
            "this cluster's four rules, no other source"
        );
    }
    let deny_plain = statements.iter().any(|s| {
        s["Effect"] == "Deny"
            && s["Principal"] == "*"
            && actions(s).iter().any(|a| a == "sqs:*")
            && s["Resource"] == queue_arn.as_str()
            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    });
    assert!(deny_plain, "non-TLS access is denied: {policy:#}");

    // The Pod Identity role's trust.
    let role = sdk
        .iam
        .get_role()
        .role_name(format!("{cluster}-todo-api"))
        .send()
        .await
        .unwrap();
    let trust = policy_json(role.role().unwrap().assume_role_policy_document().unwrap());
    for s in trust["Statement"].as_array().unwrap() {
        assert_eq!(
            s["Principal"]["Service"], "pods.eks.amazonaws.com",
            "{trust:#}"
        );
        let cond = &s["Condition"]["StringEquals"];
        assert_eq!(cond["aws:SourceAccount"], account.as_str(), "{trust:#}");
        assert_eq!(
            cond["aws:RequestTag/eks-cluster-name"],
            cluster.as_str(),
            "{trust:#}"
        );
        assert_eq!(
            cond["aws:RequestTag/kubernetes-namespace"], "todo-backend",
            "{trust:#}"
        );
        assert_eq!(
            cond["aws:RequestTag/kubernetes-service-account"], "todo-api",
            "{trust:#}"
        );
    }

    // The load balancer controller: every condition on its tag names this cluster.
    let lbc = sdk
        .iam
        .get_role_policy()
        .role_name(format!("{cluster}-aws-load-balancer-controller"))
        .policy_name("workload")
        .send()
        .await
        .unwrap();
    let lbc = policy_json(lbc.policy_document());
    let mut named = 0;
    for s in lbc["Statement"].as_array().unwrap() {
        for (operator, keys) in s["Condition"].as_object().into_iter().flatten() {
            for (key, value) in keys.as_object().unwrap() {
                if key.ends_with("/elbv2.k8s.aws/cluster") {
                    assert_eq!(
                        operator, "StringEquals",
                        "a condition that only tests the key exists: {s:#}"
                    );
                    assert_eq!(value, cluster.as_str(), "{s:#}");
                    named += 1;
                }
            }
        }
        // Creating load balancers, target groups and their groups is allowed only tagged for this cluster.
        let creates = actions(s).iter().any(|a| {
            a == "elasticloadbalancing:CreateLoadBalancer"
                || a == "elasticloadbalancing:CreateTargetGroup"
        });
        if creates {
            assert_eq!(
                s["Condition"]["StringEquals"]["aws:RequestTag/elbv2.k8s.aws/cluster"],
                cluster.as_str(),
                "{s:#}"
            );
        }
    }
    assert!(
        named >= 5,
        "the controller's statements are conditioned on this cluster: {lbc:#}"
    );

    // Karpenter: creating an instance profile is conditioned on the request's tags.
    let karpenter = sdk
        .iam
        .get_role_policy()
        .role_name(format!("{cluster}-karpenter-controller"))
        .policy_name("karpenter-controller")
        .send()
        .await
        .unwrap();
    let karpenter = policy_json(karpenter.policy_document());
    let create: Vec<&serde_json::Value> = karpenter["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| actions(s).iter().any(|a| a == "iam:CreateInstanceProfile"))
        .collect();
    assert_eq!(create.len(), 1, "{karpenter:#}");
    let cond = create[0]["Condition"].as_object().unwrap();
    let keys: Vec<&String> = cond
        .values()
        .flat_map(|k| k.as_object().unwrap().keys())
        .collect();
    assert!(
        keys.iter().all(|k| k.starts_with("aws:RequestTag/")),
        "a create has no resource tags yet: {keys:?}"
    );
    assert_eq!(
        cond["StringEquals"][format!("aws:RequestTag/kubernetes.io/cluster/{cluster}")],
        "owned"
    );
    assert_eq!(
        actions(create[0]),
        ["iam:CreateInstanceProfile"],
        "other profile actions go on the profile's own tags"
    );

    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
}
