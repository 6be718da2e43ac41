//! An instance of an Aurora cluster (the Serverless v2 writer is
//! `db.serverless`). Storage, backups and encryption belong to the cluster;
//! the instance only has a class and its cluster.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde_json::json;

use super::rds_common::{
    create_tags, describe_instance, finish_delete, read_tags, wait_instance_available,
};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Outputs;
use crate::model::{KindInfo, Resend, Tier};

pub struct RdsClusterInstance;

fn to_live(db: &RdsInstance, owner: crate::model::Owner<'_>) -> Option<Live> {
    let cluster = db.db_cluster_identifier()?;
    let (address, tags) = read_tags(db.tag_list(), owner)?;
    let id = db.db_instance_identifier()?.to_string();
    let props = json!({
        "identifier": id,
        "cluster_identifier": cluster,
        "engine": db.engine(),
        "instance_class": db.db_instance_class(),
        "tags": tags,
    });
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
    name: "RdsClusterInstance",
    tier: Tier::Database,
    outputs: &["id", "arn", "endpoint"],
    replace_fields: &["identifier", "cluster_identifier", "engine"],
    // Resent safely: the instance identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RdsClusterInstance {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let id = str_prop(t.props, "identifier")?;
        let created = cx
            .clients
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(str_prop(t.props, "cluster_identifier")?)
            .engine(str_prop(t.props, "engine")?)
            .db_instance_class(str_prop(t.props, "instance_class")?)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBInstance");
        if let Err(e) = created {
            if e.code != "DBInstanceAlreadyExists"
                || describe_instance(cx, id)
                    .await?
                    .and_then(|d| to_live(&d, cx.owner()))
                    .is_none()
            {
                return Err(e);
            }
        }
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
        if changed.iter().any(|c| c == "instance_class") {
            let class = str_prop(t.props, "instance_class")?;
            cx.call("ModifyDBInstance", || {
                cx.clients
                    .rds
                    .modify_db_instance()
                    .db_instance_identifier(&live.id)
                    .db_instance_class(class)
                    .apply_immediately(true)
                    .send()
            })
            .await?;
            wait_instance_available(cx, t.address, &live.id, to_live).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            super::rds_common::update_tags(cx, &arn, t.address, &live.props, t.props).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // The cluster keeps the data and takes the final snapshot.
        let call = cx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(&live.id)
            .skip_final_snapshot(true);
        let sent = cx
            .call("DeleteDBInstance", || call.clone().send())
            .await
            .map(|_| ());
        finish_delete(cx, live, "Aurora instance to be deleted", sent, || async {
            Ok(describe_instance(cx, &live.id)
                .await?
                .is_none()
                .then_some(()))
        })
        .await
    }
}
