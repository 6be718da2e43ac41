//! `infra adopt --from-terraform`: a platform built the way the seed's
//! Terraform modules build it is taken over without a create or a delete.

use crate::support::*;
use crate::tf_generator::{Shape, build};

const CLUSTER_AND_DATABASE: &str = r#"
[cluster]
version = "1.32"
endpoint_public_access = true
public_access_cidrs = ["0.0.0.0/0"]
log_types = ["api", "audit", "authenticator"]
authentication_mode = "API_AND_CONFIG_MAP"
karpenter = false
bootstrap_cluster_creator_admin = true

[cluster.node_groups.system]
instance_types = ["t3.medium"]
capacity_type = "ON_DEMAND"
min_size = 2
desired_size = 2
max_size = 3
labels = { role = "system" }
taints = ["system=true:NoSchedule"]

[database]
engine_version = "16.4"
instance_class = "db.t4g.micro"
allocated_storage = 20
multi_az = false
backup_retention_days = 7
deletion_protection = false
performance_insights = false
apply_immediately = true
final_snapshot = false
db_name = "todo"
master_username = "todo_admin"
"#;

fn mapping(out: &std::process::Output) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let mut rows: Vec<(String, String, String)> = v["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["infra"].is_string())
        .map(|r| {
            (
                r["infra"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn adopt_a_terraform_built_platform() {
    let env = TestEnv::from_dev("it-adopt", 131);
    crate::takeover::network_only(&env);
    // The seed names its database `todo-<env>`: the plan file keeps that name.
    env.write_plan(&format!(
        "{}{CLUSTER_AND_DATABASE}identifier = \"todo-{}\"\n",
        env.plan_text(),
        env.name
    ));
    let sdk = clients().await;
    let built = build(&sdk, &env.name, 131).await;
    let seed = env.dir.path().join("seed.tfstate");
    let wrapper = env.dir.path().join("wrapper.tfstate");
    std::fs::write(
        &seed,
        serde_json::to_vec_pretty(&built.state(Shape::Seed)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &wrapper,
        serde_json::to_vec_pretty(&built.state(Shape::Wrapper)).unwrap(),
    )
    .unwrap();
    let before = std::fs::read(&seed).unwrap();

    // Dry run: the mapping, nothing tagged, no state written.
    let out = env.expect(
        &[
            "adopt",
            "--from-terraform",
            seed.to_str().unwrap(),
            "--dry-run",
        ],
        0,
    );
    let table = text(&out.stdout);
    eprintln!("{table}");
    assert!(
        table.contains("module.vpc.aws_vpc.this[0]") && table.contains("vpc.main"),
        "{table}"
    );
    assert!(
        table.contains("data.aws_caller_identity.current") && table.contains("a data source"),
        "{table}"
    );
    assert!(
        table.contains("aws_cloudwatch_log_group.this[0]")
            && table.contains("a kind infra does not manage"),
        "{table}"
    );
    let row = |needle: &str| {
        table
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no row {needle}: {table}"))
            .to_string()
    };
    assert!(
        row("module.vpc.aws_eip.nat[0]").contains("refused: tainted"),
        "{table}"
    );
    assert!(
        row("aws_launch_template.this[0] (deposed object 00000001)").contains("refused: deposed"),
        "{table}"
    );
    assert!(
        row("aws_launch_template.this[0]  ").contains("not mapped: a kind infra does not manage"),
        "{table}"
    );
    assert!(
        table.contains("adopted, 0 adopted with differences, 3 not mapped, 2 refused."),
        "{table}"
    );
    assert!(!env.state_path().exists());
    let seed_map = mapping(&env.expect(
        &[
            "adopt",
            "--from-terraform",
            seed.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
        0,
    ));
    let wrapper_map = mapping(&env.expect(
        &[
            "adopt",
            "--from-terraform",
            wrapper.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
        0,
    ));
    assert_eq!(
        seed_map, wrapper_map,
        "module paths never decide the mapping"
    );
    let ids: std::collections::BTreeMap<&str, &str> = seed_map
        .iter()
        .map(|(a, id, _)| (a.as_str(), id.as_str()))
        .collect();
    assert_eq!(ids["vpc.main"], built.vpc);
    assert_eq!(ids["eks_cluster.main"], format!("todo-{}", env.name));
    assert_eq!(
        ids["eks_nodegroup.system"],
        format!("todo-{}:system", env.name)
    );
    assert_eq!(ids["db_instance.main"], format!("todo-{}", env.name));
    for s in &built.subnets {
        assert!(ids.values().any(|v| v == s), "subnet {s} mapped");
    }

    // Adopt through the proxy: tag calls only.
    let proxy = Proxy::start(&["--seed", "1"]);
    let out = env
        .command(&[
            "adopt",
            "--from-terraform",
            seed.to_str().unwrap(),
            "--yes",
            "--json",
        ])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!("{}", text(&out.stdout));
    let adopted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(adopted["dry_run"], false);
    // subnet.public_a: the seed's public subnets map public IPs on launch; the plan file's do not.
    let public_a = adopted["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["infra"] == "subnet.public_a")
        .unwrap()
        .clone();
    assert_eq!(
        public_a["verdict"], "adopted_with_differences",
        "{public_a}"
    );
    assert!(
        public_a["detail"]
            .as_str()
            .unwrap()
            .contains("map_public_ip"),
        "{public_a}"
    );
    let dry = serde_json::from_slice::<serde_json::Value>(
        &env.expect(
            &[
                "adopt",
                "--from-terraform",
                seed.to_str().unwrap(),
                "--dry-run",
                "--json",
            ],
            0,
        )
        .stdout,
    )
    .unwrap();
    crate::formats::check("adopt", &[&adopted, &dry]);
    let stats = proxy.stats();
    drop(proxy);
    let ops: Vec<String> = stats["by_operation"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let changing: Vec<&String> = ops
        .iter()
        .filter(|o| {
            [
                "Create",
                "Delete",
                "Modify",
                "Update",
                "Put",
                "Attach",
                "Detach",
                "Associate",
                "Disassociate",
                "Authorize",
                "Revoke",
                "Replace",
                "Allocate",
                "Release",
            ]
            .iter()
            .any(|p| o.starts_with(p))
        })
        .filter(|o| o.as_str() != "CreateTags")
        .collect();
    assert!(
        changing.is_empty(),
        "only tag calls change the cloud: {changing:?} in {ops:?}"
    );
    assert!(ops.iter().any(|o| o == "CreateTags"), "{ops:?}");
    assert_eq!(
        std::fs::read(&seed).unwrap(),
        before,
        "the Terraform state is never written"
    );
    let vpc = sdk
        .ec2
        .describe_vpcs()
        .vpc_ids(&built.vpc)
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .clone();
    assert!(
        vpc.tags()
            .iter()
            .any(|t| t.key() == Some("infra:address") && t.value() == Some("vpc.main"))
    );
    let tags = sdk
        .eks
        .describe_cluster()
        .name(format!("todo-{}", env.name))
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        tags.get("infra:address").map(String::as_str),
        Some("eks_cluster.main")
    );

    // The plan lists real differences only: nothing adopted is replaced or deleted.
    let out = env.expect(&["plan", "--json"], 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    let shown: Vec<String> = actions
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["action"].as_str().unwrap(),
                a["address"].as_str().unwrap()
            )
        })
        .collect();
    eprintln!("{shown:#?}");
    for a in actions {
        let address = a["address"].as_str().unwrap();
        if ids.contains_key(address) {
            assert_ne!(
                a["action"], "replace",
                "{address} adopted but replaced: {a}"
            );
            assert_ne!(a["action"], "delete", "{address}");
            assert_ne!(a["action"], "create", "{address}");
        }
    }
    assert!(
        shown.contains(&"update subnet.public_a".to_string()),
        "map_public_ip_on_launch differs: {shown:?}"
    );

    env.expect(&["up", "--yes"], 0);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    let vpcs = sdk
        .ec2
        .describe_vpcs()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .vpcs()
        .to_vec();
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].vpc_id(), Some(built.vpc.as_str()));
    let mut subnets: Vec<String> = sdk
        .ec2
        .describe_subnets()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();
    subnets.sort();
    let mut want = built.subnets.clone();
    want.sort();
    assert_eq!(subnets, want);
    let cluster = sdk
        .eks
        .describe_cluster()
        .name(format!("todo-{}", env.name))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cluster.cluster().unwrap().arn(),
        Some(built.cluster_arn.as_str())
    );
    let ng = sdk
        .eks
        .describe_nodegroup()
        .cluster_name(format!("todo-{}", env.name))
        .nodegroup_name("system")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ng.nodegroup().unwrap().nodegroup_arn(),
        Some(built.nodegroup_arn.as_str())
    );
    let db = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("todo-{}", env.name))
        .send()
        .await
        .unwrap();
    assert_eq!(
        db.db_instances()[0].dbi_resource_id(),
        Some(built.db_resource_id.as_str())
    );

    env.expect(&["destroy", "--yes"], 0);
}

#[test]
fn adopt_refuses_other_versions_files_and_regions() {
    let env = TestEnv::from_dev("it-adopt-bad", 132);
    crate::takeover::network_only(&env);
    let dir = repo().join("tests/fixtures/terraform");
    for (file, says) in [
        ("v3.tfstate", "only Terraform state version 4"),
        ("not-a-state.json", "not a Terraform state"),
        ("other-region.tfstate", "another region or account"),
    ] {
        let path = dir.join(file);
        let out = env.expect(
            &[
                "adopt",
                "--from-terraform",
                path.to_str().unwrap(),
                "--dry-run",
            ],
            3,
        );
        let err = text(&out.stderr);
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
    }
    assert!(!env.state_path().exists());
    // A database name RDS would refuse is bad input, with its key and line.
    env.write_plan(&format!(
        "{}{CLUSTER_AND_DATABASE}identifier = \"todo--x-\"\n",
        env.plan_text()
    ));
    let out = env.expect(&["validate"], 3);
    let err = text(&out.stderr);
    let line = env
        .plan_text()
        .lines()
        .position(|l| l.starts_with("identifier"))
        .unwrap()
        + 1;
    assert!(
        err.contains("database.identifier") && err.contains(&format!(":{line}:")),
        "{err}"
    );
}
