//! Helpers shared by the EKS kinds: tags read back, the env's clusters, and
//! IAM eventual consistency on create.

use std::collections::HashMap;

use serde_json::Value;

use super::Live;
use crate::aws::{AwsError, Cx, ErrorClass};
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

pub async fn list_clusters(cx: &Cx) -> Result<std::sync::Arc<Vec<String>>, AwsError> {
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
pub async fn apply_tags(
    cx: &Cx,
    arn: &str,
    set: HashMap<String, String>,
    remove: Vec<String>,
) -> Result<(), AwsError> {
    if !set.is_empty() {
        cx.call("TagResource", || {
            cx.clients
                .eks
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(set.clone()))
                .send()
        })
        .await?;
    }
    if !remove.is_empty() {
        cx.call("UntagResource", || {
            cx.clients
                .eks
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(remove.clone()))
                .send()
        })
        .await?;
    }
    Ok(())
}

/// An update's tag changes, on the resource its `arn` output names.
pub async fn update_tags(cx: &Cx, live: &Live, new: &Props) -> Result<(), AwsError> {
    let arn = live.outputs.get("arn").cloned().unwrap_or_default();
    let (set, remove) = super::tagged::tag_delta(&live.props, new);
    apply_tags(cx, &arn, set, remove).await
}

pub(crate) use super::strings;

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The env's clusters, described (EKS has no batch describe: one call per
/// cluster in the account, made once per refresh and shared by the cluster,
/// node group and add-on kinds).
pub async fn env_clusters(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<std::sync::Arc<Vec<aws_sdk_eks::types::Cluster>>, AwsError> {
    cx.shared("eks:env_clusters", || async {
        let mut out = Vec::new();
        for name in list_clusters(cx).await?.iter() {
            let got = cx
                .call("DescribeCluster", || {
                    cx.clients.eks.describe_cluster().name(name).send()
                })
                .await;
            let cluster = match got {
                Ok(o) => o.cluster().cloned(),
                Err(e) if e.class == ErrorClass::NotFound => None,
                Err(e) => return Err(e),
            };
            if let Some(c) = cluster.filter(|c| read_tags(c.tags(), owner).is_some()) {
                out.push(c);
            }
        }
        Ok(out)
    })
    .await
}
