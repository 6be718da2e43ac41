use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{delete_call, env_filter, read_tags, sync, tag_spec};
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tier};

pub struct RouteTable;

/// Every route table of the env: routes and associations read from it too.
pub async fn describe_tables(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<std::sync::Arc<Vec<aws_sdk_ec2::types::RouteTable>>, AwsError> {
    cx.shared("ec2:route_tables", || async {
        let tables = cx
            .all("DescribeRouteTables", || {
                cx.clients
                    .ec2
                    .describe_route_tables()
                    .filters(env_filter(owner))
                    .max_results(100)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(tables
            .into_iter()
            .filter(|t| read_tags(t.tags(), owner).is_some())
            .collect::<Vec<_>>())
    })
    .await
}

const INFO: KindInfo = KindInfo {
    name: "RouteTable",
    tier: Tier::Network,
    replace_fields: &["vpc_id"],
    // Resent safely: ClientToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RouteTable {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .create_route_table()
            .vpc_id(str_prop(t.props, "vpc_id")?)
            // A resend after a lost answer returns the same table.
            .client_token(t.token)
            .tag_specifications(tag_spec(ResourceType::RouteTable, cx, t))
            .send()
            .await
            .aws("CreateRouteTable")?;
        let id = out
            .route_table()
            .and_then(|r| r.route_table_id())
            .ok_or_else(|| AwsError::local("CreateRouteTable", "no id returned"))?
            .to_string();
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(describe_tables(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|rt| {
                let id = rt.route_table_id()?.to_string();
                let (address, tags) = read_tags(rt.tags(), scope.owner)?;
                let props = json!({ "vpc_id": rt.vpc_id().unwrap_or_default(), "tags": tags });
                Some(Live::found(id.clone(), address, props, id_outputs(&id)))
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
        sync(cx, &live.id, &live.props, t.props).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        delete_call(cx, address, || async {
            cx.clients
                .ec2
                .delete_route_table()
                .route_table_id(&live.id)
                .send()
                .await
                .aws("DeleteRouteTable")
        })
        .await
    }
}
