//! An RDS PostgreSQL instance. The master password is managed by RDS in
//! Secrets Manager (`ManageMasterUserPassword`): infra never sees it, and
//! only the secret's ARN enters state and output. Changes AWS makes in place
//! are modifies (`apply_immediately` from the plan); a new engine major
//! version or a change of storage encryption is a new instance.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde_json::json;

use super::rds_common::{
    create_tags, describe_instance, final_snapshot_id, finish_delete, read_tags,
    wait_instance_available,
};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use super::{flag, int, major};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Outputs;
use crate::model::{KindInfo, Resend, Tier};

pub struct DbInstance;

fn to_live(db: &RdsInstance, owner: crate::model::Owner<'_>) -> Option<Live> {
    // An Aurora cluster's instances are `RdsClusterInstance`s.
    if db.db_cluster_identifier().is_some() {
        return None;
    }
    let (address, tags) = read_tags(db.tag_list(), owner)?;
    let id = db.db_instance_identifier()?.to_string();
    let version = db.engine_version().unwrap_or_default();
    let mut sgs: Vec<String> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(String::from))
        .collect();
    sgs.sort();
    let mut props = json!({
        "identifier": id,
        "engine": db.engine(),
        "engine_version": version,
        "engine_major": major(version),
        "instance_class": db.db_instance_class(),
        "allocated_storage": db.allocated_storage(),
        "db_subnet_group_name": db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        "vpc_security_group_ids": sgs,
        "parameter_group_name": db.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name()),
        "multi_az": db.multi_az(),
        "backup_retention_days": db.backup_retention_period(),
        "deletion_protection": db.deletion_protection(),
        "performance_insights": db.performance_insights_enabled().unwrap_or(false),
        "storage_encrypted": db.storage_encrypted(),
        "publicly_accessible": db.publicly_accessible(),
        "iam_database_authentication": db.iam_database_authentication_enabled(),
        "tags": tags,
    });
    // Modifies waiting for the maintenance window (`apply_immediately =
    // false`) are already decided: compare what will be, not drift.
    if let Some(p) = db.pending_modified_values() {
        let pending = [
            ("instance_class", p.db_instance_class().map(|v| json!(v))),
            ("allocated_storage", p.allocated_storage().map(|v| json!(v))),
            ("multi_az", p.multi_az().map(|v| json!(v))),
            (
                "backup_retention_days",
                p.backup_retention_period().map(|v| json!(v)),
            ),
            ("engine_version", p.engine_version().map(|v| json!(v))),
            (
                "iam_database_authentication",
                p.iam_database_authentication_enabled().map(|v| json!(v)),
            ),
        ];
        for (field, value) in pending {
            if let Some(v) = value {
                props[field] = v;
            }
        }
    }
    if let Some(k) = db.kms_key_id() {
        props["kms_key_id"] = json!(k);
    }
    let outputs: Outputs = [
        ("id".to_string(), id.clone()),
        (
            "arn".into(),
            db.db_instance_arn().unwrap_or_default().to_string(),
        ),
        (
            "endpoint".into(),
            db.endpoint()
                .and_then(|e| e.address())
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "port".into(),
            db.endpoint()
                .and_then(|e| e.port())
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ),
        (
            "resource_id".into(),
            db.dbi_resource_id().unwrap_or_default().to_string(),
        ),
        (
            "master_secret_arn".into(),
            db.master_user_secret()
                .and_then(|s| s.secret_arn())
                .unwrap_or_default()
                .to_string(),
        ),
    ]
    .into();
    Some(Live {
        id,
        address,
        props: props.as_object().cloned()?,
        outputs,
    })
}

const INFO: KindInfo = KindInfo {
    name: "DbInstance",
    tier: Tier::Database,
    outputs: &[
        "id",
        "arn",
        "endpoint",
        "port",
        "resource_id",
        "master_secret_arn",
    ],
    replace_fields: &[
        "identifier",
        "engine",
        "engine_major",
        "storage_encrypted",
        "kms_key_id",
        "db_subnet_group_name",
    ],
    // Resent safely: the instance identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for DbInstance {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let id = str_prop(t.props, "identifier")?;
        cx.clients
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(str_prop(t.props, "engine")?)
            .engine_version(str_prop(t.props, "engine_version")?)
            .db_instance_class(str_prop(t.props, "instance_class")?)
            .allocated_storage(int(t.props, "allocated_storage").unwrap_or(20))
            .db_subnet_group_name(str_prop(t.props, "db_subnet_group_name")?)
            .set_vpc_security_group_ids(Some(super::strings(t.props, "vpc_security_group_ids")))
            .set_db_parameter_group_name(opt_str(t.props, "parameter_group_name").map(String::from))
            .multi_az(flag(t.props, "multi_az"))
            .backup_retention_period(int(t.props, "backup_retention_days").unwrap_or(7))
            .deletion_protection(flag(t.props, "deletion_protection"))
            .enable_performance_insights(flag(t.props, "performance_insights"))
            .storage_encrypted(flag(t.props, "storage_encrypted"))
            .set_kms_key_id(opt_str(t.props, "kms_key_id").map(String::from))
            .publicly_accessible(flag(t.props, "publicly_accessible"))
            .enable_iam_database_authentication(flag(t.props, "iam_database_authentication"))
            .set_db_name(opt_str(t.props, "_db_name").map(String::from))
            .master_username(opt_str(t.props, "_master_username").unwrap_or("postgres"))
            .manage_master_user_password(true)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBInstance")?;
        let live = wait_instance_available(cx, t.address, id, to_live).await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let all = cx
            .all("DescribeDBInstances", || {
                cx.clients
                    .rds
                    .describe_db_instances()
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(all
            .iter()
            .filter_map(|db| to_live(db, scope.owner))
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let has = |f: &str| changed.iter().any(|c| c == f);
        let mut call = cx
            .clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(&live.id)
            .apply_immediately(
                t.props
                    .get("_apply_immediately")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            );
        if has("instance_class") {
            call = call.db_instance_class(str_prop(t.props, "instance_class")?);
        }
        if has("allocated_storage") {
            call = call.allocated_storage(int(t.props, "allocated_storage").unwrap_or(20));
        }
        if has("engine_version") {
            call = call.engine_version(str_prop(t.props, "engine_version")?);
        }
        if has("multi_az") {
            call = call.multi_az(flag(t.props, "multi_az"));
        }
        if has("backup_retention_days") {
            call = call.backup_retention_period(int(t.props, "backup_retention_days").unwrap_or(7));
        }
        if has("deletion_protection") {
            call = call.deletion_protection(flag(t.props, "deletion_protection"));
        }
        if has("performance_insights") {
            call = call.enable_performance_insights(flag(t.props, "performance_insights"));
        }
        if has("publicly_accessible") {
            call = call.publicly_accessible(flag(t.props, "publicly_accessible"));
        }
        if has("iam_database_authentication") {
            call = call
                .enable_iam_database_authentication(flag(t.props, "iam_database_authentication"));
        }
        if has("vpc_security_group_ids") {
            call = call.set_vpc_security_group_ids(Some(super::strings(
                t.props,
                "vpc_security_group_ids",
            )));
        }
        if has("parameter_group_name") {
            call = call.set_db_parameter_group_name(
                opt_str(t.props, "parameter_group_name").map(String::from),
            );
        }
        if changed.iter().any(|c| c != "tags") {
            let call = call;
            cx.call("ModifyDBInstance", || call.clone().send()).await?;
            wait_instance_available(cx, t.address, &live.id, to_live).await?;
        }
        if has("tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            super::rds_common::update_tags(cx, &arn, t.address, &live.props, t.props).await?;
        }
        let live = describe_instance(cx, &live.id)
            .await?
            .and_then(|db| to_live(&db, cx.owner()))
            .unwrap_or_else(|| live.clone());
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let snapshot = final_snapshot_id(live);
        let call = cx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(&live.id)
            .delete_automated_backups(snapshot.is_none());
        let call = match snapshot {
            Some(id) => call
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(id),
            None => call.skip_final_snapshot(true),
        };
        let sent = cx
            .call("DeleteDBInstance", || call.clone().send())
            .await
            .map(|_| ());
        finish_delete(cx, live, "DB instance to be deleted", sent, || async {
            Ok(describe_instance(cx, &live.id)
                .await?
                .is_none()
                .then_some(()))
        })
        .await
    }
}
