use async_trait::async_trait;
use serde_json::json;

use super::iam_details::{
    Taggable, address_of, apply_tags, comparable_tags, create_tags, document, env_roles,
};
use super::tagged::tag_delta;
use super::{Kind, Live, ReadScope, Target, json_text, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Outputs;
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct IamRole;

fn outputs(name: &str, arn: &str) -> Outputs {
    [
        ("id".into(), name.to_string()),
        ("name".into(), name.to_string()),
        ("arn".into(), arn.to_string()),
    ]
    .into()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "IamRole",
    tier: Tier::Identity,
    tagging: Tagging::IamRole,
    outputs: &["id", "name", "arn"],
    replace_fields: &["name", "path"],
    // Resent safely: the role name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for IamRole {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let out = cx
            .clients
            .iam
            .create_role()
            .role_name(name)
            .path(opt_str(t.props, "path").unwrap_or("/"))
            .assume_role_policy_document(json_text(t.props, "assume_role_policy")?)
            .set_description(opt_str(t.props, "_description").map(String::from))
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateRole")?;
        let arn = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
        Ok(t.made_with(name.to_string(), outputs(name, &arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(env_roles(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|r| {
                let name = r.role_name()?.to_string();
                let props = json!({
                    "name": name,
                    "path": r.path().unwrap_or("/"),
                    "assume_role_policy": r.assume_role_policy_document().map(document).unwrap_or_default(),
                    "tags": comparable_tags(r.tags()),
                });
                let arn = r.arn().unwrap_or_default().to_string();
                Some(Live { address: address_of(r.tags()), outputs: outputs(&name, &arn), id: name, props: props.as_object().cloned()? })
            })
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c == "assume_role_policy") {
            let doc = json_text(t.props, "assume_role_policy")?;
            cx.call("UpdateAssumeRolePolicy", || {
                cx.clients
                    .iam
                    .update_assume_role_policy()
                    .role_name(&live.id)
                    .policy_document(&doc)
                    .send()
            })
            .await?;
        }
        if changed.iter().any(|c| c == "_description") {
            cx.call("UpdateRole", || {
                cx.clients
                    .iam
                    .update_role()
                    .role_name(&live.id)
                    .description(opt_str(t.props, "_description").unwrap_or_default())
                    .send()
            })
            .await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let delta = tag_delta(&live.props, t.props);
            apply_tags(cx, Taggable::Role(&live.id), delta).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        cx.delete_in_use(address, "policies still attached", "DeleteRole", || {
            cx.clients.iam.delete_role().role_name(&live.id).send()
        })
        .await
    }
}
