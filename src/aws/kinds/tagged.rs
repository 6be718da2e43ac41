//! What the kinds share about tags: the identity tags a create puts on, the
//! delta an update sends through a service's two tag calls, and the listing
//! of the services whose list APIs cannot filter by tag (SQS, EventBridge,
//! KMS).

use std::collections::HashMap;
use std::future::Future;

use serde_json::Value;

use crate::aws::{AwsError, Cx};
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

/// Every resource a list call finds, with its tags, kept when the tags say
/// this env; listed once per refresh (cached under `key`) for the kind and
/// any kind that reads the same list. For services whose list APIs cannot
/// filter by tag (SQS, EventBridge, KMS): tags need one call per resource
/// (the Resource Groups Tagging API would do it in one, but the emulator
/// serves it for EC2 only, so infra does not depend on it).
pub async fn listed<F, Fut>(
    cx: &Cx,
    owner: Owner<'_>,
    key: &'static str,
    list: F,
) -> Result<std::sync::Arc<Vec<Tagged>>, AwsError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<Tagged>, AwsError>>,
{
    cx.shared(key, || async {
        let mut all = list().await?;
        all.retain(|t| readable(t.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), owner));
        Ok(all)
    })
    .await
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
