use std::collections::BTreeMap;

use crate::support::*;

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_network_up_update_replace_destroy() {
    let env = TestEnv::from_dev("it-net", 31);
    let ec2 = ec2().await;
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&out.stdout).contains("Plan: 93 to add, 0 to change, 0 to destroy."),
        "{}",
        text(&out.stdout)
    );

    // 9 subnets over 3 AZs, with the tier tags.
    let subnets = ec2
        .describe_subnets()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec();
    assert_eq!(subnets.len(), 9);
    let mut by_tier: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &subnets {
        by_tier
            .entry(tag(s.tags(), "tier").unwrap().to_string())
            .or_default()
            .push(s.availability_zone().unwrap().to_string());
        match tag(s.tags(), "tier").unwrap() {
            "public" => {
                assert_eq!(tag(s.tags(), "kubernetes.io/role/elb"), Some("1"));
                assert_eq!(s.map_public_ip_on_launch(), Some(true));
            }
            "app" => {
                assert_eq!(tag(s.tags(), "kubernetes.io/role/internal-elb"), Some("1"));
                assert_eq!(
                    tag(s.tags(), "karpenter.sh/discovery"),
                    Some(format!("todo-{}", env.name).as_str())
                );
            }
            _ => assert_eq!(tag(s.tags(), "kubernetes.io/role/elb"), None),
        }
    }
    for (tier, mut azs) in by_tier {
        azs.sort();
        assert_eq!(
            azs,
            ["us-east-1a", "us-east-1b", "us-east-1c"],
            "tier {tier}"
        );
    }

    // The VPC has DNS support and hostnames on.
    let vpc = ec2
        .describe_vpcs()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .clone();
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert_eq!(vpc.cidr_block(), Some("10.31.0.0/16"));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attr.clone())
            .send()
            .await
            .unwrap();
        let on = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }

    // One NAT gateway in dev, in a public subnet.
    let nats: Vec<_> = ec2
        .describe_nat_gateways()
        .filter(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .nat_gateways()
        .iter()
        .filter(|n| tag(n.tags(), "infra:env") == Some(env.name.as_str()))
        .filter(|n| n.state().map(|s| s.as_str()) == Some("available"))
        .cloned()
        .collect();
    assert_eq!(nats.len(), 1);
    let nat_id = nats[0].nat_gateway_id().unwrap().to_string();
    let public_ids: Vec<&str> = subnets
        .iter()
        .filter(|s| tag(s.tags(), "tier") == Some("public"))
        .map(|s| s.subnet_id().unwrap())
        .collect();
    assert!(public_ids.contains(&nats[0].subnet_id().unwrap()));

    // Routes: public -> IGW, each app table -> the NAT, data -> nowhere outside.
    let igw = ec2
        .describe_internet_gateways()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .internet_gateways()[0]
        .clone();
    assert_eq!(igw.attachments()[0].vpc_id(), Some(vpc_id.as_str()));
    let tables = ec2
        .describe_route_tables()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .route_tables()
        .to_vec();
    assert_eq!(tables.len(), 5, "public, data and one app table per AZ");
    for t in &tables {
        let name = tag(t.tags(), "Name").unwrap();
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
        let subnet_tiers: Vec<&str> = t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .map(|id| {
                tag(
                    subnets
                        .iter()
                        .find(|s| s.subnet_id() == Some(id))
                        .unwrap()
                        .tags(),
                    "tier",
                )
                .unwrap()
            })
            .collect();
        if name.ends_with("-public") {
            assert_eq!(
                default.and_then(|r| r.gateway_id()),
                igw.internet_gateway_id()
            );
            assert_eq!(subnet_tiers, ["public"; 3]);
        } else if name.ends_with("-data") {
            assert!(
                default.is_none(),
                "data tier must have no route to the internet"
            );
            assert_eq!(subnet_tiers, ["data"; 3]);
        } else {
            assert_eq!(
                default.and_then(|r| r.nat_gateway_id()),
                Some(nat_id.as_str()),
                "{name}"
            );
            assert_eq!(subnet_tiers, ["app"]);
        }
    }

    // Security group rules are standalone, tagged, and present.
    let rules = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    let https = rules
        .iter()
        .find(|r| tag(r.tags(), "infra:address") == Some("security_group_rule.nodes_vpc_https"))
        .expect("https rule");
    assert_eq!(
        (https.from_port(), https.to_port(), https.cidr_ipv4()),
        (Some(443), Some(443), Some("10.31.0.0/16"))
    );
    let pg = rules
        .iter()
        .find(|r| {
            tag(r.tags(), "infra:address")
                == Some("security_group_rule.database_postgres_from_nodes")
        })
        .unwrap();
    assert_eq!(pg.from_port(), Some(5432));
    assert_eq!(rules.len(), 4);
    let nodes_group = https.group_id().unwrap().to_string();
    assert_eq!(
        pg.referenced_group_info().and_then(|g| g.group_id()),
        Some(nodes_group.as_str())
    );

    // A second plan is empty.
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // A rule's port changes in place: same rule, same group.
    env.edit_plan("port = 443", "port = 8443");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("~ security_group_rule.nodes_vpc_https"),
        "{plan}"
    );
    assert!(plan.contains("from_port: 443 -> 8443"), "{plan}");
    assert!(
        !plan.contains("security_group.nodes ("),
        "the group must not change: {plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    // A tag is an in-place update too.
    env.edit_plan(
        "managed-by = \"infra\"",
        "managed-by = \"infra\"\nteam = \"platform\"",
    );
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("~ vpc.main (Vpc) will be updated in place"),
        "{plan}"
    );
    assert!(plan.contains("tags.team: (none) -> \"platform\""), "{plan}");
    assert!(
        !plan.contains("-/+") && plan.contains("Plan: 0 to add, "),
        "no replacement: {plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let after = ec2
        .describe_security_group_rules()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    let https2 = after
        .iter()
        .find(|r| r.security_group_rule_id() == https.security_group_rule_id())
        .expect("same rule id");
    assert_eq!(
        (https2.from_port(), https2.to_port()),
        (Some(8443), Some(8443))
    );
    assert_eq!(https2.group_id(), Some(nodes_group.as_str()));
    let vpc_after = ec2
        .describe_vpcs()
        .vpc_ids(&vpc_id)
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .clone();
    assert_eq!(tag(vpc_after.tags(), "team"), Some("platform"));
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // Explicit subnet CIDRs equal to the derived ones change nothing...
    env.edit_plan(
        "nat_gateways = 1",
        "nat_gateways = 1\n[network.subnets]\npublic = [\"10.31.224.0/23\", \"10.31.226.0/23\", \"10.31.228.0/23\"]\napp = [\"10.31.0.0/19\", \"10.31.32.0/19\", \"10.31.64.0/19\"]\ndata = [\"10.31.240.0/23\", \"10.31.242.0/23\", \"10.31.244.0/23\"]",
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    // ...and changing one is a replace, with the reason.
    env.edit_plan("\"10.31.240.0/23\"", "\"10.31.246.0/23\"");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("-/+ subnet.data_a (Subnet) must be replaced"),
        "{plan}"
    );
    assert!(plan.contains("`cidr` cannot change in place"), "{plan}");
    assert!(
        plan.contains("-/+ route_table_association.data_a"),
        "{plan}"
    );
    assert!(
        plan.contains("~ db_subnet_group.main"),
        "the DB subnet group follows the subnet in place: {plan}"
    );
    assert!(
        plan.contains("Plan: 2 to add, 1 to change, 2 to destroy."),
        "{plan}"
    );
    let old_data_a = subnets
        .iter()
        .find(|s| tag(s.tags(), "Name").is_some_and(|n| n.ends_with("-data-a")))
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    env.expect(&["up", "--yes"], 0);
    let now = ec2
        .describe_subnets()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec();
    assert_eq!(now.len(), 9);
    assert!(
        now.iter()
            .all(|s| s.subnet_id() != Some(old_data_a.as_str())),
        "old subnet deleted"
    );
    assert!(now.iter().any(|s| s.cidr_block() == Some("10.31.246.0/23")));
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // Destroy leaves nothing tagged with the env.
    env.expect(&["destroy", "--yes"], 0);
    assert_eq!(ec2_inventory(&ec2, &env.name).await, Vec::<String>::new());
    env.expect(&["plan", "--detailed-exitcode"], 2);
}
