//! A subnet's association with a route table. Untagged: identified by its
//! subnet (a subnet has at most one), read from the env's tagged tables.

use async_trait::async_trait;
use serde_json::json;

use super::ec2_tags::delete_call;
use super::route_table::describe_tables;
use super::{Kind, Live, ReadScope, Target, id_outputs, returned, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct RouteTableAssociation;

pub(super) const INFO: KindInfo = KindInfo {
    name: "RouteTableAssociation",
    tier: Tier::Network,
    replace_fields: &["subnet_id"],
    natural_key: NaturalKey::Fields(&["subnet_id"]),
    tagging: Tagging::None,
    // Resent safely: a subnet has one association.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for RouteTableAssociation {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .associate_route_table()
            .route_table_id(str_prop(t.props, "route_table_id")?)
            .subnet_id(str_prop(t.props, "subnet_id")?)
            .send()
            .await
            .aws("AssociateRouteTable")?;
        let id = returned("AssociateRouteTable", out.association_id())?;
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for rt in describe_tables(cx, scope.owner).await?.iter() {
            for a in rt.associations() {
                let (Some(id), Some(subnet)) = (a.route_table_association_id(), a.subnet_id())
                else {
                    continue;
                };
                if a.main() == Some(true) {
                    continue;
                }
                let props = json!({ "route_table_id": a.route_table_id().unwrap_or_default(), "subnet_id": subnet });
                out.push(Live::found(id.to_string(), None, props, id_outputs(id)));
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
        let out = cx
            .retry(|| async {
                cx.clients
                    .ec2
                    .replace_route_table_association()
                    .association_id(&live.id)
                    .route_table_id(str_prop(t.props, "route_table_id")?)
                    .send()
                    .await
                    .aws("ReplaceRouteTableAssociation")
            })
            .await?;
        let id = out.new_association_id().unwrap_or(&live.id).to_string();
        Ok(Live {
            outputs: id_outputs(&id),
            id,
            address: live.address.clone(),
            props: t.props.clone(),
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        delete_call(cx, &live.id, "DisassociateRouteTable", || {
            cx.clients
                .ec2
                .disassociate_route_table()
                .association_id(&live.id)
                .send()
        })
        .await
    }
}
