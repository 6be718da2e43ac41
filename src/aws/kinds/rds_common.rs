//! What the RDS kinds share: tags for create calls and reads (RDS returns
//! `TagList` on describes), reads of instances and clusters by identifier,
//! the modify of changed fields, and the tail of updates and deletes.

use aws_sdk_rds::types::{
    DbCluster, DbInstance, MasterUserSecret, Tag, VpcSecurityGroupMembership,
};
use serde_json::Value;

use super::{Live, ReadScope, Target, flag, int, opt_str, str_prop, strings};
use crate::aws::{AwsError, Cx, GoneIsDone, OrMissing};
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

/// What a DB instance or an Aurora cluster cannot change in place: a new
/// engine major version, encryption or subnet group is a new one.
pub const DATABASE_REPLACE_FIELDS: &[&str] = &[
    "identifier",
    "engine",
    "engine_major",
    "storage_encrypted",
    "kms_key_id",
    "db_subnet_group_name",
];

/// Every DB instance of the account as `to_live` reads it (it says which
/// are the kind's and ours).
pub async fn read_instances(
    cx: &Cx,
    scope: &ReadScope<'_>,
    to_live: fn(&DbInstance, Owner<'_>) -> Option<Live>,
) -> Result<Vec<Live>, AwsError> {
    let all = cx
        .all("DescribeDBInstances", || {
            cx.clients
                .rds
                .describe_db_instances()
                .max_records(100)
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    Ok(all
        .iter()
        .filter_map(|db| to_live(db, scope.owner))
        .collect())
}

/// One DB instance by identifier; `None` once it is gone.
pub async fn describe_instance(cx: &Cx, id: &str) -> Result<Option<DbInstance>, AwsError> {
    let found = cx
        .call("DescribeDBInstances", || {
            cx.clients
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
        })
        .await
        .or_missing()?;
    Ok(found.and_then(|o| o.db_instances().first().cloned()))
}

/// One DB instance by identifier as `to_live` reads it; `None` when it is
/// gone or not one of ours.
pub async fn read_instance(
    cx: &Cx,
    id: &str,
    to_live: fn(&DbInstance, Owner<'_>) -> Option<Live>,
) -> Result<Option<Live>, AwsError> {
    Ok(describe_instance(cx, id)
        .await?
        .and_then(|db| to_live(&db, cx.owner())))
}

/// One Aurora cluster by identifier; `None` once it is gone.
pub async fn describe_cluster(cx: &Cx, id: &str) -> Result<Option<DbCluster>, AwsError> {
    let found = cx
        .call("DescribeDBClusters", || {
            cx.clients
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
        })
        .await
        .or_missing()?;
    Ok(found.and_then(|o| o.db_clusters().first().cloned()))
}

/// Waits until a DB instance is available and returns it through `to_live`;
/// a status RDS cannot recover from fails at once.
pub async fn wait_instance_available(
    cx: &Cx,
    address: &str,
    id: &str,
    to_live: fn(&DbInstance, Owner<'_>) -> Option<Live>,
) -> Result<Live, AwsError> {
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
                Some(s @ ("failed" | "incompatible-parameters" | "incompatible-network")) => Err(
                    AwsError::local("CreateDBInstance", format!("DB instance {id} is {s}")),
                ),
                _ => Ok(None),
            }
        },
    )
    .await
}

/// The final snapshot's identifier when the plan asks for one
/// (`final_snapshot`, write-only, taken from the plan file at destroy).
pub fn final_snapshot_id(live: &Live) -> Option<String> {
    flag(&live.props, "_final_snapshot")
        .then(|| format!("{}-final-{}", live.id, crate::model::now()))
}

/// After a delete call: a resource already gone is done; then waits until
/// `gone` says so.
pub async fn finish_delete<T, G, Fut>(
    cx: &Cx,
    live: &Live,
    what: &str,
    sent: Result<T, AwsError>,
    gone: G,
) -> Result<(), AwsError>
where
    G: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<()>, AwsError>>,
{
    sent.gone_is_done()?;
    let address = live.address.as_deref().unwrap_or(&live.id);
    cx.wait_for(address, what, cx.timeouts.database, gone).await
}

/// `Some` once the DB instance `id` is gone: what its delete waits for.
pub async fn instance_gone(cx: &Cx, id: &str) -> Result<Option<()>, AwsError> {
    Ok(describe_instance(cx, id).await?.is_none().then_some(()))
}

/// `Some` once the Aurora cluster `id` is gone.
pub async fn cluster_gone(cx: &Cx, id: &str) -> Result<Option<()>, AwsError> {
    Ok(describe_cluster(cx, id).await?.is_none().then_some(()))
}

/// The VPC security group ids of an instance or a cluster, sorted (RDS
/// keeps no order).
pub fn security_group_ids(groups: &[VpcSecurityGroupMembership]) -> Vec<String> {
    let mut ids: Vec<String> = groups
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// The ARN of the Secrets Manager secret RDS keeps the master password in.
pub fn secret_arn(secret: Option<&MasterUserSecret>) -> &str {
    secret.and_then(|s| s.secret_arn()).unwrap_or_default()
}

/// Whether a modify applies now rather than in the maintenance window
/// (`apply_immediately` from the plan).
pub fn apply_immediately(props: &Props) -> bool {
    flag(props, "_apply_immediately")
}

/// The fields an update changes, with the plan's values for them: a modify's
/// `set_*` setters take `None` for a field that stays as it is.
pub struct Changes<'a> {
    changed: &'a [String],
    props: &'a Props,
}

impl<'a> Changes<'a> {
    pub fn new(changed: &'a [String], props: &'a Props) -> Self {
        Changes { changed, props }
    }

    pub fn has(&self, field: &str) -> bool {
        self.changed.iter().any(|c| c == field)
    }

    /// More than the tags changed: a modify call is due.
    pub fn beyond_tags(&self) -> bool {
        self.changed.iter().any(|c| c != "tags")
    }

    /// `value` of the plan's props when `field` changed.
    pub fn when<T>(&self, field: &str, value: impl FnOnce(&'a Props) -> T) -> Option<T> {
        self.has(field).then(|| value(self.props))
    }

    /// A required string property, when it changed.
    pub fn string(&self, field: &str) -> Result<Option<String>, AwsError> {
        self.when(field, |p| str_prop(p, field).map(String::from))
            .transpose()
    }

    /// An optional string property, when it changed and is set.
    pub fn opt_string(&self, field: &str) -> Option<String> {
        self.when(field, |p| opt_str(p, field).map(String::from))
            .flatten()
    }

    pub fn flag(&self, field: &str) -> Option<bool> {
        self.when(field, |p| flag(p, field))
    }

    /// A whole number, `default` when the plan has none, when it changed.
    pub fn int_or(&self, field: &str, default: i32) -> Option<i32> {
        self.when(field, |p| int(p, field).unwrap_or(default))
    }

    pub fn strings(&self, field: &str) -> Option<Vec<String>> {
        self.when(field, |p| strings(p, field))
    }
}

/// Brings the tags to the plan's when they changed; `arn` (only awaited
/// then) names the resource.
pub async fn retag<A>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changes: &Changes<'_>,
    arn: A,
) -> Result<(), AwsError>
where
    A: std::future::Future<Output = Result<String, AwsError>>,
{
    if changes.has("tags") {
        update_tags(cx, &arn.await?, t.address, &live.props, t.props).await?;
    }
    Ok(())
}

/// The `arn` output a create recorded.
pub async fn arn_output(live: &Live) -> Result<String, AwsError> {
    Ok(live.outputs.get("arn").cloned().unwrap_or_default())
}

/// An update's tail once the modify is done: the tags, then the resource
/// read anew (`read_again`; the old one when it cannot be) with the plan's
/// props.
pub async fn finish_update<R>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changes: &Changes<'_>,
    read_again: R,
) -> Result<Live, AwsError>
where
    R: std::future::Future<Output = Result<Option<Live>, AwsError>>,
{
    retag(cx, live, t, changes, arn_output(live)).await?;
    let again = read_again.await?.unwrap_or_else(|| live.clone());
    Ok(again.with_props(t.props.clone()))
}

/// A create that failed with `code` (the resource already exists) is
/// adopted when `lookup` finds it ours: a run killed after the call finds
/// its resource by name. Any other failure stands.
pub async fn adopt_if_exists<T, L>(
    created: Result<T, AwsError>,
    code: &str,
    lookup: L,
) -> Result<(), AwsError>
where
    L: std::future::Future<Output = Result<Option<Live>, AwsError>>,
{
    if let Err(e) = created
        && (e.code != code || lookup.await?.is_none())
    {
        return Err(e);
    }
    Ok(())
}
