//! An Aurora PostgreSQL cluster with Serverless v2 capacity. As for the
//! instance form, RDS manages the master password in Secrets Manager and
//! only the secret's ARN reaches state. Scaling limits, backups, deletion
//! protection and IAM authentication change in place; the engine major
//! version, encryption and subnet group need a new cluster.

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster, ServerlessV2ScalingConfiguration};
use serde_json::json;

use super::rds_common::{create_tags, final_snapshot_id, finish_delete, read_tags};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use super::{flag, major};
use crate::aws::{AwsError, Cx, ErrorClass, SdkResultExt};
use crate::model::{KindInfo, Resend, Tier};
use crate::model::{Outputs, Props};

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
    let mut sgs: Vec<String> = c
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(String::from))
        .collect();
    sgs.sort();
    let mut props = json!({
        "identifier": id,
        "engine": c.engine(),
        "engine_version": version,
        "engine_major": major(version),
        "db_subnet_group_name": c.db_subnet_group(),
        "vpc_security_group_ids": sgs,
        "cluster_parameter_group_name": c.db_cluster_parameter_group(),
        "backup_retention_days": c.backup_retention_period(),
        "deletion_protection": c.deletion_protection(),
        "storage_encrypted": c.storage_encrypted(),
        "iam_database_authentication": c.iam_database_authentication_enabled(),
        "tags": tags,
    });
    if let Some(s) = c.serverless_v2_scaling_configuration() {
        props["serverless_v2"] =
            json!({ "min_acu": s.min_capacity(), "max_acu": s.max_capacity() });
    }
    if let Some(k) = c.kms_key_id() {
        props["kms_key_id"] = json!(k);
    }
    let outputs: Outputs = [
        ("id".to_string(), id.clone()),
        (
            "arn".into(),
            c.db_cluster_arn().unwrap_or_default().to_string(),
        ),
        (
            "endpoint".into(),
            c.endpoint().unwrap_or_default().to_string(),
        ),
        (
            "reader_endpoint".into(),
            c.reader_endpoint().unwrap_or_default().to_string(),
        ),
        (
            "port".into(),
            c.port().map(|p| p.to_string()).unwrap_or_default(),
        ),
        (
            "resource_id".into(),
            c.db_cluster_resource_id().unwrap_or_default().to_string(),
        ),
        (
            "master_secret_arn".into(),
            c.master_user_secret()
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

impl RdsCluster {
    async fn describe(&self, cx: &Cx, id: &str) -> Result<Option<DbCluster>, AwsError> {
        match cx
            .call("DescribeDBClusters", || {
                cx.clients
                    .rds
                    .describe_db_clusters()
                    .db_cluster_identifier(id)
                    .send()
            })
            .await
        {
            Ok(o) => Ok(o.db_clusters().first().cloned()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn wait_available(&self, cx: &Cx, address: &str, id: &str) -> Result<Live, AwsError> {
        cx.wait_for(
            address,
            "Aurora cluster to become available",
            cx.timeouts.database,
            || async {
                let Some(c) = self.describe(cx, id).await? else {
                    return Ok(None);
                };
                match c.status() {
                    Some("available") => Ok(to_live(&c, cx.owner())),
                    Some(
                        s @ ("failed"
                        | "inaccessible-encryption-credentials"
                        | "incompatible-parameters"),
                    ) => Err(AwsError::local(
                        "CreateDBCluster",
                        format!("Aurora cluster {id} is {s}"),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

const INFO: KindInfo = KindInfo {
    name: "RdsCluster",
    tier: Tier::Database,
    outputs: &[
        "id",
        "arn",
        "endpoint",
        "reader_endpoint",
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
    // Resent safely: the cluster identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RdsCluster {
    fn info(&self) -> &'static KindInfo {
        &INFO
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
            .backup_retention_period(
                t.props
                    .get("backup_retention_days")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(7) as i32,
            )
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
        if let Err(e) = created {
            if e.code != "DBClusterAlreadyExistsFault"
                || self
                    .describe(cx, id)
                    .await?
                    .and_then(|c| to_live(&c, cx.owner()))
                    .is_none()
            {
                return Err(e);
            }
        }
        let live = self.wait_available(cx, t.address, id).await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
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
        let has = |f: &str| changed.iter().any(|c| c == f);
        let mut call = cx
            .clients
            .rds
            .modify_db_cluster()
            .db_cluster_identifier(&live.id)
            .apply_immediately(
                t.props
                    .get("_apply_immediately")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            );
        if has("serverless_v2") {
            call = call.set_serverless_v2_scaling_configuration(scaling(t.props));
        }
        if has("engine_version") {
            call = call.engine_version(str_prop(t.props, "engine_version")?);
        }
        if has("backup_retention_days") {
            call = call.backup_retention_period(
                t.props
                    .get("backup_retention_days")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(7) as i32,
            );
        }
        if has("deletion_protection") {
            call = call.deletion_protection(flag(t.props, "deletion_protection"));
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
        if has("cluster_parameter_group_name") {
            call = call.set_db_cluster_parameter_group_name(
                opt_str(t.props, "cluster_parameter_group_name").map(String::from),
            );
        }
        if changed.iter().any(|c| c != "tags") {
            let call = call;
            cx.call("ModifyDBCluster", || call.clone().send()).await?;
            self.wait_available(cx, t.address, &live.id).await?;
        }
        if has("tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            super::rds_common::update_tags(cx, &arn, t.address, &live.props, t.props).await?;
        }
        let live = self
            .describe(cx, &live.id)
            .await?
            .and_then(|c| to_live(&c, cx.owner()))
            .unwrap_or_else(|| live.clone());
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let call = cx
            .clients
            .rds
            .delete_db_cluster()
            .db_cluster_identifier(&live.id);
        let call = match final_snapshot_id(live) {
            Some(id) => call
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(id),
            None => call.skip_final_snapshot(true),
        };
        let sent = cx
            .call("DeleteDBCluster", || call.clone().send())
            .await
            .map(|_| ());
        finish_delete(cx, live, "Aurora cluster to be deleted", sent, || async {
            Ok(self.describe(cx, &live.id).await?.is_none().then_some(()))
        })
        .await
    }
}
