//! An RDS PostgreSQL instance. The master password is managed by RDS in
//! Secrets Manager (`ManageMasterUserPassword`): infra never sees it, and
//! only the secret's ARN enters state and output. Changes AWS makes in place
//! are modifies (`apply_immediately` from the plan); a new engine major
//! version or a change of storage encryption is a new instance.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde_json::json;

use super::rds_common::{create_tags, read_tags};
use super::rds_database::{
    Changes, DATABASE_REPLACE_FIELDS, apply_immediately, final_snapshot_id, finish_create,
    finish_delete, finish_update, read_instances, secret_arn, security_group_ids,
};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use super::{flag, int, major, outputs};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct DbInstance;

fn to_live(db: &RdsInstance, owner: crate::model::Owner<'_>) -> Option<Live> {
    // An Aurora cluster's instances are `RdsClusterInstance`s.
    if db.db_cluster_identifier().is_some() {
        return None;
    }
    let (address, tags) = read_tags(db.tag_list(), owner)?;
    let id = db.db_instance_identifier()?.to_string();
    let version = db.engine_version().unwrap_or_default();
    let mut props = json!({
        "identifier": id,
        "engine": db.engine(),
        "engine_version": version,
        "engine_major": major(version),
        "instance_class": db.db_instance_class(),
        "allocated_storage": db.allocated_storage(),
        "db_subnet_group_name": db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        "vpc_security_group_ids": security_group_ids(db.vpc_security_groups()),
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
    let endpoint = db.endpoint();
    let port = endpoint.and_then(|e| e.port()).map(|p| p.to_string());
    let outputs = outputs([
        ("id", &id),
        ("arn", db.db_instance_arn().unwrap_or_default()),
        (
            "endpoint",
            endpoint.and_then(|e| e.address()).unwrap_or_default(),
        ),
        ("port", port.as_deref().unwrap_or_default()),
        ("resource_id", db.dbi_resource_id().unwrap_or_default()),
        ("master_secret_arn", secret_arn(db.master_user_secret())),
    ]);
    Some(Live::found(id, address, props, outputs))
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "DbInstance",
    tier: Tier::Database,
    tagging: Tagging::Rds,
    outputs: &[
        "id",
        "arn",
        "endpoint",
        "port",
        "resource_id",
        "master_secret_arn",
    ],
    replace_fields: DATABASE_REPLACE_FIELDS,
    // Resent safely: the instance identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for DbInstance {
    async fn arn(&self, cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
        super::rds_database::arn_of::<RdsInstance>(cx, id).await
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
        finish_create(cx, t, id, to_live).await
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        read_instances(cx, scope, to_live).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let changes = Changes::new(changed, t.props);
        let call = cx
            .clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(&live.id)
            .apply_immediately(apply_immediately(t.props))
            .set_db_instance_class(changes.string("instance_class")?)
            .set_allocated_storage(changes.int_or("allocated_storage", 20))
            .set_engine_version(changes.string("engine_version")?)
            .set_multi_az(changes.flag("multi_az"))
            .set_backup_retention_period(changes.int_or("backup_retention_days", 7))
            .set_deletion_protection(changes.flag("deletion_protection"))
            .set_enable_performance_insights(changes.flag("performance_insights"))
            .set_publicly_accessible(changes.flag("publicly_accessible"))
            .set_enable_iam_database_authentication(changes.flag("iam_database_authentication"))
            .set_vpc_security_group_ids(changes.strings("vpc_security_group_ids"))
            .set_db_parameter_group_name(changes.opt_string("parameter_group_name"));
        let modify = cx.call("ModifyDBInstance", || call.clone().send());
        finish_update(cx, live, t, &changes, modify, to_live).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let snapshot = final_snapshot_id(live);
        let call = cx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(&live.id)
            .delete_automated_backups(snapshot.is_none())
            .skip_final_snapshot(snapshot.is_none())
            .set_final_db_snapshot_identifier(snapshot);
        let sent = cx.call("DeleteDBInstance", || call.clone().send()).await;
        finish_delete::<RdsInstance>(cx, live, "DB instance to be deleted", sent).await
    }
}
