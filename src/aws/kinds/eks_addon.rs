//! An EKS add-on. Its version is pinned in the plan, or resolved at create to
//! the newest version compatible with the cluster and recorded in state (the
//! `version` output), so an unpinned add-on is never reported as drift.

use async_trait::async_trait;
use aws_sdk_eks::types::{AddonStatus, ResolveConflicts};
use serde_json::json;

use super::eks_common::{env_clusters, iam_propagation, read_tags, update_tags};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, ErrorClass, SdkResultExt};
use crate::model::{KindInfo, Resend, Tier};
use crate::model::{Outputs, Props};

pub struct EksAddon;

fn to_live(
    a: &aws_sdk_eks::types::Addon,
    owner: crate::model::Owner<'_>,
    pinned: bool,
) -> Option<Live> {
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
    let outputs: Outputs = [
        ("id".to_string(), id.clone()),
        ("arn".into(), a.addon_arn().unwrap_or_default().to_string()),
        ("version".into(), version),
    ]
    .into();
    Some(Live {
        id,
        address,
        props: props.as_object().cloned()?,
        outputs,
    })
}

fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

fn conflicts(props: &Props) -> ResolveConflicts {
    ResolveConflicts::from(opt_str(props, "_resolve_conflicts").unwrap_or("OVERWRITE"))
}

impl EksAddon {
    async fn describe(
        &self,
        cx: &Cx,
        cluster: &str,
        name: &str,
    ) -> Result<Option<aws_sdk_eks::types::Addon>, AwsError> {
        match cx
            .call("DescribeAddon", || {
                cx.clients
                    .eks
                    .describe_addon()
                    .cluster_name(cluster)
                    .addon_name(name)
                    .send()
            })
            .await
        {
            Ok(o) => Ok(o.addon().cloned()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest version compatible with the cluster's Kubernetes version.
    async fn newest(&self, cx: &Cx, cluster: &str, name: &str) -> Result<String, AwsError> {
        let k8s = cx
            .call("DescribeCluster", || {
                cx.clients.eks.describe_cluster().name(cluster).send()
            })
            .await?
            .cluster()
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
        versions.sort_by(|a, b| version_key(a).cmp(&version_key(b)));
        versions.pop().ok_or_else(|| {
            AwsError::local(
                "DescribeAddonVersions",
                format!("no version of {name} for Kubernetes {k8s}"),
            )
        })
    }

    async fn wait_active(
        &self,
        cx: &Cx,
        address: &str,
        cluster: &str,
        name: &str,
        pinned: bool,
    ) -> Result<Live, AwsError> {
        cx.wait_for(
            address,
            "add-on to become ACTIVE",
            cx.timeouts.addon,
            || async {
                let Some(a) = self.describe(cx, cluster, name).await? else {
                    return Ok(None);
                };
                match a.status() {
                    Some(AddonStatus::Active) => Ok(to_live(&a, cx.owner(), pinned)),
                    Some(AddonStatus::CreateFailed) => Err(AwsError::local(
                        "CreateAddon",
                        format!("add-on {name} CREATE_FAILED"),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

/// `v1.19.0-eksbuild.2` → [1, 19, 0, 2] for ordering.
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

const INFO: KindInfo = KindInfo {
    name: "EksAddon",
    tier: Tier::Cluster,
    outputs: &["id", "arn", "version"],
    replace_fields: &["cluster_name", "name"],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksAddon {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (cluster, name) = (
            str_prop(t.props, "cluster_name")?,
            str_prop(t.props, "name")?,
        );
        let pinned = opt_str(t.props, "version").is_some();
        let version = match opt_str(t.props, "version") {
            Some(v) => v.to_string(),
            None => self.newest(cx, cluster, name).await?,
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
        let live = self
            .wait_active(cx, t.address, cluster, name, pinned)
            .await?;
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
        let mut out = Vec::new();
        for cluster in env_clusters(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|c| c.name())
        {
            let names = match cx
                .all("ListAddons", || {
                    cx.clients
                        .eks
                        .list_addons()
                        .cluster_name(cluster)
                        .into_paginator()
                        .items()
                        .send()
                })
                .await
            {
                Ok(n) => n,
                Err(e) if e.class == ErrorClass::NotFound => continue,
                Err(e) => return Err(e),
            };
            for name in names {
                if let Some(a) = self.describe(cx, &cluster, &name).await? {
                    let id = format!("{cluster}:{name}");
                    out.extend(to_live(&a, scope.owner, pinned.contains(id.as_str())));
                }
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let (cluster, name) = split(&live.id);
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
        if changed.iter().any(|c| c == "tags") {
            update_tags(cx, live, t.props).await?;
        }
        let live = self
            .wait_active(
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
        let (cluster, name) = split(&live.id);
        let address = live.address.as_deref().unwrap_or(&live.id);
        cx.call("DeleteAddon", || {
            cx.clients
                .eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
        })
        .await
        .gone_is_done()?;
        cx.wait_for(
            address,
            "add-on to be deleted",
            cx.timeouts.addon,
            || async {
                Ok(self
                    .describe(cx, cluster, name)
                    .await?
                    .is_none()
                    .then_some(()))
            },
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
