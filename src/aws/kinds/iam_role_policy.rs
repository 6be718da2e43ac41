//! An inline policy on a role: role + policy name, document in place.

use async_trait::async_trait;
use serde_json::json;

use super::iam_details::env_roles;
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

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

#[async_trait]
impl Kind for IamRolePolicy {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (role, name) = (str_prop(t.props, "role")?, str_prop(t.props, "name")?);
        let doc = t
            .props
            .get("document")
            .map(|d| d.to_string())
            .unwrap_or_default();
        cx.clients
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .aws("PutRolePolicy")?;
        let id = key(role, name);
        Ok(t.made(id))
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
        let (role, name) = (str_prop(t.props, "role")?, str_prop(t.props, "name")?);
        let doc = t
            .props
            .get("document")
            .map(|d| d.to_string())
            .unwrap_or_default();
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
