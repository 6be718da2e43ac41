use serde_json::{Value, json};

use super::*;
use crate::model::{Desired, Ref};

const TODAY: Date = Date::new(2025, 6, 15);

fn desired(address: &str, kind: &str, props: Value) -> Desired {
    Desired {
        address: address.into(),
        kind: kind.into(),
        props: props.as_object().cloned().expect("props are an object"),
        protect: false,
        origin: "test".into(),
        span: Some(10..20),
    }
}

fn run(resources: &[Desired], env: &str, settings: &PolicySettings) -> Vec<Finding> {
    evaluate(resources, env, settings, true, TODAY)
}

/// (check, address, field) of every finding.
fn keys(findings: &[Finding]) -> Vec<(&'static str, String, String)> {
    findings
        .iter()
        .map(|f| (f.check, f.address.clone(), f.field.clone()))
        .collect()
}

fn only(findings: &[Finding], check: &str) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| f.check == check)
        .cloned()
        .collect()
}

fn waiver(id: &str, resource: &str, reason: Option<&str>, expires: Option<&str>) -> Waiver {
    Waiver {
        id: id.into(),
        resource: resource.into(),
        reason: reason.map(String::from),
        expires: expires.map(String::from),
    }
}

// ---- fixtures in the shapes the expanders build -------------------------

fn tags() -> Value {
    json!({ "project": "todo", "Name": "todo-dev" })
}

/// `eks_cluster.main` as expand/cluster.rs builds it.
fn eks_cluster(public_cidrs: &[&str], log_types: &[&str], kms: bool) -> Desired {
    let mut props = json!({
        "name": "todo-dev",
        "version": "1.32",
        "role_arn": Ref::expr("iam_role.cluster", "arn"),
        "subnet_ids": ["${subnet.app_a.id}", "${subnet.app_b.id}", "${subnet.app_c.id}"],
        "security_group_ids": ["${security_group.nodes.id}"],
        "endpoint_private_access": true,
        "endpoint_public_access": !public_cidrs.is_empty(),
        "public_access_cidrs": public_cidrs,
        "log_types": log_types,
        "authentication_mode": "API_AND_CONFIG_MAP",
        "tags": tags(),
        "_after": ["${iam_role_policy_attachment.cluster_eks.id}"],
    });
    if kms {
        props["encryption_key_arn"] = json!(Ref::expr("kms_key.eks", "arn"));
    }
    desired("eks_cluster.main", "EksCluster", props)
}

fn good_cluster() -> Desired {
    eks_cluster(
        &["203.0.113.0/24"],
        &["api", "audit", "authenticator"],
        true,
    )
}

/// `db_instance.main` as expand/database.rs builds it.
fn db_instance(multi_az: bool, deletion_protection: bool, kms: bool) -> Desired {
    let mut props = json!({
        "identifier": "todo-prod-db",
        "engine": "postgres",
        "engine_version": "16.4",
        "engine_major": "16",
        "instance_class": "db.t4g.small",
        "allocated_storage": 20,
        "db_subnet_group_name": "${db_subnet_group.main.name}",
        "vpc_security_group_ids": ["${security_group.database.id}"],
        "parameter_group_name": "${db_parameter_group.main.name}",
        "multi_az": multi_az,
        "backup_retention_days": 30,
        "deletion_protection": deletion_protection,
        "performance_insights": true,
        "storage_encrypted": true,
        "publicly_accessible": false,
        "iam_database_authentication": true,
        "tags": tags(),
        "_apply_immediately": false,
        "_final_snapshot": true,
        "_db_name": "todo",
        "_master_username": "todo_admin",
    });
    if kms {
        props["kms_key_id"] = json!("${kms_key.rds.arn}");
    }
    desired("db_instance.main", "DbInstance", props)
}

/// A rule as expand/network.rs builds it (`protocol = "all"` becomes "-1").
fn sg_rule(
    name: &str,
    direction: &str,
    protocol: &str,
    from: i64,
    to: i64,
    cidr: Option<&str>,
) -> Desired {
    let mut props = json!({
        "group_id": "${security_group.nodes.id}",
        "direction": direction,
        "protocol": protocol,
        "from_port": from,
        "to_port": to,
        "description": "",
        "tags": tags(),
    });
    match cidr {
        Some(c) => props["cidr"] = json!(c),
        None => props["source_group_id"] = json!("${security_group.nodes.id}"),
    }
    desired(
        &format!("security_group_rule.{name}"),
        "SecurityGroupRule",
        props,
    )
}

fn kms_key(rotation: Option<Value>) -> Desired {
    let mut props = json!({ "description": "todo-prod: EKS secrets envelope encryption", "_deletion_window_days": 30, "tags": tags() });
    if let Some(r) = rotation {
        props["enable_rotation"] = r;
    }
    desired("kms_key.eks", "KmsKey", props)
}

/// The IRSA trust of expand/cluster.rs's `trust_irsa`, with a hook to drop conditions.
fn irsa_trust(condition: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": Ref::expr("iam_oidc_provider.cluster", "arn") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]
    })
}

fn full_irsa_condition() -> Value {
    let issuer = Ref::expr("eks_cluster.main", "oidc_issuer_host");
    json!({ "StringEquals": {
        format!("{issuer}:sub"): "system:serviceaccount:kube-system:aws-node",
        format!("{issuer}:aud"): "sts.amazonaws.com",
    }})
}

fn iam_role(address: &str, trust: Value) -> Desired {
    desired(
        address,
        "IamRole",
        json!({ "name": "todo-dev-x", "path": "/", "assume_role_policy": trust, "tags": tags() }),
    )
}

fn role_policy(statements: Value) -> Desired {
    desired(
        "iam_role_policy.wi_todo_api",
        "IamRolePolicy",
        json!({ "role": "${iam_role.wi_todo_api.name}", "name": "workload", "document": { "Version": "2012-10-17", "Statement": statements } }),
    )
}

fn rds_cluster(props: Value) -> Desired {
    let mut base = json!({
        "identifier": "todo-prod-aurora",
        "engine": "aurora-postgresql",
        "engine_version": "16.4",
        "storage_encrypted": true,
        "kms_key_id": "${kms_key.rds.arn}",
        "deletion_protection": true,
        "tags": tags(),
    });
    for (k, v) in props.as_object().unwrap() {
        base[k] = v.clone();
    }
    desired("rds_cluster.main", "RdsCluster", base)
}

/// The check fires on `resource` at `field`: denied in prod, warned in dev
/// (or, for a prod-only check, absent in dev).
fn assert_fires(resource: Desired, check: &str, field: &str, prod_only: bool) {
    let none = PolicySettings::default();
    let prod = only(&run(std::slice::from_ref(&resource), "prod", &none), check);
    assert_eq!(prod.len(), 1, "{check} in prod: {prod:#?}");
    assert_eq!(prod[0].address, resource.address);
    assert_eq!(prod[0].field, field);
    assert_eq!(prod[0].severity, Severity::Deny);
    assert!(prod[0].blocks());
    assert_eq!(prod[0].span, resource.span, "the span is the resource's");
    let c = find_check(check).unwrap();
    assert_eq!(
        (prod[0].checkov, prod[0].trivy, prod[0].title),
        (c.checkov, c.trivy, c.title)
    );
    let dev = only(&run(std::slice::from_ref(&resource), "dev", &none), check);
    if prod_only {
        assert!(dev.is_empty(), "{check} is prod-only: {dev:#?}");
    } else {
        assert_eq!(dev.len(), 1, "{check} in dev: {dev:#?}");
        assert_eq!(dev[0].severity, Severity::Warn);
        assert!(!dev[0].blocks());
    }
}

fn assert_quiet(resources: &[Desired]) {
    let found = run(resources, "prod", &PolicySettings::default());
    assert!(
        found.is_empty(),
        "expected no findings: {:#?}",
        keys(&found)
    );
}

// ---- the check table ----------------------------------------------------

#[test]
fn check_ids_are_unique_well_formed_and_documented() {
    let doc = include_str!("mod.rs");
    let mut seen = std::collections::BTreeSet::new();
    for c in CHECKS {
        assert!(seen.insert(c.id), "{} twice", c.id);
        assert!(
            c.id.starts_with("INFRA-") && c.id.rsplit('-').next().unwrap().len() == 3,
            "{}",
            c.id
        );
        assert!(
            doc.contains(&format!("| `{}` | {}", c.id, c.checkov.unwrap_or("—"))),
            "{} missing from the module's table",
            c.id
        );
        assert!(!c.title.is_empty() && !c.fix.is_empty());
        for other in [c.checkov, c.trivy].into_iter().flatten() {
            assert_eq!(
                find_check(other).map(|f| f.id),
                Some(c.id),
                "{other} must name {} only",
                c.id
            );
        }
        assert_eq!(find_check(&c.id.to_lowercase()).map(|f| f.id), Some(c.id));
    }
    assert_eq!(
        find_check("CKV_AWS_25").map(|c| c.id),
        Some("INFRA-NET-001")
    );
    assert!(find_check("CKV_AWS_999").is_none());
}

// ---- one fixture per check: denied in prod, warned in dev ----------------

#[test]
fn eks_public_endpoint_open_to_the_world() {
    assert_fires(
        eks_cluster(&["0.0.0.0/0"], &["api", "audit"], true),
        "INFRA-EKS-001",
        "public_access_cidrs",
        false,
    );
    // On with no CIDRs: AWS opens it to 0.0.0.0/0.
    let mut c = good_cluster();
    c.props.insert("public_access_cidrs".into(), json!([]));
    assert_fires(c, "INFRA-EKS-001", "public_access_cidrs", false);
    let mut c = good_cluster();
    c.props
        .insert("public_access_cidrs".into(), json!(["10.0.0.0/8", "::/0"]));
    let found = run(&[c], "prod", &PolicySettings::default());
    assert!(
        found[0].message.contains("::/0") && !found[0].message.contains("10.0.0.0/8"),
        "{}",
        found[0].message
    );
    // Private only, or listed CIDRs: quiet.
    assert_quiet(&[eks_cluster(&[], &["audit"], true)]);
    assert_quiet(&[good_cluster()]);
}

#[test]
fn eks_secrets_not_encrypted() {
    assert_fires(
        eks_cluster(&["203.0.113.0/24"], &["audit"], false),
        "INFRA-EKS-002",
        "encryption_key_arn",
        false,
    );
    let mut c = good_cluster();
    c.props.insert("encryption_key_arn".into(), json!(""));
    assert_fires(c, "INFRA-EKS-002", "encryption_key_arn", false);
    let mut c = good_cluster();
    c.props.insert(
        "encryption_key_arn".into(),
        json!("arn:aws:kms:us-east-1:111122223333:key/abc"),
    );
    assert_quiet(&[c]);
}

#[test]
fn eks_audit_logging_off() {
    assert_fires(
        eks_cluster(&["203.0.113.0/24"], &["api", "authenticator"], true),
        "INFRA-EKS-003",
        "log_types",
        false,
    );
    let mut c = good_cluster();
    c.props.remove("log_types");
    assert_fires(c, "INFRA-EKS-003", "log_types", false);
    let f = run(
        &[eks_cluster(&["203.0.113.0/24"], &["api"], true)],
        "dev",
        &PolicySettings::default(),
    );
    assert!(
        f[0].message.contains("log_types = [api]"),
        "{}",
        f[0].message
    );
}

#[test]
fn rds_not_multi_az_in_prod_only() {
    assert_fires(
        db_instance(false, true, true),
        "INFRA-RDS-001",
        "multi_az",
        true,
    );
    assert_quiet(&[db_instance(true, true, true)]);
}

#[test]
fn rds_storage_not_encrypted() {
    let mut db = db_instance(true, true, false);
    db.props.insert("storage_encrypted".into(), json!(false));
    assert_fires(db.clone(), "INFRA-RDS-002", "storage_encrypted", false);
    db.props.remove("storage_encrypted");
    let f = only(
        &run(&[db], "prod", &PolicySettings::default()),
        "INFRA-RDS-002",
    );
    assert!(
        f[0].message
            .contains("storage_encrypted is not set (read as false)"),
        "{}",
        f[0].message
    );
}

#[test]
fn rds_deletion_protection_off_in_prod_only() {
    assert_fires(
        db_instance(true, false, true),
        "INFRA-RDS-003",
        "deletion_protection",
        true,
    );
}

#[test]
fn rds_publicly_accessible() {
    let mut db = db_instance(true, true, true);
    db.props.insert("publicly_accessible".into(), json!(true));
    assert_fires(db, "INFRA-RDS-004", "publicly_accessible", false);
    assert_fires(
        rds_cluster(json!({ "publicly_accessible": true })),
        "INFRA-RDS-004",
        "publicly_accessible",
        false,
    );
    let writer = desired(
        "rds_cluster_instance.writer",
        "RdsClusterInstance",
        json!({ "identifier": "todo-prod-db-writer", "cluster_identifier": "${rds_cluster.main.id}", "engine": "aurora-postgresql", "instance_class": "db.serverless", "publicly_accessible": true }),
    );
    assert_fires(writer, "INFRA-RDS-004", "publicly_accessible", false);
}

#[test]
fn aurora_cluster_checked_like_an_instance_where_the_fields_apply() {
    assert_fires(
        rds_cluster(json!({ "storage_encrypted": false })),
        "INFRA-RDS-005",
        "storage_encrypted",
        false,
    );
    assert_fires(
        rds_cluster(json!({ "deletion_protection": false })),
        "INFRA-RDS-006",
        "deletion_protection",
        true,
    );
    // Multi-AZ only when the cluster says multi_az (a Multi-AZ DB cluster).
    assert_fires(
        rds_cluster(json!({ "multi_az": false })),
        "INFRA-RDS-001",
        "multi_az",
        true,
    );
    assert_quiet(&[rds_cluster(json!({}))]);
    // Serverless v1 is always encrypted.
    assert_quiet(&[rds_cluster(
        json!({ "engine_mode": "serverless", "storage_encrypted": false }),
    )]);
    // An Aurora member instance: its cluster owns storage, Multi-AZ and deletion protection.
    let member = desired(
        "db_instance.aurora_1",
        "DbInstance",
        json!({ "identifier": "todo-prod-aurora-1", "engine": "aurora-postgresql", "instance_class": "db.r6g.large", "publicly_accessible": false }),
    );
    assert_quiet(std::slice::from_ref(&member));
    let mut public = member;
    public
        .props
        .insert("publicly_accessible".into(), json!(true));
    assert_eq!(
        keys(&run(&[public], "prod", &PolicySettings::default())),
        vec![(
            "INFRA-RDS-004",
            "db_instance.aurora_1".into(),
            "publicly_accessible".into()
        )]
    );
}

#[test]
fn security_group_open_to_the_world_on_sensitive_ports() {
    assert_fires(
        sg_rule("nodes_ssh", "ingress", "tcp", 22, 22, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    assert_fires(
        sg_rule("nodes_rdp", "ingress", "udp", 3389, 3389, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    assert_fires(
        sg_rule("db_pg", "ingress", "tcp", 5432, 5432, Some("::/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    // Protocol "all" ("-1" once expanded) and ranges that cover a sensitive port count.
    assert_fires(
        sg_rule("nodes_any", "ingress", "-1", -1, -1, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    assert_fires(
        sg_rule("nodes_all", "ingress", "all", 0, 0, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    assert_fires(
        sg_rule("nodes_range", "ingress", "tcp", 1, 1024, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    assert_fires(
        sg_rule("nodes_tcp_all", "ingress", "tcp", -1, -1, Some("0.0.0.0/0")),
        "INFRA-NET-001",
        "cidr",
        false,
    );
    let f = run(
        &[sg_rule(
            "nodes_range",
            "ingress",
            "tcp",
            0,
            65535,
            Some("0.0.0.0/0"),
        )],
        "dev",
        &PolicySettings::default(),
    );
    assert_eq!(
        f[0].message,
        "ingress from 0.0.0.0/0 on tcp ports 0-65535 reaches 22 (SSH), 3389 (RDP), 5432 (PostgreSQL)"
    );
    // Not sensitive, not from the world, egress, icmp, a peer group: quiet.
    assert_quiet(&[
        sg_rule("web", "ingress", "tcp", 443, 443, Some("0.0.0.0/0")),
        sg_rule("high", "ingress", "tcp", 5433, 65535, Some("0.0.0.0/0")),
        sg_rule("vpc_ssh", "ingress", "tcp", 22, 22, Some("10.10.0.0/16")),
        sg_rule("egress_all", "egress", "-1", -1, -1, Some("0.0.0.0/0")),
        sg_rule("ping", "ingress", "icmp", -1, -1, Some("0.0.0.0/0")),
        sg_rule("self_all", "ingress", "-1", -1, -1, None),
    ]);
}

#[test]
fn a_database_on_its_own_port_makes_that_port_sensitive() {
    let mut db = db_instance(true, true, true);
    db.props.insert("port".into(), json!(6543));
    let rule = sg_rule("db_public", "ingress", "tcp", 6543, 6543, Some("0.0.0.0/0"));
    let f = run(&[db, rule], "prod", &PolicySettings::default());
    assert_eq!(
        keys(&f),
        vec![(
            "INFRA-NET-001",
            "security_group_rule.db_public".into(),
            "cidr".into()
        )]
    );
    assert!(
        f[0].message.contains("6543 (database db_instance.main)"),
        "{}",
        f[0].message
    );
}

#[test]
fn kms_rotation_off() {
    assert_fires(
        kms_key(Some(json!(false))),
        "INFRA-KMS-001",
        "enable_rotation",
        false,
    );
    // Absent: the kind turns rotation on.
    assert_quiet(&[kms_key(None), kms_key(Some(json!(true)))]);
}

#[test]
fn oidc_trust_without_sub_or_aud() {
    let issuer = Ref::expr("eks_cluster.main", "oidc_issuer_host");
    let no_aud = json!({ "StringEquals": { format!("{issuer}:sub"): "system:serviceaccount:kube-system:aws-node" } });
    let field = "assume_role_policy.Statement[0].Condition";
    assert_fires(
        iam_role("iam_role.vpc_cni", irsa_trust(no_aud)),
        "INFRA-IAM-001",
        field,
        false,
    );
    let no_sub = json!({ "StringEquals": { format!("{issuer}:aud"): "sts.amazonaws.com" } });
    assert_fires(
        iam_role("iam_role.vpc_cni", irsa_trust(no_sub)),
        "INFRA-IAM-001",
        field,
        false,
    );
    assert_fires(
        iam_role("iam_role.vpc_cni", irsa_trust(json!(null))),
        "INFRA-IAM-001",
        field,
        false,
    );
    // A StringLike of "*" pins nothing.
    let star = json!({
        "StringLike": { format!("{issuer}:sub"): "*" },
        "StringEquals": { format!("{issuer}:aud"): "sts.amazonaws.com" },
    });
    let f = run(
        &[iam_role("iam_role.vpc_cni", irsa_trust(star))],
        "dev",
        &PolicySettings::default(),
    );
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.contains("\"<issuer>:sub\"") && f[0].message.contains("every service account"),
        "{}",
        f[0].message
    );
    // Pinned both ways, with StringLike on sub: quiet; so are service and SAML trusts.
    let like = json!({
        "StringLike": { format!("{issuer}:sub"): "system:serviceaccount:apps:*" },
        "StringEquals": { format!("{issuer}:aud"): "sts.amazonaws.com" },
    });
    let service = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "eks.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    let saml = json!({ "Statement": { "Effect": "Allow", "Principal": { "Federated": "arn:aws:iam::111122223333:saml-provider/okta" }, "Action": "sts:AssumeRoleWithSAML" } });
    assert_quiet(&[
        iam_role("iam_role.a", irsa_trust(full_irsa_condition())),
        iam_role("iam_role.b", irsa_trust(like)),
        iam_role("iam_role.cluster", service),
        iam_role("iam_role.sso", saml),
    ]);
}

#[test]
fn iam_star_on_star() {
    let admin = json!([
        { "Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*" },
        { "Sid": "Everything", "Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["*"] },
    ]);
    assert_fires(
        role_policy(admin),
        "INFRA-IAM-002",
        "document.Statement[1]",
        false,
    );
    // A single statement object, Action/Resource as strings.
    let single = desired(
        "iam_role_policy.x",
        "IamRolePolicy",
        json!({ "role": "r", "name": "n", "document": { "Statement": { "Effect": "Allow", "Action": "*", "Resource": "*" } } }),
    );
    assert_fires(single, "INFRA-IAM-002", "document.Statement", false);
    // A policy anywhere in an IAM kind's props, also as JSON text (a custom resource).
    let custom = desired(
        "iam_policy.ops",
        "IamPolicy",
        json!({ "name": "ops", "policy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"# }),
    );
    assert_fires(custom, "INFRA-IAM-002", "policy.Statement[0]", false);
    let inline = desired(
        "iam_role.ops",
        "IamRole",
        json!({ "name": "ops", "assume_role_policy": { "Statement": [] }, "inline_policies": [{ "name": "all", "document": { "Statement": [{ "Effect": "Allow", "Action": "*:*", "Resource": "*" }] } }] }),
    );
    assert_fires(
        inline,
        "INFRA-IAM-002",
        "inline_policies[0].document.Statement[0]",
        false,
    );
    // AdministratorAccess attached by ARN is * on * too.
    let attach = desired(
        "iam_role_policy_attachment.ops",
        "IamRolePolicyAttachment",
        json!({ "role": "${iam_role.ops.name}", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess" }),
    );
    assert_fires(attach, "INFRA-IAM-002", "policy_arn", false);
    // Deny, a service wildcard, a scoped resource, or not an IAM kind: quiet.
    assert_quiet(&[
        role_policy(json!([{ "Effect": "Deny", "Action": "*", "Resource": "*" }])),
        role_policy(json!([{ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }])),
        role_policy(
            json!([{ "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket/*" }]),
        ),
        desired(
            "sqs_queue_policy.q",
            "SqsQueuePolicy",
            json!({ "policy": { "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }] } }),
        ),
    ]);
}

#[test]
fn env_without_a_budget() {
    let none = PolicySettings::default();
    for (env, severity) in [("prod", Severity::Deny), ("dev", Severity::Warn)] {
        let f = evaluate(&[], env, &none, false, TODAY);
        assert_eq!(
            keys(&f),
            vec![(
                "INFRA-COST-001",
                "env".into(),
                "cost.budget_monthly_usd".into()
            )]
        );
        assert_eq!(f[0].severity, severity);
        assert_eq!(f[0].span, None);
    }
    assert!(evaluate(&[], "prod", &none, true, TODAY).is_empty());
}

// ---- references and odd shapes ------------------------------------------

#[test]
fn references_count_as_set() {
    let mut c = good_cluster();
    c.props
        .insert("log_types".into(), json!("${var.logs.list}"));
    c.props
        .insert("public_access_cidrs".into(), json!(["${ssm.office.cidr}"]));
    assert_quiet(&[c, kms_key(Some(json!("${flag.rotation.value}")))]);
    // A flag that should stay off, set by reference: counted as on.
    let mut db = db_instance(true, true, true);
    db.props
        .insert("publicly_accessible".into(), json!("${flag.public.value}"));
    assert_eq!(
        only(
            &run(&[db], "dev", &PolicySettings::default()),
            "INFRA-RDS-004"
        )
        .len(),
        1
    );
    // A port known only at apply may be any port.
    let mut rule = sg_rule("db_world", "ingress", "tcp", 0, 0, Some("0.0.0.0/0"));
    rule.props
        .insert("from_port".into(), json!("${db_instance.main.port}"));
    rule.props
        .insert("to_port".into(), json!("${db_instance.main.port}"));
    let f = run(&[rule], "dev", &PolicySettings::default());
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.contains("known only at apply"),
        "{}",
        f[0].message
    );
    // Props already resolved, with the "(known after apply)" sentinel, read the same.
    let mut db = db_instance(true, true, true);
    db.props
        .insert("publicly_accessible".into(), json!(crate::model::UNKNOWN));
    db.props
        .insert("storage_encrypted".into(), json!(crate::model::UNKNOWN));
    let got: Vec<_> = run(&[db], "dev", &PolicySettings::default())
        .iter()
        .map(|f| f.check)
        .collect();
    assert_eq!(got, vec!["INFRA-RDS-004"]);
    // A CIDR that is a reference is not the world.
    assert_quiet(&[sg_rule(
        "x",
        "ingress",
        "tcp",
        22,
        22,
        Some("${vpc.main.cidr}"),
    )]);
}

#[test]
fn odd_shapes_never_panic_and_read_as_the_kinds_read_them() {
    let odd = [
        Value::Null,
        json!(7),
        json!(-1.5),
        json!("text"),
        json!("{not json"),
        json!("{\"Statement\": 3}"),
        json!([1, "a", null, {"x": []}]),
        json!({ "Statement": "nope" }),
        json!({ "Statement": [1, "x", { "Principal": "*" }, { "Principal": { "Federated": [] } }, { "Action": 5, "Resource": {} }] }),
        json!({ "Statement": [{ "Principal": { "Federated": 3 }, "Condition": "x" }, { "Principal": { "Federated": "p" }, "Condition": { "StringEquals": "x", "StringLike": [] } }] }),
    ];
    let kinds = [
        "EksCluster",
        "DbInstance",
        "RdsCluster",
        "SecurityGroupRule",
        "KmsKey",
        "IamRole",
        "IamRolePolicy",
        "IamPolicy",
        "Vpc",
    ];
    let keys_ = [
        "endpoint_public_access",
        "public_access_cidrs",
        "encryption_key_arn",
        "log_types",
        "engine",
        "engine_mode",
        "multi_az",
        "storage_encrypted",
        "deletion_protection",
        "publicly_accessible",
        "port",
        "direction",
        "protocol",
        "from_port",
        "to_port",
        "cidr",
        "enable_rotation",
        "assume_role_policy",
        "document",
        "policy",
    ];
    let mut resources = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        for (j, value) in odd.iter().enumerate() {
            let props: serde_json::Map<String, Value> = keys_
                .iter()
                .map(|k| (k.to_string(), value.clone()))
                .collect();
            resources.push(Desired {
                address: format!("x.{i}_{j}"),
                kind: kind.to_string(),
                props,
                protect: false,
                origin: String::new(),
                span: None,
            });
        }
        resources.push(desired(&format!("x.{i}_empty"), kind, json!({})));
    }
    for env in ["prod", "dev"] {
        let found = evaluate(&resources, env, &PolicySettings::default(), false, TODAY);
        let _ = render_text(&found);
    }
    // Wrong types read as the kinds read them: a non-boolean flag is its default.
    let mut db = db_instance(true, true, true);
    db.props.insert("storage_encrypted".into(), json!("true"));
    let f = only(
        &run(&[db], "dev", &PolicySettings::default()),
        "INFRA-RDS-002",
    );
    assert!(
        f[0].message
            .contains("storage_encrypted = \"true\", not a boolean (read as false)"),
        "{}",
        f[0].message
    );
    // A port that is not a number reads as -1: every port.
    let mut rule = sg_rule("w", "ingress", "tcp", 443, 443, Some("0.0.0.0/0"));
    rule.props.insert("from_port".into(), json!("443"));
    assert_eq!(run(&[rule], "dev", &PolicySettings::default()).len(), 1);
    // A lone CIDR string where a list is expected still counts.
    let mut c = good_cluster();
    c.props
        .insert("public_access_cidrs".into(), json!("0.0.0.0/0"));
    assert_eq!(
        only(
            &run(&[c], "dev", &PolicySettings::default()),
            "INFRA-EKS-001"
        )
        .len(),
        1
    );
}

// ---- [policy]: deny/warn, waivers, validate -----------------------------

#[test]
fn deny_and_warn_override_the_env_default() {
    let open = eks_cluster(&["0.0.0.0/0"], &["audit"], true);
    let dev_denies = PolicySettings {
        deny: vec!["CKV_AWS_38".into()],
        ..Default::default()
    };
    assert!(validate(&dev_denies).is_empty());
    let f = run(std::slice::from_ref(&open), "dev", &dev_denies);
    assert_eq!(f[0].severity, Severity::Deny);
    assert!(f[0].blocks());
    let prod_warns = PolicySettings {
        warn: vec!["infra-eks-001".into()],
        ..Default::default()
    };
    let f = run(std::slice::from_ref(&open), "prod", &prod_warns);
    assert_eq!(f[0].severity, Severity::Warn);
    // Only the listed check moves; the others keep the env's default.
    let both = eks_cluster(&["0.0.0.0/0"], &["api"], true);
    let f = run(&[both], "prod", &prod_warns);
    let sev: Vec<_> = f.iter().map(|f| (f.check, f.severity)).collect();
    assert_eq!(
        sev,
        vec![
            ("INFRA-EKS-001", Severity::Warn),
            ("INFRA-EKS-003", Severity::Deny)
        ]
    );
}

#[test]
fn a_prod_only_check_runs_elsewhere_when_listed() {
    let single_az = [db_instance(false, false, true)];
    let listed = PolicySettings {
        deny: vec!["CKV_AWS_157".into()],
        warn: vec!["INFRA-RDS-003".into()],
        ..Default::default()
    };
    let f = run(&single_az, "staging", &listed);
    let got: Vec<_> = f.iter().map(|f| (f.check, f.severity)).collect();
    assert_eq!(
        got,
        vec![
            ("INFRA-RDS-001", Severity::Deny),
            ("INFRA-RDS-003", Severity::Warn)
        ]
    );
    assert!(run(&single_az, "staging", &PolicySettings::default()).is_empty());
}

#[test]
fn a_waiver_with_a_reason_waives() {
    let open = eks_cluster(&["0.0.0.0/0"], &["audit"], true);
    let settings = PolicySettings {
        waiver: vec![waiver(
            "CKV_AWS_38",
            "eks_cluster.main",
            Some("VPN not ready, OPS-42"),
            Some("2025-06-15"),
        )],
        ..Default::default()
    };
    assert!(validate(&settings).is_empty(), "{:?}", validate(&settings));
    let f = run(&[open], "prod", &settings);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Deny);
    assert_eq!(f[0].waived.as_deref(), Some("VPN not ready, OPS-42"));
    assert_eq!(f[0].expired_waiver, None);
    assert!(!f[0].blocks(), "a waived denial does not stop the run");
}

#[test]
fn a_waiver_only_covers_its_check_and_resource() {
    let settings = PolicySettings {
        waiver: vec![waiver(
            "INFRA-NET-001",
            "security_group_rule.a",
            Some("bastion"),
            None,
        )],
        ..Default::default()
    };
    let rules = [
        sg_rule("a", "ingress", "tcp", 22, 22, Some("0.0.0.0/0")),
        sg_rule("b", "ingress", "tcp", 22, 22, Some("0.0.0.0/0")),
    ];
    let f = run(&rules, "prod", &settings);
    let state: Vec<_> = f
        .iter()
        .map(|f| (f.address.as_str(), f.waived.is_some()))
        .collect();
    assert_eq!(
        state,
        vec![
            ("security_group_rule.a", true),
            ("security_group_rule.b", false)
        ]
    );
    // The budget check is waived on "env".
    let budget = PolicySettings {
        waiver: vec![waiver("INFRA-COST-001", "env", Some("sandbox"), None)],
        ..Default::default()
    };
    assert!(validate(&budget).is_empty());
    assert_eq!(
        evaluate(&[], "prod", &budget, false, TODAY)[0]
            .waived
            .as_deref(),
        Some("sandbox")
    );
}

#[test]
fn an_expired_waiver_does_not_count() {
    let open = eks_cluster(&["0.0.0.0/0"], &["audit"], true);
    let settings = PolicySettings {
        waiver: vec![
            waiver(
                "INFRA-EKS-001",
                "eks_cluster.main",
                Some("old"),
                Some("2025-01-31"),
            ),
            waiver(
                "INFRA-EKS-001",
                "eks_cluster.main",
                Some("older"),
                Some("2024-12-31"),
            ),
        ],
        ..Default::default()
    };
    assert!(validate(&settings).is_empty());
    let f = run(&[open], "prod", &settings);
    assert_eq!(f[0].waived, None);
    assert_eq!(
        f[0].expired_waiver.as_deref(),
        Some("2025-01-31"),
        "the latest expiry is named"
    );
    assert!(f[0].blocks());
    let text = render_text(&f);
    assert!(text.contains("expired on 2025-01-31"), "{text}");
    // The last day still counts; the day after it does not.
    let day = PolicySettings {
        waiver: vec![waiver(
            "INFRA-EKS-001",
            "eks_cluster.main",
            Some("r"),
            Some("2025-06-15"),
        )],
        ..Default::default()
    };
    let cluster = [eks_cluster(&["0.0.0.0/0"], &["audit"], true)];
    assert!(
        evaluate(&cluster, "prod", &day, true, Date::new(2025, 6, 15))[0]
            .waived
            .is_some()
    );
    assert!(
        evaluate(&cluster, "prod", &day, true, Date::new(2025, 6, 16))[0]
            .waived
            .is_none()
    );
    assert!(
        evaluate(&cluster, "prod", &day, true, Date::new(2026, 1, 1))[0]
            .waived
            .is_none()
    );
}

#[test]
fn a_waiver_without_a_reason_is_invalid_and_never_counts() {
    let open = [eks_cluster(&["0.0.0.0/0"], &["audit"], true)];
    for reason in [None, Some(""), Some("   ")] {
        let settings = PolicySettings {
            waiver: vec![
                waiver("INFRA-EKS-002", "eks_cluster.main", Some("ok"), None),
                waiver("INFRA-EKS-001", "eks_cluster.main", reason, None),
            ],
            ..Default::default()
        };
        let errors = validate(&settings);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("policy.waiver[1].reason is required"),
            "{}",
            errors[0]
        );
        assert!(run(&open, "prod", &settings)[0].blocks());
    }
}

#[test]
fn unknown_ids_bad_dates_and_conflicts_are_validate_errors_all_at_once() {
    let settings = PolicySettings {
        deny: vec!["INFRA-EKS-001".into(), "CKV_AWS_9999".into()],
        warn: vec!["nope".into(), "CKV_AWS_38".into()],
        waiver: vec![
            waiver("INFRA-XYZ-001", "eks_cluster.main", Some("r"), None),
            waiver(
                "INFRA-EKS-001",
                "eks_cluster.main",
                Some("r"),
                Some("2025-02-29"),
            ),
            waiver("INFRA-EKS-001", "cluster", Some("r"), Some("30/06/2025")),
            waiver(
                "INFRA-EKS-001",
                "eks_cluster.main",
                Some("r"),
                Some("2028-02-29"),
            ),
            waiver("INFRA-COST-001", "eks_cluster.main", Some("r"), None),
            waiver("CKV_AWS_16", "env", Some("r"), None),
        ],
    };
    let errors = validate(&settings);
    let starts: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap())
        .collect();
    assert_eq!(
        starts,
        vec![
            "policy.deny[1]",
            "policy.warn[0]",
            "policy.warn[1]",
            "policy.waiver[0].id",
            "policy.waiver[1].expires",
            "policy.waiver[2].resource",
            "policy.waiver[2].expires",
            "policy.waiver[4].resource",
            "policy.waiver[5].resource",
        ],
        "{errors:#?}"
    );
    assert!(
        errors[0].contains("unknown check id \"CKV_AWS_9999\"")
            && errors[0].contains("INFRA-EKS-001"),
        "{}",
        errors[0]
    );
    assert!(
        errors[2].contains("also in policy.deny[0]"),
        "{}",
        errors[2]
    );
    assert!(validate(&PolicySettings::default()).is_empty());
}

#[test]
fn settings_parse_from_the_plan_files_policy_table() {
    #[derive(serde::Deserialize)]
    struct Plan {
        policy: PolicySettings,
    }
    let plan: Plan = toml::from_str(
        r#"
        [policy]
        deny = ["CKV_AWS_16"]
        warn = ["INFRA-COST-001"]
        [[policy.waiver]]
        id = "INFRA-EKS-001"
        resource = "eks_cluster.main"
        reason = "VPN not ready"
        expires = "2025-06-30"
        "#,
    )
    .unwrap();
    assert_eq!(plan.policy.deny, vec!["CKV_AWS_16"]);
    assert_eq!(plan.policy.waiver[0].expires.as_deref(), Some("2025-06-30"));
    assert!(validate(&plan.policy).is_empty());
    let bad = toml::from_str::<Plan>("[policy]\ndenied = []\n")
        .err()
        .unwrap();
    assert!(
        bad.message().contains("unknown field `denied`"),
        "{}",
        bad.message()
    );
    let bad =
        toml::from_str::<Plan>("[[policy.waiver]]\nid = \"x\"\nresource = \"a.b\"\nwhy = \"r\"\n")
            .err()
            .unwrap();
    assert!(
        bad.message().contains("unknown field `why`"),
        "{}",
        bad.message()
    );
}

#[test]
fn waiver_dates_parse_every_real_day_and_nothing_else() {
    // Every day of four centuries round-trips through the parser the waivers use.
    let start = Date::new(2000, 1, 1).days_since_epoch();
    let mut previous = Date::new(1999, 12, 31);
    for day in 0..146_097 {
        let date = Date::from_days_since_epoch(start + day);
        let text = format!("{:04}-{:02}-{:02}", date.y, date.m, date.d);
        assert_eq!(Date::parse(&text), Some(date), "{text}");
        assert!(date > previous, "{date:?} after {previous:?}");
        previous = date;
    }
    assert_eq!(previous, Date::new(2399, 12, 31));
    for bad in [
        "2100-02-29",
        "2025-13-01",
        "2025-6-1",
        "2025-06-31",
        "20250601",
    ] {
        assert_eq!(Date::parse(bad), None, "{bad}");
    }
}

// ---- output -------------------------------------------------------------

#[test]
fn text_groups_denied_warned_and_waived_and_says_how_to_waive() {
    let settings = PolicySettings {
        warn: vec!["INFRA-EKS-003".into()],
        waiver: vec![waiver(
            "INFRA-EKS-002",
            "eks_cluster.main",
            Some("migrating keys"),
            None,
        )],
        ..Default::default()
    };
    let f = run(
        &[eks_cluster(&["0.0.0.0/0"], &["api"], false)],
        "prod",
        &settings,
    );
    let text = render_text(&f);
    let denied = text.find("Denied").unwrap();
    let warned = text.find("Warned:").unwrap();
    let waived = text.find("Waived:").unwrap();
    assert!(denied < warned && warned < waived, "{text}");
    assert!(
        text.starts_with("Policy: 1 denied, 1 warned, 1 waived."),
        "{text}"
    );
    assert!(text.contains("  DENY   INFRA-EKS-001 (CKV_AWS_38/AVD-AWS-0041) eks_cluster.main.public_access_cidrs: the public endpoint is open to 0.0.0.0/0"), "{text}");
    assert!(text.contains("[[policy.waiver]]\n          id = \"INFRA-EKS-001\"\n          resource = \"eks_cluster.main\"\n          reason = "), "{text}");
    assert!(
        text.contains(
            "  WARN   INFRA-EKS-003 (CKV_AWS_37/AVD-AWS-0038) eks_cluster.main.log_types"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  WAIVED INFRA-EKS-002 (CKV_AWS_58/AVD-AWS-0039) eks_cluster.main.encryption_key_arn"
        ) && text.contains("reason: migrating keys"),
        "{text}"
    );
    // One snippet only: for the denied finding.
    assert_eq!(text.matches("[[policy.waiver]]").count(), 1, "{text}");
    let budget = evaluate(&[], "dev", &PolicySettings::default(), false, TODAY);
    assert!(
        render_text(&budget).contains("  WARN   INFRA-COST-001 env.cost.budget_monthly_usd:"),
        "{}",
        render_text(&budget)
    );
    assert_eq!(render_text(&[]), "");
}

#[test]
fn json_shape() {
    let f = evaluate(&[], "prod", &PolicySettings::default(), false, TODAY);
    let v = serde_json::to_value(&f[0]).unwrap();
    assert_eq!(
        v,
        json!({
            "check": "INFRA-COST-001", "checkov": null, "trivy": null, "title": "env has no monthly budget",
            "address": "env", "field": "cost.budget_monthly_usd", "message": f[0].message,
            "severity": "deny", "waived": null, "expired_waiver": null,
        })
    );
}

// ---- the real plans -----------------------------------------------------

fn expanded_in(dir: &std::path::Path, env: &str) -> Vec<Desired> {
    let plan = crate::config::load(dir, env)
        .unwrap_or_else(|e| panic!("{}/{env}.toml: {e:?}", dir.display()));
    crate::expand::expand(&plan).resources
}

fn expanded(env: &str) -> Vec<Desired> {
    expanded_in(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans"),
        env,
    )
}

/// plans/prod.toml with its database switched to Aurora Serverless v2, as the
/// plan files' comment says, after `edit`.
fn expanded_aurora_prod(edit: &dyn Fn(String) -> String) -> Vec<Desired> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/prod.toml"),
    )
    .unwrap();
    let mut lines: Vec<String> = Vec::new();
    let mut in_database = false;
    for line in source.lines() {
        if line.starts_with('[') {
            in_database = line.trim() == "[database]";
        }
        let key = line.split('=').next().unwrap_or_default().trim();
        if in_database
            && matches!(
                key,
                "instance_class" | "allocated_storage" | "multi_az" | "performance_insights"
            )
        {
            continue;
        }
        lines.push(line.to_string());
        if line.trim() == "[database]" {
            lines.push("engine = \"aurora-postgresql\"".into());
            lines.push("serverless_v2 = { min_acu = 0.5, max_acu = 4 }".into());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.toml"), edit(lines.join("\n"))).unwrap();
    expanded_in(dir.path(), "prod")
}

#[test]
fn the_prod_plan_passes_every_check() {
    let resources = expanded("prod");
    assert!(
        resources.iter().any(|d| d.kind == "EksCluster")
            && resources.iter().any(|d| d.kind == "DbInstance")
    );
    let found = evaluate(&resources, "prod", &PolicySettings::default(), true, TODAY);
    assert!(
        found.is_empty(),
        "prod must pass its guardrails: {}",
        render_text(&found)
    );
}

#[test]
fn the_prod_plan_on_aurora_passes_and_its_cluster_is_checked() {
    let resources = expanded_aurora_prod(&|s| s);
    assert!(
        resources.iter().any(|d| d.kind == "RdsCluster")
            && resources.iter().any(|d| d.kind == "RdsClusterInstance")
    );
    assert!(!resources.iter().any(|d| d.kind == "DbInstance"));
    let found = evaluate(&resources, "prod", &PolicySettings::default(), true, TODAY);
    assert!(found.is_empty(), "{}", render_text(&found));
    let unprotected = expanded_aurora_prod(&|s| {
        s.replace("deletion_protection = true", "deletion_protection = false")
    });
    let found = evaluate(
        &unprotected,
        "prod",
        &PolicySettings::default(),
        true,
        TODAY,
    );
    assert_eq!(
        keys(&found),
        vec![(
            "INFRA-RDS-006",
            "rds_cluster.main".into(),
            "deletion_protection".into()
        )]
    );
    assert!(found[0].blocks());
}

#[test]
fn the_dev_plan_warns_about_its_open_endpoint_and_unencrypted_secrets() {
    let resources = expanded("dev");
    let found = evaluate(&resources, "dev", &PolicySettings::default(), false, TODAY);
    let got: Vec<_> = found
        .iter()
        .map(|f| (f.check, f.address.as_str(), f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            ("INFRA-EKS-001", "eks_cluster.main", Severity::Warn),
            ("INFRA-EKS-002", "eks_cluster.main", Severity::Warn),
            ("INFRA-COST-001", "env", Severity::Warn),
        ]
    );
    assert!(
        found[0].span.is_some(),
        "the CLI can show the cluster's line"
    );
    // The same resources in prod would be denied.
    let as_prod = evaluate(&resources, "prod", &PolicySettings::default(), true, TODAY);
    let got: Vec<_> = as_prod.iter().map(|f| f.check).collect();
    assert_eq!(
        got,
        vec![
            "INFRA-EKS-001",
            "INFRA-EKS-002",
            "INFRA-RDS-001",
            "INFRA-RDS-003"
        ]
    );
    assert!(as_prod.iter().all(Finding::blocks));
}

#[test]
fn hand_built_expander_shapes_pass() {
    assert_quiet(&[
        good_cluster(),
        db_instance(true, true, true),
        kms_key(Some(json!(true))),
        sg_rule(
            "nodes_vpc_https",
            "ingress",
            "tcp",
            443,
            443,
            Some("10.20.0.0/16"),
        ),
        sg_rule(
            "nodes_egress_all",
            "egress",
            "-1",
            -1,
            -1,
            Some("0.0.0.0/0"),
        ),
        sg_rule(
            "database_postgres_from_nodes",
            "ingress",
            "tcp",
            5432,
            5432,
            None,
        ),
        iam_role("iam_role.vpc_cni", irsa_trust(full_irsa_condition())),
        role_policy(json!([
            { "Sid": "ReadOnlyDiscovery", "Effect": "Allow", "Action": ["ec2:DescribeImages", "pricing:GetProducts"], "Resource": "*" },
            { "Sid": "DatabaseSecretOnly", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "${db_instance.main.master_secret_arn}" },
        ])),
    ]);
}
