use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use serde_json::json;

use super::ec2_tags::{delete_naming_blockers, env_filter, found, tag_spec, update_tags};
use super::flag;
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Tagging, Tier};

pub struct Vpc;

impl Vpc {
    async fn set_dns(
        &self,
        cx: &Cx,
        id: &str,
        support: bool,
        hostnames: bool,
    ) -> Result<(), AwsError> {
        let on = |b: bool| AttributeBooleanValue::builder().value(b).build();
        cx.call("ModifyVpcAttribute", || {
            cx.clients
                .ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_support(on(support))
                .send()
        })
        .await?;
        cx.call("ModifyVpcAttribute", || {
            cx.clients
                .ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_hostnames(on(hostnames))
                .send()
        })
        .await?;
        Ok(())
    }

    async fn dns_attribute(
        &self,
        cx: &Cx,
        id: &str,
        name: VpcAttributeName,
    ) -> Result<bool, AwsError> {
        let out = cx
            .call("DescribeVpcAttribute", || {
                cx.clients
                    .ec2
                    .describe_vpc_attribute()
                    .vpc_id(id)
                    .attribute(name.clone())
                    .send()
            })
            .await?;
        let value = match name {
            VpcAttributeName::EnableDnsSupport => out.enable_dns_support().and_then(|a| a.value()),
            _ => out.enable_dns_hostnames().and_then(|a| a.value()),
        };
        Ok(value.unwrap_or(false))
    }
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "Vpc",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["cidr"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for Vpc {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_vpc()
            .cidr_block(str_prop(t.props, "cidr")?)
            .tag_specifications(tag_spec(ResourceType::Vpc, cx, t))
            .send()
            .await
            .aws("CreateVpc")?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| AwsError::local("CreateVpc", "no VPC id returned"))?;
        self.set_dns(
            cx,
            id,
            flag(t.props, "enable_dns_support"),
            flag(t.props, "enable_dns_hostnames"),
        )
        .await?;
        Ok(t.made_with(id.to_string(), id_outputs(id)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let vpcs = cx
            .all("DescribeVpcs", || {
                let call = cx.clients.ec2.describe_vpcs();
                let call = call.filters(env_filter(scope.owner)).max_results(1000);
                call.into_paginator().items().send()
            })
            .await?;
        let mut out = Vec::new();
        for v in vpcs {
            let props = json!({ "cidr": v.cidr_block().unwrap_or_default() });
            let Some(mut live) = found(v.vpc_id(), v.tags(), scope.owner, props) else {
                continue;
            };
            // DescribeVpcs does not return the DNS attributes: one call each.
            for (field, name) in [
                ("enable_dns_support", VpcAttributeName::EnableDnsSupport),
                ("enable_dns_hostnames", VpcAttributeName::EnableDnsHostnames),
            ] {
                let on = self.dns_attribute(cx, &live.id, name).await?;
                live.props.insert(field.into(), on.into());
            }
            out.push(live);
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c.starts_with("enable_dns")) {
            self.set_dns(
                cx,
                &live.id,
                flag(t.props, "enable_dns_support"),
                flag(t.props, "enable_dns_hostnames"),
            )
            .await?;
        }
        update_tags(cx, live, t).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        delete_naming_blockers(cx, live, "vpc-id", "DeleteVpc", || {
            cx.clients.ec2.delete_vpc().vpc_id(&live.id).send()
        })
        .await
    }
}
