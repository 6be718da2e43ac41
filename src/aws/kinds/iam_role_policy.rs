//! An inline policy on a role: role + policy name, document in place.

use async_trait::async_trait;
use serde_json::json;

use super::iam_details::env_roles;
use super::{Kind, Live, ReadScope, Target, id_outputs, json_text, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx};
use crate::model::{KindInfo, NaturalKey, Props, Resend, Tagging, Tier};

pub struct IamRolePolicy;

fn key(role: &str, name: &str) -> String {
    format!("{role}|{name}")
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "IamRolePolicy",
    tier: Tier::Identity,
    replace_fields: &["role", "name"],
    natural_key: NaturalKey::Fields(&["role", "name"]),
    tagging: Tagging::None,
    // Resent safely: PutRolePolicy is an upsert.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

/// Puts the policy on its role (an upsert: create and update alike); its id.
async fn put(cx: &Cx, props: &Props) -> Result<String, AwsError> {
    let (role, name) = (str_prop(props, "role")?, str_prop(props, "name")?);
    let doc = json_text(props, "document")?;
    cx.call("PutRolePolicy", || {
        cx.clients
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(&doc)
            .send()
    })
    .await?;
    Ok(key(role, name))
}

#[async_trait]
impl Kind for IamRolePolicy {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        Ok(t.made(put(cx, t.props).await?))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for role in env_roles(cx, scope.owner).await?.iter() {
            let Some(role_name) = role.role_name() else {
                continue;
            };
            for p in role.role_policy_list() {
                let Some(name) = p.policy_name() else {
                    continue;
                };
                let id = key(role_name, name);
                let document = p
                    .policy_document()
                    .map(super::iam_details::document)
                    .unwrap_or_default();
                let props = json!({ "role": role_name, "name": name, "document": document });
                out.push(Live::found(id.clone(), None, props, id_outputs(&id)));
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        put(cx, t.props).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (role, name) = (
            str_prop(&live.props, "role")?,
            str_prop(&live.props, "name")?,
        );
        cx.call("DeleteRolePolicy", || {
            cx.clients
                .iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
        })
        .await
        .gone_is_done()
    }
}
