//! An EKS access policy association: what an access entry may do, on the
//! whole cluster or on listed namespaces. Associations carry no tags; one is
//! known by cluster + principal + policy. Associating the same policy again
//! replaces its scope, which is how a scope changes in place.

use async_trait::async_trait;
use aws_sdk_eks::types::{AccessScope, AccessScopeType, AssociatedAccessPolicy};
use serde_json::json;

use super::eks_access_entry::all_entries;
use super::eks_common::{gone_is_empty, read_tags, sorted};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx};
use crate::model::Props;
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct EksAccessPolicyAssociation;

/// The managed policy that makes its holder a cluster admin.
pub const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

fn key(cluster: &str, principal: &str, policy: &str) -> String {
    format!("{cluster}#{principal}#{policy}")
}

fn scope_of(props: &Props) -> AccessScope {
    let scope = props.get("access_scope").and_then(|s| s.as_object());
    let namespaces = scope
        .map(|s| super::strings(s, "namespaces"))
        .unwrap_or_default();
    let kind = scope
        .and_then(|s| s.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("cluster");
    AccessScope::builder()
        .r#type(AccessScopeType::from(kind))
        .set_namespaces(Some(namespaces).filter(|n| !n.is_empty()))
        .build()
}

fn to_live(cluster: &str, principal: &str, p: &AssociatedAccessPolicy) -> Option<Live> {
    let policy = p.policy_arn()?;
    let scope = p.access_scope();
    let props = json!({
        "cluster_name": cluster,
        "principal_arn": principal,
        "policy_arn": policy,
        "access_scope": {
            "type": scope.and_then(|s| s.r#type()).map(|t| t.as_str()).unwrap_or("cluster"),
            "namespaces": sorted(scope.map(|s| s.namespaces().to_vec()).unwrap_or_default()),
        },
    });
    let id = key(cluster, principal, policy);
    Some(Live::found(id.clone(), None, props, super::id_outputs(&id)))
}

/// The policies associated with one principal's entry.
pub async fn associated(
    cx: &Cx,
    cluster: &str,
    principal: &str,
) -> Result<Vec<AssociatedAccessPolicy>, AwsError> {
    let got = cx
        .all("ListAssociatedAccessPolicies", || {
            cx.clients
                .eks
                .list_associated_access_policies()
                .cluster_name(cluster)
                .principal_arn(principal)
                .max_results(100)
                .into_paginator()
                .send()
        })
        .await;
    Ok(gone_is_empty(got)?
        .iter()
        .flat_map(|p| p.associated_access_policies().to_vec())
        .collect())
}

async fn associate(cx: &Cx, props: &Props) -> Result<(), AwsError> {
    let (cluster, principal, policy) = (
        str_prop(props, "cluster_name")?,
        str_prop(props, "principal_arn")?,
        str_prop(props, "policy_arn")?,
    );
    let scope = scope_of(props);
    cx.call("AssociateAccessPolicy", || {
        cx.clients
            .eks
            .associate_access_policy()
            .cluster_name(cluster)
            .principal_arn(principal)
            .policy_arn(policy)
            .access_scope(scope.clone())
            .send()
    })
    .await?;
    Ok(())
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksAccessPolicyAssociation",
    tier: Tier::Cluster,
    replace_fields: &["cluster_name", "principal_arn", "policy_arn"],
    natural_key: NaturalKey::Fields(&["cluster_name", "principal_arn", "policy_arn"]),
    tagging: Tagging::None,
    // Resent safely: AssociateAccessPolicy is idempotent.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksAccessPolicyAssociation {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        // Idempotent by nature: associating again answers the same association.
        associate(cx, t.props).await?;
        let id = key(
            str_prop(t.props, "cluster_name")?,
            str_prop(t.props, "principal_arn")?,
            str_prop(t.props, "policy_arn")?,
        );
        Ok(t.made_with(id.clone(), super::id_outputs(&id)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        // The policies of infra's own entries (tagged for the env): a hand-made
        // entry's policies are not infra's to compare or delete.
        for entry in all_entries(cx, scope.owner)
            .await?
            .iter()
            .filter(|e| read_tags(e.tags(), scope.owner).is_some())
        {
            let (Some(cluster), Some(principal)) = (entry.cluster_name(), entry.principal_arn())
            else {
                continue;
            };
            for p in associated(cx, cluster, principal).await? {
                out.extend(to_live(cluster, principal, &p));
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
        if changed.iter().any(|c| c == "access_scope") {
            associate(cx, t.props).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (cluster, principal, policy) = (
            str_prop(&live.props, "cluster_name")?,
            str_prop(&live.props, "principal_arn")?,
            str_prop(&live.props, "policy_arn")?,
        );
        let deleted = cx
            .call("DisassociateAccessPolicy", || {
                cx.clients
                    .eks
                    .disassociate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .policy_arn(policy)
                    .send()
            })
            .await;
        deleted.gone_is_done()
    }
}

/// Every principal holding the cluster-admin policy on the env's clusters,
/// whoever made its entry: (cluster, principal ARN).
pub async fn cluster_admins(
    cx: &Cx,
    owner: crate::model::Owner<'_>,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    for entry in all_entries(cx, owner).await?.iter() {
        let (Some(cluster), Some(principal)) = (entry.cluster_name(), entry.principal_arn()) else {
            continue;
        };
        if associated(cx, cluster, principal)
            .await?
            .iter()
            .any(|p| p.policy_arn() == Some(CLUSTER_ADMIN_POLICY))
        {
            out.push((cluster.to_string(), principal.to_string()));
        }
    }
    Ok(out)
}

/// The IAM principal infra runs as, in the form an access entry names it
/// (an assumed role's session becomes its role).
pub async fn caller_principal(cx: &Cx) -> Result<String, AwsError> {
    let me = cx
        .call("GetCallerIdentity", || {
            cx.clients.sts.get_caller_identity().send()
        })
        .await?;
    let arn = me.arn().unwrap_or_default();
    Ok(
        match arn
            .strip_prefix("arn:aws:sts::")
            .and_then(|r| r.split_once(":assumed-role/"))
        {
            Some((account, rest)) => format!(
                "arn:aws:iam::{account}:role/{}",
                rest.split('/').next().unwrap_or_default()
            ),
            None => arn.to_string(),
        },
    )
}
