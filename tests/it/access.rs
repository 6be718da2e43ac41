//! Human access through EKS access entries: every role's entry, policies and
//! scopes read back from the emulator (its EKS access entries are served by
//! our plugin, shaped from the EKS API reference), a scope changed in place,
//! break-glass removed by the first `up` after its time, and cluster admins
//! the plan does not name reported by `drift`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::*;

const POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/";

/// principal → [(policy name, scope type, namespaces)] as EKS has them.
async fn access_of(
    sdk: &Sdk,
    cluster: &str,
) -> BTreeMap<String, Vec<(String, String, Vec<String>)>> {
    let mut out = BTreeMap::new();
    let entries = sdk
        .eks
        .list_access_entries()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    for principal in entries.access_entries() {
        let listed = sdk
            .eks
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal)
            .send()
            .await
            .unwrap();
        let mut policies: Vec<(String, String, Vec<String>)> = listed
            .associated_access_policies()
            .iter()
            .map(|p| {
                let scope = p.access_scope().unwrap();
                let mut ns = scope.namespaces().to_vec();
                ns.sort();
                (
                    p.policy_arn()
                        .unwrap()
                        .trim_start_matches(POLICY)
                        .to_string(),
                    scope.r#type().unwrap().as_str().to_string(),
                    ns,
                )
            })
            .collect();
        policies.sort();
        out.insert(principal.clone(), policies);
    }
    out
}

/// The dev plan's group roles (the same ARNs in every test env; entries are per cluster).
fn role(name: &str) -> String {
    format!("arn:aws:iam::123456789012:role/todo-dev-{name}")
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn access_entries_roles_scopes_break_glass_and_unnamed_admins() {
    let env = TestEnv::from_dev("it-access", 61);
    let sdk = clients().await;
    let cluster = format!("todo-{}", env.name);
    env.expect(&["up", "--yes"], 0);

    let access = access_of(&sdk, &cluster).await;
    let ns = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let expect = [
        (
            "viewer",
            vec![(
                "AmazonEKSViewPolicy".to_string(),
                "cluster".to_string(),
                ns(&[]),
            )],
        ),
        (
            "developer",
            vec![(
                "AmazonEKSEditPolicy".into(),
                "namespace".into(),
                ns(&["todo-backend", "todo-frontend"]),
            )],
        ),
        (
            "operator",
            vec![
                (
                    "AmazonEKSEditPolicy".into(),
                    "namespace".into(),
                    ns(&["todo-backend", "todo-frontend"]),
                ),
                ("AmazonEKSViewPolicy".into(), "cluster".into(), ns(&[])),
            ],
        ),
        (
            "platform-admin",
            vec![("AmazonEKSAdminPolicy".into(), "cluster".into(), ns(&[]))],
        ),
        (
            "security-auditor",
            vec![("AmazonEKSViewPolicy".into(), "cluster".into(), ns(&[]))],
        ),
    ];
    for (name, policies) in &expect {
        assert_eq!(
            access.get(&role(name)),
            Some(policies),
            "{name}: {access:#?}"
        );
    }
    // dev keeps EKS's bootstrap: the creator's entry exists besides the plan's five.
    assert_eq!(access.len(), expect.len() + 1, "{access:#?}");
    let auditor = sdk
        .eks
        .describe_access_entry()
        .cluster_name(&cluster)
        .principal_arn(role("security-auditor"))
        .send()
        .await
        .unwrap();
    let auditor = auditor.access_entry().unwrap();
    assert_eq!(auditor.kubernetes_groups(), ["security-auditors"]);
    assert_eq!(
        auditor
            .tags()
            .unwrap()
            .get("infra:address")
            .map(String::as_str),
        Some("eks_access_entry.security_auditors")
    );
    let entry_arn = auditor.access_entry_arn().unwrap().to_string();
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    // A namespace added to the developers: the association's scope changes in place.
    env.edit_plan(
        "role = \"developer\"\nnamespaces = [\"todo-backend\", \"todo-frontend\"]",
        "role = \"developer\"\nnamespaces = [\"todo-backend\", \"todo-frontend\", \"todo-jobs\"]",
    );
    let plan = env.expect(&["plan"], 0);
    let plan = text(&plan.stdout);
    assert!(plan.contains("~ eks_access_policy.developers_edit (EksAccessPolicyAssociation) will be updated in place"), "{plan}");
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let access = access_of(&sdk, &cluster).await;
    assert_eq!(
        access[&role("developer")],
        vec![(
            "AmazonEKSEditPolicy".to_string(),
            "namespace".to_string(),
            ns(&["todo-backend", "todo-frontend", "todo-jobs"])
        )]
    );
    let again = sdk
        .eks
        .describe_access_entry()
        .cluster_name(&cluster)
        .principal_arn(role("security-auditor"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.access_entry().unwrap().access_entry_arn(),
        Some(entry_arn.as_str()),
        "entries are not recreated"
    );

    // A cluster admin made by hand: drift names it.
    let intruder = "arn:aws:iam::123456789012:role/someone-by-hand";
    sdk.eks
        .create_access_entry()
        .cluster_name(&cluster)
        .principal_arn(intruder)
        .send()
        .await
        .unwrap();
    sdk.eks
        .associate_access_policy()
        .cluster_name(&cluster)
        .principal_arn(intruder)
        .policy_arn(format!("{POLICY}AmazonEKSClusterAdminPolicy"))
        .access_scope(
            aws_sdk_eks::types::AccessScope::builder()
                .r#type(aws_sdk_eks::types::AccessScopeType::Cluster)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = env.expect(&["drift", "--json"], 2);
    let report: Value = serde_json::from_slice(&drift.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let access_findings: Vec<&Value> = findings
        .iter()
        .filter(|f| f["finding"] == "access")
        .collect();
    assert_eq!(access_findings.len(), 1, "{report:#}");
    assert_eq!(access_findings[0]["principal_arn"], intruder);
    sdk.eks
        .delete_access_entry()
        .cluster_name(&cluster)
        .principal_arn(intruder)
        .send()
        .await
        .unwrap();
    env.expect(&["drift"], 0);

    // Break-glass for the next 60 s: the plan shows until when; `up` makes it.
    let until = SystemTime::now() + Duration::from_secs(60);
    let break_glass = role("break-glass");
    let mut plan = env.plan_text();
    plan.push_str(&format!(
        "\n[[access]]\nname = \"break-glass\"\nprincipal_arn = \"{break_glass}\"\nrole = \"break-glass\"\nuntil = \"{}\"\n",
        rfc3339(until)
    ));
    env.write_plan(&plan);
    let shown = env.expect(&["plan"], 0);
    assert!(
        text(&shown.stdout).contains(&format!(
            "break-glass cluster-admin for {break_glass} until {}",
            rfc3339(until)
        )),
        "{}",
        text(&shown.stdout)
    );
    env.expect(&["up", "--yes"], 0);
    let access = access_of(&sdk, &cluster).await;
    assert_eq!(
        access.get(&break_glass),
        Some(&vec![(
            "AmazonEKSClusterAdminPolicy".to_string(),
            "cluster".to_string(),
            ns(&[])
        )])
    );
    // While in its time it is no drift (checked when a drift run surely ends before `until`).
    if until.duration_since(SystemTime::now()).unwrap_or_default() > Duration::from_secs(25) {
        env.expect(&["drift"], 0);
    }

    // Past its time, break-glass is drift until the first `up` removes it.
    let wait = until.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_secs(2);
    tokio::time::sleep(wait).await;
    let drift = env.expect(&["drift", "--json"], 2);
    let report: Value = serde_json::from_slice(&drift.stdout).unwrap();
    let past: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["finding"] == "access")
        .collect();
    assert_eq!(past.len(), 1, "{report:#}");
    assert_eq!(past[0]["principal_arn"], break_glass.as_str());
    assert_eq!(past[0]["address"], "eks_access_entry.break_glass");
    let plan = text(&env.expect(&["plan"], 0).stdout);
    assert!(
        plan.contains("- eks_access_entry.break_glass (EksAccessEntry) will be destroyed"),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let access = access_of(&sdk, &cluster).await;
    assert!(!access.contains_key(&break_glass), "{access:#?}");
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    let left = sdk
        .eks
        .list_access_entries()
        .cluster_name(&cluster)
        .send()
        .await;
    assert!(left.is_err(), "the cluster and its entries are gone");
}

/// Runs `args` through a fault proxy that holds the first `operation` call
/// after forwarding it, then kills the binary (-9) while it waits.
fn killed_at(env: &TestEnv, operation: &str, args: &[&str]) {
    let proxy = Proxy::start(&["--hold-op", operation]);
    let mut cmd = env.command(args);
    cmd.env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let held = proxy.wait_hold(&mut || child.try_wait().unwrap().is_some());
    assert!(held.is_some(), "{operation} was never called");
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn access_entries_and_policies_killed_mid_create_are_recovered() {
    let env = TestEnv::from_dev("it-access-kill", 63);
    let sdk = clients().await;
    let cluster = format!("todo-{}", env.name);

    // Killed right after EKS made the first access entry, before infra recorded it.
    killed_at(&env, "CreateAccessEntry", &["up", "--yes"]);
    env.expect(&["up", "--yes"], 0);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    let state = state_addresses(&env.state_path());
    for entry in [
        "viewers",
        "developers",
        "operators",
        "platform_admins",
        "security_auditors",
    ] {
        assert!(
            state.contains(&format!("eks_access_entry.{entry}")),
            "{entry} recorded: {state:?}"
        );
    }
    let access = access_of(&sdk, &cluster).await;
    assert_eq!(
        access.len(),
        6,
        "five entries and the creator's: {access:#?}"
    );

    // Killed right after a policy was associated: adopted by cluster + principal + policy.
    let mut plan = env.plan_text();
    plan.push_str("\n[[access]]\nname = \"auditors-two\"\nprincipal_arn = \"arn:aws:iam::123456789012:role/auditors-two\"\nrole = \"viewer\"\nnamespaces = [\"audit\"]\n");
    env.write_plan(&plan);
    killed_at(&env, "AssociateAccessPolicy", &["up", "--yes"]);
    env.expect(&["up", "--yes"], 0);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    let access = access_of(&sdk, &cluster).await;
    assert_eq!(
        access["arn:aws:iam::123456789012:role/auditors-two"],
        vec![(
            "AmazonEKSViewPolicy".to_string(),
            "namespace".to_string(),
            vec!["audit".to_string()]
        )]
    );
    assert!(
        state_addresses(&env.state_path())
            .contains(&"eks_access_policy.auditors_two_view".to_string())
    );
    env.expect(&["destroy", "--yes"], 0);
}
