//! Multi-call creates finish: a create made of several calls (a security
//! group, then revoking AWS's default allow-all egress; a VPC, then its DNS
//! attributes; a subnet, then its public-IP attribute; a KMS key, then its
//! policy and rotation; an EventBridge rule, then its target) killed between
//! the calls is finished by the next run. The fault proxy holds the later
//! call before it reaches the emulator (`--hold-unsent`), the binary is
//! killed -9 there, and after the rerun the live configuration, read with SDK
//! calls, is what a clean run makes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Runs `up` through a fault proxy that holds every `operation` call before
/// forwarding it; waits for the first hold (and up to `holds` of them, as
/// long as they keep coming), then kills the binary (-9).
fn killed_before(env: &TestEnv, operation: &str, holds: usize) {
    let proxy = Proxy::start(&["--hold-op", operation, "--hold-unsent"]);
    let mut cmd = env.command(&["up", "--yes"]);
    cmd.env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let held = proxy.wait_hold(&mut || child.try_wait().unwrap().is_some());
    assert!(held.is_some(), "{operation} was never called");
    // Creates running side by side reach the same call: let them get there.
    for _ in 1..holds {
        let deadline = Instant::now() + Duration::from_secs(45);
        let more = proxy
            .wait_hold(&mut || child.try_wait().unwrap().is_some() || Instant::now() > deadline);
        if more.is_none() {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
}

/// The dev plan up to `[section]` (network only, or network and cluster).
fn plan_until(env: &TestEnv, section: &str) -> String {
    let all = env.plan_text();
    all[..all.find(&format!("\n[{section}]")).unwrap()].to_string()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// The env's security groups: id → address.
async fn groups(ec2: &aws_sdk_ec2::Client, env: &str) -> BTreeMap<String, String> {
    ec2.describe_security_groups()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap().to_string(),
                tag(g.tags(), "infra:address")
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// Every egress rule of the env's groups, by group address: protocol,
/// CIDR, description and the rule's own `infra:address` ("" when untagged).
async fn egress(ec2: &aws_sdk_ec2::Client, env: &str) -> BTreeMap<String, Vec<String>> {
    let groups = groups(ec2, env).await;
    let mut out: BTreeMap<String, Vec<String>> =
        groups.values().map(|a| (a.clone(), Vec::new())).collect();
    let rules = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .set_values(Some(groups.keys().cloned().collect()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    for r in rules.security_group_rules() {
        if r.is_egress() != Some(true) {
            continue;
        }
        let group = &groups[r.group_id().unwrap()];
        out.entry(group.clone()).or_default().push(format!(
            "{} {} {:?} {}",
            r.ip_protocol().unwrap_or_default(),
            r.cidr_ipv4().unwrap_or_default(),
            r.description().unwrap_or_default(),
            tag(r.tags(), "infra:address").unwrap_or_default()
        ));
    }
    for rules in out.values_mut() {
        rules.sort();
    }
    out
}

/// What a clean run leaves: the database group lets nothing out; the nodes
/// group has exactly the plan's egress rule, tagged as infra's.
fn clean_egress() -> BTreeMap<String, Vec<String>> {
    [
        ("security_group.database".to_string(), Vec::new()),
        (
            "security_group.nodes".to_string(),
            vec![
                "-1 0.0.0.0/0 \"nodes reach the internet through NAT\" security_group_rule.nodes_egress_all"
                    .to_string(),
            ],
        ),
    ]
    .into()
}

fn findings(out: &std::process::Output) -> Vec<(String, String, String)> {
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("finding"), s("parent"), s("what"))
        })
        .filter(|(finding, _, _)| finding == "default_egress")
        .collect();
    got.sort();
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn security_groups_cut_short_before_their_default_egress_is_revoked_finish() {
    let env = TestEnv::from_dev("it-sgcut", 100);
    env.write_plan(&plan_until(&env, "cluster"));
    let ec2 = ec2().await;

    // Both groups made, neither's default egress revoked.
    killed_before(&env, "RevokeSecurityGroupEgress", 2);
    let left = egress(&ec2, &env.name).await;
    assert_eq!(
        left.get("security_group.database"),
        Some(&vec!["-1 0.0.0.0/0 \"\" ".to_string()]),
        "the cut leaves AWS's default egress: {left:#?}"
    );

    // Drift names it (exit 2), the plan revokes it.
    let drift = env.expect(&["drift", "--json"], 2);
    assert_eq!(
        findings(&drift),
        vec![(
            "default_egress".into(),
            "security_group.database".into(),
            "egress all to 0.0.0.0/0".into()
        )],
        "{}",
        text(&drift.stdout)
    );
    let plan = text(&env.expect(&["plan"], 0).stdout);
    assert!(
        plan.contains(
            "AWS's default egress all to 0.0.0.0/0 on security_group.database, never revoked"
        ),
        "{plan}"
    );

    env.expect(&["up", "--yes"], 0);
    assert_eq!(egress(&ec2, &env.name).await, clean_egress());
    assert_eq!(groups(&ec2, &env.name).await.len(), 2, "nothing made twice");
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    // The same rule put back by hand is drift too, and `up` revokes it again.
    let database = groups(&ec2, &env.name)
        .await
        .into_iter()
        .find(|(_, a)| a == "security_group.database")
        .unwrap()
        .0;
    ec2.authorize_security_group_egress()
        .group_id(&database)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = env.expect(&["drift", "--json"], 2);
    assert_eq!(findings(&drift).len(), 1, "{}", text(&drift.stdout));
    let human = text(&env.expect(&["drift"], 2).stdout);
    assert!(
        human.contains("security_group.database: AWS's default egress all to 0.0.0.0/0"),
        "{human}"
    );
    env.expect(&["up", "--yes"], 0);
    assert_eq!(egress(&ec2, &env.name).await, clean_egress());
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}

async fn vpc_dns(ec2: &aws_sdk_ec2::Client, env: &str) -> (String, bool, bool) {
    use aws_sdk_ec2::types::VpcAttributeName as A;
    let vpcs = ec2
        .describe_vpcs()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC: {vpcs:?}");
    let id = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    let attr = |name: A| {
        let id = id.clone();
        async move {
            let out = ec2
                .describe_vpc_attribute()
                .vpc_id(&id)
                .attribute(name)
                .send()
                .await
                .unwrap();
            out.enable_dns_support()
                .or(out.enable_dns_hostnames())
                .and_then(|a| a.value())
                .unwrap_or(false)
        }
    };
    let support = attr(A::EnableDnsSupport).await;
    let hostnames = attr(A::EnableDnsHostnames).await;
    (id, support, hostnames)
}

/// Subnet address → MapPublicIpOnLaunch.
async fn public_ip(ec2: &aws_sdk_ec2::Client, env: &str) -> BTreeMap<String, bool> {
    ec2.describe_subnets()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .map(|s| {
            (
                tag(s.tags(), "infra:address")
                    .unwrap_or_default()
                    .to_string(),
                s.map_public_ip_on_launch().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_and_subnets_cut_short_before_their_attributes_finish() {
    let env = TestEnv::from_dev("it-vpccut", 101);
    env.write_plan(&plan_until(&env, "cluster"));
    let ec2 = ec2().await;

    // The VPC made, its DNS attributes never set (AWS's default: no hostnames).
    killed_before(&env, "ModifyVpcAttribute", 1);
    let (_, _, hostnames) = vpc_dns(&ec2, &env.name).await;
    assert!(!hostnames, "the cut leaves DNS hostnames off");

    // The rerun finishes the VPC, then is cut after the public subnets'
    // creates, before their public-IP attribute.
    killed_before(&env, "ModifySubnetAttribute", 3);
    let cut = public_ip(&ec2, &env.name).await;
    let public: Vec<&String> = cut.keys().filter(|a| a.contains(".public_")).collect();
    assert!(!public.is_empty(), "a public subnet was made: {cut:?}");
    assert!(
        public.iter().all(|a| !cut[*a]),
        "the cut leaves them without public IPs: {cut:?}"
    );

    env.expect(&["up", "--yes"], 0);
    let (_, support, hostnames) = vpc_dns(&ec2, &env.name).await;
    assert!(support && hostnames, "DNS support and hostnames on");
    let subnets = public_ip(&ec2, &env.name).await;
    assert_eq!(
        subnets.len(),
        9,
        "three tiers in three AZs, none twice: {subnets:?}"
    );
    for (address, on) in &subnets {
        assert_eq!(*on, address.contains(".public_"), "{address}: {subnets:?}");
    }
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}

/// Every KMS key tagged with the env: its `infra:address` → key id.
async fn env_keys(kms: &aws_sdk_kms::Client, env: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let keys: Vec<String> = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .filter_map(|k| k.key_id().map(String::from))
        .collect();
    for id in keys {
        let Ok(tags) = kms.list_resource_tags().key_id(&id).send().await else {
            continue;
        };
        let get = |k: &str| {
            tags.tags()
                .iter()
                .find(|t| t.tag_key() == k)
                .map(|t| t.tag_value().to_string())
        };
        if get("infra:env").as_deref() != Some(env) {
            continue;
        }
        let state = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .and_then(|m| m.key_state().cloned());
        if state == Some(aws_sdk_kms::types::KeyState::PendingDeletion) {
            continue;
        }
        out.push((get("infra:address").unwrap_or_default(), id));
    }
    out.sort();
    out
}

/// A key's rotation, and the services its policy lets use it (the
/// `ServicesEncrypt` statement, with its account condition).
async fn key_config(kms: &aws_sdk_kms::Client, id: &str) -> (bool, Vec<String>) {
    let rotation = kms
        .get_key_rotation_status()
        .key_id(id)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled();
    let policy = kms
        .get_key_policy()
        .key_id(id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let mut services = Vec::new();
    for s in doc["Statement"].as_array().unwrap() {
        if s["Sid"] != "ServicesEncrypt" {
            continue;
        }
        assert!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"].is_string(),
            "{s}"
        );
        match &s["Principal"]["Service"] {
            Value::String(one) => services.push(one.clone()),
            Value::Array(many) => {
                services.extend(many.iter().map(|v| v.as_str().unwrap().to_string()))
            }
            other => panic!("{other}"),
        }
    }
    (rotation, services)
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_keys_cut_short_before_their_policy_and_rotation_finish() {
    let env = TestEnv::from_dev("it-kmscut", 102);
    let kms_only = "\n[kms]\neks = false\nrds = false\nlogs = true\ndeletion_window_days = 7\n";
    env.write_plan(&format!("{}{kms_only}", plan_until(&env, "cluster")));
    let kms = clients().await.kms;

    // The logs key made, with neither its grant to CloudWatch Logs nor rotation.
    killed_before(&env, "PutKeyPolicy", 1);
    let keys = env_keys(&kms, &env.name).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        key_config(&kms, &keys[0].1).await,
        (false, Vec::new()),
        "the cut leaves AWS's defaults"
    );
    env.expect(&["up", "--yes"], 0);
    let keys = env_keys(&kms, &env.name).await;
    assert_eq!(keys.len(), 1, "nothing made twice: {keys:?}");
    assert_eq!(keys[0].0, "kms_key.logs");
    assert_eq!(
        key_config(&kms, &keys[0].1).await,
        (true, vec!["logs.us-east-1.amazonaws.com".to_string()])
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    // The database key (no grant) cut short before its rotation.
    env.edit_plan("rds = false", "rds = true");
    killed_before(&env, "EnableKeyRotation", 1);
    env.expect(&["up", "--yes"], 0);
    let keys = env_keys(&kms, &env.name).await;
    assert_eq!(
        keys.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        vec!["kms_key.logs", "kms_key.rds"]
    );
    assert_eq!(key_config(&kms, &keys[1].1).await, (true, Vec::new()));
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(env_keys(&kms, &env.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn event_rules_cut_short_before_their_target_finish() {
    let env = TestEnv::from_dev("it-rulecut", 103);
    env.write_plan(&plan_until(&env, "database"));
    let sdk = clients().await;
    let prefix = format!("todo-{}-", env.name);
    let rules = || async {
        let mut out = BTreeMap::new();
        let listed = sdk
            .events
            .list_rules()
            .name_prefix(&prefix)
            .send()
            .await
            .unwrap();
        for r in listed.rules() {
            let name = r.name().unwrap().to_string();
            let targets: Vec<String> = sdk
                .events
                .list_targets_by_rule()
                .rule(&name)
                .send()
                .await
                .unwrap()
                .targets()
                .iter()
                .map(|t| t.arn().to_string())
                .collect();
            out.insert(name, targets);
        }
        out
    };

    killed_before(&env, "PutTargets", 4);
    let cut = rules().await;
    assert!(
        !cut.is_empty() && cut.values().all(|t| t.is_empty()),
        "the cut leaves rules without targets: {cut:?}"
    );

    env.expect(&["up", "--yes"], 0);
    let queue = sdk
        .sqs
        .get_queue_url()
        .queue_name(format!("todo-{}-karpenter", env.name))
        .send()
        .await
        .unwrap();
    let arn = sdk
        .sqs
        .get_queue_attributes()
        .queue_url(queue.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let finished = rules().await;
    assert_eq!(finished.len(), 4, "Karpenter's four rules: {finished:?}");
    for (name, targets) in &finished {
        assert_eq!(targets, &vec![arn.clone()], "{name}");
    }
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(rules().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_internet_gateway_cut_short_before_its_attach_is_attached_not_replaced() {
    let env = TestEnv::from_dev("it-igwcut", 104);
    env.write_plan(&plan_until(&env, "cluster"));
    let ec2 = ec2().await;
    let gateways = || async {
        ec2.describe_internet_gateways()
            .filters(env_filter(&env.name))
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .iter()
            .map(|g| {
                (
                    g.internet_gateway_id().unwrap().to_string(),
                    g.attachments()
                        .iter()
                        .filter_map(|a| a.vpc_id().map(String::from))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };

    killed_before(&env, "AttachInternetGateway", 1);
    let cut = gateways().await;
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert!(cut[0].1.is_empty(), "the cut leaves it unattached: {cut:?}");

    let plan = text(&env.expect(&["plan"], 0).stdout);
    assert!(
        !plan.contains("internet_gateway.main (InternetGateway) must be replaced"),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let (vpc, _, _) = vpc_dns(&ec2, &env.name).await;
    assert_eq!(
        gateways().await,
        vec![(cut[0].0.clone(), vec![vpc])],
        "the same gateway, attached"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&ec2, &env.name).await.is_empty());
}
