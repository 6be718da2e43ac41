//! Helpers shared by the EKS kinds: tags read back and set, the env's
//! clusters and what each of them lists, waits for a status, and IAM
//! eventual consistency on create.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eks::types::Cluster;
use serde_json::Value;

use super::tagged::{TagDelta, apply_delta, tag_delta};
use super::{Live, str_prop};
use crate::aws::{AwsError, Cx, ErrorClass, GoneIsDone, OrMissing};
use crate::model::{Owner, Props, TAG_ADDRESS, is_foreign_tag, readable};

/// `(address, comparable tags)` when the tags say this env; `None` otherwise.
pub fn read_tags(
    tags: Option<&HashMap<String, String>>,
    owner: Owner<'_>,
) -> Option<(Option<String>, Value)> {
    let tags = tags?;
    if !readable(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), owner) {
        return None;
    }
    let comparable = tags
        .iter()
        .filter(|(k, _)| !is_foreign_tag(k))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Some((tags.get(TAG_ADDRESS).cloned(), Value::Object(comparable)))
}

/// IAM is eventually consistent: a role made seconds ago can be refused as
/// "cannot be assumed" or "does not exist". Those errors are marked so the
/// create is retried for a bounded time instead of failing.
pub fn iam_propagation(e: AwsError) -> AwsError {
    let m = e.message.to_ascii_lowercase();
    if e.code == "InvalidParameterException"
        && (m.contains("role") || m.contains("assume") || m.contains("instance profile"))
    {
        AwsError {
            class: ErrorClass::NotYetConsistent,
            ..e
        }
    } else {
        e
    }
}

pub async fn list_clusters(cx: &Cx) -> Result<Arc<Vec<String>>, AwsError> {
    cx.shared("eks:clusters", || {
        cx.all("ListClusters", || {
            cx.clients
                .eks
                .list_clusters()
                .max_results(100)
                .into_paginator()
                .items()
                .send()
        })
    })
    .await
}

/// Sets and removes tags on an EKS resource, by ARN: the kinds' updates and
/// the takeover's identity tags.
pub async fn apply_tags(cx: &Cx, arn: &str, delta: TagDelta) -> Result<(), AwsError> {
    let eks = &cx.clients.eks;
    apply_delta(
        delta,
        |set| async move {
            cx.call("TagResource", || {
                eks.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone()))
                    .send()
            })
            .await
        },
        |keys| async move {
            cx.call("UntagResource", || {
                eks.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
            })
            .await
        },
    )
    .await
}

/// An update's tag changes, when the tags are among the `changed` fields, on
/// the resource its `arn` output names.
pub async fn update_tags(
    cx: &Cx,
    live: &Live,
    new: &Props,
    changed: &[String],
) -> Result<(), AwsError> {
    if !changed.iter().any(|c| c == "tags") {
        return Ok(());
    }
    let arn = live.outputs.get("arn").cloned().unwrap_or_default();
    apply_tags(cx, &arn, tag_delta(&live.props, new)).await
}

pub(crate) use super::strings;

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A cluster as DescribeCluster answers; a missing one is an error.
pub async fn describe_cluster(cx: &Cx, name: &str) -> Result<Option<Cluster>, AwsError> {
    let out = cx
        .call("DescribeCluster", || {
            cx.clients.eks.describe_cluster().name(name).send()
        })
        .await?;
    Ok(out.cluster().cloned())
}

/// A read's answer; a resource that is gone reads as empty (`None`, no items).
pub fn gone_is_empty<T: Default>(read: Result<T, AwsError>) -> Result<T, AwsError> {
    Ok(read.or_missing()?.unwrap_or_default())
}

/// The `cluster` and `name` of an id `cluster:name` (node groups, add-ons).
pub fn cluster_and_name(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

/// The `cluster_name` and `name` properties (node groups, add-ons).
pub fn cluster_and_name_props(props: &Props) -> Result<(&str, &str), AwsError> {
    Ok((str_prop(props, "cluster_name")?, str_prop(props, "name")?))
}

/// The env's clusters, described (EKS has no batch describe: one call per
/// cluster in the account, made once per refresh and shared by the cluster,
/// node group and add-on kinds).
pub async fn env_clusters(cx: &Cx, owner: Owner<'_>) -> Result<Arc<Vec<Cluster>>, AwsError> {
    cx.shared("eks:env_clusters", || async {
        let mut out = Vec::new();
        for name in list_clusters(cx).await?.iter() {
            let cluster = gone_is_empty(describe_cluster(cx, name).await)?;
            if let Some(c) = cluster.filter(|c| read_tags(c.tags(), owner).is_some()) {
                out.push(c);
            }
        }
        Ok(out)
    })
    .await
}

/// What `list` names in each of `clusters`, each described by `describe`
/// (EKS has no batch describe): `None` from `describe` (gone since it was
/// listed, or not the env's) is left out.
pub async fn describe_listed<T, L, D>(
    clusters: Vec<&str>,
    list: impl Fn(String) -> L,
    describe: impl Fn(String, String) -> D,
) -> Result<Vec<T>, AwsError>
where
    L: Future<Output = Result<Vec<String>, AwsError>>,
    D: Future<Output = Result<Option<T>, AwsError>>,
{
    let mut out = Vec::new();
    for cluster in clusters {
        for item in list(cluster.to_string()).await? {
            out.extend(describe(cluster.to_string(), item).await?);
        }
    }
    Ok(out)
}

/// Polls `describe` (a missing resource is waited for) until `settled` says
/// the resource is ready (`Ok(Some)`) or failed (`Err`); `Ok(None)`: not yet.
pub async fn wait_until<X, T, D>(
    cx: &Cx,
    address: &str,
    what: &str,
    timeout: Duration,
    describe: impl Fn() -> D,
    settled: impl Fn(X) -> Result<Option<T>, AwsError>,
) -> Result<T, AwsError>
where
    D: Future<Output = Result<Option<X>, AwsError>>,
{
    cx.wait_for(address, what, timeout, || async {
        match gone_is_empty(describe().await)? {
            Some(x) => settled(x),
            None => Ok(None),
        }
    })
    .await
}

/// Deletes (a resource already gone counts as deleted), then polls
/// `describe` until the resource is gone.
pub async fn delete_and_wait<A, X, D>(
    cx: &Cx,
    address: &str,
    what: &str,
    timeout: Duration,
    delete: impl Future<Output = Result<A, AwsError>>,
    describe: impl Fn() -> D,
) -> Result<(), AwsError>
where
    D: Future<Output = Result<Option<X>, AwsError>>,
{
    delete.await.gone_is_done()?;
    cx.wait_for(address, what, timeout, || async {
        Ok(gone_is_empty(describe().await)?.is_none().then_some(()))
    })
    .await
}
