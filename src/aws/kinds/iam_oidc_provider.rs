//! The IAM OIDC provider for the cluster's issuer (IRSA). No thumbprint is
//! sent: AWS now secures the connection to the IdP with its own trusted root
//! CAs and computes the thumbprint itself, as its documentation describes.

use async_trait::async_trait;
use serde_json::json;

use super::iam_details::{Taggable, address_of, apply_tags, comparable_tags, ours};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Outputs, Props, TAG_ADDRESS, TAG_ENV};

pub struct IamOidcProvider;

fn outputs(arn: &str) -> Outputs {
    [
        ("id".into(), arn.to_string()),
        ("arn".into(), arn.to_string()),
    ]
    .into()
}

fn client_ids(props: &Props) -> Vec<String> {
    props
        .get("client_ids")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "IamOidcProvider",
    tier: Tier::Cluster,
    tagging: Tagging::IamOidcProvider,
    outputs: &["id", "arn"],
    replace_fields: &["url"],
    // Resent safely: the issuer URL.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for IamOidcProvider {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let mut tags = super::iam_details::create_tags(cx, t.address, t.props);
        tags.retain(|t| !t.key().is_empty());
        let out = cx
            .clients
            .iam
            .create_open_id_connect_provider()
            .url(str_prop(t.props, "url")?)
            .set_client_id_list(Some(client_ids(t.props)))
            .set_tags(Some(tags))
            .send()
            .await
            .aws("CreateOpenIDConnectProvider")?;
        let arn = out.open_id_connect_provider_arn().unwrap_or_default();
        Ok(t.made_with(arn.to_string(), outputs(arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let list = cx
            .call("ListOpenIDConnectProviders", || {
                cx.clients.iam.list_open_id_connect_providers().send()
            })
            .await?;
        let mut out = Vec::new();
        // IAM has no batch read of providers: one call each (there is one per cluster).
        for p in list.open_id_connect_provider_list() {
            let Some(arn) = p.arn() else { continue };
            let got = cx
                .call("GetOpenIDConnectProvider", || {
                    cx.clients
                        .iam
                        .get_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .send()
                })
                .await;
            let Some(got) = got.or_missing()? else {
                continue;
            };
            if !ours(got.tags(), scope.owner) {
                continue;
            }
            let url = got.url().unwrap_or_default();
            let url = if url.starts_with("https://") {
                url.to_string()
            } else {
                format!("https://{url}")
            };
            let props = json!({ "url": url, "client_ids": got.client_id_list(), "tags": comparable_tags(got.tags()) });
            out.push(Live::found(
                arn.to_string(),
                address_of(got.tags()),
                props,
                outputs(arn),
            ));
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
        if changed.iter().any(|c| c == "client_ids") {
            let old = client_ids(&live.props);
            let new = client_ids(t.props);
            for id in new.iter().filter(|i| !old.contains(i)) {
                cx.call("AddClientIDToOpenIDConnectProvider", || {
                    cx.clients
                        .iam
                        .add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(&live.id)
                        .client_id(id)
                        .send()
                })
                .await?;
            }
            for id in old.iter().filter(|i| !new.contains(i)) {
                cx.call("RemoveClientIDFromOpenIDConnectProvider", || {
                    cx.clients
                        .iam
                        .remove_client_id_from_open_id_connect_provider()
                        .open_id_connect_provider_arn(&live.id)
                        .client_id(id)
                        .send()
                })
                .await?;
            }
        }
        if changed.iter().any(|c| c == "tags") {
            let (mut set, remove) = super::tagged::tag_delta(&live.props, t.props);
            set.retain(|k, _| k != TAG_ENV && k != TAG_ADDRESS);
            apply_tags(cx, Taggable::OidcProvider(&live.id), (set, remove)).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.call("DeleteOpenIDConnectProvider", || {
            cx.clients
                .iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&live.id)
                .send()
        })
        .await
        .gone_is_done()
    }
}
