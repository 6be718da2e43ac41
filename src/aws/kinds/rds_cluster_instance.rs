//! An instance of an Aurora cluster (the Serverless v2 writer is
//! `db.serverless`). Storage, backups and encryption belong to the cluster;
//! the instance only has a class and its cluster.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde_json::json;

use super::rds_common::{create_tags, read_tags};
use super::rds_database::{
    Changes, adopt_if_exists, arn_output, finish_create, finish_delete, read_instances, read_one,
    retag, wait_available,
};
use super::{Kind, Live, ReadScope, Target, outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};

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
    let outputs = outputs([
        ("id", &id),
        ("arn", db.db_instance_arn().unwrap_or_default()),
        (
            "endpoint",
            db.endpoint().and_then(|e| e.address()).unwrap_or_default(),
        ),
    ]);
    Some(Live::found(id, address, props, outputs))
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "RdsClusterInstance",
    tier: Tier::Database,
    tagging: Tagging::Rds,
    outputs: &["id", "arn", "endpoint"],
    replace_fields: &["identifier", "cluster_identifier", "engine"],
    // Resent safely: the instance identifier.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RdsClusterInstance {
    async fn arn(&self, cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
        super::rds_database::arn_of::<RdsInstance>(cx, id).await
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
        adopt_if_exists(
            created,
            "DBInstanceAlreadyExists",
            read_one(cx, id, to_live),
        )
        .await?;
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
        if changes.has("instance_class") {
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
            wait_available(cx, t.address, &live.id, to_live).await?;
        }
        retag(cx, live, t, &changes, arn_output(live)).await?;
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
        let sent = cx.call("DeleteDBInstance", || call.clone().send()).await;
        finish_delete::<RdsInstance>(cx, live, "Aurora instance to be deleted", sent).await
    }
}
