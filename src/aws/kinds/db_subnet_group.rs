//! An RDS DB subnet group (the data subnets), identified by its name.

use async_trait::async_trait;
use serde_json::json;

use super::rds_common::{create_tags, group_tags, name_outputs, update_group};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, OrMissing, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct DbSubnetGroup;

fn subnets(props: &Props) -> Vec<String> {
    super::strings(props, "subnet_ids")
}

/// A group as read, without its tags (one more call).
fn to_live(g: &aws_sdk_rds::types::DbSubnetGroup) -> Live {
    let name = g.db_subnet_group_name().unwrap_or_default().to_string();
    let mut ids: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(String::from))
        .collect();
    ids.sort();
    let props =
        json!({ "name": name, "description": g.db_subnet_group_description(), "subnet_ids": ids });
    let outputs = name_outputs(&name);
    Live::found(name, None, props, outputs)
}

/// The group by name (`Ok(None)` when the answer lists none).
async fn describe(
    cx: &Cx,
    name: &str,
) -> Result<Option<aws_sdk_rds::types::DbSubnetGroup>, AwsError> {
    let described = cx
        .call("DescribeDBSubnetGroups", || {
            cx.clients
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(name)
                .send()
        })
        .await?;
    Ok(described.db_subnet_groups().first().cloned())
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "DbSubnetGroup",
    tier: Tier::Database,
    tagging: Tagging::Rds,
    outputs: &["id", "name"],
    replace_fields: &["name"],
    natural_key: NaturalKey::Fields(&["name"]),
    // Resent safely: the group name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for DbSubnetGroup {
    async fn arn(&self, cx: &Cx, name: &str) -> Result<Option<String>, AwsError> {
        let group = describe(cx, name).await?;
        Ok(group.and_then(|g| g.db_subnet_group_arn().map(String::from)))
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        cx.clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(opt_str(t.props, "description").unwrap_or(name))
            .set_subnet_ids(Some(subnets(t.props)))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBSubnetGroup")?;
        Ok(t.made_with(name.to_string(), name_outputs(name)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let groups = cx
            .all("DescribeDBSubnetGroups", || {
                cx.clients
                    .rds
                    .describe_db_subnet_groups()
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        let mut out = Vec::new();
        for g in groups.iter().filter(|g| g.db_subnet_group_name().is_some()) {
            let mut live = to_live(g);
            // Matched by name; tags (one call each) only for the groups state knows.
            if scope.known.iter().any(|k| k.id == live.id)
                && let Some(tags) =
                    group_tags(cx, g.db_subnet_group_arn().unwrap_or_default(), scope.owner).await?
            {
                live.props.insert("tags".into(), tags);
            }
            out.push(live);
        }
        Ok(out)
    }

    /// The batched read has no tags for groups state does not know: one by name, with them.
    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Some(name) = opt_str(resolved, "name") else {
            return Ok(None);
        };
        let Some(g) = describe(cx, name).await.or_missing()?.flatten() else {
            return Ok(None);
        };
        let mut live = to_live(&g);
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        if let Some(tags) = group_tags(cx, arn, cx.owner()).await? {
            live.props.insert("tags".into(), tags);
        }
        Ok(Some(live))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let modify = cx.call("ModifyDBSubnetGroup", || {
            cx.clients
                .rds
                .modify_db_subnet_group()
                .db_subnet_group_name(&live.id)
                .set_db_subnet_group_description(opt_str(t.props, "description").map(String::from))
                .set_subnet_ids(Some(subnets(t.props)))
                .send()
        });
        let arn = async {
            let group = describe(cx, &live.id).await?;
            Ok(group
                .and_then(|g| g.db_subnet_group_arn().map(String::from))
                .unwrap_or_default())
        };
        update_group(cx, live, t, changed, modify, arn).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let in_use = "still used by a DB instance";
        cx.delete_in_use(&live.id, in_use, "DeleteDBSubnetGroup", || {
            let call = cx.clients.rds.delete_db_subnet_group();
            call.db_subnet_group_name(&live.id).send()
        })
        .await
    }
}
