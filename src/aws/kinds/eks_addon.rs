//! An EKS add-on. Its version is pinned in the plan, or resolved at create to
//! the newest version compatible with the cluster and recorded in state (the
//! `version` output), so an unpinned add-on is never reported as drift.

use async_trait::async_trait;
use aws_sdk_eks::types::{Addon, AddonStatus, ResolveConflicts};
use serde_json::json;

use super::eks_common::{
    cluster_and_name, cluster_and_name_props, delete_and_wait, describe_cluster, describe_listed,
    env_clusters, gone_is_empty, iam_propagation, read_tags, update_tags, wait_until,
};
use super::outputs;
use super::{Kind, Live, ReadScope, Target, opt_str};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct EksAddon;

fn to_live(a: &Addon, owner: crate::model::Owner<'_>, pinned: bool) -> Option<Live> {
    let (address, tags) = read_tags(a.tags(), owner)?;
    let cluster = a.cluster_name()?.to_string();
    let name = a.addon_name()?.to_string();
    let version = a.addon_version().unwrap_or_default().to_string();
    let mut props = json!({ "cluster_name": cluster, "name": name, "tags": tags });
    if let Some(role) = a.service_account_role_arn() {
        props["service_account_role_arn"] = json!(role);
    }
    if pinned {
        props["version"] = json!(version);
    }
    let id = format!("{cluster}:{name}");
    let arn = a.addon_arn().unwrap_or_default();
    let outputs = outputs([("id", &id), ("arn", arn), ("version", &version)]);
    Some(Live::found(id, address, props, outputs))
}

fn conflicts(props: &Props) -> ResolveConflicts {
    ResolveConflicts::from(opt_str(props, "_resolve_conflicts").unwrap_or("OVERWRITE"))
}

/// An add-on as DescribeAddon answers; a missing one is an error.
async fn describe(cx: &Cx, cluster: &str, name: &str) -> Result<Option<Addon>, AwsError> {
    let out = cx
        .call("DescribeAddon", || {
            cx.clients
                .eks
                .describe_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
        })
        .await?;
    Ok(out.addon().cloned())
}

/// The newest version compatible with the cluster's Kubernetes version.
async fn newest(cx: &Cx, cluster: &str, name: &str) -> Result<String, AwsError> {
    let k8s = describe_cluster(cx, cluster)
        .await?
        .and_then(|c| c.version().map(String::from))
        .unwrap_or_default();
    let out = cx
        .call("DescribeAddonVersions", || {
            cx.clients
                .eks
                .describe_addon_versions()
                .addon_name(name)
                .kubernetes_version(&k8s)
                .send()
        })
        .await?;
    let mut versions: Vec<String> = out
        .addons()
        .iter()
        .flat_map(|a| {
            a.addon_versions()
                .iter()
                .filter_map(|v| v.addon_version().map(String::from))
        })
        .collect();
    versions.sort_by_key(|a| version_key(a));
    versions.pop().ok_or_else(|| {
        AwsError::local(
            "DescribeAddonVersions",
            format!("no version of {name} for Kubernetes {k8s}"),
        )
    })
}

async fn wait_active(
    cx: &Cx,
    address: &str,
    cluster: &str,
    name: &str,
    pinned: bool,
) -> Result<Live, AwsError> {
    wait_until(
        cx,
        address,
        "add-on to become ACTIVE",
        cx.timeouts.addon,
        || describe(cx, cluster, name),
        |a| match a.status() {
            Some(AddonStatus::Active) => Ok(to_live(&a, cx.owner(), pinned)),
            Some(AddonStatus::CreateFailed) => Err(AwsError::local(
                "CreateAddon",
                format!("add-on {name} CREATE_FAILED"),
            )),
            _ => Ok(None),
        },
    )
    .await
}

/// `v1.19.0-eksbuild.2` → [1, 19, 0, 2] for ordering.
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksAddon",
    tier: Tier::Cluster,
    tagging: Tagging::Eks,
    outputs: &["id", "arn", "version"],
    replace_fields: &["cluster_name", "name"],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksAddon {
    async fn arn(&self, cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
        let (cluster, name) = cluster_and_name(id);
        let addon = describe(cx, cluster, name).await?;
        Ok(addon.and_then(|a| a.addon_arn().map(String::from)))
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (cluster, name) = cluster_and_name_props(t.props)?;
        let pinned = opt_str(t.props, "version").is_some();
        let version = match opt_str(t.props, "version") {
            Some(v) => v.to_string(),
            None => newest(cx, cluster, name).await?,
        };
        cx.clients
            .eks
            .create_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .addon_version(&version)
            .set_service_account_role_arn(
                opt_str(t.props, "service_account_role_arn").map(String::from),
            )
            .resolve_conflicts(conflicts(t.props))
            .set_tags(Some(super::tagged::create_tags(cx, t.address, t.props)))
            .client_request_token(t.token)
            .send()
            .await
            .aws("CreateAddon")
            .map_err(iam_propagation)?;
        let live = wait_active(cx, t.address, cluster, name, pinned).await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let pinned: std::collections::HashSet<&str> = scope
            .known
            .iter()
            .filter(|s| s.props.contains_key("version"))
            .map(|s| s.id.as_str())
            .collect();
        let pinned = &pinned;
        let clusters = env_clusters(cx, scope.owner).await?;
        describe_listed(
            clusters.iter().filter_map(|c| c.name()).collect(),
            |cluster| async move {
                let addons = cx
                    .all("ListAddons", || {
                        cx.clients
                            .eks
                            .list_addons()
                            .cluster_name(&cluster)
                            .into_paginator()
                            .items()
                            .send()
                    })
                    .await;
                gone_is_empty(addons)
            },
            |cluster, name| async move {
                let addon = gone_is_empty(describe(cx, &cluster, &name).await)?;
                let id = format!("{cluster}:{name}");
                Ok(addon.and_then(|a| to_live(&a, scope.owner, pinned.contains(id.as_str()))))
            },
        )
        .await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let (cluster, name) = cluster_and_name(&live.id);
        if changed
            .iter()
            .any(|c| c == "version" || c == "service_account_role_arn")
        {
            cx.call("UpdateAddon", || {
                cx.clients
                    .eks
                    .update_addon()
                    .cluster_name(cluster)
                    .addon_name(name)
                    .set_addon_version(opt_str(t.props, "version").map(String::from))
                    .set_service_account_role_arn(
                        opt_str(t.props, "service_account_role_arn").map(String::from),
                    )
                    .resolve_conflicts(conflicts(t.props))
                    .send()
            })
            .await?;
        }
        update_tags(cx, live, t.props, changed).await?;
        let live = wait_active(
            cx,
            t.address,
            cluster,
            name,
            opt_str(t.props, "version").is_some(),
        )
        .await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (cluster, name) = cluster_and_name(&live.id);
        let address = live.address.as_deref().unwrap_or(&live.id);
        let delete = cx.call("DeleteAddon", || {
            cx.clients
                .eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
        });
        delete_and_wait(
            cx,
            address,
            "add-on to be deleted",
            cx.timeouts.addon,
            delete,
            || describe(cx, cluster, name),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn orders_eks_versions_numerically() {
        let mut v = vec![
            "v1.9.0-eksbuild.1",
            "v1.19.0-eksbuild.2",
            "v1.19.0-eksbuild.10",
        ];
        v.sort_by_key(|s| super::version_key(s));
        assert_eq!(
            v,
            [
                "v1.9.0-eksbuild.1",
                "v1.19.0-eksbuild.2",
                "v1.19.0-eksbuild.10"
            ]
        );
    }
}
