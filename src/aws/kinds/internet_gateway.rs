use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{delete_call, env_filter, found, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, returned, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Tagging, Tier};

pub struct InternetGateway;

pub(super) const INFO: KindInfo = KindInfo {
    name: "InternetGateway",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["vpc_id"],
    // Create, then attach: a gateway cut short between them is attached by
    // the next run, not replaced.
    set_after_create: &["vpc_id"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for InternetGateway {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, cx, t))
            .send()
            .await
            .aws("CreateInternetGateway")?;
        let id = returned(
            "CreateInternetGateway",
            out.internet_gateway().and_then(|g| g.internet_gateway_id()),
        )?;
        attach(cx, &id, str_prop(t.props, "vpc_id")?).await?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let gateways = cx
            .all("DescribeInternetGateways", || {
                let call = cx.clients.ec2.describe_internet_gateways();
                let call = call.filters(env_filter(scope.owner)).max_results(1000);
                call.into_paginator().items().send()
            })
            .await?;
        Ok(gateways
            .into_iter()
            .filter_map(|g| {
                let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
                let props = json!({ "vpc_id": vpc.unwrap_or_default() });
                found(g.internet_gateway_id(), g.tags(), scope.owner, props)
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
        // Only an unattached gateway's VPC changes in place (see `set_after_create`).
        if changed.iter().any(|c| c == "vpc_id") {
            attach(cx, &live.id, str_prop(t.props, "vpc_id")?).await?;
        }
        update_tags(cx, live, t).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        if let Some(vpc) = live
            .props
            .get("vpc_id")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
        {
            delete_call(cx, address, "DetachInternetGateway", || {
                cx.clients
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(&live.id)
                    .vpc_id(vpc)
                    .send()
            })
            .await
            .or_else(|e| {
                if e.code.starts_with("Gateway.NotAttached") {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        delete_call(cx, address, "DeleteInternetGateway", || {
            cx.clients
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(&live.id)
                .send()
        })
        .await
    }
}

async fn attach(cx: &Cx, id: &str, vpc: &str) -> Result<(), AwsError> {
    cx.call("AttachInternetGateway", || {
        cx.clients
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
    })
    .await?;
    Ok(())
}
