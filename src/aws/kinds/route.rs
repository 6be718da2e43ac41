//! A route in a route table. Routes carry no tags: a route is identified by
//! its table and destination, and read from the env's tagged tables.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::ec2_tags::delete_call;
use super::route_table::describe_tables;
use super::{Kind, Live, ReadScope, Target, id_outputs, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct Route;

fn key(table: &str, destination: &str) -> String {
    format!("{table}_{destination}")
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "Route",
    tier: Tier::Network,
    replace_fields: &["route_table_id", "destination_cidr"],
    natural_key: NaturalKey::Fields(&["route_table_id", "destination_cidr"]),
    tagging: Tagging::None,
    // Resent safely: one route per table and destination.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for Route {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let table = str_prop(t.props, "route_table_id")?;
        let destination = str_prop(t.props, "destination_cidr")?;
        cx.clients
            .ec2
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(destination)
            .set_gateway_id(opt_str(t.props, "gateway_id").map(String::from))
            .set_nat_gateway_id(opt_str(t.props, "nat_gateway_id").map(String::from))
            .send()
            .await
            .aws("CreateRoute")?;
        let id = key(table, destination);
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for rt in describe_tables(cx, scope.owner).await?.iter() {
            let Some(table) = rt.route_table_id() else {
                continue;
            };
            for r in rt.routes() {
                let Some(destination) = r.destination_cidr_block() else {
                    continue;
                };
                if r.gateway_id() == Some("local") {
                    continue;
                }
                let mut props = json!({ "route_table_id": table, "destination_cidr": destination });
                if let Some(g) = r.gateway_id() {
                    props["gateway_id"] = Value::String(g.to_string());
                }
                if let Some(n) = r.nat_gateway_id() {
                    props["nat_gateway_id"] = Value::String(n.to_string());
                }
                let id = key(table, destination);
                out.push(Live::found(id.clone(), None, props, id_outputs(&id)));
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        cx.retry(|| async {
            cx.clients
                .ec2
                .replace_route()
                .route_table_id(str_prop(t.props, "route_table_id")?)
                .destination_cidr_block(str_prop(t.props, "destination_cidr")?)
                .set_gateway_id(opt_str(t.props, "gateway_id").map(String::from))
                .set_nat_gateway_id(opt_str(t.props, "nat_gateway_id").map(String::from))
                .send()
                .await
                .aws("ReplaceRoute")
        })
        .await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let table = str_prop(&live.props, "route_table_id")?;
        let destination = str_prop(&live.props, "destination_cidr")?;
        delete_call(cx, &live.id, "DeleteRoute", || {
            cx.clients
                .ec2
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(destination)
                .send()
        })
        .await
    }
}
