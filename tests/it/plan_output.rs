//! The plan text users read, snapshotted. Ids, ARNs and times are redacted
//! so the snapshot only changes when the output's shape does.

use crate::support::*;

fn redact(s: &str) -> String {
    let patterns = [
        (
            r"\b(vpc|subnet|igw|nat|eipalloc|rtb|rtbassoc|sg|sgr)-[0-9a-f]{8,}\b",
            "[ID]",
        ),
        (r"arn:aws:[^\s\x22]+", "[ARN]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"\d+\.\d+s\b", "[ELAPSED]"),
        // Amounts and the EKS support note move with the calendar (tests/it/review.rs checks them).
        (r"-?\$[0-9,]+\.\d+", "[USD]"),
        (r"\(1\.\d+ in [^)]*support[^)]*\)", "([EKS SUPPORT])"),
        (
            r"(?m)^  - eks_cluster\.main: Kubernetes .*$",
            "  - eks_cluster.main: [EKS SUPPORT NOTE]",
        ),
    ];
    let mut out = s.to_string();
    for (re, with) in patterns {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

#[test]
fn dev_plan_from_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    let out = infra_command("http://127.0.0.1:9")
        .arg("--state")
        .arg(dir.path().join("dev.db"))
        .current_dir(repo())
        .args(["plan", "--env", "dev", "--refresh=false"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!(redact(&text(&out.stdout)));
    assert!(
        !dir.path().join("dev.db").exists(),
        "plan never creates state"
    );
}

#[test]
fn prod_plan_shows_prod_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = infra_command("http://127.0.0.1:9")
        .arg("--state")
        .arg(dir.path().join("prod.db"))
        .current_dir(repo())
        .args(["plan", "--env", "prod", "--refresh=false", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    let nats = actions.iter().filter(|a| a["kind"] == "NatGateway").count();
    assert_eq!(nats, 3, "one NAT per AZ in prod");
    let vpc = actions.iter().find(|a| a["address"] == "vpc.main").unwrap();
    assert!(
        vpc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "cidr" && c["new"] == "10.20.0.0/16")
    );
    assert_eq!(plan["summary"]["add"], 103);
    // Prod: secrets encrypted with its own key, a restricted endpoint, all logs.
    let cluster = actions
        .iter()
        .find(|a| a["address"] == "eks_cluster.main")
        .unwrap();
    let field = |name: &str| {
        cluster["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == name)
            .unwrap()["new"]
            .clone()
    };
    assert_eq!(field("encryption_key_arn"), "(known after apply)");
    assert_eq!(
        field("public_access_cidrs"),
        serde_json::json!(["203.0.113.0/24", "198.51.100.0/24"])
    );
    assert_eq!(field("log_types").as_array().unwrap().len(), 5);
    assert!(actions.iter().any(|a| a["address"] == "kms_key.eks"));
    // Prod's database: bigger, Multi-AZ, 30-day backups, protected, on its own key.
    let db = actions
        .iter()
        .find(|a| a["address"] == "db_instance.main")
        .unwrap();
    let field = |name: &str| {
        db["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == name)
            .unwrap()["new"]
            .clone()
    };
    assert_eq!(field("instance_class"), "db.t4g.small");
    assert_eq!(field("multi_az"), true);
    assert_eq!(field("backup_retention_days"), 30);
    assert_eq!(field("deletion_protection"), true);
    assert_eq!(field("performance_insights"), true);
    assert_eq!(field("kms_key_id"), "(known after apply)");
    for svc in ["eks", "rds", "logs"] {
        assert!(
            actions
                .iter()
                .any(|a| a["address"] == format!("kms_alias.{svc}")),
            "{svc} key alias"
        );
    }
    assert!(
        plan["warnings"].as_array().unwrap().is_empty(),
        "no open-endpoint warning in prod"
    );
}
