use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::ec2_tags::{delete_naming_blockers, env_filter, found, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, flag, id_outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Tagging, Tier};

pub struct Subnet;

pub(super) const INFO: KindInfo = KindInfo {
    name: "Subnet",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    outputs: &["id", "arn"],
    replace_fields: &["vpc_id", "cidr", "az"],
    ..KindInfo::BASE
};

async fn set_public_ip(cx: &Cx, id: &str, on: bool) -> Result<(), AwsError> {
    let on = AttributeBooleanValue::builder().value(on).build();
    cx.call("ModifySubnetAttribute", || {
        let call = cx.clients.ec2.modify_subnet_attribute();
        call.subnet_id(id)
            .map_public_ip_on_launch(on.clone())
            .send()
    })
    .await?;
    Ok(())
}

#[async_trait]
impl Kind for Subnet {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(str_prop(t.props, "vpc_id")?)
            .cidr_block(str_prop(t.props, "cidr")?)
            .availability_zone(str_prop(t.props, "az")?)
            .tag_specifications(tag_spec(ResourceType::Subnet, cx, t))
            .send()
            .await
            .aws("CreateSubnet")?;
        let subnet = out
            .subnet()
            .ok_or_else(|| AwsError::local("CreateSubnet", "no subnet returned"))?;
        let id = subnet.subnet_id().unwrap_or_default().to_string();
        if flag(t.props, "map_public_ip_on_launch") {
            set_public_ip(cx, &id, true).await?;
        }
        let mut outputs = id_outputs(&id);
        let arn = subnet.subnet_arn().unwrap_or_default();
        outputs.insert("arn".into(), arn.to_string());
        Ok(t.made_with(id, outputs))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let subnets = cx
            .all("DescribeSubnets", || {
                let call = cx.clients.ec2.describe_subnets();
                let call = call.filters(env_filter(scope.owner)).max_results(1000);
                call.into_paginator().items().send()
            })
            .await?;
        Ok(subnets
            .iter()
            .filter_map(|s| {
                let props = json!({
                    "vpc_id": s.vpc_id().unwrap_or_default(),
                    "cidr": s.cidr_block().unwrap_or_default(),
                    "az": s.availability_zone().unwrap_or_default(),
                    "map_public_ip_on_launch": s.map_public_ip_on_launch().unwrap_or(false),
                });
                let mut live = found(s.subnet_id(), s.tags(), scope.owner, props)?;
                let arn = s.subnet_arn().unwrap_or_default();
                live.outputs.insert("arn".into(), arn.to_string());
                Some(live)
            })
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c == "map_public_ip_on_launch") {
            set_public_ip(cx, &live.id, flag(t.props, "map_public_ip_on_launch")).await?;
        }
        update_tags(cx, live, t).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        delete_naming_blockers(cx, live, "subnet-id", "DeleteSubnet", || {
            cx.clients.ec2.delete_subnet().subnet_id(&live.id).send()
        })
        .await
    }
}
