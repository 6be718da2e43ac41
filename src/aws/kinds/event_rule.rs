//! An EventBridge rule with its one target (Karpenter's interruption events
//! to its queue). Pattern, description and target change in place; a target
//! added by hand is drift (`other_targets`), which an update removes, and
//! never keeps the rule from being deleted.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target as EventTarget};
use serde_json::json;

use super::tagged::{TagDelta, Tagged, apply_delta, create_tags, listed, tag_delta};
use super::{Kind, Live, ReadScope, Target, json_text, opt_str, outputs, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::aws::{GoneIsDone, OrMissing};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Owner, Props};

pub struct EventRule;

async fn put(cx: &Cx, props: &Props, tags: Option<Vec<Tag>>) -> Result<String, AwsError> {
    let name = str_prop(props, "name")?;
    let pattern = json_text(props, "event_pattern")?;
    let out = cx
        .clients
        .events
        .put_rule()
        .name(name)
        .event_pattern(pattern)
        .set_description(opt_str(props, "description").map(String::from))
        // A rule disabled by hand is drift; an update enables it again.
        .state(RuleState::from(
            opt_str(props, "state").unwrap_or("ENABLED"),
        ))
        .set_tags(tags)
        .send()
        .await
        .aws("PutRule")?;
    let target = EventTarget::builder()
        .id(opt_str(props, "target_id").unwrap_or("target"))
        .arn(str_prop(props, "target_arn")?)
        .build()
        .map_err(|e| AwsError::local("PutTargets", e.to_string()))?;
    cx.call("PutTargets", || {
        cx.clients
            .events
            .put_targets()
            .rule(name)
            .targets(target.clone())
            .send()
    })
    .await?;
    Ok(out.rule_arn().unwrap_or_default().to_string())
}

fn event_tags(map: HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The rule's targets; `None` when the rule is gone.
async fn targets(cx: &Cx, rule: &str) -> Result<Option<Vec<EventTarget>>, AwsError> {
    let listed = cx
        .call("ListTargetsByRule", || {
            cx.clients.events.list_targets_by_rule().rule(rule).send()
        })
        .await
        .or_missing()?;
    Ok(listed.map(|l| l.targets().to_vec()))
}

/// Removes the targets `ids` from the rule (RemoveTargets takes 100 a call).
async fn remove_targets(cx: &Cx, rule: &str, ids: &[String]) -> Result<(), AwsError> {
    for chunk in ids.chunks(100) {
        let call = || cx.clients.events.remove_targets().rule(rule);
        let removed = cx
            .call("RemoveTargets", || {
                call().set_ids(Some(chunk.to_vec())).send()
            })
            .await;
        removed.gone_is_done()?;
    }
    Ok(())
}

/// Every target of the rule but the one with the id `keep`.
async fn other_targets(cx: &Cx, rule: &str, keep: &str) -> Result<Vec<String>, AwsError> {
    let all = targets(cx, rule).await?.unwrap_or_default();
    Ok(all
        .iter()
        .map(|t| t.id().to_string())
        .filter(|id| id != keep)
        .collect())
}

/// Sets and removes tags on a rule, by ARN: its update and the takeover's
/// identity tags.
pub async fn apply_tags(cx: &Cx, arn: &str, delta: TagDelta) -> Result<(), AwsError> {
    let events = &cx.clients.events;
    apply_delta(
        delta,
        |set| async move {
            let tags = event_tags(set);
            cx.call("TagResource", || {
                events
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await
        },
        |keys| async move {
            cx.call("UntagResource", || {
                events
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
            })
            .await
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EventRule",
    tier: Tier::Cluster,
    tagging: Tagging::EventBridge,
    outputs: &["id", "arn"],
    replace_fields: &["name"],
    // Resent safely: PutRule is an upsert by name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EventRule {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let tags = event_tags(create_tags(cx, t.address, t.props));
        let arn = put(cx, t.props, Some(tags)).await?;
        let name = str_prop(t.props, "name")?;
        Ok(t.made_with(name.to_string(), outputs([("id", name), ("arn", &arn)])))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for r in rules(cx, scope.owner).await?.iter() {
            let name = r.arn.rsplit('/').next().unwrap_or_default().to_string();
            // The listing carries pattern and description; targets need one call per rule.
            let Some(targets) = targets(cx, &name).await? else {
                continue;
            };
            // The target state knows, else the first: any other was added
            // outside infra.
            let known = scope.known.iter().find(|k| k.id == name);
            let managed = known.and_then(|k| opt_str(&k.props, "target_id"));
            let target = managed
                .and_then(|id| targets.iter().find(|t| t.id() == id))
                .or(targets.first());
            let mut others: Vec<&str> = targets
                .iter()
                .filter(|t| Some(t.id()) != target.map(|t| t.id()))
                .map(|t| t.id())
                .collect();
            others.sort_unstable();
            let pattern: serde_json::Value = r
                .pattern
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            let mut props = json!({
                "name": name,
                "event_pattern": pattern,
                "target_id": target.map(|t| t.id()).unwrap_or_default(),
                "target_arn": target.map(|t| t.arn()).unwrap_or_default(),
                "other_targets": others,
                "state": r.state.as_deref().unwrap_or("ENABLED"),
                "tags": r.comparable_tags(),
            });
            if let Some(d) = &r.description {
                props["description"] = json!(d);
            }
            out.push(Live::found(
                name.clone(),
                r.address(),
                props,
                outputs([("id", &name), ("arn", &r.arn)]),
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
        if changed.iter().any(|c| c != "tags" && c != "other_targets") {
            put(cx, t.props, None).await?;
        }
        if changed.iter().any(|c| c == "other_targets") {
            let keep = opt_str(t.props, "target_id").unwrap_or("target");
            remove_targets(cx, &live.id, &other_targets(cx, &live.id, keep).await?).await?;
        }
        let arn = live.outputs.get("arn").cloned().unwrap_or_default();
        apply_tags(cx, &arn, tag_delta(&live.props, t.props)).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // Every target, the ones added by hand too: AWS refuses to delete a
        // rule that still has one.
        let Some(all) = targets(cx, &live.id).await? else {
            return Ok(());
        };
        let ids: Vec<String> = all.iter().map(|t| t.id().to_string()).collect();
        remove_targets(cx, &live.id, &ids).await?;
        cx.call("DeleteRule", || {
            cx.clients.events.delete_rule().name(&live.id).send()
        })
        .await
        .gone_is_done()
    }
}

/// The env's rules, with their tags: every rule listed (with its pattern,
/// description and state), then its tags.
async fn rules(cx: &Cx, owner: Owner<'_>) -> Result<std::sync::Arc<Vec<Tagged>>, AwsError> {
    listed(cx, owner, "tagged:events:rule", || async {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = cx
                .call("ListRules", || {
                    cx.clients
                        .events
                        .list_rules()
                        .limit(100)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for rule in page.rules() {
                let Some(arn) = rule.arn() else { continue };
                // Listed, then gone before its tags were read (another run deleting it).
                let Some(tags) = cx
                    .call("ListTagsForResource", || {
                        cx.clients
                            .events
                            .list_tags_for_resource()
                            .resource_arn(arn)
                            .send()
                    })
                    .await
                    .or_missing()?
                else {
                    continue;
                };
                let tags = tags
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect();
                out.push(Tagged {
                    arn: arn.to_string(),
                    tags,
                    url: None,
                    pattern: rule.event_pattern().map(String::from),
                    state: rule.state().map(|s| s.as_str().to_string()),
                    description: rule.description().map(String::from),
                });
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        Ok(out)
    })
    .await
}
