//! The data, identity and edge tier: RDS PostgreSQL with an RDS-managed
//! secret, IRSA / Pod Identity workload roles, the Route53 zone and its
//! DNS-validated ACM certificate.

use serde_json::{Value, json};

use crate::support::*;

fn decoded(doc: &str) -> Value {
    let text = percent_encoding::percent_decode_str(doc)
        .decode_utf8_lossy()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

/// Every `Resource` of every statement of a policy document.
fn resources(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in policy["Statement"].as_array().unwrap() {
        match &s["Resource"] {
            Value::String(r) => out.push(r.clone()),
            Value::Array(rs) => out.extend(rs.iter().map(|r| r.as_str().unwrap().to_string())),
            _ => {}
        }
    }
    out
}

async fn db_instance(sdk: &Sdk, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    sdk.rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?
        .db_instances()
        .first()
        .cloned()
}

fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn data_tier_up_modify_protect_destroy() {
    let env = TestEnv::from_dev("it-data", 50);
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    let up = env.expect(&["up", "--yes"], 0);
    let mut cli_output = format!("{}{}", text(&up.stdout), text(&up.stderr));

    // The instance: dev values, encrypted, private, password managed by RDS.
    let db = db_instance(&sdk, &format!("{name}-db"))
        .await
        .expect("the DB instance");
    assert_eq!(db.engine(), Some("postgres"));
    assert!(
        db.engine_version().unwrap().starts_with("16."),
        "{:?}",
        db.engine_version()
    );
    assert_eq!(db.db_instance_class(), Some("db.t4g.micro"));
    assert_eq!(db.multi_az(), Some(false));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.deletion_protection(), Some(false));
    assert_eq!(
        db.iam_database_authentication_enabled(),
        Some(true),
        "todo-api logs in with its role"
    );
    let secret_arn = db
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
    assert!(password.len() >= 8, "a real generated password");

    // In the data subnets, behind the database security group, SSL forced.
    let data = subnet_ids(&sdk.ec2, &env.name, "data").await;
    let group = db.db_subnet_group().unwrap();
    let mut placed: Vec<String> = group
        .subnets()
        .iter()
        .map(|s| s.subnet_identifier().unwrap().to_string())
        .collect();
    let mut expected = data.clone();
    placed.sort();
    expected.sort();
    assert_eq!(
        (placed.len(), placed),
        (3, expected),
        "the DB subnet group spans the data subnets"
    );
    let db_sg = db.vpc_security_groups()[0]
        .vpc_security_group_id()
        .unwrap()
        .to_string();
    let rules = sdk
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&db_sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ingress: Vec<_> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .collect();
    assert_eq!(ingress.len(), 1, "5432 from the nodes only: {ingress:?}");
    assert_eq!(
        (ingress[0].from_port(), ingress[0].to_port()),
        (Some(5432), Some(5432))
    );
    let nodes_sg = ingress[0]
        .referenced_group_info()
        .and_then(|g| g.group_id())
        .expect("from a security group");
    let nodes = sdk
        .ec2
        .describe_security_groups()
        .group_ids(nodes_sg)
        .send()
        .await
        .unwrap();
    assert_eq!(
        nodes.security_groups()[0].group_name(),
        Some(format!("{name}-nodes").as_str())
    );
    let pg = db.db_parameter_groups()[0]
        .db_parameter_group_name()
        .unwrap()
        .to_string();
    let params = sdk
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(&pg)
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

    // Workload roles: each trusts exactly its service account through the
    // cluster's OIDC provider.
    let cluster = sdk
        .eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .clone();
    let issuer = cluster
        .identity()
        .unwrap()
        .oidc()
        .unwrap()
        .issuer()
        .unwrap()
        .trim_start_matches("https://")
        .to_string();
    for (identity, sa) in [
        (
            "aws-load-balancer-controller",
            "kube-system:aws-load-balancer-controller",
        ),
        ("external-dns", "external-dns:external-dns"),
        ("external-secrets", "external-secrets:external-secrets"),
        ("todo-api", "todo-backend:todo-api"),
    ] {
        let role = sdk
            .iam
            .get_role()
            .role_name(format!("{name}-{identity}"))
            .send()
            .await
            .unwrap();
        let trust = decoded(role.role().unwrap().assume_role_policy_document().unwrap());
        let statements = trust["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{identity}: {trust}");
        assert!(
            statements[0]["Principal"]["Federated"]
                .as_str()
                .unwrap()
                .ends_with(&format!("oidc-provider/{issuer}")),
            "{identity}: {trust}"
        );
        assert_eq!(statements[0]["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            statements[0]["Condition"],
            json!({ "StringEquals": { format!("{issuer}:sub"): format!("system:serviceaccount:{sa}"), format!("{issuer}:aud"): "sts.amazonaws.com" } }),
            "{identity}"
        );
    }
    let policy = |identity: &str| {
        let iam = sdk.iam.clone();
        let role = format!("{name}-{identity}");
        async move {
            decoded(
                iam.get_role_policy()
                    .role_name(role)
                    .policy_name("workload")
                    .send()
                    .await
                    .unwrap()
                    .policy_document(),
            )
        }
    };

    // DNS: the zone, the certificate for domain and *.domain, ISSUED, its
    // validation record in the zone.
    let domain = env.domain();
    let zones = sdk
        .route53
        .list_hosted_zones_by_name()
        .dns_name(&domain)
        .send()
        .await
        .unwrap();
    let zone = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name() == format!("{domain}."))
        .expect("the zone")
        .clone();
    let zone_id = zone.id().trim_start_matches("/hostedzone/").to_string();
    let outputs: Value = serde_json::from_slice::<Value>(
        &env.expect(&["output", "--json"], 0).stdout,
    )
    .unwrap()["outputs"]
        .clone();
    assert_eq!(outputs["zone_id"], zone_id.as_str());
    assert_eq!(outputs["db_master_secret_arn"], secret_arn.as_str());
    let cert_arn = outputs["certificate_arn"].as_str().unwrap().to_string();
    let cert = sdk
        .acm
        .describe_certificate()
        .certificate_arn(&cert_arn)
        .send()
        .await
        .unwrap()
        .certificate()
        .unwrap()
        .clone();
    assert_eq!(cert.domain_name(), Some(domain.as_str()));
    assert!(
        cert.subject_alternative_names()
            .contains(&format!("*.{domain}")),
        "{:?}",
        cert.subject_alternative_names()
    );
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    let record = cert.domain_validation_options()[0]
        .resource_record()
        .expect("DNS validation")
        .clone();
    let sets = sdk
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .unwrap();
    let found = sets
        .resource_record_sets()
        .iter()
        .find(|r| {
            r.name().trim_end_matches('.') == record.name().trim_end_matches('.')
                && r.r#type().as_str() == "CNAME"
        })
        .expect("the validation CNAME in the zone");
    assert_eq!(
        found.resource_records()[0].value().trim_end_matches('.'),
        record.value().trim_end_matches('.')
    );
    let ns = sdk
        .route53
        .get_hosted_zone()
        .id(&zone_id)
        .send()
        .await
        .unwrap();
    let expected_ns: Vec<Value> = ns
        .delegation_set()
        .unwrap()
        .name_servers()
        .iter()
        .map(|n| Value::from(n.as_str()))
        .collect();
    assert_eq!(
        outputs["zone_name_servers"],
        Value::Array(expected_ns),
        "a list, not a joined string"
    );

    // Policies name their resources: this zone, this secret, this instance's user.
    let dns_policy = policy("external-dns").await;
    let dns_resources = resources(&dns_policy);
    assert!(
        dns_resources.contains(&format!("arn:aws:route53:::hostedzone/{zone_id}")),
        "{dns_policy}"
    );
    assert!(
        !dns_resources
            .iter()
            .any(|r| r == "arn:aws:route53:::hostedzone/*"),
        "only this zone: {dns_policy}"
    );
    let secrets_policy = policy("external-secrets").await;
    assert_eq!(
        resources(&secrets_policy),
        vec![secret_arn.clone()],
        "{secrets_policy}"
    );
    let api_policy = policy("todo-api").await;
    let dbi = db.dbi_resource_id().unwrap();
    assert_eq!(
        resources(&api_policy),
        vec![format!("arn:aws:rds-db:us-east-1:*:dbuser:{dbi}/todo_api")]
    );

    let plan = env.expect(&["plan", "--detailed-exitcode"], 0);
    cli_output.push_str(&text(&plan.stdout));
    let drift = env.expect(&["drift", "--json"], 0);
    cli_output.push_str(&text(&drift.stdout));
    cli_output.push_str(&outputs.to_string());

    // Backup retention and Performance Insights: a modify of the same instance, not a replace.
    env.edit_plan("backup_retention_days = 7", "backup_retention_days = 14");
    env.edit_plan(
        "performance_insights = false",
        "performance_insights = true",
    );
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("~ db_instance.main")
            && plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    let up = env.expect(&["up", "--yes"], 0);
    cli_output.push_str(&text(&up.stdout));
    let after = db_instance(&sdk, &format!("{name}-db")).await.unwrap();
    assert_eq!(after.backup_retention_period(), Some(14));
    assert_eq!(after.performance_insights_enabled(), Some(true));
    assert_eq!(
        after.dbi_resource_id(),
        db.dbi_resource_id(),
        "modified in place"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // A new major version is a replace, and the plan says which field forces it.
    env.edit_plan("engine_version = \"16.4\"", "engine_version = \"17.2\"");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("-/+ db_instance.main") && plan.contains("(forces replacement)"),
        "{plan}"
    );
    env.edit_plan("engine_version = \"17.2\"", "engine_version = \"16.4\"");

    // Nobody ever sees the password: not in state, not in any CLI output.
    assert!(
        !cli_output.contains(&password),
        "the password reached the CLI output"
    );
    let mut dirs = vec![env.state_path().parent().unwrap().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !contains_bytes(&bytes, &password),
                    "the password reached {}",
                    path.display()
                );
            }
        }
    }
    assert!(
        contains_bytes(&std::fs::read(env.state_path()).unwrap(), &secret_arn)
            || cli_output.contains(&secret_arn)
    );

    // protect = true: destroy is refused and touches nothing.
    env.edit_plan("protect = false\ndb_name", "protect = true\ndb_name");
    let ec2 = ec2().await;
    let before = ec2_inventory(&ec2, &env.name).await;
    let refused = env.expect(&["destroy", "--yes"], 1);
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("db_instance.main") && stderr.contains("protect = false"),
        "{stderr}"
    );
    assert!(db_instance(&sdk, &format!("{name}-db")).await.is_some());
    assert_eq!(ec2_inventory(&ec2, &env.name).await, before);
    assert!(!sdk.other_inventory(&env.name).await.is_empty());
    // So is deletion protection (which AWS would refuse halfway through).
    env.edit_plan("protect = true\ndb_name", "protect = false\ndb_name");
    env.edit_plan("deletion_protection = false", "deletion_protection = true");
    let refused = text(&env.expect(&["destroy", "--yes"], 1).stderr);
    assert!(
        refused.contains("db_instance.main") && refused.contains("deletion_protection = false"),
        "{refused}"
    );
    assert_eq!(ec2_inventory(&ec2, &env.name).await, before);
    env.edit_plan("deletion_protection = true", "deletion_protection = false");
    env.edit_plan("protect = false\ndb_name", "protect = true\ndb_name");

    // Lifted: destroy leaves nothing tagged, nothing named for the env. With
    // prod's `final_snapshot = true` the instance leaves its final snapshot.
    env.edit_plan("protect = true\ndb_name", "protect = false\ndb_name");
    env.edit_plan("final_snapshot = false", "final_snapshot = true");
    env.expect(&["destroy", "--yes"], 0);
    let snapshots = sdk
        .rds
        .describe_db_snapshots()
        .db_instance_identifier(format!("{name}-db"))
        .send()
        .await
        .unwrap();
    assert!(
        snapshots.db_snapshots().iter().any(|s| s
            .db_snapshot_identifier()
            .is_some_and(|i| i.starts_with(&format!("{name}-db-final-")))),
        "final snapshot taken: {:?}",
        snapshots.db_snapshots()
    );
    assert_eq!(tagged_addresses(&env.name).await, Vec::<String>::new());
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

/// Pod Identity in place of IRSA for one workload: the association names
/// the role, and the role trusts the Pod Identity service, not the OIDC issuer.
#[tokio::test(flavor = "multi_thread")]
async fn pod_identity_association_replaces_irsa_for_one_workload() {
    let env = TestEnv::from_dev("it-podid", 51);
    env.edit_plan(
        "service_account = \"todo-api\"\n",
        "service_account = \"todo-api\"\npod_identity = true\n",
    );
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    let up = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&up.stdout).contains("Pod Identity needs the eks-pod-identity-agent add-on"),
        "the missing agent is warned about"
    );
    let listed = sdk
        .eks
        .list_pod_identity_associations()
        .cluster_name(&name)
        .send()
        .await
        .unwrap();
    let summaries = listed.associations();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!(
        (summaries[0].namespace(), summaries[0].service_account()),
        (Some("todo-backend"), Some("todo-api"))
    );
    let assoc = sdk
        .eks
        .describe_pod_identity_association()
        .cluster_name(&name)
        .association_id(summaries[0].association_id().unwrap())
        .send()
        .await
        .unwrap()
        .association()
        .unwrap()
        .clone();
    let role = sdk
        .iam
        .get_role()
        .role_name(format!("{name}-todo-api"))
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .clone();
    assert_eq!(assoc.role_arn(), Some(role.arn()));
    let trust = decoded(role.assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"], "pods.eks.amazonaws.com",
        "{trust}"
    );
    let actions = &trust["Statement"][0]["Action"];
    assert_eq!(
        actions,
        &json!(["sts:AssumeRole", "sts:TagSession"]),
        "{trust}"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // Back to IRSA: the association goes, the role trusts the issuer again.
    env.edit_plan("pod_identity = true\n", "");
    env.expect(&["up", "--yes"], 0);
    let listed = sdk
        .eks
        .list_pod_identity_associations()
        .cluster_name(&name)
        .send()
        .await
        .unwrap();
    assert!(listed.associations().is_empty());
    let role = sdk
        .iam
        .get_role()
        .role_name(format!("{name}-todo-api"))
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .clone();
    assert_eq!(
        decoded(role.assume_role_policy_document().unwrap())["Statement"][0]["Action"],
        "sts:AssumeRoleWithWebIdentity"
    );
    env.expect(&["destroy", "--yes"], 0);
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

/// The prod plan end to end on the emulator: its values, zero noise, its
/// protections, and a final snapshot on destroy.
#[tokio::test(flavor = "multi_thread")]
async fn prod_plan_up_is_quiet_protected_and_leaves_a_final_snapshot() {
    let env = TestEnv::from_prod("it-prod", 52);
    let sdk = clients_in("us-west-2").await;
    let name = format!("todo-{}", env.name);
    env.expect(&["up", "--yes"], 0);
    let db = db_instance(&sdk, &format!("{name}-db"))
        .await
        .expect("the DB instance");
    assert_eq!(db.db_instance_class(), Some("db.t4g.small"));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(30));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.performance_insights_enabled(), Some(true));
    let rds_key = sdk
        .kms
        .describe_key()
        .key_id(format!("alias/{name}-rds"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        db.kms_key_id(),
        rds_key.key_metadata().unwrap().arn(),
        "storage on the RDS key"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["drift"], 0);

    let refused = text(&env.expect(&["destroy", "--yes"], 1).stderr);
    assert!(
        refused.contains("db_instance.main, eks_cluster.main"),
        "{refused}"
    );
    assert!(db_instance(&sdk, &format!("{name}-db")).await.is_some());

    env.edit_plan("protect = true", "protect = false");
    env.edit_plan("protect = true", "protect = false");
    env.edit_plan("deletion_protection = true", "deletion_protection = false");
    env.expect(&["up", "--yes"], 0);
    env.expect(&["destroy", "--yes"], 0);
    let snapshots = sdk
        .rds
        .describe_db_snapshots()
        .db_instance_identifier(format!("{name}-db"))
        .send()
        .await
        .unwrap();
    assert!(snapshots.db_snapshots().iter().any(|s| {
        s.db_snapshot_identifier()
            .is_some_and(|i| i.starts_with(&format!("{name}-db-final-")))
    }));
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
    assert_eq!(
        ec2_inventory(&sdk.ec2, &env.name).await,
        Vec::<String>::new()
    );
}
