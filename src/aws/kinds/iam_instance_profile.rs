//! An instance profile holding one role (Karpenter's node role).

use async_trait::async_trait;
use serde_json::json;

use super::iam_details::{
    Taggable, address_of, apply_tags, comparable_tags, create_tags, env_roles, ours,
};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Outputs, Props};

pub struct IamInstanceProfile;

fn outputs(name: &str, arn: &str) -> Outputs {
    [
        ("id".into(), name.to_string()),
        ("name".into(), name.to_string()),
        ("arn".into(), arn.to_string()),
    ]
    .into()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "IamInstanceProfile",
    tier: Tier::Cluster,
    tagging: Tagging::IamInstanceProfile,
    outputs: &["id", "name", "arn"],
    // The role is changed in place (remove, add): a profile an interrupted
    // create left without its role gets it, rather than a replacement.
    replace_fields: &["name"],
    // Resent safely: the profile name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for IamInstanceProfile {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (name, role) = (str_prop(t.props, "name")?, str_prop(t.props, "role")?);
        let created = cx
            .clients
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .set_tags(Some(create_tags(cx, t.address, t.props)))
            .send()
            .await
            .aws("CreateInstanceProfile");
        let (arn, roles) = match created {
            Ok(out) => (
                out.instance_profile()
                    .map(|p| p.arn().to_string())
                    .unwrap_or_default(),
                Vec::new(),
            ),
            // A profile with no role yet is invisible to the role-based read: a
            // run killed between the two calls left it. Ours if its tags say so.
            Err(e) if e.code == "EntityAlreadyExists" => {
                let got = cx
                    .call("GetInstanceProfile", || {
                        cx.clients
                            .iam
                            .get_instance_profile()
                            .instance_profile_name(name)
                            .send()
                    })
                    .await?;
                let p = got.instance_profile().ok_or(e.clone())?;
                if !ours(p.tags(), cx.owner()) || address_of(p.tags()).as_deref() != Some(t.address)
                {
                    return Err(e);
                }
                (
                    p.arn().to_string(),
                    p.roles()
                        .iter()
                        .map(|r| r.role_name().to_string())
                        .collect(),
                )
            }
            Err(e) => return Err(e),
        };
        if !roles.iter().any(|r| r == role) {
            cx.call("AddRoleToInstanceProfile", || {
                cx.clients
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(name)
                    .role_name(role)
                    .send()
            })
            .await?;
        }
        Ok(t.made_with(name.to_string(), outputs(name, &arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out: Vec<Live> = Vec::new();
        for role in env_roles(cx, scope.owner).await?.iter() {
            for p in role.instance_profile_list() {
                if !ours(p.tags(), scope.owner)
                    || out.iter().any(|l| l.id == p.instance_profile_name())
                {
                    continue;
                }
                let props = json!({ "name": p.instance_profile_name(), "role": role.role_name(), "tags": comparable_tags(p.tags()) });
                out.push(Live::found(
                    p.instance_profile_name().to_string(),
                    address_of(p.tags()),
                    props,
                    outputs(p.instance_profile_name(), p.arn()),
                ));
            }
        }
        Ok(out)
    }

    /// A profile with no role yet (a run killed between its two calls) is
    /// invisible to the role-based read: found by its name, ours if its tags
    /// say so.
    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Ok(name) = str_prop(resolved, "name") else {
            return Ok(None);
        };
        let got = cx
            .call("GetInstanceProfile", || {
                cx.clients
                    .iam
                    .get_instance_profile()
                    .instance_profile_name(name)
                    .send()
            })
            .await;
        let Some(got) = got.or_missing()? else {
            return Ok(None);
        };
        let Some(p) = got.instance_profile() else {
            return Ok(None);
        };
        if !ours(p.tags(), cx.owner()) {
            return Ok(None);
        }
        let role = p.roles().first().map(|r| r.role_name());
        let props = json!({ "name": p.instance_profile_name(), "role": role, "tags": comparable_tags(p.tags()) });
        Ok(Some(Live::found(
            p.instance_profile_name().to_string(),
            address_of(p.tags()),
            props,
            outputs(p.instance_profile_name(), p.arn()),
        )))
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c == "role") {
            let role = str_prop(t.props, "role")?;
            if let Some(old) = live.props.get("role").and_then(|r| r.as_str()) {
                remove_role(cx, &live.id, old).await?;
            }
            cx.call("AddRoleToInstanceProfile", || {
                cx.clients
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&live.id)
                    .role_name(role)
                    .send()
            })
            .await?;
        }
        let delta = super::tagged::tag_delta(&live.props, t.props);
        apply_tags(cx, Taggable::InstanceProfile(&live.id), delta).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        if let Some(role) = live.props.get("role").and_then(|r| r.as_str()) {
            remove_role(cx, &live.id, role).await?;
        }
        cx.call("DeleteInstanceProfile", || {
            cx.clients
                .iam
                .delete_instance_profile()
                .instance_profile_name(&live.id)
                .send()
        })
        .await
        .gone_is_done()
    }
}

/// Takes `role` out of the profile; a role or profile already gone is done.
async fn remove_role(cx: &Cx, profile: &str, role: &str) -> Result<(), AwsError> {
    let removed = cx
        .call("RemoveRoleFromInstanceProfile", || {
            let call = cx.clients.iam.remove_role_from_instance_profile();
            call.instance_profile_name(profile).role_name(role).send()
        })
        .await;
    removed.gone_is_done()
}
