use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use serde_json::json;

use super::ec2_tags::{delete, env_filter, found, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Outputs;
use crate::model::{KindInfo, Tagging, Tier};

pub struct ElasticIp;

fn outputs(id: &str, ip: &str) -> Outputs {
    [
        ("id".to_string(), id.to_string()),
        ("public_ip".to_string(), ip.to_string()),
    ]
    .into()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "ElasticIp",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    outputs: &["id", "public_ip"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for ElasticIp {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let out = cx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(ResourceType::ElasticIp, cx, t))
            .send()
            .await
            .aws("AllocateAddress")?;
        let id = out
            .allocation_id()
            .ok_or_else(|| AwsError::local("AllocateAddress", "no allocation id"))?;
        Ok(t.made_with(
            id.to_string(),
            outputs(id, out.public_ip().unwrap_or_default()),
        ))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        // DescribeAddresses is not paginated: one call returns every address.
        let out = cx
            .call("DescribeAddresses", || {
                cx.clients
                    .ec2
                    .describe_addresses()
                    .filters(env_filter(scope.owner))
                    .send()
            })
            .await?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| {
                let mut live = found(a.allocation_id(), a.tags(), scope.owner, json!({}))?;
                live.outputs = outputs(&live.id, a.public_ip().unwrap_or_default());
                Some(live)
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
        delete(cx, live, "ReleaseAddress", || {
            cx.clients
                .ec2
                .release_address()
                .allocation_id(&live.id)
                .send()
        })
        .await
    }
}
