//! A managed policy attached to a role. Untagged: identified by role +
//! policy ARN, read from the account-wide role details.

use async_trait::async_trait;
use serde_json::json;

use super::iam_details::env_roles;
use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct IamRolePolicyAttachment;

fn key(role: &str, policy: &str) -> String {
    format!("{role}|{policy}")
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "IamRolePolicyAttachment",
    tier: Tier::Identity,
    replace_fields: &["role", "policy_arn"],
    natural_key: NaturalKey::Fields(&["role", "policy_arn"]),
    tagging: Tagging::None,
    // Resent safely: AttachRolePolicy is idempotent.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for IamRolePolicyAttachment {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (role, policy) = (str_prop(t.props, "role")?, str_prop(t.props, "policy_arn")?);
        cx.clients
            .iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(policy)
            .send()
            .await
            .aws("AttachRolePolicy")?;
        let id = key(role, policy);
        Ok(t.made(id))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for role in env_roles(cx, scope.owner).await?.iter() {
            let Some(name) = role.role_name() else {
                continue;
            };
            for p in role.attached_managed_policies() {
                let Some(arn) = p.policy_arn() else { continue };
                let id = key(name, arn);
                let props = json!({ "role": name, "policy_arn": arn });
                out.push(Live::found(id.clone(), None, props, id_outputs(&id)));
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        _cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        // Every field forces replacement; nothing changes in place.
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (role, policy) = (
            str_prop(&live.props, "role")?,
            str_prop(&live.props, "policy_arn")?,
        );
        cx.call("DetachRolePolicy", || {
            cx.clients
                .iam
                .detach_role_policy()
                .role_name(role)
                .policy_arn(policy)
                .send()
        })
        .await
        .gone_is_done()
    }
}
