//! An Aurora DB cluster parameter group with the plan's parameters
//! (`rds.force_ssl`). Named, so a run killed after the create finds it by name.

use async_trait::async_trait;
use serde_json::json;

use super::db_parameter_group::{parameters, planned_values};
use super::rds_common::{create_tags, read_tags, tags_of, update_tags};
use super::{Kind, Live, ReadScope, Target, id_outputs, opt_str, str_prop};
use crate::aws::{AwsError, Cx, ErrorClass, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, NaturalKey, Resend, Tier};
use crate::model::{Outputs, Props};

pub struct DbClusterParameterGroup;

fn outputs(name: &str, arn: &str) -> Outputs {
    let mut outputs = id_outputs(name);
    outputs.insert("name".into(), name.into());
    outputs.insert("arn".into(), arn.into());
    outputs
}

async fn set(cx: &Cx, name: &str, props: &Props) -> Result<(), AwsError> {
    let params = parameters(props);
    if params.is_empty() {
        return Ok(());
    }
    cx.call("ModifyDBClusterParameterGroup", || {
        cx.clients
            .rds
            .modify_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .set_parameters(Some(params.clone()))
            .send()
    })
    .await?;
    Ok(())
}

async fn describe(
    cx: &Cx,
    name: &str,
) -> Result<Option<aws_sdk_rds::types::DbClusterParameterGroup>, AwsError> {
    let got = cx
        .call("DescribeDBClusterParameterGroups", || {
            cx.clients
                .rds
                .describe_db_cluster_parameter_groups()
                .db_cluster_parameter_group_name(name)
                .send()
        })
        .await;
    Ok(got
        .or_missing()?
        .and_then(|o| o.db_cluster_parameter_groups().first().cloned()))
}

/// One group by name, with the parameters `props` sets; `None` when it is not there.
async fn read_one(
    cx: &Cx,
    name: &str,
    props: &Props,
    owner: crate::model::Owner<'_>,
) -> Result<Option<Live>, AwsError> {
    let Some(g) = describe(cx, name).await? else {
        return Ok(None);
    };
    let params = cx
        .all("DescribeDBClusterParameters", || {
            cx.clients
                .rds
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(name)
                .source("user")
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    let values = planned_values(props, &params);
    let arn = g.db_cluster_parameter_group_arn().unwrap_or_default();
    let mut props = json!({
        "name": name,
        "family": g.db_parameter_group_family(),
        "description": g.description(),
        "parameters": values,
    });
    if let Some((_, tags)) = read_tags(&tags_of(cx, arn).await?, owner) {
        props["tags"] = tags;
    }
    Ok(Some(Live::found(
        name.to_string(),
        None,
        props,
        outputs(name, arn),
    )))
}

const INFO: KindInfo = KindInfo {
    name: "DbClusterParameterGroup",
    tier: Tier::Database,
    outputs: &["id", "name", "arn"],
    replace_fields: &["name", "family"],
    natural_key: NaturalKey::Fields(&["name"]),
    // Resent safely: the group name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for DbClusterParameterGroup {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let created = cx
            .clients
            .rds
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .db_parameter_group_family(str_prop(t.props, "family")?)
            .description(opt_str(t.props, "description").unwrap_or(name))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBClusterParameterGroup");
        let arn = match created {
            Ok(o) => o
                .db_cluster_parameter_group()
                .and_then(|g| g.db_cluster_parameter_group_arn())
                .unwrap_or_default()
                .to_string(),
            Err(e) if e.code.contains("AlreadyExists") => describe(cx, name)
                .await?
                .and_then(|g| g.db_cluster_parameter_group_arn().map(String::from))
                .unwrap_or_default(),
            Err(e) => return Err(e),
        };
        set(cx, name, t.props).await?;
        Ok(t.made_with(name.to_string(), outputs(name, &arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        // Only the groups state knows: parameters need one call per group.
        for known in &scope.known {
            out.extend(read_one(cx, &known.id, &known.props, scope.owner).await?);
        }
        Ok(out)
    }

    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Some(name) = opt_str(resolved, "name") else {
            return Ok(None);
        };
        read_one(cx, name, resolved, cx.owner()).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c != "tags") {
            set(cx, &live.id, t.props).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = live.outputs.get("arn").cloned().unwrap_or_default();
            update_tags(cx, &arn, t.address, &live.props, t.props).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.retry_while(
            &live.id,
            "still used by an Aurora cluster",
            cx.timeouts.dependency,
            ErrorClass::Dependency,
            || async {
                cx.clients
                    .rds
                    .delete_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(&live.id)
                    .send()
                    .await
                    .aws("DeleteDBClusterParameterGroup")
            },
        )
        .await
        .gone_is_done()
    }
}
