//! A security group without inline rules: every rule is its own
//! `SecurityGroupRule`, so changing a rule never replaces the group.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType};
use serde_json::json;

use super::ec2_tags::{delete_naming_blockers, env_filter, found, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, returned, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct SecurityGroup;

pub(super) const INFO: KindInfo = KindInfo {
    name: "SecurityGroup",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["vpc_id", "name", "description"],
    // Resent safely: the group name in its VPC.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for SecurityGroup {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_security_group()
            .group_name(str_prop(t.props, "name")?)
            .description(str_prop(t.props, "description")?)
            .vpc_id(str_prop(t.props, "vpc_id")?)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, cx, t))
            .send()
            .await
            .aws("CreateSecurityGroup")?;
        let id = returned("CreateSecurityGroup", out.group_id())?;
        revoke_default_egress(cx, &id).await?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(env_groups(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|g| {
                let props = json!({
                    "vpc_id": g.vpc_id().unwrap_or_default(),
                    "name": g.group_name().unwrap_or_default(),
                    "description": g.description().unwrap_or_default(),
                });
                found(g.group_id(), g.tags(), scope.owner, props)
            })
            .collect())
    }

    async fn adopted(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        revoke_default_egress(cx, &live.id).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        update_tags(cx, live, t).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        delete_naming_blockers(cx, live, "group-id", "DeleteSecurityGroup", || {
            cx.clients
                .ec2
                .delete_security_group()
                .group_id(&live.id)
                .send()
        })
        .await
    }
}

/// Every security group tagged with this env, read once per refresh (the
/// groups themselves, and the rules added to them by hand).
pub async fn env_groups(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<Arc<Vec<aws_sdk_ec2::types::SecurityGroup>>, AwsError> {
    cx.shared("ec2:security_groups", || async {
        cx.all("DescribeSecurityGroups", || {
            let call = cx.clients.ec2.describe_security_groups();
            let call = call.filters(env_filter(owner)).max_results(1000);
            call.into_paginator().items().send()
        })
        .await
    })
    .await
}

/// AWS adds an allow-all egress rule to every new group. The plan's rules
/// are the whole truth, as in Terraform, so it goes (before any rule of the
/// plan exists: this revokes by permission).
async fn revoke_default_egress(cx: &Cx, id: &str) -> Result<(), AwsError> {
    let all = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    let revoked = cx
        .call("RevokeSecurityGroupEgress", || {
            cx.clients
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .ip_permissions(all.clone())
                .send()
        })
        .await;
    match revoked {
        Err(e)
            if e.class != crate::aws::ErrorClass::NotFound
                && !e.code.starts_with("InvalidPermission") =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}
