//! The Aurora Serverless v2 option of the data tier, through the emulator's
//! RDS: the cluster and its `db.serverless` writer, the same outputs and
//! workload policy as the instance form, capacity changed in place, the
//! secret kept out of state and output, a switch of form flagged as data
//! loss, and a destroy that honours the final snapshot and leaves nothing.

use serde_json::Value;

use crate::support::*;

const INSTANCE_FORM: &str =
    "instance_class = \"db.t4g.micro\"\nallocated_storage = 20\nmulti_az = false\n";
const AURORA_FORM: &str =
    "engine = \"aurora-postgresql\"\nserverless_v2 = { min_acu = 0.5, max_acu = 4 }\n";

async fn cluster(sdk: &Sdk, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    sdk.rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .ok()?
        .db_clusters()
        .first()
        .cloned()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn aurora_serverless_v2_up_scale_in_place_and_destroy_with_final_snapshot() {
    let env = TestEnv::from_dev("it-aurora", 62);
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    env.edit_plan(INSTANCE_FORM, AURORA_FORM);
    env.edit_plan("performance_insights = false\n", "");
    let up = env.expect(&["up", "--yes"], 0);
    let mut cli_output = format!("{}{}", text(&up.stdout), text(&up.stderr));

    // The cluster: Aurora PostgreSQL, Serverless v2 limits, encrypted, IAM
    // auth, password managed by RDS, in the data subnets behind the database group.
    let c = cluster(&sdk, &format!("{name}-db"))
        .await
        .expect("the Aurora cluster");
    assert_eq!(c.engine(), Some("aurora-postgresql"));
    let scaling = c
        .serverless_v2_scaling_configuration()
        .expect("Serverless v2");
    assert_eq!(
        (scaling.min_capacity(), scaling.max_capacity()),
        (Some(0.5), Some(4.0))
    );
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.iam_database_authentication_enabled(), Some(true));
    assert_eq!(c.deletion_protection(), Some(false));
    assert_eq!(c.backup_retention_period(), Some(7));
    assert_eq!(c.db_subnet_group(), Some(format!("{name}-data").as_str()));
    let group = c
        .db_cluster_parameter_group()
        .expect("a cluster parameter group")
        .to_string();
    let params = sdk
        .rds
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(&group)
        .source("user")
        .send()
        .await
        .unwrap();
    let force_ssl = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("rds.force_ssl"))
        .expect("rds.force_ssl set");
    assert_eq!(force_ssl.parameter_value(), Some("1"));
    let sg = c.vpc_security_groups()[0].vpc_security_group_id().unwrap();
    let described = sdk
        .ec2
        .describe_security_groups()
        .group_ids(sg)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.security_groups()[0].group_name(),
        Some(format!("{name}-database").as_str())
    );
    let secret_arn = c
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("MasterUserSecret")
        .to_string();
    let secret = sdk
        .secrets
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap();
    let password =
        serde_json::from_str::<Value>(secret.secret_string().unwrap()).unwrap()["password"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(password.len() >= 8);

    // One db.serverless writer in the cluster; no instance-form database.
    let writer = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{name}-db-writer"))
        .send()
        .await
        .unwrap();
    let writer = &writer.db_instances()[0];
    assert_eq!(writer.db_instance_class(), Some("db.serverless"));
    assert_eq!(
        writer.db_cluster_identifier(),
        Some(format!("{name}-db").as_str())
    );
    let instances = sdk.rds.describe_db_instances().send().await.unwrap();
    let ours: Vec<&str> = instances
        .db_instances()
        .iter()
        .filter_map(|d| d.db_instance_identifier())
        .filter(|i| i.starts_with(&name))
        .collect();
    assert_eq!(ours, vec![format!("{name}-db-writer").as_str()]);

    // The same outputs as the instance form, read from the cluster.
    let outputs = env.expect(&["output", "--json"], 0);
    let values: Value =
        serde_json::from_slice::<Value>(&outputs.stdout).unwrap()["outputs"].clone();
    assert_eq!(values["db_endpoint"], c.endpoint().unwrap());
    assert_eq!(values["db_reader_endpoint"], c.reader_endpoint().unwrap());
    assert_eq!(values["db_master_secret_arn"], secret_arn.as_str());
    assert_eq!(
        values["db_resource_id"],
        c.db_cluster_resource_id().unwrap()
    );
    cli_output.push_str(&text(&outputs.stdout));
    // todo-api's rds-db:connect names this cluster's resource id.
    let doc = sdk
        .iam
        .get_role_policy()
        .role_name(format!("{name}-todo-api"))
        .policy_name("workload")
        .send()
        .await
        .unwrap();
    let doc = percent_encoding::percent_decode_str(doc.policy_document())
        .decode_utf8_lossy()
        .to_string();
    assert!(
        doc.contains(&format!(
            "dbuser:{}/todo_api",
            c.db_cluster_resource_id().unwrap()
        )),
        "{doc}"
    );
    // external-secrets may read exactly the cluster's secret.
    let doc = sdk
        .iam
        .get_role_policy()
        .role_name(format!("{name}-external-secrets"))
        .policy_name("workload")
        .send()
        .await
        .unwrap();
    assert!(
        percent_encoding::percent_decode_str(doc.policy_document())
            .decode_utf8_lossy()
            .contains(&secret_arn)
    );

    let plan = env.expect(&["plan", "--detailed-exitcode"], 0);
    cli_output.push_str(&text(&plan.stdout));
    let drift = env.expect(&["drift", "--json"], 0);
    cli_output.push_str(&text(&drift.stdout));

    // Capacity changes in place: same cluster resource id.
    env.edit_plan("max_acu = 4", "max_acu = 8");
    let plan = text(&env.expect(&["plan"], 0).stdout);
    assert!(
        plan.contains("~ rds_cluster.main (RdsCluster) will be updated in place"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let after = cluster(&sdk, &format!("{name}-db")).await.unwrap();
    assert_eq!(
        after
            .serverless_v2_scaling_configuration()
            .unwrap()
            .max_capacity(),
        Some(8.0)
    );
    assert_eq!(
        after.db_cluster_resource_id(),
        c.db_cluster_resource_id(),
        "modified, not replaced"
    );

    // Back to the instance form: a new database, and the plan says the data goes.
    let aurora_plan = env.plan_text();
    env.write_plan(&aurora_plan.replace(
        "engine = \"aurora-postgresql\"\nserverless_v2 = { min_acu = 0.5, max_acu = 8 }\n",
        INSTANCE_FORM,
    ));
    let plan = text(&env.expect(&["plan"], 0).stdout);
    assert!(
        plan.contains("- rds_cluster.main (RdsCluster) will be destroyed"),
        "{plan}"
    );
    assert!(
        plan.contains("+ db_instance.main (DbInstance) will be created"),
        "{plan}"
    );
    assert!(plan.contains("!! - rds_cluster.main: the Aurora cluster and its data are deleted; NO final snapshot is taken"), "{plan}");
    env.write_plan(&aurora_plan);

    // The secret never reaches state or any output.
    let state_dir = env.state_path().parent().unwrap().to_path_buf();
    for entry in walk(&state_dir) {
        assert!(
            !contains(&std::fs::read(&entry).unwrap(), &password),
            "the password is in {}",
            entry.display()
        );
    }
    assert!(
        !cli_output.contains(&password),
        "the password reached CLI output"
    );

    // Deletion protection holds destroy back, up front, as for the instance.
    env.edit_plan("deletion_protection = false", "deletion_protection = true");
    env.expect(&["up", "--yes"], 0);
    assert_eq!(
        cluster(&sdk, &format!("{name}-db"))
            .await
            .unwrap()
            .deletion_protection(),
        Some(true)
    );
    let refused = env.expect(&["destroy", "--yes"], 1);
    assert!(
        text(&refused.stderr).contains("rds_cluster.main"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        cluster(&sdk, &format!("{name}-db")).await.is_some(),
        "nothing deleted"
    );
    env.edit_plan("deletion_protection = true", "deletion_protection = false");
    env.expect(&["up", "--yes"], 0);

    // Destroy with a final snapshot: the snapshot stays, nothing else.
    env.edit_plan("final_snapshot = false", "final_snapshot = true");
    env.expect(&["destroy", "--yes"], 0);
    assert!(
        cluster(&sdk, &format!("{name}-db")).await.is_none(),
        "cluster deleted"
    );
    let snapshots = sdk
        .rds
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(format!("{name}-db"))
        .send()
        .await
        .unwrap();
    assert!(
        snapshots.db_cluster_snapshots().iter().any(|s| s
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .starts_with(&format!("{name}-db-final-"))),
        "final snapshot: {:?}",
        snapshots.db_cluster_snapshots()
    );
    let instances = sdk.rds.describe_db_instances().send().await.unwrap();
    assert!(!instances.db_instances().iter().any(|d| {
        d.db_instance_identifier()
            .unwrap_or_default()
            .starts_with(&name)
    }));
    let groups = sdk
        .rds
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name(&group)
        .send()
        .await;
    assert!(groups.is_err(), "cluster parameter group deleted");
    assert!(
        tagged_addresses(&env.name).await.is_empty(),
        "nothing tagged for the env is left"
    );
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
