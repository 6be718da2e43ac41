//! Drift over the whole dev platform: zero noise right after `up`; exactly
//! the out-of-band changes reported; `up` reconciles; orphans are listed and
//! only pruned on request.

use serde_json::Value;

use crate::support::*;

fn findings(out: &std::process::Output) -> Vec<Value> {
    let report: Value = serde_json::from_slice(&out.stdout).expect("drift --json");
    report["findings"].as_array().unwrap().clone()
}

fn tag_value<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_silent_after_up_exact_after_changes_and_reconciled_by_up() {
    let env = TestEnv::from_dev("it-drift", 45);
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    env.expect(&["up", "--yes"], 0);

    // Zero noise right after up.
    let out = env.expect(&["drift", "--json"], 0);
    assert_eq!(findings(&out), Vec::<Value>::new());
    let human = text(&env.expect(&["drift"], 0).stdout);
    assert!(human.contains("No drift"), "{human}");

    // Things others do that are not drift: a tag a controller adds, an
    // autoscaler changing the node group's desired size.
    let subnets = sdk
        .ec2
        .describe_subnets()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec();
    let by_address = |a: &str| {
        subnets
            .iter()
            .find(|s| tag_value(s.tags(), "infra:address") == Some(a))
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_string()
    };
    let app_a = by_address("subnet.app_a");
    sdk.ec2
        .create_tags()
        .resources(&app_a)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(format!("kubernetes.io/cluster/{name}"))
                .value("shared")
                .build(),
        )
        .send()
        .await
        .unwrap();
    sdk.eks
        .update_nodegroup_config()
        .cluster_name(&name)
        .nodegroup_name("system")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(2)
                .max_size(3)
                .desired_size(3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.expect(&["drift"], 0);

    // Out-of-band changes.
    let rules = sdk
        .ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    let rule = |a: &str| {
        rules
            .iter()
            .find(|r| tag_value(r.tags(), "infra:address") == Some(a))
            .unwrap()
            .clone()
    };
    let https = rule("security_group_rule.nodes_vpc_https");
    // 1. Revoke a rule by its permission.
    sdk.ec2
        .revoke_security_group_ingress()
        .group_id(https.group_id().unwrap())
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("10.45.0.0/16")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // 2. Delete another rule by its id.
    let pg = rule("security_group_rule.database_postgres_from_nodes");
    sdk.ec2
        .revoke_security_group_ingress()
        .group_id(pg.group_id().unwrap())
        .security_group_rule_ids(pg.security_group_rule_id().unwrap())
        .send()
        .await
        .unwrap();
    // 3. Point app_a's default route at the internet gateway.
    let tables = sdk
        .ec2
        .describe_route_tables()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .route_tables()
        .to_vec();
    let app_table = tables
        .iter()
        .find(|t| tag_value(t.tags(), "infra:address") == Some("route_table.app_a"))
        .unwrap();
    let igw = sdk
        .ec2
        .describe_internet_gateways()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .internet_gateways()[0]
        .internet_gateway_id()
        .unwrap()
        .to_string();
    sdk.ec2
        .replace_route()
        .route_table_id(app_table.route_table_id().unwrap())
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    // 4. Retag a subnet.
    let public_a = by_address("subnet.public_a");
    sdk.ec2
        .create_tags()
        .resources(&public_a)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("tier")
                .value("private")
                .build(),
        )
        .send()
        .await
        .unwrap();
    // 5. Delete the queue's policy.
    let url = sdk
        .sqs
        .get_queue_url()
        .queue_name(format!("{name}-karpenter"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    sdk.sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, "")
        .send()
        .await
        .unwrap();

    // 6. Shorten the database's backup retention.
    sdk.rds
        .modify_db_instance()
        .db_instance_identifier(format!("{name}-db"))
        .backup_retention_period(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();

    // 7. Disable Karpenter's rebalance rule.
    let rebalance = format!("{name}-karpenter-rebalance");
    sdk.events
        .disable_rule()
        .name(&rebalance)
        .send()
        .await
        .unwrap();

    let out = env.expect(&["drift", "--json"], 2);
    let mut got: Vec<(String, String, Vec<String>)> = findings(&out)
        .iter()
        .map(|f| {
            let fields = f["fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x["field"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (
                f["finding"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap_or_default().to_string(),
                fields,
            )
        })
        .collect();
    got.sort();
    let s = |v: &str| v.to_string();
    assert_eq!(
        got,
        vec![
            (
                s("changed"),
                s("db_instance.main"),
                vec![s("backup_retention_days")]
            ),
            (
                s("changed"),
                s("event_rule.karpenter_rebalance"),
                vec![s("state")]
            ),
            (
                s("changed"),
                s("route.app_a_nat"),
                vec![s("nat_gateway_id")]
            ),
            (s("changed"), s("subnet.public_a"), vec![s("tags.tier")]),
            (
                s("deleted"),
                s("security_group_rule.database_postgres_from_nodes"),
                vec![]
            ),
            (
                s("deleted"),
                s("security_group_rule.nodes_vpc_https"),
                vec![]
            ),
            (
                s("deleted"),
                s("sqs_queue_policy.karpenter_interruption"),
                vec![]
            ),
        ],
        "exactly the out-of-band changes"
    );
    let route = findings(&out)
        .into_iter()
        .find(|f| f["address"] == "route.app_a_nat")
        .unwrap();
    assert_eq!(route["tier"], "network");
    let human = text(&env.expect(&["drift"], 2).stdout);
    assert!(
        human.contains("network:") && human.contains("cluster:") && human.contains("database:"),
        "grouped by tier: {human}"
    );
    assert!(
        human.contains("tags.tier: \"public\" -> \"private\""),
        "only the changed key: {human}"
    );

    // up reconciles; drift is clean again.
    env.expect(&["up", "--yes"], 0);
    env.expect(&["drift"], 0);
    let table = sdk
        .ec2
        .describe_route_tables()
        .route_table_ids(app_table.route_table_id().unwrap())
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    let default = table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .unwrap();
    assert!(
        default.nat_gateway_id().is_some(),
        "route points at the NAT again"
    );
    let s = sdk
        .ec2
        .describe_subnets()
        .subnet_ids(&public_a)
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .clone();
    assert_eq!(tag_value(s.tags(), "tier"), Some("public"));
    let policy = sdk
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .attributes()
            .unwrap()
            .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
            .is_some_and(|p| !p.is_empty())
    );
    let db = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{name}-db"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        db.db_instances()[0].backup_retention_period(),
        Some(7),
        "backups back to the plan's 7 days"
    );
    let rule = sdk
        .events
        .describe_rule()
        .name(&rebalance)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rule.state(),
        Some(&aws_sdk_eventbridge::types::RuleState::Enabled),
        "the rule enabled again"
    );

    // An orphan: tagged with the project and env, unknown to state.
    let vpc_id = sdk
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
    let handmade = sdk
        .ec2
        .create_security_group()
        .group_name(format!("{name}-handmade"))
        .description("made by hand")
        .vpc_id(&vpc_id)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("infra:env")
                        .value(&env.name)
                        .build(),
                )
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("infra:project")
                        .value("todo")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let out = env.expect(&["drift", "--json"], 2);
    let f = findings(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0]["finding"].as_str(), f[0]["id"].as_str()),
        (Some("orphan"), Some(handmade.as_str()))
    );
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&out.stdout).contains(&handmade),
        "up names the orphan it leaves: {}",
        text(&out.stdout)
    );
    assert_eq!(
        sdk.ec2
            .describe_security_groups()
            .group_ids(&handmade)
            .send()
            .await
            .unwrap()
            .security_groups()
            .len(),
        1
    );
    env.expect(&["up", "--yes", "--prune-orphans"], 0);
    assert!(
        sdk.ec2
            .describe_security_groups()
            .group_ids(&handmade)
            .send()
            .await
            .is_err(),
        "pruned"
    );
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

/// The targets of each of the env's rules: rule name → target ids.
async fn rule_targets(
    events: &aws_sdk_eventbridge::Client,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    let listed = events
        .list_rules()
        .name_prefix(prefix)
        .send()
        .await
        .unwrap();
    for r in listed.rules() {
        let name = r.name().unwrap().to_string();
        let targets = events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = targets
            .targets()
            .iter()
            .map(|t| t.id().to_string())
            .collect();
        ids.sort();
        out.insert(name, ids);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_target_added_by_hand_is_drift_removed_by_up_and_never_blocks_destroy() {
    let env = TestEnv::from_dev("it-ruletgt", 133);
    let plan = env.plan_text();
    env.write_plan(&plan[..plan.find("\n[database]").unwrap()]);
    let sdk = clients().await;
    let prefix = format!("todo-{}-", env.name);
    let rule = format!("todo-{}-karpenter-spot-interruption", env.name);
    env.expect(&["up", "--yes"], 0);
    let queue = "karpenter-interruption-queue".to_string();
    let rules = rule_targets(&sdk.events, &prefix).await;
    assert_eq!(rules.get(&rule), Some(&vec![queue.clone()]), "{rules:?}");

    // Someone points the rule at a second target as well.
    let arn = |id: &str| format!("arn:aws:sqs:us-east-1:000000000000:{id}");
    let by_hand = |id: &str| {
        aws_sdk_eventbridge::types::Target::builder()
            .id(id)
            .arn(arn(id))
            .build()
            .unwrap()
    };
    sdk.events
        .put_targets()
        .rule(&rule)
        .targets(by_hand("by-hand"))
        .send()
        .await
        .unwrap();
    let out = env.expect(&["drift", "--json"], 2);
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0]["address"],
        "event_rule.karpenter_spot_interruption"
    );
    let fields: Vec<&str> = found[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["other_targets"], "{found:?}");

    // up takes it off and leaves the rule's own target.
    env.expect(&["up", "--yes"], 0);
    let rules = rule_targets(&sdk.events, &prefix).await;
    assert_eq!(rules.get(&rule), Some(&vec![queue.clone()]), "{rules:?}");
    env.expect(&["drift"], 0);

    // Another one added by hand does not keep destroy from deleting the rule.
    sdk.events
        .put_targets()
        .rule(&rule)
        .targets(by_hand("left-behind"))
        .send()
        .await
        .unwrap();
    env.expect(&["destroy", "--yes"], 0);
    assert_eq!(rule_targets(&sdk.events, &prefix).await, Default::default());
}
