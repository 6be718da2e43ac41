use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{delete, env_filter, found, read_tags, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, returned, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct RouteTable;

/// Every route table of the env: routes and associations read from it too.
pub async fn describe_tables(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<std::sync::Arc<Vec<aws_sdk_ec2::types::RouteTable>>, AwsError> {
    cx.shared("ec2:route_tables", || async {
        let tables = cx
            .all("DescribeRouteTables", || {
                let call = cx.clients.ec2.describe_route_tables();
                let call = call.filters(env_filter(owner)).max_results(100);
                call.into_paginator().items().send()
            })
            .await?;
        Ok(tables
            .into_iter()
            .filter(|t| read_tags(t.tags(), owner).is_some())
            .collect::<Vec<_>>())
    })
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "RouteTable",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["vpc_id"],
    // Resent safely: ClientToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RouteTable {
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
        let id = returned(
            "CreateRouteTable",
            out.route_table().and_then(|r| r.route_table_id()),
        )?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(describe_tables(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|rt| {
                let props = json!({ "vpc_id": rt.vpc_id().unwrap_or_default() });
                found(rt.route_table_id(), rt.tags(), scope.owner, props)
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
        delete(cx, live, "DeleteRouteTable", || {
            cx.clients
                .ec2
                .delete_route_table()
                .route_table_id(&live.id)
                .send()
        })
        .await
    }
}
