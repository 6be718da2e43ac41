//! An EKS Pod Identity association: pods of one service account get the
//! role's credentials from the EKS Auth service, no OIDC trust needed. The
//! list call names only ids, so the env's associations are described one by
//! one (EKS offers no batch read).

use async_trait::async_trait;
use aws_sdk_eks::types::PodIdentityAssociation;
use serde_json::json;

use super::eks_common::{describe_listed, env_clusters, read_tags, update_tags};
use super::tagged::create_tags;
use super::{Kind, Live, ReadScope, Target, outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct EksPodIdentityAssociation;

fn to_live(a: &PodIdentityAssociation, owner: crate::model::Owner<'_>) -> Option<Live> {
    let (address, tags) = read_tags(a.tags(), owner)?;
    let id = a.association_id()?.to_string();
    let props = json!({
        "cluster_name": a.cluster_name(),
        "namespace": a.namespace(),
        "service_account": a.service_account(),
        "role_arn": a.role_arn(),
        "tags": tags,
    });
    let arn = a.association_arn().unwrap_or_default();
    let outputs = outputs([("id", &id), ("arn", arn)]);
    Some(Live::found(id, address, props, outputs))
}

async fn describe(
    cx: &Cx,
    cluster: &str,
    id: &str,
) -> Result<Option<PodIdentityAssociation>, AwsError> {
    let got = cx
        .call("DescribePodIdentityAssociation", || {
            cx.clients
                .eks
                .describe_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .send()
        })
        .await;
    Ok(got.or_missing()?.and_then(|o| o.association().cloned()))
}

/// The association for one service account, if any.
async fn find(
    cx: &Cx,
    cluster: &str,
    namespace: &str,
    service_account: &str,
) -> Result<Option<String>, AwsError> {
    let listed = cx
        .call("ListPodIdentityAssociations", || {
            cx.clients
                .eks
                .list_pod_identity_associations()
                .cluster_name(cluster)
                .namespace(namespace)
                .service_account(service_account)
                .send()
        })
        .await?;
    Ok(listed
        .associations()
        .first()
        .and_then(|a| a.association_id())
        .map(String::from))
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksPodIdentityAssociation",
    tier: Tier::Identity,
    tagging: Tagging::Eks,
    outputs: &["id", "arn"],
    replace_fields: &["cluster_name", "namespace", "service_account"],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksPodIdentityAssociation {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let cluster = str_prop(t.props, "cluster_name")?;
        let (namespace, sa) = (
            str_prop(t.props, "namespace")?,
            str_prop(t.props, "service_account")?,
        );
        let created = cx
            .clients
            .eks
            .create_pod_identity_association()
            .cluster_name(cluster)
            .namespace(namespace)
            .service_account(sa)
            .role_arn(str_prop(t.props, "role_arn")?)
            .client_request_token(t.token)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreatePodIdentityAssociation")
            .map_err(super::eks_common::iam_propagation);
        let association = match created {
            Ok(o) => o.association().cloned(),
            // One association per service account: an earlier run's (killed before it saved) is this one.
            Err(e) if e.code == "ResourceInUseException" => {
                match find(cx, cluster, namespace, sa).await? {
                    Some(id) => describe(cx, cluster, &id).await?,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let live = association
            .as_ref()
            .and_then(|a| to_live(a, cx.owner()))
            .ok_or_else(|| {
                AwsError::local(
                    "CreatePodIdentityAssociation",
                    format!(
                        "the association for {namespace}/{sa} is not tagged for env {}",
                        cx.env
                    ),
                )
            })?;
        Ok(t.made_with(live.id, live.outputs))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let clusters = env_clusters(cx, scope.owner).await?;
        describe_listed(
            clusters.iter().filter_map(|c| c.name()).collect(),
            |cluster| async move {
                let listed = cx
                    .all("ListPodIdentityAssociations", || {
                        cx.clients
                            .eks
                            .list_pod_identity_associations()
                            .cluster_name(&cluster)
                            .max_results(100)
                            .into_paginator()
                            .items()
                            .send()
                    })
                    .await?;
                Ok(listed
                    .iter()
                    .filter_map(|summary| summary.association_id())
                    .map(String::from)
                    .collect())
            },
            |cluster, id| async move {
                let association = describe(cx, &cluster, &id).await?;
                Ok(association.and_then(|a| to_live(&a, scope.owner)))
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
        let cluster = str_prop(t.props, "cluster_name")?;
        if changed.iter().any(|c| c == "role_arn") {
            let role = str_prop(t.props, "role_arn")?;
            cx.call("UpdatePodIdentityAssociation", || {
                cx.clients
                    .eks
                    .update_pod_identity_association()
                    .cluster_name(cluster)
                    .association_id(&live.id)
                    .role_arn(role)
                    .send()
            })
            .await?;
        }
        update_tags(cx, live, t.props, changed).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let cluster = str_prop(&live.props, "cluster_name")?;
        let deleted = cx
            .call("DeletePodIdentityAssociation", || {
                cx.clients
                    .eks
                    .delete_pod_identity_association()
                    .cluster_name(cluster)
                    .association_id(&live.id)
                    .send()
            })
            .await;
        deleted.gone_is_done()
    }
}
