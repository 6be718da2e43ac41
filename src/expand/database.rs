//! The data tier: RDS PostgreSQL in the data subnets, behind the `database`
//! security group, with a parameter group forcing SSL and the master
//! password managed by RDS in Secrets Manager.

use serde_json::json;

use super::{tags, Expanded};
use crate::config::{Database, LoadedPlan};
use crate::model::Ref;

pub fn expand(plan: &LoadedPlan, d: &Database, out: &mut Expanded) {
    let name = plan.file.cluster_name(&plan.env);
    let origin = "database";
    let span = Some(d.engine_version.span());
    let azs = plan.file.network.as_ref().map(|n| n.azs.get_ref().len()).unwrap_or(0);
    let data_subnets: Vec<String> =
        (0..azs).map(|i| Ref::expr(&format!("subnet.data_{}", super::network::az_letter(i)), "id")).collect();
    let major = d.engine_version.get_ref().split('.').next().unwrap_or_default().to_string();
    out.add(
        "db_subnet_group.main".into(),
        "DbSubnetGroup",
        json!({ "name": format!("{name}-data"), "description": format!("{name}: data subnets"), "subnet_ids": data_subnets, "tags": tags(plan, &format!("{name}-data"), &[]) }),
        origin,
        span.clone(),
    );
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
        "identifier": format!("{name}-db"),
        "engine": "postgres",
        "engine_version": d.engine_version.get_ref(),
        "engine_major": major,
        "instance_class": d.instance_class,
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
        "tags": tags(plan, &format!("{name}-db"), &[]),
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
    out.outputs.insert("db_endpoint".into(), json!(Ref::expr("db_instance.main", "endpoint")));
    out.outputs.insert("db_master_secret_arn".into(), json!(Ref::expr("db_instance.main", "master_secret_arn")));
}
