//! A customer managed KMS key, one per service, with rotation. Destroy only
//! schedules deletion, with the plan's pending window; a key pending deletion
//! counts as gone. Its create is three calls (key, policy, rotation); the
//! policy's grant and the rotation are read back, so a create cut short
//! between them shows as an in-place update that finishes it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyState, Tag};
use serde_json::json;

use super::tagged::{TagDelta, Tagged, apply_delta, create_tags, listed, tag_delta};
use super::{Kind, Live, ReadScope, Target, outputs};
use crate::aws::{AwsError, Cx, ErrorClass, OrMissing, SdkResultExt};
use crate::model::{KindInfo, Tagging, Tier};
use crate::model::{Owner, Props};

pub struct KmsKey;

fn rotation(props: &Props) -> bool {
    props
        .get("enable_rotation")
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

async fn set_rotation(cx: &Cx, id: &str, on: bool) -> Result<(), AwsError> {
    if on {
        cx.call("EnableKeyRotation", || {
            cx.clients.kms.enable_key_rotation().key_id(id).send()
        })
        .await?;
    } else {
        cx.call("DisableKeyRotation", || {
            cx.clients.kms.disable_key_rotation().key_id(id).send()
        })
        .await?;
    }
    Ok(())
}

/// The statement that lets services use the key.
const GRANT_SID: &str = "ServicesEncrypt";

/// The default key policy (the account administers the key) plus use of the
/// key by the given service principals, scoped to this account.
fn grant_policy(account: &str, services: &[String]) -> String {
    let mut statements = vec![
        json!({ "Sid": "AccountAdministers", "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::{account}:root") }, "Action": "kms:*", "Resource": "*" }),
    ];
    if !services.is_empty() {
        statements.push(json!({ "Sid": GRANT_SID, "Effect": "Allow", "Principal": { "Service": services },
          "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*",
          "Condition": { "StringEquals": { "aws:SourceAccount": account } } }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// The services infra's grant statement names in a key policy (sorted; none
/// for AWS's default policy, or when the statement was taken out).
fn granted_services(policy: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(policy).unwrap_or_default();
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = statements
        .iter()
        .filter(|s| s["Sid"] == GRANT_SID && s["Effect"] == "Allow")
        .flat_map(|s| match &s["Principal"]["Service"] {
            serde_json::Value::String(one) => vec![one.clone()],
            serde_json::Value::Array(many) => many
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Writes the key policy with the plan's grant.
async fn put_policy(cx: &Cx, id: &str, account: &str, services: &[String]) -> Result<(), AwsError> {
    let policy = grant_policy(account, services);
    cx.call("PutKeyPolicy", || {
        cx.clients
            .kms
            .put_key_policy()
            .key_id(id)
            .policy_name("default")
            .policy(&policy)
            .send()
    })
    .await?;
    Ok(())
}

/// The account of a key, from its ARN (`arn:aws:kms:region:account:key/id`).
fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

fn kms_tags(map: HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .filter_map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().ok())
        .collect()
}

/// Sets and removes tags on a key, by id: its update and the takeover's
/// identity tags.
pub async fn apply_tags(cx: &Cx, id: &str, delta: TagDelta) -> Result<(), AwsError> {
    let kms = &cx.clients.kms;
    apply_delta(
        delta,
        |set| async move {
            let tags = kms_tags(set);
            cx.call("TagResource", || {
                kms.tag_resource()
                    .key_id(id)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await
        },
        |keys| async move {
            cx.call("UntagResource", || {
                kms.untag_resource()
                    .key_id(id)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
            })
            .await
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "KmsKey",
    tier: Tier::Kms,
    tagging: Tagging::Kms,
    outputs: &["id", "arn"],
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for KmsKey {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let tags = kms_tags(create_tags(cx, t.address, t.props));
        let out = cx
            .clients
            .kms
            .create_key()
            .description(super::opt_str(t.props, "description").unwrap_or_default())
            .set_tags(Some(tags))
            .send()
            .await
            .aws("CreateKey")?;
        let meta = out
            .key_metadata()
            .ok_or_else(|| AwsError::local("CreateKey", "no key metadata"))?;
        let id = meta.key_id().to_string();
        let services = super::strings(t.props, "grant_services");
        if !services.is_empty() {
            // The account is known only now, from the key itself.
            put_policy(
                cx,
                &id,
                meta.aws_account_id().unwrap_or_default(),
                &services,
            )
            .await?;
        }
        set_rotation(cx, &id, rotation(t.props)).await?;
        Ok(t.made_with(
            id.clone(),
            outputs([("id", &id), ("arn", meta.arn().unwrap_or_default())]),
        ))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for k in keys(cx, scope.owner).await?.iter() {
            let id = k.arn.rsplit('/').next().unwrap_or_default().to_string();
            // KMS has no batch read: DescribeKey, GetKeyRotationStatus and
            // GetKeyPolicy per key.
            let Some(meta) = cx
                .call("DescribeKey", || {
                    cx.clients.kms.describe_key().key_id(&id).send()
                })
                .await
                .or_missing()?
            else {
                continue;
            };
            let Some(meta) = meta.key_metadata() else {
                continue;
            };
            if matches!(
                meta.key_state(),
                Some(KeyState::PendingDeletion) | Some(KeyState::PendingReplicaDeletion)
            ) {
                continue;
            }
            let rotation = cx
                .call("GetKeyRotationStatus", || {
                    cx.clients.kms.get_key_rotation_status().key_id(&id).send()
                })
                .await?
                .key_rotation_enabled();
            let policy = cx
                .call("GetKeyPolicy", || {
                    cx.clients
                        .kms
                        .get_key_policy()
                        .key_id(&id)
                        .policy_name("default")
                        .send()
                })
                .await?;
            let granted = granted_services(policy.policy().unwrap_or_default());
            let props = json!({
                "description": meta.description().unwrap_or_default(),
                "enable_rotation": rotation,
                "grant_services": granted,
                "tags": k.comparable_tags(),
            });
            out.push(Live::found(
                id.clone(),
                k.address(),
                props,
                outputs([("id", &id), ("arn", &k.arn)]),
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
        if changed.iter().any(|c| c == "grant_services") {
            let arn = live
                .outputs
                .get("arn")
                .map(String::as_str)
                .unwrap_or_default();
            let services = super::strings(t.props, "grant_services");
            put_policy(cx, &live.id, account_of(arn), &services).await?;
        }
        if changed.iter().any(|c| c == "enable_rotation") {
            set_rotation(cx, &live.id, rotation(t.props)).await?;
        }
        if changed.iter().any(|c| c == "description") {
            let d = super::opt_str(t.props, "description").unwrap_or_default();
            cx.call("UpdateKeyDescription", || {
                cx.clients
                    .kms
                    .update_key_description()
                    .key_id(&live.id)
                    .description(d)
                    .send()
            })
            .await?;
        }
        apply_tags(cx, &live.id, tag_delta(&live.props, t.props)).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let days = live
            .props
            .get("_deletion_window_days")
            .and_then(|v| v.as_i64())
            .unwrap_or(30) as i32;
        match cx
            .call("ScheduleKeyDeletion", || {
                cx.clients
                    .kms
                    .schedule_key_deletion()
                    .key_id(&live.id)
                    .pending_window_in_days(days)
                    .send()
            })
            .await
        {
            Err(e) if e.class != ErrorClass::NotFound && e.code != "KMSInvalidStateException" => {
                Err(e)
            }
            _ => Ok(()),
        }
    }
}

/// The env's keys, with their tags: every key listed, then its tags.
async fn keys(cx: &Cx, owner: Owner<'_>) -> Result<std::sync::Arc<Vec<Tagged>>, AwsError> {
    listed(cx, owner, "tagged:kms:key", || async {
        let mut out = Vec::new();
        let keys = cx
            .all("ListKeys", || {
                cx.clients
                    .kms
                    .list_keys()
                    .limit(1000)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        for key in keys {
            let (Some(id), Some(arn)) = (key.key_id(), key.key_arn()) else {
                continue;
            };
            // AWS managed keys refuse tag reads: they are not ours anyway.
            let Ok(tags) = cx
                .call("ListResourceTags", || {
                    cx.clients.kms.list_resource_tags().key_id(id).send()
                })
                .await
            else {
                continue;
            };
            let tags = tags
                .tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
                .collect();
            out.push(Tagged {
                arn: arn.to_string(),
                tags,
                url: None,
                pattern: None,
                description: None,
                state: None,
            });
        }
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grant_is_read_back_from_the_policy_infra_writes() {
        let services = vec!["logs.us-east-1.amazonaws.com".to_string()];
        let written = grant_policy("123456789012", &services);
        assert_eq!(granted_services(&written), services);
        // AWS's default policy, or one without infra's statement: no grant.
        assert!(granted_services(&grant_policy("123456789012", &[])).is_empty());
        let one = r#"{"Statement":{"Sid":"ServicesEncrypt","Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"}}}"#;
        assert_eq!(granted_services(one), vec!["logs.amazonaws.com"]);
        assert!(granted_services("not json").is_empty());
        assert_eq!(
            account_of("arn:aws:kms:us-east-1:123456789012:key/abc"),
            "123456789012"
        );
    }
}
