use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{delete_call, env_filter, read_tags, sync, tag_spec};
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Tier};

pub struct InternetGateway;

const INFO: KindInfo = KindInfo {
    name: "InternetGateway",
    tier: Tier::Network,
    replace_fields: &["vpc_id"],
    // Create, then attach: a gateway cut short between them is attached by
    // the next run, not replaced.
    set_after_create: &["vpc_id"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for InternetGateway {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, cx, t))
            .send()
            .await
            .aws("CreateInternetGateway")?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| AwsError::local("CreateInternetGateway", "no id returned"))?
            .to_string();
        attach(cx, &id, str_prop(t.props, "vpc_id")?).await?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let gateways = cx
            .all("DescribeInternetGateways", || {
                cx.clients
                    .ec2
                    .describe_internet_gateways()
                    .filters(env_filter(scope.owner))
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(gateways
            .into_iter()
            .filter_map(|g| {
                let id = g.internet_gateway_id()?.to_string();
                let (address, tags) = read_tags(g.tags(), scope.owner)?;
                let vpc = g
                    .attachments()
                    .iter()
                    .find_map(|a| a.vpc_id())
                    .unwrap_or_default();
                let props = json!({ "vpc_id": vpc, "tags": tags });
                Some(Live::found(id.clone(), address, props, id_outputs(&id)))
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
        sync(cx, &live.id, &live.props, t.props).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        if let Some(vpc) = live
            .props
            .get("vpc_id")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
        {
            delete_call(cx, address, || async {
                cx.clients
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(&live.id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .aws("DetachInternetGateway")
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
        delete_call(cx, address, || async {
            cx.clients
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(&live.id)
                .send()
                .await
                .aws("DeleteInternetGateway")
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
