//! Day-2 state commands through the binary: state list/show/mv/rm, import,
//! `[[moved]]`, --target, --exclude, --replace, show, version. What the
//! cloud holds is checked with SDK calls.

use crate::support::*;

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// The dev plan's network tier only (everything from `[cluster]` on is cut).
pub fn network_only(env: &TestEnv) {
    let text = env.plan_text();
    let cut = text.find("[cluster]").unwrap();
    env.write_plan(&text[..cut]);
}

async fn subnet(ec2: &aws_sdk_ec2::Client, id: &str) -> aws_sdk_ec2::types::Subnet {
    ec2.describe_subnets()
        .subnet_ids(id)
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .clone()
}

fn state_id(env: &TestEnv, address: &str) -> String {
    let out = env.expect(&["state", "show", address, "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn state_commands_moved_import_and_selection() {
    let env = TestEnv::from_dev("it-state", 130);
    network_only(&env);
    let ec2 = ec2().await;
    env.expect(&["up", "--yes"], 0);

    // state list / show
    let out = env.expect(&["state", "list"], 0);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("vpc.main")
            && listed.contains("subnet.app_a")
            && listed.contains("security_group_rule.nodes_vpc_https"),
        "{listed}"
    );
    let out = env.expect(&["state", "list", "--kind", "Subnet", "--json"], 0);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["format_version"], 1);
    let subnets = listed["resources"].as_array().unwrap();
    assert_eq!(subnets.len(), 9);
    assert!(
        subnets
            .iter()
            .all(|s| s["kind"] == "Subnet" && s["id"].as_str().unwrap().starts_with("subnet-"))
    );
    let out = env.expect(&["state", "show", "subnet.app_a"], 0);
    assert!(
        text(&out.stdout).contains("cidr = \"10.130.0.0/19\""),
        "{}",
        text(&out.stdout)
    );
    let out = env.expect(&["state", "show", "subnet.nope"], 3);
    assert!(
        text(&out.stderr).contains("subnet.nope is not in state"),
        "{}",
        text(&out.stderr)
    );

    // state mv: renamed in state and in the cloud's infra:address tag.
    let app_a = state_id(&env, "subnet.app_a");
    env.expect(&["state", "mv", "subnet.app_a", "subnet.app_x"], 0);
    assert_eq!(
        tag(subnet(&ec2, &app_a).await.tags(), "infra:address"),
        Some("subnet.app_x")
    );
    assert_eq!(state_id(&env, "subnet.app_x"), app_a);
    let out = env.expect(&["state", "mv", "subnet.nope", "subnet.other"], 3);
    assert!(
        text(&out.stderr).contains("subnet.nope is not in state for env"),
        "{}",
        text(&out.stderr)
    );
    let out = env.expect(&["state", "mv", "subnet.app_x", "subnet.app_b"], 3);
    assert!(
        text(&out.stderr).contains("subnet.app_b is already in state; nothing was moved"),
        "{}",
        text(&out.stderr)
    );
    let out = env.expect(&["state", "rm", "subnet.nope"], 3);
    assert!(
        text(&out.stderr).contains("subnet.nope is not in state for env"),
        "{}",
        text(&out.stderr)
    );

    // [[moved]] back: a move in the plan, not a destroy and a create.
    env.write_plan(&format!(
        "{}\n[[moved]]\nfrom = \"subnet.app_x\"\nto = \"subnet.app_a\"\n",
        env.plan_text()
    ));
    let out = env.expect(&["plan"], 0);
    let plan = text(&out.stdout);
    assert!(
        plan.contains("~> subnet.app_x (Subnet) has moved to subnet.app_a"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 0 to change, 0 to destroy. 1 to move."),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    assert_eq!(
        tag(subnet(&ec2, &app_a).await.tags(), "infra:address"),
        Some("subnet.app_a")
    );
    assert_eq!(state_id(&env, "subnet.app_a"), app_a);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    // A move whose `to` the plan does not declare is bad input.
    env.write_plan(&format!(
        "{}\n[[moved]]\nfrom = \"subnet.a\"\nto = \"subnet.zzz\"\n",
        env.plan_text()
    ));
    let out = env.expect(&["plan"], 3);
    assert!(
        text(&out.stderr).contains("subnet.zzz"),
        "{}",
        text(&out.stderr)
    );
    let cut = env.plan_text().find("\n[[moved]]").unwrap();
    env.write_plan(&env.plan_text()[..cut]);

    // state rm: forgotten, identity tags gone, the resource kept.
    let rtb = state_id(&env, "route_table.data");
    let out = env.expect(&["state", "rm", "route_table.data"], 0);
    assert!(
        text(&out.stdout).contains("identity tags were removed"),
        "{}",
        text(&out.stdout)
    );
    let table = ec2
        .describe_route_tables()
        .route_table_ids(&rtb)
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    assert_eq!(tag(table.tags(), "infra:env"), None);
    assert_eq!(tag(table.tags(), "infra:address"), None);
    assert_eq!(
        tag(table.tags(), "Name"),
        Some(format!("todo-{}-data", env.name).as_str())
    );
    let out = env.expect(&["plan"], 0);
    assert!(
        text(&out.stdout).contains("+ route_table.data (RouteTable) will be created"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("orphan"),
        "{}",
        text(&out.stdout)
    );

    // import: tagged again, recorded, nothing to do.
    env.expect(&["import", "route_table.data", &rtb], 0);
    let table = ec2
        .describe_route_tables()
        .route_table_ids(&rtb)
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    assert_eq!(tag(table.tags(), "infra:address"), Some("route_table.data"));
    assert_eq!(state_id(&env, "route_table.data"), rtb);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["import", "route_table.data", &rtb], 3);
    env.expect(&["import", "route_table.nope", &rtb], 3);

    // --target / --exclude: two rules change; each flag picks its part.
    env.edit_plan(
        "description = \"HTTPS from inside the VPC\"",
        "description = \"HTTPS within the VPC\"",
    );
    env.edit_plan(
        "description = \"node to node\"",
        "description = \"node to node traffic\"",
    );
    let out = env.expect(
        &["plan", "--target", "security_group_rule.nodes_vpc_https"],
        0,
    );
    let plan = text(&out.stdout);
    assert!(
        plan.contains("Selected: --target security_group_rule.nodes_vpc_https"),
        "{plan}"
    );
    assert!(plan.contains("partial run"), "{plan}");
    assert!(
        plan.contains("~ security_group_rule.nodes_vpc_https") && !plan.contains("nodes_self_all"),
        "{plan}"
    );
    let out = env.expect(
        &[
            "plan",
            "--exclude",
            "security_group_rule.nodes_vpc_https",
            "--json",
        ],
        0,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let addresses: Vec<&str> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["security_group_rule.nodes_self_all"]);
    assert_eq!(json["partial"], true);
    // Excluding the group leaves out its rules too (they depend on it).
    let out = env.expect(&["plan", "--exclude", "security_group.nodes"], 0);
    assert!(
        text(&out.stdout).contains("No changes"),
        "{}",
        text(&out.stdout)
    );
    env.expect(&["plan", "--target", "subnet.nope"], 3);
    env.expect(
        &[
            "up",
            "--yes",
            "--target",
            "security_group_rule.nodes_vpc_https",
        ],
        0,
    );
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    let desc = |address: &str| {
        rules
            .iter()
            .find(|r| tag(r.tags(), "infra:address") == Some(address))
            .and_then(|r| r.description())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        desc("security_group_rule.nodes_vpc_https"),
        "HTTPS within the VPC"
    );
    assert_eq!(desc("security_group_rule.nodes_self_all"), "node to node");
    env.expect(&["up", "--yes"], 0);

    // --replace: a new rule where nothing forced one.
    let rule = state_id(&env, "security_group_rule.nodes_vpc_https");
    let out = env.expect(
        &["plan", "--replace", "security_group_rule.nodes_vpc_https"],
        0,
    );
    let plan = text(&out.stdout);
    assert!(plan.contains("-/+ security_group_rule.nodes_vpc_https (SecurityGroupRule) will be replaced (replace requested)"), "{plan}");
    assert!(
        plan.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{plan}"
    );
    assert!(!plan.contains("partial run"), "{plan}");
    let saved = env.dir.path().join("replace.plan");
    env.expect(
        &[
            "plan",
            "--replace",
            "security_group_rule.nodes_vpc_https",
            "--out",
            saved.to_str().unwrap(),
        ],
        0,
    );
    env.expect(
        &[
            "up",
            "--yes",
            "--replace",
            "security_group_rule.nodes_vpc_https",
        ],
        0,
    );
    let new_rule = state_id(&env, "security_group_rule.nodes_vpc_https");
    assert_ne!(new_rule, rule);
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    assert!(
        rules
            .iter()
            .all(|r| r.security_group_rule_id() != Some(rule.as_str())),
        "the old rule is deleted"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.security_group_rule_id() == Some(new_rule.as_str()))
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // show: the saved plan rendered, text and JSON; a bad file is exit 3.
    let out = infra_command(&env.endpoint)
        .args(["show", saved.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("will be replaced (replace requested)"),
        "{}",
        text(&out.stdout)
    );
    let out = infra_command(&env.endpoint)
        .args(["show", saved.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["selection"][0],
        "--replace security_group_rule.nodes_vpc_https"
    );
    let out = infra_command(&env.endpoint)
        .args(["show", env.plan_path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains(env.plan_path().to_str().unwrap()));
    let out = infra_command(&env.endpoint)
        .arg("version")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).starts_with("infra "),
        "{}",
        text(&out.stdout)
    );

    // destroy --target: the rule only; the rest stays.
    env.expect(
        &[
            "destroy",
            "--yes",
            "--target",
            "security_group_rule.database_postgres_from_nodes",
        ],
        0,
    );
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    assert!(rules.iter().all(|r| tag(r.tags(), "infra:address")
        != Some("security_group_rule.database_postgres_from_nodes")));
    assert!(!ec2_inventory(&ec2, &env.name).await.is_empty());
    let out = env.expect(&["plan"], 0);
    assert!(
        text(&out.stdout).contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        text(&out.stdout)
    );

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}
