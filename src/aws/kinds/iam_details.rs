//! IAM's account-wide batch read: `GetAccountAuthorizationDetails` returns
//! every role with its tags, trust policy, attached and inline policies and
//! instance profiles, a page at a time. Roles, attachments, inline policies
//! and instance profiles are all read from it.

use aws_sdk_iam::types::{EntityType, RoleDetail, Tag};
use serde_json::Value;
use std::collections::HashMap;

use super::tagged::{TagDelta, apply_delta};

use crate::aws::{AwsError, Cx};
use crate::model::{Owner, TAG_ADDRESS, is_foreign_tag, readable};

/// Every role tagged with this env.
pub async fn env_roles(
    cx: &Cx,
    owner: Owner<'_>,
) -> Result<std::sync::Arc<Vec<RoleDetail>>, AwsError> {
    cx.shared("iam:roles", || all_env_roles(cx, owner)).await
}

async fn all_env_roles(cx: &Cx, owner: Owner<'_>) -> Result<Vec<RoleDetail>, AwsError> {
    let mut roles = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cx
            .call("GetAccountAuthorizationDetails", || {
                cx.clients
                    .iam
                    .get_account_authorization_details()
                    .filter(EntityType::Role)
                    .max_items(1000)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        roles.extend(
            page.role_detail_list()
                .iter()
                .filter(|r| ours(r.tags(), owner))
                .cloned(),
        );
        match page.marker().filter(|_| page.is_truncated()) {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    Ok(roles)
}

/// The one ownership rule ([`crate::model::ownership`]) on IAM's tags.
pub fn ours(tags: &[Tag], owner: Owner<'_>) -> bool {
    readable(tags.iter().map(|t| (t.key(), t.value())), owner)
}

pub fn address_of(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == TAG_ADDRESS)
        .map(|t| t.value().to_string())
}

pub fn comparable_tags(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .filter(|t| !is_foreign_tag(t.key()))
            .map(|t| (t.key().to_string(), Value::String(t.value().to_string())))
            .collect(),
    )
}

/// IAM returns policy documents URL-encoded.
pub fn document(raw: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded.to_string()))
}

/// The plan's tags plus the identity tags, for IAM create calls.
pub fn create_tags(cx: &Cx, address: &str, props: &crate::model::Props) -> Vec<Tag> {
    iam_tags(super::tagged::create_tags(cx, address, props))
}

fn iam_tags(map: HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// An IAM resource that carries tags; each has its own pair of tag calls.
#[derive(Clone, Copy)]
pub enum Taggable<'a> {
    Role(&'a str),
    InstanceProfile(&'a str),
    /// By ARN.
    OidcProvider(&'a str),
}

/// Sets and removes tags on an IAM resource: its update and the takeover's
/// identity tags.
pub async fn apply_tags(cx: &Cx, on: Taggable<'_>, delta: TagDelta) -> Result<(), AwsError> {
    let iam = &cx.clients.iam;
    apply_delta(
        delta,
        |set| async move {
            let set = Some(iam_tags(set));
            match on {
                Taggable::Role(name) => {
                    let send = || iam.tag_role().role_name(name).set_tags(set.clone()).send();
                    cx.call("TagRole", send).await.map(drop)
                }
                Taggable::InstanceProfile(name) => {
                    let call = || iam.tag_instance_profile().instance_profile_name(name);
                    let send = || call().set_tags(set.clone()).send();
                    cx.call("TagInstanceProfile", send).await.map(drop)
                }
                Taggable::OidcProvider(arn) => {
                    let call = || {
                        iam.tag_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
                    };
                    let send = || call().set_tags(set.clone()).send();
                    cx.call("TagOpenIDConnectProvider", send).await.map(drop)
                }
            }
        },
        |keys| async move {
            let keys = Some(keys);
            match on {
                Taggable::Role(name) => {
                    let call = || iam.untag_role().role_name(name);
                    let send = || call().set_tag_keys(keys.clone()).send();
                    cx.call("UntagRole", send).await.map(drop)
                }
                Taggable::InstanceProfile(name) => {
                    let call = || iam.untag_instance_profile().instance_profile_name(name);
                    let send = || call().set_tag_keys(keys.clone()).send();
                    cx.call("UntagInstanceProfile", send).await.map(drop)
                }
                Taggable::OidcProvider(arn) => {
                    let call = || {
                        iam.untag_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
                    };
                    let send = || call().set_tag_keys(keys.clone()).send();
                    cx.call("UntagOpenIDConnectProvider", send).await.map(drop)
                }
            }
        },
    )
    .await
}
