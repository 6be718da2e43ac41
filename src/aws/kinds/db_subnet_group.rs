//! An RDS DB subnet group (the data subnets), identified by its name.

use async_trait::async_trait;
use serde_json::json;

use super::rds_common::{
    Claim, create_tags, group_claim, group_tags, name_outputs, taken_by, update_group,
};
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

/// The group `name` and whose its tags say it is; `None` when there is none.
async fn claimed(
    cx: &Cx,
    name: &str,
) -> Result<Option<(aws_sdk_rds::types::DbSubnetGroup, Claim)>, AwsError> {
    let Some(g) = describe(cx, name).await.or_missing()?.flatten() else {
        return Ok(None);
    };
    let arn = g.db_subnet_group_arn().unwrap_or_default();
    let claim = group_claim(cx, arn, cx.owner()).await?;
    Ok(Some((g, claim)))
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
        let created = cx
            .clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(opt_str(t.props, "description").unwrap_or(name))
            .set_subnet_ids(Some(subnets(t.props)))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBSubnetGroup");
        match created {
            Ok(_) => Ok(t.made_with(name.to_string(), name_outputs(name))),
            Err(e) if e.code.contains("AlreadyExists") => match claimed(cx, name).await? {
                Some((_, Claim::Elsewhere(other))) => {
                    Err(taken_by(e, "DB subnet group", name, &other))
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
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
        // Only the groups state knows, each with its tags (one call each); one
        // state does not know is found by name with `lookup`, which asks
        // whose it is first.
        let known = |g: &&aws_sdk_rds::types::DbSubnetGroup| {
            let name = g.db_subnet_group_name();
            scope.known.iter().any(|k| Some(k.id.as_str()) == name)
        };
        let mut out = Vec::new();
        for g in groups.iter().filter(known) {
            let mut live = to_live(g);
            let arn = g.db_subnet_group_arn().unwrap_or_default();
            if let Some(tags) = group_tags(cx, arn, scope.owner).await? {
                live.props.insert("tags".into(), tags);
            }
            out.push(live);
        }
        Ok(out)
    }

    /// A group state does not know, by name, with its tags; never one
    /// tagged for another project or env.
    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Some(name) = opt_str(resolved, "name") else {
            return Ok(None);
        };
        let Some((g, claim)) = claimed(cx, name).await? else {
            return Ok(None);
        };
        let mut live = to_live(&g);
        match claim {
            Claim::Elsewhere(_) => return Ok(None),
            Claim::Ours(tags) => {
                live.props.insert("tags".into(), tags);
            }
            Claim::Unclaimed => {}
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
