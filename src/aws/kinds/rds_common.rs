//! What the RDS kinds share: tags for create calls and reads (RDS returns
//! `TagList` on describes) and the named groups' reads, updates and
//! deletes (subnet groups and the two kinds of parameter groups). Instances
//! and clusters share more in `rds_database`; the parameter groups one
//! `Kind` in `rds_parameter_group`.

use std::collections::HashMap;

use aws_sdk_rds::types::Tag;
use serde_json::Value;

use super::{Live, Target, id_outputs};
use crate::aws::{AwsError, Cx};
use crate::model::{Outputs, Owner, Props, claimed_elsewhere, split_tags};

use super::rds_database::{Changes, retag};
use super::tagged::{TagDelta, apply_delta};
/// The plan's tags plus the identity tags, for RDS create calls.
pub fn create_tags(cx: &Cx, address: &str, props: &Props) -> Vec<Tag> {
    rds_tags(super::tagged::create_tags(cx, address, props))
}

fn rds_tags(map: HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// `(address, comparable tags)` when the tags say this env.
pub fn read_tags(tags: &[Tag], owner: Owner<'_>) -> Option<(Option<String>, Value)> {
    split_tags(
        tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
        owner,
    )
}

/// Tags of one RDS resource by ARN (group describes carry none).
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<Vec<Tag>, AwsError> {
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
) -> Result<(), AwsError> {
    let (_, removed) = super::tagged::tag_delta(old, new);
    let wanted = super::tagged::create_tags(cx, address, new);
    apply_tags(cx, arn, (wanted, removed)).await
}

/// Sets and removes tags on an RDS resource, by ARN: its update and the
/// takeover's identity tags.
pub async fn apply_tags(cx: &Cx, arn: &str, delta: TagDelta) -> Result<(), AwsError> {
    let rds = &cx.clients.rds;
    apply_delta(
        delta,
        |set| async move {
            let tags = Some(rds_tags(set));
            let call = || rds.add_tags_to_resource().resource_name(arn);
            cx.call("AddTagsToResource", || call().set_tags(tags.clone()).send())
                .await
        },
        |keys| async move {
            let keys = Some(keys);
            let call = || rds.remove_tags_from_resource().resource_name(arn);
            cx.call("RemoveTagsFromResource", || {
                call().set_tag_keys(keys.clone()).send()
            })
            .await
        },
    )
    .await
}

/// Whom a named group's tags say it belongs to.
pub enum Claim {
    /// This env's: its comparable tags.
    Ours(Value),
    /// No infra tags of this env: made outside infra (by hand, by
    /// Terraform), or before infra tagged.
    Unclaimed,
    /// Another infra project's or env's (`project/env`): never taken over by
    /// its name.
    Elsewhere(String),
}

/// What a named group's tags (read by its ARN: group describes carry none)
/// say about whose it is.
pub async fn group_claim(cx: &Cx, arn: &str, owner: Owner<'_>) -> Result<Claim, AwsError> {
    let tags = tags_of(cx, arn).await?;
    let pairs = tags.iter().filter_map(|t| Some((t.key()?, t.value()?)));
    if let Some(other) = claimed_elsewhere(pairs, owner) {
        return Ok(Claim::Elsewhere(other));
    }
    Ok(match read_tags(&tags, owner) {
        Some((_, tags)) => Claim::Ours(tags),
        None => Claim::Unclaimed,
    })
}

/// The tags of a named group when they say this env.
pub async fn group_tags(cx: &Cx, arn: &str, owner: Owner<'_>) -> Result<Option<Value>, AwsError> {
    Ok(match group_claim(cx, arn, owner).await? {
        Claim::Ours(tags) => Some(tags),
        Claim::Unclaimed | Claim::Elsewhere(_) => None,
    })
}

/// A create that failed because the name is taken: says so plainly when the
/// group there is another infra project's or env's.
pub fn taken_by(e: AwsError, what: &str, name: &str, other: &str) -> AwsError {
    AwsError {
        message: format!(
            "{what} {name} already exists and is tagged for {other} (project/env): infra never takes over another project's or env's resource by its name; give this plan's project or env another name, or remove that {what}"
        ),
        ..e
    }
}

/// The `id` and `name` outputs of a group known by its name.
pub fn name_outputs(name: &str) -> Outputs {
    let mut outputs = id_outputs(name);
    outputs.insert("name".into(), name.into());
    outputs
}

/// A named group's update: `modify` when more than the tags changed, then
/// the tags (`arn` awaited only then); the group takes the plan's props.
pub async fn update_group<M, T, A>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changed: &[String],
    modify: M,
    arn: A,
) -> Result<Live, AwsError>
where
    M: std::future::Future<Output = Result<T, AwsError>>,
    A: std::future::Future<Output = Result<String, AwsError>>,
{
    let changes = Changes::new(changed, t.props);
    if changes.beyond_tags() {
        modify.await?;
    }
    retag(cx, live, t, &changes, arn).await?;
    Ok(live.with_props(t.props.clone()))
}
