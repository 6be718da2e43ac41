//! A queue's access policy (the `Policy` attribute), keyed by queue URL.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;

use super::sqs_queue::queue_attributes;
use super::{Kind, Live, ReadScope, Target, id_outputs, json_text, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct SqsQueuePolicy;

async fn set(cx: &Cx, url: &str, policy: &str) -> Result<(), AwsError> {
    let attrs: HashMap<QueueAttributeName, String> =
        [(QueueAttributeName::Policy, policy.to_string())].into();
    cx.call("SetQueueAttributes", || {
        cx.clients
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attrs.clone()))
            .send()
    })
    .await?;
    Ok(())
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "SqsQueuePolicy",
    tier: Tier::Cluster,
    replace_fields: &["queue_url"],
    natural_key: NaturalKey::Fields(&["queue_url"]),
    tagging: Tagging::None,
    // Resent safely: SetQueueAttributes is an upsert.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for SqsQueuePolicy {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let url = str_prop(t.props, "queue_url")?;
        set(cx, url, &json_text(t.props, "policy")?).await?;
        Ok(t.made_with(url.to_string(), id_outputs(url)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (url, _, attrs) in queue_attributes(cx, scope.owner).await?.iter() {
            let Some(policy) = attrs
                .get(&QueueAttributeName::Policy)
                .filter(|p| !p.is_empty())
            else {
                continue;
            };
            let policy: serde_json::Value = serde_json::from_str(policy).unwrap_or(json!(policy));
            let props = json!({ "queue_url": url, "policy": policy });
            out.push(Live::found(url.clone(), None, props, id_outputs(url)));
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
        set(cx, &live.id, &json_text(t.props, "policy")?).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        set(cx, &live.id, "").await.gone_is_done()
    }
}
