//! A public Route53 hosted zone. Route53 tags are not returned by the zone
//! list, but one `ListTagsForResources` call reads ten zones' tags, so the
//! read stays batched. The create's `CallerReference` names the env, the
//! address and the action's journal token: a resend after a lost response is
//! refused as a duplicate instead of making a second zone, and a zone whose
//! create was killed before its tags were set is still found as ours.

use async_trait::async_trait;
use aws_sdk_route53::types::{HostedZone, HostedZoneConfig, Tag, TagResourceType};
use serde_json::json;

use super::tagged::{TagDelta, create_tags, tag_delta};
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Outputs, TAG_ADDRESS, TAG_ENV, TAG_PROJECT, is_foreign_tag};

pub struct Route53Zone;

/// `/hostedzone/Z123` → `Z123`.
pub fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn outputs(id: &str, name: &str, name_servers: &str) -> Outputs {
    [
        ("id".into(), id.to_string()),
        ("name".into(), name.to_string()),
        ("name_servers".into(), name_servers.to_string()),
    ]
    .into()
}

fn r53_tags(map: std::collections::HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Sets and removes tags on a zone, in one call: its update and the
/// takeover's identity tags.
pub async fn apply_tags(cx: &Cx, id: &str, (set, remove): TagDelta) -> Result<(), AwsError> {
    let (id, add) = (short_id(id), r53_tags(set));
    cx.call("ChangeTagsForResource", || {
        cx.clients
            .route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(id)
            .set_add_tags((!add.is_empty()).then(|| add.clone()))
            .set_remove_tag_keys((!remove.is_empty()).then(|| remove.clone()))
            .send()
    })
    .await?;
    Ok(())
}

async fn name_servers(cx: &Cx, id: &str) -> Result<String, AwsError> {
    let got = cx
        .call("GetHostedZone", || {
            cx.clients.route53.get_hosted_zone().id(id).send()
        })
        .await?;
    Ok(got
        .delegation_set()
        .map(|d| d.name_servers().join(","))
        .unwrap_or_default())
}

/// `infra/<project>/<env>/<address>/<token>` (Route53 allows 128 characters).
fn caller_reference(owner: crate::model::Owner<'_>, address: &str, token: &str) -> String {
    format!("infra/{}/{}/{address}/{token}", owner.project, owner.env)
        .chars()
        .take(128)
        .collect()
}

/// The address a zone's caller reference names, when it names this
/// project and env.
fn referenced_address(reference: &str, owner: crate::model::Owner<'_>) -> Option<String> {
    let rest = reference
        .strip_prefix("infra/")?
        .strip_prefix(owner.project)?
        .strip_prefix('/')?
        .strip_prefix(owner.env)?
        .strip_prefix('/')?;
    rest.split('/')
        .next()
        .filter(|a| !a.is_empty())
        .map(String::from)
}

/// Every public zone in the account with its tags (ten zones per tag call).
async fn zones_with_tags(cx: &Cx) -> Result<Vec<(HostedZone, Vec<(String, String)>)>, AwsError> {
    let zones = cx
        .all("ListHostedZones", || {
            cx.clients
                .route53
                .list_hosted_zones()
                .max_items(100)
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    let zones: Vec<HostedZone> = zones
        .into_iter()
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .collect();
    let mut out = Vec::new();
    for chunk in zones.chunks(10) {
        let ids: Vec<String> = chunk.iter().map(|z| short_id(z.id()).to_string()).collect();
        let sets = cx
            .call("ListTagsForResources", || {
                cx.clients
                    .route53
                    .list_tags_for_resources()
                    .resource_type(TagResourceType::Hostedzone)
                    .set_resource_ids(Some(ids.clone()))
                    .send()
            })
            .await?;
        for z in chunk {
            let tags = sets
                .resource_tag_sets()
                .iter()
                .find(|s| s.resource_id() == Some(short_id(z.id())))
                .map(|s| {
                    s.tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            out.push((z.clone(), tags));
        }
    }
    Ok(out)
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "Route53Zone",
    tier: Tier::Dns,
    tagging: Tagging::Route53,
    outputs: &["id", "name", "name_servers"],
    replace_fields: &["name"],
    // Resent safely: CallerReference (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for Route53Zone {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let reference = caller_reference(cx.owner(), t.address, t.token);
        let created = cx
            .clients
            .route53
            .create_hosted_zone()
            .name(name)
            .caller_reference(&reference)
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .set_comment(opt_str(t.props, "comment").map(String::from))
                    .private_zone(false)
                    .build(),
            )
            .send()
            .await
            .aws("CreateHostedZone");
        let (id, ns) = match created {
            Ok(c) => {
                let zone = c.hosted_zone().ok_or_else(|| {
                    AwsError::local("CreateHostedZone", "no zone in the response")
                })?;
                (
                    short_id(zone.id()).to_string(),
                    c.delegation_set()
                        .map(|d| d.name_servers().join(","))
                        .unwrap_or_default(),
                )
            }
            // This very request went through before (a resent call): the zone carrying its reference is ours.
            Err(e) if e.code == "HostedZoneAlreadyExists" => {
                let listed = cx
                    .call("ListHostedZonesByName", || {
                        cx.clients
                            .route53
                            .list_hosted_zones_by_name()
                            .dns_name(name)
                            .max_items(100)
                            .send()
                    })
                    .await?;
                let Some(zone) = listed
                    .hosted_zones()
                    .iter()
                    .find(|z| z.caller_reference() == reference)
                else {
                    return Err(e);
                };
                let id = short_id(zone.id()).to_string();
                let ns = name_servers(cx, &id).await?;
                (id, ns)
            }
            Err(e) => return Err(e),
        };
        let tags = create_tags(cx, t.address, t.props);
        apply_tags(cx, &id, (tags, Vec::new())).await?;
        Ok(t.made_with(id.clone(), outputs(&id, name, &ns)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (zone, tags) in zones_with_tags(cx).await? {
            let ownership = crate::model::ownership(
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                scope.owner,
            );
            // Created, then killed before the tags were set: the reference still says whose it is.
            let referenced = referenced_address(zone.caller_reference(), scope.owner);
            let untagged = !tags.iter().any(|(k, _)| k == TAG_ENV);
            if ownership == crate::model::Ownership::Foreign && !(untagged && referenced.is_some())
            {
                continue;
            }
            let id = short_id(zone.id()).to_string();
            let name = zone.name().trim_end_matches('.').to_string();
            // Name servers never change for a zone: from state when known.
            let known_ns = scope
                .known
                .iter()
                .find(|k| k.id == id)
                .and_then(|k| k.outputs.get("name_servers").cloned())
                .filter(|s| !s.is_empty());
            let ns = match known_ns {
                Some(ns) => ns,
                None => name_servers(cx, &id).await?,
            };
            let mut comparable: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .filter(|(k, _)| !is_foreign_tag(k))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            if untagged && referenced.is_some() {
                // The reference names the project: it stands for the tag, so
                // the zone is not taken for one made before projects were
                // tagged. The plan's other tags still differ, and the update
                // writes every tag, identity included.
                comparable.insert(TAG_PROJECT.into(), json!(scope.owner.project));
            }
            let props = json!({ "name": name, "comment": zone.config().and_then(|c| c.comment()).unwrap_or_default(), "tags": comparable });
            let address = tags
                .iter()
                .find(|(k, _)| k == TAG_ADDRESS)
                .map(|(_, v)| v.clone())
                .or(referenced);
            out.push(Live::found(
                id.clone(),
                address,
                props,
                outputs(&id, &name, &ns),
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
        if changed.iter().any(|c| c == "comment") {
            let comment = opt_str(t.props, "comment").unwrap_or_default();
            cx.call("UpdateHostedZoneComment", || {
                cx.clients
                    .route53
                    .update_hosted_zone_comment()
                    .id(&live.id)
                    .comment(comment)
                    .send()
            })
            .await?;
        }
        if changed.iter().any(|c| c == "tags") {
            // Identity tags too: a zone adopted by its caller reference has none yet.
            let (_, remove) = tag_delta(&live.props, t.props);
            let tags = create_tags(cx, t.address, t.props);
            apply_tags(cx, &live.id, (tags, remove)).await?;
        }
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        // Records someone else made (external-dns) block the delete; the sweep removes those first.
        cx.delete_in_use(
            address,
            "zone still has records",
            "DeleteHostedZone",
            || cx.clients.route53.delete_hosted_zone().id(&live.id).send(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_reference_names_project_env_and_address() {
        use crate::model::Owner;
        let me = Owner {
            project: "todo",
            env: "dev",
        };
        let r = caller_reference(me, "route53_zone.main", "0b9f");
        assert_eq!(
            referenced_address(&r, me).as_deref(),
            Some("route53_zone.main")
        );
        assert_eq!(
            referenced_address(
                &r,
                Owner {
                    project: "todo",
                    env: "de"
                }
            ),
            None
        );
        assert_eq!(
            referenced_address(
                &r,
                Owner {
                    project: "other",
                    env: "dev"
                }
            ),
            None
        );
        assert_eq!(referenced_address("someone-elses-zone", me), None);
        let long = "e".repeat(200);
        assert!(
            caller_reference(
                Owner {
                    project: "todo",
                    env: &long
                },
                "a",
                "t"
            )
            .len()
                <= 128
        );
    }
}
