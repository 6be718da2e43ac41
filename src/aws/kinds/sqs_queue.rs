//! An SQS queue (Karpenter's interruption queue): SSE and retention in place.
//! Its access policy is a separate `SqsQueuePolicy`, because the policy names
//! the queue's own ARN.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;

use super::tagged::{TagDelta, Tagged, apply_delta, create_tags, listed, only_tags, tag_delta};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, OrMissing, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Outputs, Owner, Props};

pub struct SqsQueue;

fn attributes(props: &Props) -> HashMap<QueueAttributeName, String> {
    let mut a = HashMap::new();
    let sse = props.get("sse").and_then(|v| v.as_bool()).unwrap_or(true);
    a.insert(QueueAttributeName::SqsManagedSseEnabled, sse.to_string());
    if let Some(r) = props
        .get("message_retention_seconds")
        .and_then(|v| v.as_i64())
    {
        a.insert(QueueAttributeName::MessageRetentionPeriod, r.to_string());
    }
    a
}

/// `account`: for policies that name it (`aws:SourceAccount`).
fn outputs(url: &str, arn: &str, name: &str) -> Outputs {
    let account = crate::model::account_of_arn(arn);
    super::outputs([
        ("id", url),
        ("url", url),
        ("arn", arn),
        ("name", name),
        ("account", &account),
    ])
}

/// Sets and removes tags on a queue, by URL: its update and the takeover's
/// identity tags.
pub async fn apply_tags(cx: &Cx, url: &str, delta: TagDelta) -> Result<(), AwsError> {
    let sqs = &cx.clients.sqs;
    apply_delta(
        delta,
        |set| async move {
            cx.call("TagQueue", || {
                sqs.tag_queue()
                    .queue_url(url)
                    .set_tags(Some(set.clone()))
                    .send()
            })
            .await
        },
        |keys| async move {
            cx.call("UntagQueue", || {
                sqs.untag_queue()
                    .queue_url(url)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
            })
            .await
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "SqsQueue",
    tier: Tier::Cluster,
    tagging: Tagging::Sqs,
    outputs: &["id", "url", "arn", "name", "account"],
    replace_fields: &["name"],
    // Resent safely: the queue name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for SqsQueue {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let out = cx
            .clients
            .sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes(t.props)))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateQueue")?;
        let url = out.queue_url().unwrap_or_default().to_string();
        let attrs = cx
            .call("GetQueueAttributes", || {
                cx.clients
                    .sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
            })
            .await?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        Ok(t.made_with(url.clone(), outputs(&url, &arn, name)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let queues = queues(cx, scope.owner).await?;
        let mut out = Vec::new();
        for (url, arn, a) in queue_attributes(cx, scope.owner).await?.iter() {
            let Some(q) = queues
                .iter()
                .find(|q| q.url.as_deref() == Some(url.as_str()))
            else {
                continue;
            };
            let name = arn.rsplit(':').next().unwrap_or_default().to_string();
            let mut props = json!({
                "name": name,
                "sse": a.get(&QueueAttributeName::SqsManagedSseEnabled).map(|v| v == "true").unwrap_or(false),
                "tags": q.comparable_tags(),
            });
            if let Some(r) = a
                .get(&QueueAttributeName::MessageRetentionPeriod)
                .and_then(|v| v.parse::<i64>().ok())
            {
                props["message_retention_seconds"] = json!(r);
            }
            out.push(Live::found(
                url.clone(),
                q.address(),
                props,
                outputs(url, arn, &name),
            ));
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
        if !only_tags(changed) {
            cx.call("SetQueueAttributes", || {
                cx.clients
                    .sqs
                    .set_queue_attributes()
                    .queue_url(&live.id)
                    .set_attributes(Some(attributes(t.props)))
                    .send()
            })
            .await?;
        }
        apply_tags(cx, &live.id, tag_delta(&live.props, t.props)).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.call("DeleteQueue", || {
            cx.clients.sqs.delete_queue().queue_url(&live.id).send()
        })
        .await
        .gone_is_done()
    }
}

/// The env's queues, with their tags: every queue listed, then its tags.
pub(super) async fn queues(
    cx: &Cx,
    owner: Owner<'_>,
) -> Result<std::sync::Arc<Vec<Tagged>>, AwsError> {
    listed(cx, owner, "tagged:sqs", || async {
        let mut out = Vec::new();
        let urls = cx
            .all("ListQueues", || {
                cx.clients
                    .sqs
                    .list_queues()
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        for url in urls {
            let Some(listed) = cx
                .call("ListQueueTags", || {
                    cx.clients.sqs.list_queue_tags().queue_url(&url).send()
                })
                .await
                .or_missing()?
            else {
                continue;
            };
            let tags = listed.tags().cloned().unwrap_or_default();
            let name = url.rsplit('/').next().unwrap_or_default();
            let account = url.rsplit('/').nth(1).unwrap_or_default();
            let region = cx
                .clients
                .sqs
                .config()
                .region()
                .map(|r| r.to_string())
                .unwrap_or_default();
            out.push(Tagged {
                arn: format!("arn:aws:sqs:{region}:{account}:{name}"),
                tags,
                url: Some(url.clone()),
                pattern: None,
                description: None,
                state: None,
            });
        }
        Ok(out)
    })
    .await
}

/// Every env queue's attributes, read once per refresh for the queue and
/// its policy: (queue, attributes).
pub(super) async fn queue_attributes(
    cx: &Cx,
    owner: Owner<'_>,
) -> Result<
    std::sync::Arc<
        Vec<(
            String,
            String,
            HashMap<aws_sdk_sqs::types::QueueAttributeName, String>,
        )>,
    >,
    AwsError,
> {
    cx.shared("sqs:attributes", || async {
        let mut out = Vec::new();
        for q in queues(cx, owner).await?.iter() {
            let Some(url) = &q.url else { continue };
            // SQS has no batch read of attributes: one call per queue.
            let Some(got) = cx
                .call("GetQueueAttributes", || {
                    cx.clients
                        .sqs
                        .get_queue_attributes()
                        .queue_url(url)
                        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                        .send()
                })
                .await
                .or_missing()?
            else {
                continue;
            };
            let attrs = got.attributes().cloned().unwrap_or_default();
            out.push((url.clone(), q.arn.clone(), attrs));
        }
        Ok(out)
    })
    .await
}
