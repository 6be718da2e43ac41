//! The JSON formats of `plan`, `drift`, `output`, `show`, `state list`,
//! `state show` (and `adopt`, from the adopt test) against their
//! documentation (docs/json-formats.md): every field the commands print is
//! in its table, and every field in a table is printed by the samples here.
//! A field renamed, added or dropped without the docs fails this test.
//! Also: `-v` and `INFRA_LOG` show each AWS call, never credentials.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::*;

/// `path → type` for each table under a `## \`infra <command> --json\`` heading
/// (`<command>` is every word before the first flag: `state list`).
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let doc =
        std::fs::read_to_string(repo().join("docs/json-formats.md")).expect("docs/json-formats.md");
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = None;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## `infra ") {
            let words: Vec<&str> = h
                .split_whitespace()
                .take_while(|w| !w.starts_with("--"))
                .collect();
            section = Some(words.join(" "));
            continue;
        }
        let (Some(s), Some(row)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        let mut cells = row.split('|');
        let (Some(path), Some(kind)) = (cells.next(), cells.next()) else {
            continue;
        };
        out.entry(s.clone()).or_default().insert(
            path.trim().trim_end_matches('`').to_string(),
            kind.trim().to_string(),
        );
    }
    out
}

/// Every path in `v`, not descending into documented `any` or `map` values.
fn walk(v: &Value, path: &str, doc: &BTreeMap<String, String>, seen: &mut BTreeSet<String>) {
    if !path.is_empty() {
        seen.insert(path.to_string());
        if doc
            .get(path)
            .is_some_and(|t| t.starts_with("any") || t.starts_with("map"))
        {
            return;
        }
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(child, &p, doc, seen);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), doc, seen);
            }
        }
        _ => {}
    }
}

/// Checks the samples of one command against its table.
pub fn check(command: &str, samples: &[&Value]) {
    let all = documented();
    let doc = all.get(command).unwrap_or_else(|| {
        panic!("docs/json-formats.md has no table for `infra {command} --json`")
    });
    let seen = printed(command, samples, doc);
    let unseen: Vec<&String> = doc.keys().filter(|p| !seen.contains(*p)).collect();
    assert!(
        unseen.is_empty(),
        "docs/json-formats.md lists fields `infra {command} --json` no longer prints: {unseen:?}"
    );
}

/// The paths the samples print, each one documented.
fn printed(command: &str, samples: &[&Value], doc: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for s in samples {
        assert_eq!(s["format_version"], 1, "{command}: format_version");
        walk(s, "", doc, &mut seen);
    }
    let undocumented: Vec<&String> = seen.iter().filter(|p| !doc.contains_key(*p)).collect();
    assert!(
        undocumented.is_empty(),
        "`infra {command} --json` prints fields docs/json-formats.md does not list: {undocumented:?}"
    );
    seen
}

/// `show --json`: a saved plan, as `plan --json` prints it (without
/// `policy`) with the fields of its own table: every one of those printed,
/// nothing undocumented.
fn check_show(samples: &[&Value]) {
    let all = documented();
    let own = &all["show"];
    let mut doc = all["plan"].clone();
    doc.extend(own.clone());
    let seen = printed("show", samples, &doc);
    let unseen: Vec<&String> = own.keys().filter(|p| !seen.contains(*p)).collect();
    assert!(
        unseen.is_empty(),
        "docs/json-formats.md lists fields `infra show --json` no longer prints: {unseen:?}"
    );
}

fn vpc_id_of(output: &Value) -> Value {
    output["outputs"]["vpc_id"].clone()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn the_documentation_parses_into_a_table_per_format() {
    let doc = documented();
    assert_eq!(
        doc.keys().collect::<Vec<_>>(),
        [
            "adopt",
            "drift",
            "output",
            "plan",
            "show",
            "state list",
            "state show"
        ]
    );
    for (command, table) in &doc {
        assert_eq!(
            table.get("format_version").map(String::as_str),
            Some("integer"),
            "{command}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_drift_and_output_json_match_their_documentation() {
    let env = TestEnv::from_dev("it-json", 77);
    // A plan-wide warning: an identity the cluster's EBS CSI add-on already makes (skipped).
    env.write_plan(&format!(
        "{}\n[[workload_identity]]\nname = \"ebs\"\nnamespace = \"kube-system\"\nservice_account = \"ebs-csi-controller-sa\"\nbuiltin = \"ebs-csi-driver\"\n",
        env.plan_text()
    ));
    let sdk = clients().await;
    let cluster = format!("todo-{}", env.name);
    // Before anything exists: output's values are unknown, plan is all creates.
    let empty_plan = json(&env.expect(&["plan", "--json"], 0));
    env.expect(&["up", "--yes"], 0);
    let output = json(&env.expect(&["output", "--json"], 0));
    assert_eq!(output["env"], env.name.as_str());
    assert!(
        output["outputs"]["vpc_id"]
            .as_str()
            .is_some_and(|v| v.starts_with("vpc-")),
        "{output:#}"
    );
    let one = json(&env.expect(&["output", "vpc_id", "--json"], 0));
    assert_eq!(
        one, output["outputs"]["vpc_id"],
        "one output: the value alone"
    );
    check("output", &[&output]);

    // state list / show.
    let listed = json(&env.expect(&["state", "list", "--json"], 0));
    assert!(
        listed["resources"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["address"] == "vpc.main" && r["id"] == vpc_id_of(&output))),
        "{listed:#}"
    );
    check("state list", &[&listed]);
    let shown = json(&env.expect(&["state", "show", "subnet.app_a", "--json"], 0));
    assert_eq!(shown["kind"], "Subnet");
    assert_eq!(shown["deps"][0], "vpc.main", "{shown:#}");
    check("state show", &[&shown]);
    // A pending [[moved]] with --target: moves, selection and partial.
    env.expect(
        &["state", "mv", "route_table.data", "route_table.data_was"],
        0,
    );
    let plan_file = env.plan_text();
    env.write_plan(&format!(
        "{plan_file}\n[[moved]]\nfrom = \"route_table.data_was\"\nto = \"route_table.data\"\n"
    ));
    let moved = json(&env.expect(&["plan", "--json", "--target", "route_table.data"], 0));
    assert_eq!(
        moved["moves"][0]["from"], "route_table.data_was",
        "{moved:#}"
    );
    assert_eq!(moved["selection"][0], "--target route_table.data");
    assert_eq!(moved["partial"], true);
    env.expect(&["up", "--yes"], 0);
    env.write_plan(&plan_file);

    // Something of every finding.
    let vpc_id = output["outputs"]["vpc_id"].as_str().unwrap().to_string();
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    sdk.ec2
        .create_tags()
        .resources(&vpc_id)
        .tags(tag("Name", "renamed-by-hand"))
        .send()
        .await
        .unwrap();
    let orphan = sdk
        .ec2
        .create_security_group()
        .group_name(format!("{cluster}-by-hand"))
        .description("made by hand")
        .vpc_id(&vpc_id)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(tag("infra:env", &env.name))
                .tags(tag("infra:project", "todo"))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let nodes = output["outputs"]["nodes_security_group_id"]
        .as_str()
        .expect("nodes_security_group_id output")
        .to_string();
    let ssh = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(
            aws_sdk_ec2::types::IpRange::builder()
                .cidr_ip("0.0.0.0/0")
                .build(),
        )
        .build();
    sdk.ec2
        .authorize_security_group_ingress()
        .group_id(&nodes)
        .ip_permissions(ssh)
        .send()
        .await
        .unwrap();
    let queue = sdk
        .sqs
        .get_queue_url()
        .queue_name(format!("{cluster}-karpenter"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    sdk.sqs
        .delete_queue()
        .queue_url(&queue)
        .send()
        .await
        .unwrap();
    let intruder = "arn:aws:iam::123456789012:role/admin-by-hand";
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
        .policy_arn("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
        .access_scope(
            aws_sdk_eks::types::AccessScope::builder()
                .r#type(aws_sdk_eks::types::AccessScopeType::Cluster)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // State forgets one resource (adopted again), the plan file changes one.
    rusqlite::Connection::open(env.state_path())
        .unwrap()
        .execute("DELETE FROM resources WHERE address = 'iam_role.node'", [])
        .unwrap();
    env.edit_plan(
        &format!("domain = \"{}\"", env.domain()),
        &format!("domain = \"x{}\"", env.domain()),
    );

    let drift = json(&env.expect(&["drift", "--json"], 2));
    let kinds: BTreeSet<&str> = drift["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["finding"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "access",
            "added_by_hand",
            "changed",
            "deleted",
            "orphan",
            "plan_differs",
            "unrecorded"
        ]
        .into(),
        "{drift:#}"
    );
    check("drift", &[&drift]);

    let plan = json(&env.expect(&["plan", "--json"], 0));
    for key in [
        "warnings",
        "actions",
        "data_loss",
        "adopted",
        "orphans",
        "policy",
    ] {
        assert!(
            plan[key].as_array().is_some_and(|a| !a.is_empty()),
            "a sample of `{key}`: {plan:#}"
        );
    }
    let saved = env.dir.path().join("drift.plan");
    let pruned = json(&env.expect(
        &[
            "plan",
            "--json",
            "--prune-orphans",
            "--out",
            saved.to_str().unwrap(),
        ],
        0,
    ));
    check("plan", &[&empty_plan, &plan, &pruned, &moved]);
    let out = infra_command(&env.endpoint)
        .args(["show", saved.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = json(&out);
    assert_eq!(
        shown["actions"], pruned["actions"],
        "the saved plan's actions"
    );
    check_show(&[&shown]);

    // Put back what the destroy needs.
    env.edit_plan(
        &format!("domain = \"x{}\"", env.domain()),
        &format!("domain = \"{}\"", env.domain()),
    );
    sdk.ec2
        .delete_security_group()
        .group_id(&orphan)
        .send()
        .await
        .unwrap();
    sdk.eks
        .delete_access_entry()
        .cluster_name(&cluster)
        .principal_arn(intruder)
        .send()
        .await
        .unwrap();
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

#[test]
fn verbose_shows_each_aws_call_and_never_credentials() {
    let env = TestEnv::from_dev("it-verbose", 78);
    let secret = "s3cr3t-never-in-the-log";
    let token = "t0ken-never-in-the-log";
    let run = |args: &[&str], log: Option<&str>| {
        let mut cmd = env.command(args);
        cmd.env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SESSION_TOKEN", token);
        match log {
            Some(filter) => cmd.env("INFRA_LOG", filter),
            None => cmd.env_remove("INFRA_LOG"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let quiet = run(&["plan"], None);
    assert!(
        !quiet.contains("aws call"),
        "no call log by default: {quiet}"
    );

    let verbose = run(&["plan", "-v"], None);
    let call = verbose
        .lines()
        .find(|l| l.contains("operation=\"GetCallerIdentity\""))
        .unwrap_or_else(|| panic!("the check is logged: {verbose}"));
    assert!(
        call.contains("service=\"STS\"") && call.contains("ms=") && call.contains("status=200"),
        "{call}"
    );
    assert!(verbose.contains("operation=\"DescribeVpcs\""), "{verbose}");
    for out in [
        run(&["plan", "--verbose"], None),
        run(&["plan"], Some("infra::aws=debug")),
        run(&["plan"], Some("trace")),
    ] {
        assert!(out.contains("aws call ok"), "{out}");
        assert!(
            !out.contains(secret) && !out.contains(token),
            "credentials in the log:\n{out}"
        );
    }
}
