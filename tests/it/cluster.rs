use serde_json::Value;

use crate::support::*;

fn trust(doc: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(doc)
        .decode_utf8_lossy()
        .to_string();
    serde_json::from_str(&decoded).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_tier_up_scale_replace_destroy() {
    let env = TestEnv::from_dev("it-eks", 41);
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    let out = env.expect(&["up", "--yes"], 0);
    assert!(
        text(&out.stdout).contains("WARN   INFRA-EKS-001"),
        "the open endpoint is warned about (guardrail INFRA-EKS-001)"
    );
    assert!(
        !text(&out.stdout).contains("warning: cluster"),
        "said once, by the guardrail"
    );

    // The cluster: version, app subnets, endpoint access, logging.
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
    assert_eq!(cluster.version(), Some("1.32"));
    let vpc = cluster.resources_vpc_config().unwrap();
    let app = subnet_ids(&sdk.ec2, &env.name, "app").await;
    let mut placed = vpc.subnet_ids().to_vec();
    placed.sort();
    let mut app_sorted = app.clone();
    app_sorted.sort();
    assert_eq!(placed, app_sorted, "cluster in the app subnets");
    assert!(vpc.endpoint_private_access());
    assert_eq!(vpc.public_access_cidrs(), ["0.0.0.0/0"]);
    let issuer = cluster
        .identity()
        .unwrap()
        .oidc()
        .unwrap()
        .issuer()
        .unwrap()
        .to_string();
    let issuer_host = issuer.trim_start_matches("https://").to_string();

    // Node group: sizes, label, taint.
    let ng = sdk
        .eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("system")
        .send()
        .await
        .unwrap()
        .nodegroup()
        .unwrap()
        .clone();
    let scaling = ng.scaling_config().unwrap();
    assert_eq!(
        (
            scaling.min_size(),
            scaling.desired_size(),
            scaling.max_size()
        ),
        (Some(2), Some(2), Some(3))
    );
    assert_eq!(ng.instance_types(), ["t3.medium"]);
    assert_eq!(ng.capacity_type().map(|c| c.as_str()), Some("ON_DEMAND"));
    assert_eq!(
        ng.labels().unwrap().get("role").map(String::as_str),
        Some("system")
    );
    let taint = &ng.taints()[0];
    assert_eq!(
        (
            taint.key(),
            taint.value(),
            taint.effect().map(|e| e.as_str())
        ),
        (Some("system"), Some("true"), Some("NO_SCHEDULE"))
    );

    // IAM: trust policies parsed back, attachments, CNI policy not on nodes.
    let role = |n: &str| sdk.iam.get_role().role_name(format!("{name}-{n}")).send();
    let cluster_role = role("cluster").await.unwrap();
    assert_eq!(
        trust(
            cluster_role
                .role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap()
        )["Statement"][0]["Principal"]["Service"],
        "eks.amazonaws.com"
    );
    let attached = |n: String| sdk.iam.list_attached_role_policies().role_name(n).send();
    let node_policies: Vec<String> = attached(format!("{name}-node"))
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .map(|p| p.policy_name().unwrap().to_string())
        .collect();
    let mut node_policies_sorted = node_policies.clone();
    node_policies_sorted.sort();
    assert_eq!(
        node_policies_sorted,
        [
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonSSMManagedInstanceCore"
        ]
    );
    let cni: Vec<String> = attached(format!("{name}-vpc-cni"))
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .map(|p| p.policy_name().unwrap().to_string())
        .collect();
    assert_eq!(cni, ["AmazonEKS_CNI_Policy"]);
    for (role_name, sa) in [
        (
            "karpenter-controller",
            "system:serviceaccount:karpenter:karpenter",
        ),
        ("vpc-cni", "system:serviceaccount:kube-system:aws-node"),
    ] {
        let doc = trust(
            role(role_name)
                .await
                .unwrap()
                .role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap(),
        );
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
        let conditions = statement["Condition"]["StringEquals"].as_object().unwrap();
        assert_eq!(conditions.len(), 2, "{doc}");
        assert_eq!(conditions[&format!("{issuer_host}:sub")], sa);
        assert_eq!(
            conditions[&format!("{issuer_host}:aud")],
            "sts.amazonaws.com"
        );
        assert!(
            statement["Principal"]["Federated"]
                .as_str()
                .unwrap()
                .contains("oidc-provider/")
        );
    }

    // OIDC provider from the issuer.
    let providers = sdk
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .unwrap();
    let mut found = false;
    for p in providers.open_id_connect_provider_list() {
        let got = sdk
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(p.arn().unwrap())
            .send()
            .await
            .unwrap();
        if got
            .tags()
            .iter()
            .any(|t| t.key() == "infra:env" && t.value() == env.name)
        {
            assert_eq!(
                got.url().map(|u| u.trim_start_matches("https://")),
                Some(issuer_host.as_str())
            );
            assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);
            found = true;
        }
    }
    assert!(found, "OIDC provider");

    // Karpenter: queue with SSE and the send policy, rules targeting it, instance profile.
    let url = sdk
        .sqs
        .get_queue_url()
        .queue_name(format!("{name}-karpenter"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let attrs = sdk
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(
        attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled)
            .map(String::as_str),
        Some("true")
    );
    let queue_arn = attrs
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap()
        .clone();
    let policy: Value = serde_json::from_str(
        attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
            .unwrap(),
    )
    .unwrap();
    // Only EventBridge may send, and only for this account's rules
    // (`safety::the_policies_infra_writes_are_tight` checks the conditions).
    assert_eq!(
        policy["Statement"][0]["Principal"]["Service"],
        serde_json::json!("events.amazonaws.com")
    );
    assert!(
        policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"].is_string(),
        "{policy}"
    );
    assert_eq!(policy["Statement"][0]["Resource"], queue_arn);
    let rules = sdk
        .events
        .list_rules()
        .name_prefix(format!("{name}-karpenter"))
        .send()
        .await
        .unwrap();
    assert_eq!(rules.rules().len(), 4);
    for r in rules.rules() {
        let targets = sdk
            .events
            .list_targets_by_rule()
            .rule(r.name().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(targets.targets()[0].arn(), queue_arn);
    }
    let profile = sdk
        .iam
        .get_instance_profile()
        .instance_profile_name(format!("{name}-karpenter-node"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        profile.instance_profile().unwrap().roles()[0].role_name(),
        format!("{name}-karpenter-node")
    );

    // Add-ons, with versions resolved and the CNI role.
    let addons = sdk
        .eks
        .list_addons()
        .cluster_name(&name)
        .send()
        .await
        .unwrap();
    let mut names = addons.addons().to_vec();
    names.sort();
    assert_eq!(
        names,
        ["aws-ebs-csi-driver", "coredns", "kube-proxy", "vpc-cni"]
    );
    let cni_addon = sdk
        .eks
        .describe_addon()
        .cluster_name(&name)
        .addon_name("vpc-cni")
        .send()
        .await
        .unwrap()
        .addon()
        .unwrap()
        .clone();
    assert!(
        cni_addon
            .service_account_role_arn()
            .unwrap()
            .ends_with(&format!("role/{name}-vpc-cni"))
    );
    assert!(cni_addon.addon_version().unwrap().starts_with('v'));

    // A second plan is empty.
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // Scaling changes in place.
    env.edit_plan("max_size = 3", "max_size = 4");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("~ eks_nodegroup.system (EksNodegroup) will be updated in place"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    env.expect(&["up", "--yes"], 0);
    let ng = sdk
        .eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("system")
        .send()
        .await
        .unwrap()
        .nodegroup()
        .unwrap()
        .clone();
    assert_eq!(ng.scaling_config().unwrap().max_size(), Some(4));
    let arn_before = ng.nodegroup_arn().unwrap().to_string();
    // Something else scales the group: not drift, desired_size is not owned.
    sdk.eks
        .update_nodegroup_config()
        .cluster_name(&name)
        .nodegroup_name("system")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(2)
                .max_size(4)
                .desired_size(3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // An instance type change replaces the group.
    env.edit_plan(
        "instance_types = [\"t3.medium\"]",
        "instance_types = [\"t3.large\"]",
    );
    env.edit_plan("budget_monthly_usd = 700", "budget_monthly_usd = 600");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("-/+ eks_nodegroup.system (EksNodegroup) must be replaced"),
        "{plan}"
    );
    assert!(
        plan.contains("`instance_types` cannot change in place"),
        "{plan}"
    );
    assert!(plan.contains("!! -/+ eks_nodegroup.system (forced by instance_types): every node of the group is drained"), "data loss said: {plan}");
    assert!(
        plan.contains("OVER BUDGET"),
        "t3.large pushes dev over its budget: {plan}"
    );
    env.expect(&["up", "--yes"], 3);
    env.expect(&["up", "--yes", "--allow-over-budget"], 0);
    env.edit_plan("budget_monthly_usd = 600", "budget_monthly_usd = 700");
    let ng = sdk
        .eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("system")
        .send()
        .await
        .unwrap()
        .nodegroup()
        .unwrap()
        .clone();
    assert_eq!(ng.instance_types(), ["t3.large"]);
    assert_ne!(
        ng.nodegroup_arn(),
        Some(arn_before.as_str()),
        "a new node group, not the old one modified"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);

    // A version bump is an in-place update of the same cluster.
    let arn = sdk
        .eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    env.edit_plan("version = \"1.32\"", "version = \"1.33\"");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("~ eks_cluster.main (EksCluster) will be updated in place"),
        "{plan}"
    );
    assert!(plan.contains("version: \"1.32\" -> \"1.33\""), "{plan}");
    env.expect(&["up", "--yes"], 0);
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
    assert_eq!(
        (cluster.version(), cluster.arn()),
        (Some("1.33"), Some(arn.as_str()))
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);

    env.expect(&["destroy", "--yes"], 0);
    assert_eq!(
        ec2_inventory(&sdk.ec2, &env.name).await,
        Vec::<String>::new()
    );
    assert_eq!(sdk.other_inventory(&env.name).await, Vec::<String>::new());
}

/// Prod's secrets encryption: the key infra makes (rotation on, with its
/// alias) is the cluster's; destroy only schedules its deletion.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_encryption_uses_its_own_rotating_key_and_destroy_schedules_deletion() {
    let env = TestEnv::from_dev("it-kms", 49);
    // Prod's key shape: secrets, database storage and logs keys on.
    env.edit_plan("eks = false", "eks = true");
    env.edit_plan("rds = false", "rds = true");
    env.edit_plan("logs = false", "logs = true");
    env.expect(&["up", "--yes"], 0);
    let conf = sdk_config("us-east-1").await;
    let kms = aws_sdk_kms::Client::new(&conf);
    let sdk = clients().await;
    let name = format!("todo-{}", env.name);
    let alias = kms
        .list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(format!("alias/{name}-eks").as_str()))
        .cloned()
        .expect("the key's alias");
    let key_id = alias.target_key_id().unwrap().to_string();
    let key = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .clone();
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled()
    );
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
    let used = cluster.encryption_config()[0]
        .provider()
        .unwrap()
        .key_arn()
        .unwrap()
        .to_string();
    assert_eq!(used, key.arn().unwrap());
    let key_arn = |svc: &'static str| {
        let kms = kms.clone();
        let name = name.clone();
        async move {
            let id = kms
                .describe_key()
                .key_id(format!("alias/{name}-{svc}"))
                .send()
                .await
                .unwrap();
            let meta = id.key_metadata().unwrap().clone();
            assert!(
                kms.get_key_rotation_status()
                    .key_id(meta.key_id())
                    .send()
                    .await
                    .unwrap()
                    .key_rotation_enabled(),
                "{svc} rotates"
            );
            meta
        }
    };
    let rds_key = key_arn("rds").await;
    let db = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("{name}-db"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        db.db_instances()[0].kms_key_id(),
        rds_key.arn(),
        "the database is encrypted with its own key"
    );
    let logs_key = key_arn("logs").await;
    let policy = kms
        .get_key_policy()
        .key_id(logs_key.key_id())
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .policy()
            .unwrap()
            .contains("logs.us-east-1.amazonaws.com"),
        "CloudWatch Logs may use the logs key"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    // Turning a key off while the database still uses it is warned about.
    env.edit_plan("rds = true", "rds = false");
    let plan = text(&env.expect(&["plan", "--detailed-exitcode"], 2).stdout);
    assert!(
        plan.contains("kms_key.rds is scheduled for deletion but db_instance.main still encrypt"),
        "{plan}"
    );
    env.edit_plan("rds = false", "rds = true");
    env.expect(&["destroy", "--yes"], 0);
    let state = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_state()
        .cloned();
    assert_eq!(
        state,
        Some(aws_sdk_kms::types::KeyState::PendingDeletion),
        "scheduled, never deleted at once"
    );
    for svc_key in [&rds_key, &logs_key] {
        let meta = kms
            .describe_key()
            .key_id(svc_key.key_id())
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .clone();
        assert_eq!(
            meta.key_state(),
            Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
        );
        // The plan's window (dev: 7 days), not KMS's 30-day default.
        let days = (meta.deletion_date().unwrap().secs()
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64)
            / 86_400;
        assert!((6..=7).contains(&days), "deletion in {days} days");
    }
    assert!(sdk.other_inventory(&env.name).await.is_empty());
}
