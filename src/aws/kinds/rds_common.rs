//! Tags for RDS create calls and reads (RDS returns `TagList` on describes).

use aws_sdk_rds::types::Tag;
use serde_json::Value;

use crate::aws::Cx;
use crate::aws::GoneIsDone;
use crate::model::{Owner, Props, TAG_ADDRESS, TAG_ENV, TAG_PROJECT, is_foreign_tag, readable};

pub fn create_tags(cx: &Cx, address: &str, props: &Props) -> Vec<Tag> {
    let mut tags: Vec<Tag> = props
        .get("tags")
        .and_then(|t| t.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v.as_str().unwrap_or_default())
                .build()
        })
        .collect();
    tags.retain(|t| t.key() != Some(TAG_PROJECT));
    tags.push(Tag::builder().key(TAG_ENV).value(&cx.env).build());
    tags.push(Tag::builder().key(TAG_PROJECT).value(&cx.project).build());
    tags.push(Tag::builder().key(TAG_ADDRESS).value(address).build());
    tags
}

/// `(address, comparable tags)` when the tags say this env.
pub fn read_tags(tags: &[Tag], owner: Owner<'_>) -> Option<(Option<String>, Value)> {
    let ours = readable(
        tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
        owner,
    );
    let mut address = None;
    let mut out = serde_json::Map::new();
    for t in tags {
        let (Some(k), Some(v)) = (t.key(), t.value()) else {
            continue;
        };
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
    let out = cx
        .call("ListTagsForResource", || {
            cx.clients
                .rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
        })
        .await?;
    Ok(out.tag_list().to_vec())
}

/// Brings an RDS resource's tags to the plan's: every desired tag (identity
/// tags included) is re-sent, tags the plan dropped are removed.
pub async fn update_tags(
    cx: &Cx,
    arn: &str,
    address: &str,
    old: &Props,
    new: &Props,
) -> Result<(), crate::aws::AwsError> {
    let tags = create_tags(cx, address, new);
    cx.call("AddTagsToResource", || {
        cx.clients
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags.clone()))
            .send()
    })
    .await?;
    let (_, removed) = super::tagged::tag_delta(old, new);
    if !removed.is_empty() {
        cx.call("RemoveTagsFromResource", || {
            cx.clients
                .rds
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(removed.clone()))
                .send()
        })
        .await?;
    }
    Ok(())
}

/// One DB instance by identifier; `None` once it is gone.
pub async fn describe_instance(
    cx: &Cx,
    id: &str,
) -> Result<Option<aws_sdk_rds::types::DbInstance>, crate::aws::AwsError> {
    use crate::aws::ErrorClass;
    match cx
        .call("DescribeDBInstances", || {
            cx.clients
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
        })
        .await
    {
        Ok(o) => Ok(o.db_instances().first().cloned()),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits until a DB instance is available and returns it through `to_live`;
/// a status RDS cannot recover from fails at once.
pub async fn wait_instance_available(
    cx: &Cx,
    address: &str,
    id: &str,
    to_live: fn(&aws_sdk_rds::types::DbInstance, crate::model::Owner<'_>) -> Option<super::Live>,
) -> Result<super::Live, crate::aws::AwsError> {
    cx.wait_for(
        address,
        "DB instance to become available",
        cx.timeouts.database,
        || async {
            let Some(db) = describe_instance(cx, id).await? else {
                return Ok(None);
            };
            match db.db_instance_status() {
                Some("available") => Ok(to_live(&db, cx.owner())),
                Some(s @ ("failed" | "incompatible-parameters" | "incompatible-network")) => {
                    Err(crate::aws::AwsError::local(
                        "CreateDBInstance",
                        format!("DB instance {id} is {s}"),
                    ))
                }
                _ => Ok(None),
            }
        },
    )
    .await
}

/// The final snapshot's identifier when the plan asks for one
/// (`final_snapshot`, write-only, taken from the plan file at destroy).
pub fn final_snapshot_id(live: &super::Live) -> Option<String> {
    let wanted = live
        .props
        .get("_final_snapshot")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    wanted.then(|| format!("{}-final-{}", live.id, crate::model::now()))
}

/// After a delete call: a resource already gone is done; then waits until
/// `gone` says so.
pub async fn finish_delete<G, Fut>(
    cx: &Cx,
    live: &super::Live,
    what: &str,
    sent: Result<(), crate::aws::AwsError>,
    gone: G,
) -> Result<(), crate::aws::AwsError>
where
    G: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<()>, crate::aws::AwsError>>,
{
    sent.gone_is_done()?;
    let address = live.address.as_deref().unwrap_or(&live.id);
    cx.wait_for(address, what, cx.timeouts.database, gone).await
}
