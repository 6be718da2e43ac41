//! An Aurora PostgreSQL cluster with Serverless v2 capacity. As for the
//! instance form, RDS manages the master password in Secrets Manager and
//! only the secret's ARN reaches state. Scaling limits, backups, deletion
//! protection and IAM authentication change in place; the engine major
//! version, encryption and subnet group need a new cluster.

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster, ServerlessV2ScalingConfiguration};
use serde_json::json;

use super::rds_common::{create_tags, read_tags};
use super::rds_database::{
    Changes, DATABASE_REPLACE_FIELDS, adopt_if_exists, apply_immediately, final_snapshot_id,
    finish_create, finish_delete, finish_update, read_one, secret_arn, security_group_ids,
};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use super::{flag, int, major, outputs};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct RdsCluster;

/// `(min, max)` ACUs from `serverless_v2 = { min_acu, max_acu }`.
fn acu(p: &Props) -> Option<(f64, f64)> {
    let s = p.get("serverless_v2")?.as_object()?;
    Some((s.get("min_acu")?.as_f64()?, s.get("max_acu")?.as_f64()?))
}

fn scaling(p: &Props) -> Option<ServerlessV2ScalingConfiguration> {
    acu(p).map(|(min, max)| {
        ServerlessV2ScalingConfiguration::builder()
            .min_capacity(min)
            .max_capacity(max)
            .build()
    })
}

fn to_live(c: &DbCluster, owner: crate::model::Owner<'_>) -> Option<Live> {
    let (address, tags) = read_tags(c.tag_list(), owner)?;
    let id = c.db_cluster_identifier()?.to_string();
    let version = c.engine_version().unwrap_or_default();
    let mut props = json!({
        "identifier": id,
        "engine": c.engine(),
        "engine_version": version,
        "engine_major": major(version),
        "db_subnet_group_name": c.db_subnet_group(),
        "vpc_security_group_ids": security_group_ids(c.vpc_security_groups()),
        "cluster_parameter_group_name": c.db_cluster_parameter_group(),
        "backup_retention_days": c.backup_retention_period(),
        "deletion_protection": c.deletion_protection(),
        "storage_encrypted": c.storage_encrypted(),
        "iam_database_authentication": c.iam_database_authentication_enabled(),
        "tags": tags,
    });
    // As for an instance: modifies waiting for the maintenance window are
    // already decided, so compare what will be.
    if let Some(p) = c.pending_modified_values() {
        let pending = [
            ("engine_version", p.engine_version().map(|v| json!(v))),
            (
                "backup_retention_days",
                p.backup_retention_period().map(|v| json!(v)),
            ),
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
    if let Some(s) = c.serverless_v2_scaling_configuration() {
        props["serverless_v2"] =
            json!({ "min_acu": s.min_capacity(), "max_acu": s.max_capacity() });
    }
    if let Some(k) = c.kms_key_id() {
        props["kms_key_id"] = json!(k);
    }
    let port = c.port().map(|p| p.to_string());
    let outputs = outputs([
        ("id", &id),
        ("arn", c.db_cluster_arn().unwrap_or_default()),
        ("endpoint", c.endpoint().unwrap_or_default()),
        ("reader_endpoint", c.reader_endpoint().unwrap_or_default()),
        ("port", port.as_deref().unwrap_or_default()),
        (
            "resource_id",
            c.db_cluster_resource_id().unwrap_or_default(),
        ),
        ("master_secret_arn", secret_arn(c.master_user_secret())),
    ]);
    Some(Live::found(id, address, props, outputs))
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "RdsCluster",
    tier: Tier::Database,
    tagging: Tagging::Rds,
    outputs: &[
        "id",
        "arn",
        "endpoint",
        "reader_endpoint",
        "port",
        "resource_id",
        "master_secret_arn",
    ],
    replace_fields: DATABASE_REPLACE_FIELDS,
    // Resent safely: the cluster identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RdsCluster {
    async fn arn(&self, cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
        super::rds_database::arn_of::<DbCluster>(cx, id).await
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let id = str_prop(t.props, "identifier")?;
        let created = cx
            .clients
            .rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(str_prop(t.props, "engine")?)
            .engine_version(str_prop(t.props, "engine_version")?)
            .db_subnet_group_name(str_prop(t.props, "db_subnet_group_name")?)
            .set_vpc_security_group_ids(Some(super::strings(t.props, "vpc_security_group_ids")))
            .set_db_cluster_parameter_group_name(
                opt_str(t.props, "cluster_parameter_group_name").map(String::from),
            )
            .backup_retention_period(int(t.props, "backup_retention_days").unwrap_or(7))
            .deletion_protection(flag(t.props, "deletion_protection"))
            .storage_encrypted(flag(t.props, "storage_encrypted"))
            .set_kms_key_id(opt_str(t.props, "kms_key_id").map(String::from))
            .enable_iam_database_authentication(flag(t.props, "iam_database_authentication"))
            .set_serverless_v2_scaling_configuration(scaling(t.props))
            .set_database_name(opt_str(t.props, "_db_name").map(String::from))
            .master_username(opt_str(t.props, "_master_username").unwrap_or("postgres"))
            .manage_master_user_password(true)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBCluster");
        // Named: a run killed after this call finds its cluster by name.
        adopt_if_exists(
            created,
            "DBClusterAlreadyExistsFault",
            read_one(cx, id, to_live),
        )
        .await?;
        finish_create(cx, t, id, to_live).await
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let all = cx
            .all("DescribeDBClusters", || {
                cx.clients
                    .rds
                    .describe_db_clusters()
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(all.iter().filter_map(|c| to_live(c, scope.owner)).collect())
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
            .modify_db_cluster()
            .db_cluster_identifier(&live.id)
            .apply_immediately(apply_immediately(t.props))
            .set_serverless_v2_scaling_configuration(
                changes.when("serverless_v2", scaling).flatten(),
            )
            .set_engine_version(changes.string("engine_version")?)
            .set_backup_retention_period(changes.int_or("backup_retention_days", 7))
            .set_deletion_protection(changes.flag("deletion_protection"))
            .set_enable_iam_database_authentication(changes.flag("iam_database_authentication"))
            .set_vpc_security_group_ids(changes.strings("vpc_security_group_ids"))
            .set_db_cluster_parameter_group_name(
                changes.opt_string("cluster_parameter_group_name"),
            );
        let modify = cx.call("ModifyDBCluster", || call.clone().send());
        finish_update(cx, live, t, &changes, modify, to_live).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let snapshot = final_snapshot_id(live);
        let call = cx
            .clients
            .rds
            .delete_db_cluster()
            .db_cluster_identifier(&live.id)
            .skip_final_snapshot(snapshot.is_none())
            .set_final_db_snapshot_identifier(snapshot);
        let sent = cx.call("DeleteDBCluster", || call.clone().send()).await;
        finish_delete::<DbCluster>(cx, live, "Aurora cluster to be deleted", sent).await
    }
}
