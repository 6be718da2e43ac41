//! An RDS DB parameter group with the plan's parameters (`rds.force_ssl`).

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};
use serde_json::{Value, json};

use super::rds_common::{create_tags, read_tags, tags_of, update_tags};
use super::{Kind, Live, ReadScope, Target, id_outputs, opt_str, str_prop};
use crate::aws::{AwsError, Cx, ErrorClass, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::Props;
use crate::model::{KindInfo, NaturalKey, Resend, Tier};

pub struct DbParameterGroup;

pub(super) fn parameters(props: &Props) -> Vec<Parameter> {
    props
        .get("parameters")
        .and_then(|p| p.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                )
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect()
}

/// The values of the parameters the plan sets, as read back (a group holds
/// many more; only the plan's are compared).
pub(super) fn planned_values(props: &Props, read: &[Parameter]) -> serde_json::Map<String, Value> {
    let wanted: Vec<&String> = props
        .get("parameters")
        .and_then(|p| p.as_object())
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    read.iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                Value::String(p.parameter_value()?.to_string()),
            ))
        })
        .filter(|(k, _)| wanted.contains(&k))
        .collect()
}

async fn set(cx: &Cx, name: &str, props: &Props) -> Result<(), AwsError> {
    let params = parameters(props);
    if params.is_empty() {
        return Ok(());
    }
    cx.call("ModifyDBParameterGroup", || {
        cx.clients
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(params.clone()))
            .send()
    })
    .await?;
    Ok(())
}

/// One group by name, with the parameters `props` sets; `None` when it is not there.
async fn read_one(
    cx: &Cx,
    name: &str,
    props: &Props,
    owner: crate::model::Owner<'_>,
) -> Result<Option<Live>, AwsError> {
    let group = cx
        .call("DescribeDBParameterGroups", || {
            cx.clients
                .rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(name)
                .send()
        })
        .await;
    let Some(group) = group.or_missing()? else {
        return Ok(None);
    };
    let Some(g) = group.db_parameter_groups().first() else {
        return Ok(None);
    };
    let params = cx
        .all("DescribeDBParameters", || {
            cx.clients
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(name)
                .source("user")
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    let values = planned_values(props, &params);
    let mut props = json!({
        "name": name,
        "family": g.db_parameter_group_family(),
        "description": g.description(),
        "parameters": values,
    });
    if let Some((_, tags)) = read_tags(
        &tags_of(cx, g.db_parameter_group_arn().unwrap_or_default()).await?,
        owner,
    ) {
        props["tags"] = tags;
    }
    let mut outputs = id_outputs(name);
    outputs.insert("name".into(), name.into());
    Ok(Some(Live::found(name.to_string(), None, props, outputs)))
}

const INFO: KindInfo = KindInfo {
    name: "DbParameterGroup",
    tier: Tier::Database,
    outputs: &["id", "name"],
    replace_fields: &["name", "family"],
    natural_key: NaturalKey::Fields(&["name"]),
    // Resent safely: the group name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for DbParameterGroup {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let created = cx
            .clients
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(str_prop(t.props, "family")?)
            .description(opt_str(t.props, "description").unwrap_or(name))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateDBParameterGroup");
        // Named, so a run killed after this call finds it here: same name, adopt.
        if let Err(e) = created {
            if !e.code.contains("AlreadyExists") {
                return Err(e);
            }
        }
        set(cx, name, t.props).await?;
        let mut outputs = id_outputs(name);
        outputs.insert("name".into(), name.into());
        Ok(t.made_with(name.to_string(), outputs))
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
            let described = cx
                .call("DescribeDBParameterGroups", || {
                    cx.clients
                        .rds
                        .describe_db_parameter_groups()
                        .db_parameter_group_name(&live.id)
                        .send()
                })
                .await?;
            let arn = described
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_arn())
                .unwrap_or_default()
                .to_string();
            update_tags(cx, &arn, t.address, &live.props, t.props).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.retry_while(
            &live.id,
            "still used by a DB instance",
            cx.timeouts.dependency,
            ErrorClass::Dependency,
            || async {
                cx.clients
                    .rds
                    .delete_db_parameter_group()
                    .db_parameter_group_name(&live.id)
                    .send()
                    .await
                    .aws("DeleteDBParameterGroup")
            },
        )
        .await
        .gone_is_done()
    }
}
