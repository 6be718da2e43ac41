//! Plan review through the binary, offline (AWS points at a closed port):
//! the monthly cost of the dev and prod platforms, guardrails that deny in
//! prod and warn in dev with reasoned waivers, and the platform's picture.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// Runs `infra` with the plans in `dir` and AWS unreachable.
fn offline(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = infra_command("http://127.0.0.1:9")
        .arg("--plans")
        .arg(dir)
        .arg("--state")
        .arg(dir.join("state.db"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// miette wraps long messages (even inside words): compare without whitespace.
fn flat(s: &str) -> String {
    s.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<String>()
}

fn has(haystack: &str, needle: &str) -> bool {
    flat(haystack).contains(&flat(needle))
}

fn cost_json(env: &str, on: &str) -> Value {
    let (code, stdout, stderr) = offline(
        &repo().join("plans"),
        &["cost", "--env", env, "--on", on, "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn near(v: &Value, expected: f64) -> bool {
    (v.as_f64().unwrap() - expected).abs() < 0.005
}

#[test]
fn dev_and_prod_monthly_cost_with_the_eks_support_calendar() {
    // 1.32 in standard support (January 2026), then in extended support.
    for (env, on, total, cluster) in [
        ("dev", "2026-01-15", 192.42, 136.94),
        ("dev", "2026-12-03", 557.42, 501.94),
        ("prod", "2026-01-15", 314.76, 136.94),
        ("prod", "2026-12-03", 679.76, 501.94),
    ] {
        let report = cost_json(env, on);
        assert!(
            near(&report["cost"]["after_monthly_usd"], total),
            "{env} {on}: {}",
            report["cost"]["after_monthly_usd"]
        );
        assert!(
            near(&report["tiers"]["cluster"]["monthly_usd"], cluster),
            "{env} {on}: {}",
            report["tiers"]["cluster"]
        );
    }
    let prod = cost_json("prod", "2026-12-03");
    let line = |address: &str| {
        prod["cost"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["address"] == address)
            .cloned()
            .unwrap()
    };
    // us-west-2 prices: Multi-AZ doubles the db.t4g.small and its storage; one NAT per AZ.
    assert!(near(
        &line("db_instance.main")["after"]["monthly_usd"],
        2.0 * 730.0 * 0.032 + 2.0 * 20.0 * 0.115
    ));
    assert!(near(
        &line("nat_gateway.c")["after"]["monthly_usd"],
        730.0 * 0.045 + 100.0 * 0.045
    ));
    assert!(near(&line("kms_key.rds")["after"]["monthly_usd"], 1.0));
    assert!(near(&prod["cost"]["budget_monthly_usd"], 900.0));
}

#[test]
fn plan_json_carries_each_resource_cost_and_the_totals() {
    let (code, stdout, stderr) = offline(
        &repo().join("plans"),
        &["plan", "--env", "dev", "--refresh=false", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let cost = &plan["cost"];
    let lines = cost["lines"].as_array().unwrap();
    let sum: f64 = lines
        .iter()
        .filter_map(|l| l["after"]["monthly_usd"].as_f64())
        .sum();
    assert!(
        near(&cost["after_monthly_usd"], sum),
        "the total is the sum of the lines"
    );
    assert!(
        near(&cost["before_monthly_usd"], 0.0),
        "nothing applied yet"
    );
    let nodes = lines
        .iter()
        .find(|l| l["address"] == "eks_nodegroup.system")
        .unwrap();
    assert!(
        near(
            &nodes["after"]["monthly_usd"],
            2.0 * 730.0 * 0.0416 + 2.0 * 20.0 * 0.08
        ),
        "{nodes}"
    );
    for free in [
        "sqs_queue.karpenter_interruption",
        "acm_certificate.main",
        "event_rule.karpenter_rebalance",
    ] {
        let l = lines
            .iter()
            .find(|l| l["address"] == free)
            .unwrap_or_else(|| panic!("{free} is shown, not skipped"));
        assert!(near(&l["after"]["monthly_usd"], 0.0));
    }
    let warned: Vec<&str> = plan["policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        warned,
        vec!["INFRA-EKS-001", "INFRA-EKS-002"],
        "dev warns of its open endpoint and unencrypted secrets"
    );

    // Over budget: `up` without a terminal needs --allow-over-budget, and says by how much.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("plans/dev.toml"))
        .unwrap()
        .replace("budget_monthly_usd = 700", "budget_monthly_usd = 100");
    std::fs::write(dir.path().join("dev.toml"), text).unwrap();
    let (_, stdout, _) = offline(dir.path(), &["plan", "--env", "dev", "--refresh=false"]);
    assert!(
        stdout.contains("Budget $100.00/month: OVER BUDGET by $"),
        "{stdout}"
    );
}

/// The dev plan with one change per guardrail, each on a line of its own.
fn guarded_plan() -> String {
    let dev = std::fs::read_to_string(repo().join("plans/dev.toml")).unwrap();
    let dev = dev
        .replace(
            "log_types = [\"api\", \"audit\", \"authenticator\"]",
            "log_types = [\"api\", \"authenticator\"]",
        )
        .replace("[cost]\nbudget_monthly_usd = 700\n", "[cost]\n");
    format!(
        r#"{dev}
[[network.security_groups.nodes.rules]]
name = "ssh_world"
direction = "ingress"
protocol = "tcp"
port = 22
cidr = "0.0.0.0/0"

[resources."db_instance.legacy"]
kind = "DbInstance"
props = {{ identifier = "legacy", engine = "postgres", instance_class = "db.t4g.micro", storage_encrypted = false, publicly_accessible = true, multi_az = true, deletion_protection = true }}

[resources."kms_key.unrotated"]
kind = "KmsKey"
props = {{ description = "no rotation", enable_rotation = false }}

[resources."iam_role.loose"]
kind = "IamRole"
props = {{ name = "loose", assume_role_policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Federated = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com" }}, Action = "sts:AssumeRoleWithWebIdentity", Condition = {{ StringEquals = {{ "oidc.example.com:aud" = "sts.amazonaws.com" }} }} }}] }} }}

[[workload_identity]]
name = "admin"
namespace = "ops"
service_account = "admin"
statements = [{{ actions = ["*"], resources = ["*"] }}]
"#
    )
}

/// (check id, address.field the finding names)
const EXPECTED: &[(&str, &str)] = &[
    ("INFRA-EKS-001", "eks_cluster.main.public_access_cidrs"),
    ("INFRA-EKS-002", "eks_cluster.main.encryption_key_arn"),
    ("INFRA-EKS-003", "eks_cluster.main.log_types"),
    ("INFRA-RDS-001", "db_instance.main.multi_az"),
    ("INFRA-RDS-002", "db_instance.legacy.storage_encrypted"),
    ("INFRA-RDS-003", "db_instance.main.deletion_protection"),
    ("INFRA-RDS-004", "db_instance.legacy.publicly_accessible"),
    ("INFRA-NET-001", "security_group_rule.nodes_ssh_world"),
    ("INFRA-KMS-001", "kms_key.unrotated.enable_rotation"),
    ("INFRA-IAM-001", "iam_role.loose.assume_role_policy"),
    ("INFRA-IAM-002", "iam_role_policy.wi_admin.document"),
    ("INFRA-COST-001", "env.cost.budget_monthly_usd"),
];

#[test]
fn guardrails_deny_in_prod_warn_in_dev_and_take_reasoned_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let plan = guarded_plan();
    std::fs::write(
        dir.path().join("prod.toml"),
        plan.replace("env = \"dev\"", "env = \"prod\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("dev.toml"), &plan).unwrap();

    // prod: every check denies, before any cloud call; plan and up stop too.
    let (code, _, stderr) = offline(dir.path(), &["validate", "--env", "prod"]);
    assert_eq!(code, 3, "{stderr}");
    for (id, at) in EXPECTED {
        assert!(
            has(&stderr, &format!("policy {id} (")),
            "{id} not denied:\n{stderr}"
        );
        assert!(has(&stderr, at), "{id}: {at} not named:\n{stderr}");
    }
    assert!(
        has(
            &stderr,
            "CKV_AWS_24 / AVD-AWS-0107) denies security_group_rule.nodes_ssh_world"
        ),
        "{stderr}"
    );
    assert!(
        has(
            &stderr,
            "[[policy.waiver]] id = \"INFRA-NET-001\", resource = \"security_group_rule.nodes_ssh_world\""
        ),
        "{stderr}"
    );
    // The line of the rule's key is shown.
    let line = plan
        .lines()
        .position(|l| l.contains("name = \"ssh_world\""))
        .unwrap();
    assert!(
        stderr.contains(&format!("prod.toml:{}", line)),
        "the rule's line ({line}) is named:\n{stderr}"
    );
    for command in [
        &["plan", "--env", "prod"][..],
        &["up", "--env", "prod", "--yes"][..],
    ] {
        let (code, _, stderr) = offline(dir.path(), command);
        assert_eq!(code, 3, "{command:?}: {stderr}");
        assert!(has(&stderr, "policy INFRA-NET-001"), "{stderr}");
    }
    assert!(!dir.path().join("state.db").exists(), "nothing written");

    // dev: the same findings only warn.
    let (code, stdout, stderr) = offline(dir.path(), &["validate", "--env", "dev"]);
    assert_eq!(code, 0, "{stderr}");
    for (id, _) in EXPECTED
        .iter()
        .filter(|(id, _)| !matches!(*id, "INFRA-RDS-001" | "INFRA-RDS-003"))
    {
        assert!(
            stdout.contains(&format!("WARN   {id}")),
            "{id} not warned:\n{stdout}"
        );
    }

    // Waivers with reasons let prod through; an expired one or one without a reason does not.
    let waivers: String = EXPECTED
        .iter()
        .map(|(id, at)| {
            let resource = if *id == "INFRA-COST-001" { "env".to_string() } else { at.split('.').take(2).collect::<Vec<_>>().join(".") };
            format!("\n[[policy.waiver]]\nid = \"{id}\"\nresource = \"{resource}\"\nreason = \"accepted for the test, ticket PLAT-1\"\n")
        })
        .collect();
    let prod = plan.replace("env = \"dev\"", "env = \"prod\"");
    std::fs::write(
        dir.path().join("prod.toml"),
        format!("{prod}\n[policy]\n{waivers}"),
    )
    .unwrap();
    let (code, stdout, stderr) = offline(dir.path(), &["validate", "--env", "prod"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "Policy: 0 denied, 0 warned, {} waived.",
            EXPECTED.len()
        )),
        "{stdout}"
    );

    let expired = waivers.replacen(
        "reason = \"accepted for the test, ticket PLAT-1\"\n",
        "reason = \"accepted once\"\nexpires = \"2020-01-31\"\n",
        1,
    );
    std::fs::write(
        dir.path().join("prod.toml"),
        format!("{prod}\n[policy]\n{expired}"),
    )
    .unwrap();
    let (code, _, stderr) = offline(dir.path(), &["validate", "--env", "prod"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(has(&stderr, "its waiver expired on 2020-01-31"), "{stderr}");

    let reasonless = waivers.replacen("reason = \"accepted for the test, ticket PLAT-1\"\n", "", 1);
    std::fs::write(
        dir.path().join("prod.toml"),
        format!("{prod}\n[policy]\n{reasonless}"),
    )
    .unwrap();
    let (code, _, stderr) = offline(dir.path(), &["validate", "--env", "prod"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        has(&stderr, "policy.waiver[0].reason is required"),
        "{stderr}"
    );
}

#[test]
fn the_platform_picture_has_every_resource_and_dependency() {
    let (code, stdout, stderr) = offline(
        &repo().join("plans"),
        &["plan", "--env", "dev", "--refresh=false", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    let deps: usize = actions
        .iter()
        .map(|a| a["deps"].as_array().unwrap().len())
        .sum();

    let (code, svg, stderr) = offline(
        &repo().join("plans"),
        &["graph", "--env", "dev", "--format", "svg"],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is XML");
    let nodes: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("node"))
        .collect();
    let edges = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("edge"))
        .count();
    assert_eq!(nodes.len(), actions.len(), "one box per resource");
    assert_eq!(edges, deps, "one arrow per dependency");
    let rects: Vec<(f64, f64, f64, f64)> = nodes
        .iter()
        .map(|g| {
            let r = g.children().find(|c| c.has_tag_name("rect")).unwrap();
            let n = |a: &str| r.attribute(a).unwrap().parse::<f64>().unwrap();
            (n("x"), n("y"), n("width"), n("height"))
        })
        .collect();
    for (i, a) in rects.iter().enumerate() {
        for b in &rects[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "boxes overlap: {a:?} {b:?}");
        }
    }

    let (code, mermaid, _) = offline(
        &repo().join("plans"),
        &["graph", "--env", "dev", "--format", "mermaid"],
    );
    assert_eq!(code, 0);
    assert!(mermaid.starts_with("flowchart LR"));
    assert_eq!(mermaid.matches("-->").count(), deps);
    let (code, dot, _) = offline(
        &repo().join("plans"),
        &["graph", "--env", "dev", "--format", "dot"],
    );
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph"));
    assert_eq!(dot.matches(" -> ").count(), deps);
}
