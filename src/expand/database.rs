//! The data tier: RDS PostgreSQL in the data subnets, behind the `database`
//! security group, with a parameter group forcing SSL and the master
//! password managed by RDS in Secrets Manager.

use serde_json::json;

use super::{Expanded, tags};
use crate::config::{Database, LoadedPlan};
use crate::model::Ref;

pub fn expand(plan: &LoadedPlan, d: &Database, out: &mut Expanded) {
    let name = plan.file.cluster_name(&plan.env);
    let origin = "database";
    let span = Some(d.engine_version.span());
    let data_subnets = super::network::subnet_refs(plan, "data");
    let major = d
        .engine_version
        .get_ref()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    out.add(
        "db_subnet_group.main".into(),
        "DbSubnetGroup",
        json!({ "name": format!("{name}-data"), "description": format!("{name}: data subnets"), "subnet_ids": data_subnets, "tags": tags(plan, &format!("{name}-data"), &[]) }),
        origin,
        span.clone(),
    );
    let aurora = d.engine.get_ref() == "aurora-postgresql";
    if aurora {
        expand_aurora(plan, d, &name, &major, out);
        return;
    }
    out.add(
        "db_parameter_group.main".into(),
        "DbParameterGroup",
        json!({
            "name": format!("{name}-postgres{major}"),
            "family": format!("postgres{major}"),
            "description": format!("{name}: PostgreSQL {major}, SSL only"),
            "parameters": { "rds.force_ssl": "1" },
            "tags": tags(plan, &format!("{name}-postgres{major}"), &[]),
        }),
        origin,
        span.clone(),
    );
    let mut db = json!({
        "identifier": identifier(d, &name),
        "engine": "postgres",
        "engine_version": d.engine_version.get_ref(),
        "engine_major": major,
        "instance_class": d.instance_class.as_ref().map(|c| c.get_ref().as_str()).unwrap_or_default(),
        "allocated_storage": d.allocated_storage,
        "db_subnet_group_name": Ref::expr("db_subnet_group.main", "name"),
        "vpc_security_group_ids": [Ref::expr("security_group.database", "id")],
        "parameter_group_name": Ref::expr("db_parameter_group.main", "name"),
        "multi_az": d.multi_az,
        "backup_retention_days": d.backup_retention_days.get_ref(),
        "deletion_protection": d.deletion_protection,
        "performance_insights": d.performance_insights,
        "storage_encrypted": true,
        "publicly_accessible": false,
        // Workloads log in with their IAM role (rds-db:connect), never a password.
        "iam_database_authentication": true,
        "tags": tags(plan, &identifier(d, &name), &[]),
        "_apply_immediately": d.apply_immediately,
        "_final_snapshot": d.final_snapshot,
        "_db_name": d.db_name,
        "_master_username": d.master_username,
    });
    if let Some(arn) = super::kms::key_arn(plan, "rds") {
        db["kms_key_id"] = json!(arn);
    }
    out.add("db_instance.main".into(), "DbInstance", db, origin, span);
    if let Some(last) = out.resources.last_mut() {
        last.protect = d.protect;
    }
    database_outputs(out, "db_instance.main", None);
}

/// The address other tiers name the database by: `${database.<output>}` in a
/// workload statement reaches the instance or the Aurora cluster alike.
pub fn database_address(plan: &LoadedPlan) -> &'static str {
    match plan
        .file
        .database
        .as_ref()
        .map(|d| d.engine.get_ref().as_str())
    {
        Some("aurora-postgresql") => "rds_cluster.main",
        _ => "db_instance.main",
    }
}

fn database_outputs(out: &mut Expanded, address: &str, reader: Option<&str>) {
    out.outputs
        .insert("db_endpoint".into(), json!(Ref::expr(address, "endpoint")));
    if let Some(r) = reader {
        out.outputs
            .insert("db_reader_endpoint".into(), json!(Ref::expr(address, r)));
    }
    out.outputs.insert(
        "db_master_secret_arn".into(),
        json!(Ref::expr(address, "master_secret_arn")),
    );
    out.outputs.insert(
        "db_resource_id".into(),
        json!(Ref::expr(address, "resource_id")),
    );
}

/// Aurora PostgreSQL: a cluster parameter group forcing SSL, the cluster
/// (storage, backups, encryption, the managed secret) and one Serverless v2
/// writer.
fn expand_aurora(plan: &LoadedPlan, d: &Database, name: &str, major: &str, out: &mut Expanded) {
    let origin = "database";
    let span = Some(d.engine_version.span());
    let group = format!("{name}-aurora-postgresql{major}");
    out.add(
        "db_cluster_parameter_group.main".into(),
        "DbClusterParameterGroup",
        json!({
            "name": group,
            "family": format!("aurora-postgresql{major}"),
            "description": format!("{name}: Aurora PostgreSQL {major}, SSL only"),
            "parameters": { "rds.force_ssl": "1" },
            "tags": tags(plan, &group, &[]),
        }),
        origin,
        span.clone(),
    );
    let (min_acu, max_acu) = d
        .serverless_v2
        .as_ref()
        .map(|s| (s.get_ref().min_acu, s.get_ref().max_acu))
        .unwrap_or((0.5, 4.0));
    let mut cluster = json!({
        "identifier": identifier(d, name),
        "engine": "aurora-postgresql",
        "engine_version": d.engine_version.get_ref(),
        "engine_major": major,
        "db_subnet_group_name": Ref::expr("db_subnet_group.main", "name"),
        "vpc_security_group_ids": [Ref::expr("security_group.database", "id")],
        "cluster_parameter_group_name": Ref::expr("db_cluster_parameter_group.main", "name"),
        "backup_retention_days": d.backup_retention_days.get_ref(),
        "deletion_protection": d.deletion_protection,
        "storage_encrypted": true,
        "iam_database_authentication": true,
        "serverless_v2": { "min_acu": min_acu, "max_acu": max_acu },
        "tags": tags(plan, &identifier(d, name), &[]),
        "_apply_immediately": d.apply_immediately,
        "_final_snapshot": d.final_snapshot,
        "_db_name": d.db_name,
        "_master_username": d.master_username,
    });
    if let Some(arn) = super::kms::key_arn(plan, "rds") {
        cluster["kms_key_id"] = json!(arn);
    }
    out.add(
        "rds_cluster.main".into(),
        "RdsCluster",
        cluster,
        origin,
        span.clone(),
    );
    if let Some(last) = out.resources.last_mut() {
        last.protect = d.protect;
    }
    out.add(
        "rds_cluster_instance.writer".into(),
        "RdsClusterInstance",
        json!({
            "identifier": format!("{}-writer", identifier(d, name)),
            "cluster_identifier": Ref::expr("rds_cluster.main", "id"),
            "engine": "aurora-postgresql",
            "instance_class": "db.serverless",
            "tags": tags(plan, &format!("{}-writer", identifier(d, name)), &[]),
        }),
        origin,
        span,
    );
    database_outputs(out, "rds_cluster.main", Some("reader_endpoint"));
}

/// `[database] identifier`, else `<cluster name>-db`.
fn identifier(d: &Database, cluster: &str) -> String {
    d.identifier
        .as_ref()
        .map(|i| i.get_ref().clone())
        .unwrap_or_else(|| format!("{cluster}-db"))
}
