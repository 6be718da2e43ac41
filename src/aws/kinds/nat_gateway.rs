use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, NatGatewayState, ResourceType};
use serde_json::json;

use super::ec2_tags::{delete, env_filter, found, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, returned, str_prop};
use crate::aws::{AwsError, Cx, OrMissing, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct NatGateway;

impl NatGateway {
    async fn state(&self, cx: &Cx, id: &str) -> Result<Option<NatGatewayState>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
            .aws("DescribeNatGateways");
        Ok(out
            .or_missing()?
            .and_then(|o| o.nat_gateways().first().and_then(|g| g.state().cloned())))
    }
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "NatGateway",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["subnet_id", "allocation_id"],
    // Resent safely: ClientToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for NatGateway {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_nat_gateway()
            .subnet_id(str_prop(t.props, "subnet_id")?)
            .allocation_id(str_prop(t.props, "allocation_id")?)
            .client_token(t.token)
            .tag_specifications(tag_spec(ResourceType::Natgateway, cx, t))
            .send()
            .await
            .aws("CreateNatGateway")?;
        let id = returned(
            "CreateNatGateway",
            out.nat_gateway().and_then(|g| g.nat_gateway_id()),
        )?;
        cx.wait_for(
            t.address,
            "NAT gateway to become available",
            cx.timeouts.nat,
            || async {
                match self.state(cx, &id).await? {
                    Some(NatGatewayState::Available) => Ok(Some(())),
                    Some(NatGatewayState::Failed) => Err(AwsError::local(
                        "CreateNatGateway",
                        format!("NAT gateway {id} failed; check its subnet and EIP"),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let live_states = Filter::builder()
            .name("state")
            .values("pending")
            .values("available")
            .build();
        let gateways = cx
            .all("DescribeNatGateways", || {
                let call = cx.clients.ec2.describe_nat_gateways();
                let call = call
                    .filter(env_filter(scope.owner))
                    .filter(live_states.clone());
                call.max_results(1000).into_paginator().items().send()
            })
            .await?;
        Ok(gateways
            .into_iter()
            .filter_map(|g| {
                let addresses = g.nat_gateway_addresses().iter();
                let allocation = addresses.clone().find_map(|a| a.allocation_id());
                let props = json!({
                    "subnet_id": g.subnet_id().unwrap_or_default(),
                    "allocation_id": allocation.unwrap_or_default(),
                });
                found(g.nat_gateway_id(), g.tags(), scope.owner, props)
            })
            .collect())
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
        delete(cx, live, "DeleteNatGateway", || {
            cx.clients
                .ec2
                .delete_nat_gateway()
                .nat_gateway_id(&live.id)
                .send()
        })
        .await?;
        // Its EIP and subnet stay busy until the gateway is gone.
        let address = live.address.as_deref().unwrap_or(&live.id);
        cx.wait_for(
            address,
            "NAT gateway to be deleted",
            cx.timeouts.nat,
            || async {
                Ok(match self.state(cx, &live.id).await? {
                    None | Some(NatGatewayState::Deleted) => Some(()),
                    _ => None,
                })
            },
        )
        .await
    }
}
