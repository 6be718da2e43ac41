//! An EKS access entry: one IAM principal (a role, typically an SSO
//! permission set's) that may authenticate to the cluster, with optional
//! Kubernetes groups. Its permissions are access policy associations
//! (`eks_access_policy.rs`). EKS has no batch read: the env's clusters'
//! entries are listed and described once per refresh, shared with the
//! association kind.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eks::types::AccessEntry;
use serde_json::json;

use super::eks_common::{describe_listed, env_clusters, read_tags, sorted, strings, update_tags};
use super::tagged::create_tags;
use super::{Kind, Live, ReadScope, Target, outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, Props, Resend, Tagging, Tier};

pub struct EksAccessEntry;

fn to_live(e: &AccessEntry, owner: crate::model::Owner<'_>) -> Option<Live> {
    let (address, tags) = read_tags(e.tags(), owner)?;
    let principal = e.principal_arn()?.to_string();
    let cluster = e.cluster_name()?.to_string();
    let props = json!({
        "cluster_name": cluster,
        "principal_arn": principal,
        "kubernetes_groups": sorted(e.kubernetes_groups().to_vec()),
        "type": e.r#type().unwrap_or("STANDARD"),
        "tags": tags,
    });
    let id = format!("{cluster}#{principal}");
    let arn = e.access_entry_arn().unwrap_or_default();
    let outputs = outputs([("id", &id), ("arn", arn), ("principal_arn", &principal)]);
    Some(Live::found(id, address, props, outputs))
}

/// The entry's cluster and principal, from its properties.
fn cluster_and_principal(props: &Props) -> Result<(&str, &str), AwsError> {
    Ok((
        str_prop(props, "cluster_name")?,
        str_prop(props, "principal_arn")?,
    ))
}

async fn describe(
    cx: &Cx,
    cluster: &str,
    principal: &str,
) -> Result<Option<AccessEntry>, AwsError> {
    let got = cx
        .call("DescribeAccessEntry", || {
            cx.clients
                .eks
                .describe_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
        })
        .await;
    Ok(got.or_missing()?.and_then(|o| o.access_entry().cloned()))
}

/// Every access entry of the env's clusters, described, whoever made it
/// (drift looks for cluster admins the plan does not name). Read once per run.
pub async fn all_entries(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<Arc<Vec<AccessEntry>>, AwsError> {
    cx.shared("eks:access_entries", || async {
        let clusters = env_clusters(cx, owner).await?;
        // A cluster in CONFIG_MAP mode has no access entries to list.
        let with_entries = clusters
            .iter()
            .filter(|c| {
                c.access_config()
                    .and_then(|a| a.authentication_mode())
                    .map(|m| m.as_str())
                    != Some("CONFIG_MAP")
            })
            .filter_map(|c| c.name())
            .collect();
        describe_listed(
            with_entries,
            |cluster| async move {
                cx.all("ListAccessEntries", || {
                    cx.clients
                        .eks
                        .list_access_entries()
                        .cluster_name(&cluster)
                        .max_results(100)
                        .into_paginator()
                        .items()
                        .send()
                })
                .await
            },
            |cluster, principal| async move { describe(cx, &cluster, &principal).await },
        )
        .await
    })
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksAccessEntry",
    tier: Tier::Cluster,
    tagging: Tagging::Eks,
    outputs: &["id", "arn", "principal_arn"],
    replace_fields: &["cluster_name", "principal_arn", "type"],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksAccessEntry {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (cluster, principal) = cluster_and_principal(t.props)?;
        let created = cx
            .clients
            .eks
            .create_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .set_kubernetes_groups(
                Some(strings(t.props, "kubernetes_groups")).filter(|g| !g.is_empty()),
            )
            .r#type(str_prop(t.props, "type").unwrap_or("STANDARD"))
            .client_request_token(t.token)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateAccessEntry")
            .map_err(super::eks_common::iam_propagation);
        let entry = match created {
            Ok(o) => o.access_entry().cloned(),
            // One entry per principal: an earlier run's (killed before it saved) is this one.
            Err(e) if e.code == "ResourceInUseException" => {
                describe(cx, cluster, principal).await?
            }
            Err(e) => return Err(e),
        };
        let live = entry.as_ref().and_then(|e| to_live(e, cx.owner())).ok_or_else(|| {
            AwsError::local("CreateAccessEntry", format!("the access entry of {principal} on {cluster} exists and is not infra's for env {}", cx.env))
        })?;
        Ok(t.made_with(live.id, live.outputs))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(all_entries(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|e| to_live(e, scope.owner))
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let (cluster, principal) = cluster_and_principal(t.props)?;
        if changed.iter().any(|c| c == "kubernetes_groups") {
            let groups = strings(t.props, "kubernetes_groups");
            cx.call("UpdateAccessEntry", || {
                cx.clients
                    .eks
                    .update_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .set_kubernetes_groups(Some(groups.clone()))
                    .send()
            })
            .await?;
        }
        update_tags(cx, live, t.props, changed).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (cluster, principal) = cluster_and_principal(&live.props)?;
        let deleted = cx
            .call("DeleteAccessEntry", || {
                cx.clients
                    .eks
                    .delete_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .send()
            })
            .await;
        deleted.gone_is_done()
    }
}
