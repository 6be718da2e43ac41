use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::ec2_tags::{delete_naming_blockers, env_filter, read_tags, sync, tag_spec};
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Tier};

pub struct Subnet;

fn public_ip(props: &Props) -> bool {
    props
        .get("map_public_ip_on_launch")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

impl Subnet {
    async fn set_public_ip(&self, cx: &Cx, id: &str, on: bool) -> Result<(), AwsError> {
        cx.call("ModifySubnetAttribute", || {
            cx.clients
                .ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
                .send()
        })
        .await?;
        Ok(())
    }
}

const INFO: KindInfo = KindInfo {
    name: "Subnet",
    tier: Tier::Network,
    outputs: &["id", "arn"],
    replace_fields: &["vpc_id", "cidr", "az"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for Subnet {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

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
        if public_ip(t.props) {
            self.set_public_ip(cx, &id, true).await?;
        }
        let mut outputs = id_outputs(&id);
        outputs.insert(
            "arn".into(),
            subnet.subnet_arn().unwrap_or_default().to_string(),
        );
        Ok(t.made_with(id, outputs))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let subnets = cx
            .all("DescribeSubnets", || {
                cx.clients
                    .ec2
                    .describe_subnets()
                    .filters(env_filter(scope.owner))
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(subnets
            .into_iter()
            .filter_map(|s| {
                let id = s.subnet_id()?.to_string();
                let (address, tags) = read_tags(s.tags(), scope.owner)?;
                let props = json!({
                    "vpc_id": s.vpc_id().unwrap_or_default(),
                    "cidr": s.cidr_block().unwrap_or_default(),
                    "az": s.availability_zone().unwrap_or_default(),
                    "map_public_ip_on_launch": s.map_public_ip_on_launch().unwrap_or(false),
                    "tags": tags,
                });
                let mut outputs = id_outputs(&id);
                outputs.insert("arn".into(), s.subnet_arn().unwrap_or_default().to_string());
                Some(Live::found(id, address, props, outputs))
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
            self.set_public_ip(cx, &live.id, public_ip(t.props)).await?;
        }
        sync(cx, &live.id, &live.props, t.props).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        delete_naming_blockers(cx, address, ("subnet-id", &live.id), || async {
            cx.clients
                .ec2
                .delete_subnet()
                .subnet_id(&live.id)
                .send()
                .await
                .aws("DeleteSubnet")
        })
        .await
    }
}
