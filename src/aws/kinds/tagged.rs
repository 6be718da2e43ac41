//! Discovery for kinds whose list APIs cannot filter by tag (SQS,
//! EventBridge, KMS): list, then read each resource's tags.

use std::collections::HashMap;
use std::future::Future;

use serde_json::Value;

use crate::aws::{AwsError, Cx, OrMissing};
use crate::model::{Owner, TAG_ADDRESS, TAG_ENV, TAG_PROJECT, is_foreign_tag, readable};

pub struct Tagged {
    pub arn: String,
    pub tags: HashMap<String, String>,
    /// SQS only: the queue URL.
    pub url: Option<String>,
    /// EventBridge only: the rule's pattern and description, as listed.
    pub pattern: Option<String>,
    pub description: Option<String>,
    /// EventBridge only: `ENABLED` or `DISABLED`, as listed.
    pub state: Option<String>,
}

impl Tagged {
    pub fn address(&self) -> Option<String> {
        self.tags.get(TAG_ADDRESS).cloned()
    }

    pub fn comparable_tags(&self) -> Value {
        Value::Object(
            self.tags
                .iter()
                .filter(|(k, _)| !is_foreign_tag(k))
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// Every resource of `resource_type` (`sqs`, `events:rule`, `kms:key`)
/// tagged with the env. The services list in one paginated call; tags need
/// one call per resource (the Resource Groups Tagging API would do it in one,
/// but the emulator serves it for EC2 only, so infra does not depend on it).
pub async fn tagged(
    cx: &Cx,
    owner: Owner<'_>,
    resource_type: &str,
) -> Result<std::sync::Arc<Vec<Tagged>>, AwsError> {
    let key = match resource_type {
        "sqs" => "tagged:sqs",
        "events:rule" => "tagged:events:rule",
        _ => "tagged:kms:key",
    };
    cx.shared(key, || discover(cx, owner, resource_type)).await
}

async fn discover(cx: &Cx, owner: Owner<'_>, resource_type: &str) -> Result<Vec<Tagged>, AwsError> {
    let mut out = Vec::new();
    match resource_type {
        "sqs" => {
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
        }
        "events:rule" => {
            let mut token: Option<String> = None;
            loop {
                let page = cx
                    .call("ListRules", || {
                        cx.clients
                            .events
                            .list_rules()
                            .limit(100)
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await?;
                for rule in page.rules() {
                    let Some(arn) = rule.arn() else { continue };
                    // Listed, then gone before its tags were read (another run deleting it).
                    let Some(tags) = cx
                        .call("ListTagsForResource", || {
                            cx.clients
                                .events
                                .list_tags_for_resource()
                                .resource_arn(arn)
                                .send()
                        })
                        .await
                        .or_missing()?
                    else {
                        continue;
                    };
                    let tags = tags
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect();
                    out.push(Tagged {
                        arn: arn.to_string(),
                        tags,
                        url: None,
                        pattern: rule.event_pattern().map(String::from),
                        state: rule.state().map(|s| s.as_str().to_string()),
                        description: rule.description().map(String::from),
                    });
                }
                match page.next_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
        }
        "kms:key" => {
            let keys = cx
                .all("ListKeys", || {
                    cx.clients
                        .kms
                        .list_keys()
                        .limit(1000)
                        .into_paginator()
                        .items()
                        .send()
                })
                .await?;
            for key in keys {
                let (Some(id), Some(arn)) = (key.key_id(), key.key_arn()) else {
                    continue;
                };
                // AWS managed keys refuse tag reads: they are not ours anyway.
                let Ok(tags) = cx
                    .call("ListResourceTags", || {
                        cx.clients.kms.list_resource_tags().key_id(id).send()
                    })
                    .await
                else {
                    continue;
                };
                let tags = tags
                    .tags()
                    .iter()
                    .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
                    .collect();
                out.push(Tagged {
                    arn: arn.to_string(),
                    tags,
                    url: None,
                    pattern: None,
                    description: None,
                    state: None,
                });
            }
        }
        other => {
            return Err(AwsError::local(
                "tagged",
                format!("no tag discovery for {other}"),
            ));
        }
    }
    out.retain(|t: &Tagged| readable(t.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), owner));
    Ok(out)
}

/// The plan's tags plus the identity tags, as a map.
pub fn create_tags(cx: &Cx, address: &str, props: &crate::model::Props) -> HashMap<String, String> {
    let mut tags: HashMap<String, String> = props
        .get("tags")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    tags.insert(TAG_ENV.into(), cx.env.clone());
    tags.insert(TAG_PROJECT.into(), cx.project.clone());
    tags.insert(TAG_ADDRESS.into(), address.to_string());
    tags
}

/// A change of tags: the tags to set, and the keys to remove.
pub type TagDelta = (HashMap<String, String>, Vec<String>);

/// (set, remove) between two props' managed tags.
pub fn tag_delta(old: &crate::model::Props, new: &crate::model::Props) -> TagDelta {
    let map = |p: &crate::model::Props| {
        p.get("tags")
            .and_then(|t| t.as_object())
            .cloned()
            .unwrap_or_default()
    };
    let (old, new) = (map(old), map(new));
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// Whether an update changes nothing but tags (a tag call, no rewrite).
pub fn only_tags(changed: &[String]) -> bool {
    changed.iter().all(|c| c == "tags")
}

/// Applies `delta` through a service's two tag calls: `tag` with the tags to
/// set, then `untag` with the keys to remove, each only when there are any.
pub async fn apply_delta<A, B, X, Y>(
    (set, remove): TagDelta,
    tag: impl FnOnce(HashMap<String, String>) -> A,
    untag: impl FnOnce(Vec<String>) -> B,
) -> Result<(), AwsError>
where
    A: Future<Output = Result<X, AwsError>>,
    B: Future<Output = Result<Y, AwsError>>,
{
    if !set.is_empty() {
        tag(set).await?;
    }
    if !remove.is_empty() {
        untag(remove).await?;
    }
    Ok(())
}

/// Every env queue's attributes, read once per refresh for the queue and
/// its policy: (queue, attributes).
pub async fn queue_attributes(
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
        for q in tagged(cx, owner, "sqs").await?.iter() {
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
