//! An RDS DB parameter group with the plan's parameters (`rds.force_ssl`).
//! Its create, read, update and delete are those of every parameter group
//! (`rds_parameter_group::ParameterGroupApi`); here are its calls.

use async_trait::async_trait;
use aws_sdk_rds::types::Parameter;

use super::rds_common::create_tags;
use super::rds_parameter_group::{GroupFacts, ParameterGroupApi};
use super::{Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct DbParameterGroup;

pub(super) const INFO: KindInfo = KindInfo {
    name: "DbParameterGroup",
    tier: Tier::Database,
    tagging: Tagging::Rds,
    outputs: &["id", "name"],
    replace_fields: &["name", "family"],
    natural_key: NaturalKey::Fields(&["name"]),
    // Resent safely: the group name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl ParameterGroupApi for DbParameterGroup {
    const IN_USE: &'static str = "still used by a DB instance";

    async fn create(&self, cx: &Cx, t: &Target<'_>, name: &str) -> Result<String, AwsError> {
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
            .aws("CreateDBParameterGroup")?;
        let group = created.db_parameter_group();
        Ok(group
            .and_then(|g| g.db_parameter_group_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn describe(&self, cx: &Cx, name: &str) -> Result<Option<GroupFacts>, AwsError> {
        let described = cx
            .call("DescribeDBParameterGroups", || {
                cx.clients
                    .rds
                    .describe_db_parameter_groups()
                    .db_parameter_group_name(name)
                    .send()
            })
            .await?;
        Ok(described.db_parameter_groups().first().map(|g| GroupFacts {
            family: g.db_parameter_group_family().map(String::from),
            description: g.description().map(String::from),
            arn: g.db_parameter_group_arn().unwrap_or_default().to_string(),
        }))
    }

    async fn user_parameters(&self, cx: &Cx, name: &str) -> Result<Vec<Parameter>, AwsError> {
        cx.all("DescribeDBParameters", || {
            cx.clients
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(name)
                .source("user")
                .into_paginator()
                .items()
                .send()
        })
        .await
    }

    async fn modify(&self, cx: &Cx, name: &str, params: Vec<Parameter>) -> Result<(), AwsError> {
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

    async fn delete(&self, cx: &Cx, name: &str) -> Result<(), AwsError> {
        cx.clients
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(name)
            .send()
            .await
            .aws("DeleteDBParameterGroup")?;
        Ok(())
    }
}
