//! A lost or wrong state file: what the cloud holds for the env and the plan
//! declares is adopted all together (the database included) or, when an
//! address matches more than one resource, not at all. Orphans are only what
//! neither state nor the plan accounts for, and `plan --prune-orphans`
//! previews their deletion.

use serde_json::Value;

use crate::support::*;

async fn dbi_resource_id(sdk: &Sdk, env: &str) -> String {
    let out = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("todo-{env}-db"))
        .send()
        .await
        .unwrap();
    out.db_instances()[0].dbi_resource_id().unwrap().to_string()
}

fn plan_json(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&env.expect(&all, 0).stdout).expect("plan --json")
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x[key].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_state_is_adopted_whole_database_included_and_up_creates_nothing() {
    let env = TestEnv::from_dev("it-lost", 71);
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let dbi = dbi_resource_id(&sdk, &env.name).await;
    let declared = state_addresses(&env.state_path());
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
    // One real orphan: tagged with the project and env, unknown to state and plan.
    let tag_spec = |rt: aws_sdk_ec2::types::ResourceType, tags: &[(&str, &str)]| {
        let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(rt);
        for (k, v) in tags {
            b = b.tags(aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
        }
        b.build()
    };
    let handmade = sdk
        .ec2
        .create_security_group()
        .group_name(format!("todo-{}-handmade", env.name))
        .description("made by hand")
        .vpc_id(&vpc_id)
        .tag_specifications(tag_spec(
            aws_sdk_ec2::types::ResourceType::SecurityGroup,
            &[("infra:env", &env.name), ("infra:project", "todo")],
        ))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();

    std::fs::remove_file(env.state_path()).unwrap();

    // plan: every declared resource adopted, in one block; nothing to create.
    let out = env.expect(&["plan", "--detailed-exitcode"], 2);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "State does not know {} resource(s)",
            declared.len()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("db_instance.main"),
        "the database is adopted: {stdout}"
    );
    assert!(
        !stdout.contains("note:"),
        "one block, not a note per resource: {stdout}"
    );
    assert!(
        !stdout.lines().any(|l| l.trim_start().starts_with("+ ")),
        "nothing to create: {stdout}"
    );
    assert!(
        stdout.contains(&handmade) && stdout.contains("Orphans: 1 resource(s)"),
        "the orphan is listed: {stdout}"
    );
    let orphans_block = &stdout[stdout.find("Orphans:").unwrap()..];
    assert!(
        !orphans_block.contains("db_instance") && !orphans_block.contains("vpc.main"),
        "declared resources are never orphans: {orphans_block}"
    );
    let json = plan_json(&env, &[]);
    let mut adopted = strings(&json["adopted"], "address");
    adopted.sort();
    assert_eq!(adopted, declared, "every declared resource, no more");
    assert_eq!(
        json["summary"],
        serde_json::json!({ "add": 0, "change": 0, "destroy": 0 })
    );
    assert_eq!(
        strings(&json["orphans"], "id"),
        std::slice::from_ref(&handmade)
    );

    // drift before up: adoptable, not orphans.
    let report: Value =
        serde_json::from_slice(&env.expect(&["drift", "--json"], 2).stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let orphan_ids: Vec<&str> = findings
        .iter()
        .filter(|f| f["finding"] == "orphan")
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(orphan_ids, [handmade.as_str()], "{report:#}");
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["finding"] == "unrecorded")
            .count(),
        declared.len()
    );

    // plan --prune-orphans previews the one deletion, and only it.
    let json = plan_json(&env, &["--prune-orphans"]);
    let deletes: Vec<&Value> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "delete")
        .collect();
    assert_eq!(deletes.len(), 1, "{json:#}");
    assert_eq!(deletes[0]["id"], handmade.as_str());
    assert_eq!(json["actions"].as_array().unwrap().len(), 1, "{json:#}");

    // up: adopts, creates nothing, the database is the same instance.
    let out = env.expect(&["up", "--yes"], 0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Adopted into state") && stdout.contains("No changes"),
        "{stdout}"
    );
    assert!(!stdout.contains("will be created"), "{stdout}");
    assert_eq!(dbi_resource_id(&sdk, &env.name).await, dbi, "same database");
    assert_eq!(state_addresses(&env.state_path()), declared);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    // The orphan stays an orphan, which drift reports; pruned on request.
    let report: Value =
        serde_json::from_slice(&env.expect(&["drift", "--json"], 2).stdout).unwrap();
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    env.expect(&["up", "--yes", "--prune-orphans"], 0);
    env.expect(&["drift"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_two_resources_carry_adopts_nothing_and_names_both() {
    let env = TestEnv::from_dev("it-ambig", 72);
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
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
    // A second VPC claiming the same address (a copy made by hand).
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
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
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("infra:address")
                .value("vpc.main")
                .build(),
        )
        .build();
    let copy = sdk
        .ec2
        .create_vpc()
        .cidr_block("10.72.0.0/16")
        .tag_specifications(tags)
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let backup = std::fs::read(env.state_path()).unwrap();
    std::fs::remove_file(env.state_path()).unwrap();

    let out = env.expect(&["plan"], 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("adopts none")
            && stderr.contains("vpc.main")
            && stderr.contains(&vpc_id)
            && stderr.contains(&copy),
        "{stderr}"
    );
    let out = env.expect(&["up", "--yes"], 1);
    assert!(
        text(&out.stderr).contains("adopts none"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !env.state_path().exists() || state_addresses(&env.state_path()).is_empty(),
        "nothing adopted"
    );

    // Once the copy is gone, everything is adopted.
    sdk.ec2.delete_vpc().vpc_id(&copy).send().await.unwrap();
    let json = plan_json(&env, &[]);
    assert!(strings(&json["adopted"], "address").contains(&"vpc.main".to_string()));
    std::fs::write(env.state_path(), backup).unwrap();
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
}
