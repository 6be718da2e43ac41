//! Tags for RDS create calls and reads (RDS returns `TagList` on describes).

use aws_sdk_rds::types::Tag;
use serde_json::Value;

use crate::aws::Cx;
use crate::model::{is_foreign_tag, Props, TAG_ADDRESS, TAG_ENV};

pub fn create_tags(cx: &Cx, address: &str, props: &Props) -> Vec<Tag> {
    let mut tags: Vec<Tag> = props
        .get("tags")
        .and_then(|t| t.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or_default()).build())
        .collect();
    tags.push(Tag::builder().key(TAG_ENV).value(&cx.env).build());
    tags.push(Tag::builder().key(TAG_ADDRESS).value(address).build());
    tags
}

/// `(address, comparable tags)` when the tags say this env.
pub fn read_tags(tags: &[Tag], env: &str) -> Option<(Option<String>, Value)> {
    let mut address = None;
    let mut ours = false;
    let mut out = serde_json::Map::new();
    for t in tags {
        let (Some(k), Some(v)) = (t.key(), t.value()) else { continue };
        if k == TAG_ENV {
            ours = v == env;
        }
        if k == TAG_ADDRESS {
            address = Some(v.to_string());
        }
        if !is_foreign_tag(k) {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    ours.then_some((address, Value::Object(out)))
}

/// Tags of one RDS resource by ARN (group describes carry none).
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<Vec<Tag>, crate::aws::AwsError> {
    use crate::aws::SdkResultExt;
    let out = cx.retry(|| async { cx.clients.rds.list_tags_for_resource().resource_name(arn).send().await.aws("ListTagsForResource") }).await?;
    Ok(out.tag_list().to_vec())
}

/// Brings an RDS resource's tags to the plan's: every desired tag (identity
/// tags included) is re-sent, tags the plan dropped are removed.
pub async fn update_tags(cx: &Cx, arn: &str, address: &str, old: &Props, new: &Props) -> Result<(), crate::aws::AwsError> {
    use crate::aws::SdkResultExt;
    let tags = create_tags(cx, address, new);
    cx.retry(|| async { cx.clients.rds.add_tags_to_resource().resource_name(arn).set_tags(Some(tags.clone())).send().await.aws("AddTagsToResource") })
        .await?;
    let (_, removed) = super::tagged::tag_delta(old, new);
    if !removed.is_empty() {
        cx.retry(|| async {
            cx.clients.rds.remove_tags_from_resource().resource_name(arn).set_tag_keys(Some(removed.clone())).send().await.aws("RemoveTagsFromResource")
        })
        .await?;
    }
    Ok(())
}
