//! Drift: what changed in the cloud behind infra's back. Compares the live
//! view (one batched read per kind) with the last applied state and with the
//! plan, and lists resources tagged with the env that state does not know.
//! Only the fields a kind reads back and the plan sets are compared, so
//! values AWS fills in, `aws:*` tags, tags others add and unowned node-group
//! sizes never show.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::aws::kinds::Registry;
use crate::diff::{comparable, field_changes};
use crate::graph::ResourceGraph;
use crate::model::{Outputs, resolve};
use crate::refresh::Observed;
use crate::state::StateResource;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldDrift {
    pub field: String,
    /// What infra last applied.
    pub applied: Option<Value>,
    pub live: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// Fields changed outside infra since it applied them.
    Changed {
        address: String,
        kind: String,
        id: String,
        fields: Vec<FieldDrift>,
    },
    /// In state, gone from the cloud.
    Deleted {
        address: String,
        kind: String,
        id: String,
    },
    /// Live matches what was applied, but the plan file now wants otherwise.
    PlanDiffers {
        address: String,
        kind: String,
        fields: Vec<String>,
    },
    /// Tagged with this env, unknown to state.
    Orphan {
        kind: String,
        id: String,
        address: Option<String>,
    },
    /// Declared by the plan and in the cloud, unknown to state (a lost or
    /// wrong state file): `infra up` adopts it, creating nothing.
    Unrecorded {
        address: String,
        kind: String,
        id: String,
    },
    /// Added outside infra to one of its resources and not in the plan: a
    /// rule on one of its security groups, a policy on one of its roles.
    /// `up` removes it.
    AddedByHand {
        kind: String,
        id: String,
        parent: String,
        what: String,
    },
    /// AWS's own allow-all egress still on one of infra's security groups:
    /// its create was cut short before infra revoked it (or it was put back
    /// by hand, which looks the same). The plan's rules are the whole truth,
    /// so the group allows more than the plan says; `up` revokes it.
    DefaultEgress {
        kind: String,
        id: String,
        parent: String,
        what: String,
    },
    /// Cluster access the plan does not grant: a break-glass entry past its
    /// time, or a cluster admin the plan does not name.
    Access {
        kind: String,
        principal_arn: String,
        address: Option<String>,
        why: String,
    },
}

impl Finding {
    pub fn kind(&self) -> &str {
        match self {
            Finding::Changed { kind, .. }
            | Finding::Deleted { kind, .. }
            | Finding::PlanDiffers { kind, .. }
            | Finding::Orphan { kind, .. }
            | Finding::Unrecorded { kind, .. }
            | Finding::AddedByHand { kind, .. }
            | Finding::DefaultEgress { kind, .. }
            | Finding::Access { kind, .. } => kind,
        }
    }

    /// Findings that make `drift` exit 2. A plan edit not yet applied is
    /// reported, but it is not drift: nothing changed behind infra's back.
    pub fn is_drift(&self) -> bool {
        !matches!(self, Finding::PlanDiffers { .. })
    }
}

/// The tier a kind belongs to, for grouping the report.
pub fn tier(kind: &str) -> &'static str {
    crate::aws::kinds::info(kind).map_or("other", |i| i.tier.as_str())
}

pub fn detect(
    graph: &ResourceGraph,
    state: &HashMap<String, StateResource>,
    observed: &Observed,
    registry: &Registry,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut rows: Vec<&StateResource> = state.values().collect();
    rows.sort_by(|a, b| a.address.cmp(&b.address));
    let outputs: HashMap<&str, &Outputs> = state
        .iter()
        .map(|(a, r)| {
            (
                a.as_str(),
                observed
                    .live
                    .get(a)
                    .map(|l| &l.outputs)
                    .unwrap_or(&r.outputs),
            )
        })
        .collect();
    for row in rows {
        let Some(kind) = registry.get(&row.kind) else {
            continue;
        };
        if !observed.kinds.contains(&row.kind) {
            continue;
        }
        let Some(live) = observed.live.get(&row.address) else {
            findings.push(Finding::Deleted {
                address: row.address.clone(),
                kind: row.kind.clone(),
                id: row.id.clone(),
            });
            continue;
        };
        if let Some(until) = expired_break_glass(row) {
            findings.push(Finding::Access {
                kind: row.kind.clone(),
                principal_arn: row
                    .props
                    .get("principal_arn")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                address: Some(row.address.clone()),
                why: format!("break-glass access past its time ({until}); `infra up` removes it"),
            });
        }
        let seen = comparable(&live.props, &row.props, None);
        let changed: Vec<FieldDrift> = field_changes(&seen, &row.props, &[])
            .into_iter()
            .flat_map(|c| {
                per_key(FieldDrift {
                    field: c.field,
                    applied: c.new,
                    live: c.old,
                })
            })
            .collect();
        if !changed.is_empty() {
            findings.push(Finding::Changed {
                address: row.address.clone(),
                kind: row.kind.clone(),
                id: live.id.clone(),
                fields: changed,
            });
            continue;
        }
        if let Some(d) = graph.get(&row.address) {
            let lookup = |r: &crate::model::Ref| {
                outputs
                    .get(r.address.as_str())
                    .and_then(|o| o.get(&r.output).cloned())
            };
            if let Ok(want) = resolve(&d.props, &lookup, true) {
                let seen = comparable(&live.props, &want, Some(&row.props));
                let fields: Vec<String> = field_changes(&seen, &want, kind.replace_fields())
                    .into_iter()
                    .map(|c| c.field)
                    .collect();
                if !fields.is_empty() {
                    findings.push(Finding::PlanDiffers {
                        address: row.address.clone(),
                        kind: row.kind.clone(),
                        fields,
                    });
                }
            }
        }
    }
    for (kind, live) in &observed.untracked {
        findings.push(Finding::Orphan {
            kind: kind.clone(),
            id: live.id.clone(),
            address: live.address.clone(),
        });
    }
    findings
}

/// A flat map (tags, labels) drifts key by key: `tags.team`, never both
/// whole maps. Nested values (policy documents) stay whole.
fn per_key(d: FieldDrift) -> Vec<FieldDrift> {
    let flat =
        |m: &serde_json::Map<String, Value>| m.values().all(|v| !v.is_object() && !v.is_array());
    match (&d.applied, &d.live) {
        (Some(Value::Object(applied)), Some(Value::Object(live)))
            if flat(applied) && flat(live) =>
        {
            let keys: std::collections::BTreeSet<&String> =
                applied.keys().chain(live.keys()).collect();
            keys.into_iter()
                .filter(|k| applied.get(*k) != live.get(*k))
                .map(|k| FieldDrift {
                    field: format!("{}.{k}", d.field),
                    applied: applied.get(k).cloned(),
                    live: live.get(k).cloned(),
                })
                .collect()
        }
        _ => vec![d],
    }
}

/// What was added by hand, as findings. AWS's own default egress left by a
/// cut-short create is drift too: nobody changed anything behind infra's
/// back, but the group lets out more than the plan allows.
pub fn added_by_hand(found: &[crate::by_hand::ByHand]) -> Vec<Finding> {
    found
        .iter()
        .map(|b| {
            let (kind, id, parent, what) = (
                b.kind.clone(),
                b.live.id.clone(),
                b.parent.clone(),
                b.what.clone(),
            );
            if b.default_egress {
                Finding::DefaultEgress {
                    kind,
                    id,
                    parent,
                    what,
                }
            } else {
                Finding::AddedByHand {
                    kind,
                    id,
                    parent,
                    what,
                }
            }
        })
        .collect()
}

/// The `until` of a break-glass access entry whose time has passed.
fn expired_break_glass(row: &StateResource) -> Option<&str> {
    let until = row.props.get("_until")?.as_str()?;
    let at = humantime::parse_rfc3339_weak(until).ok()?;
    (at <= std::time::SystemTime::now()).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tag_drift_names_only_the_changed_keys() {
        let d = FieldDrift {
            field: "tags".into(),
            applied: Some(json!({"Name": "a", "tier": "public", "gone": "x"})),
            live: Some(json!({"Name": "a", "tier": "private", "new": "y"})),
        };
        let got: Vec<(String, Option<Value>, Option<Value>)> = per_key(d)
            .into_iter()
            .map(|f| (f.field, f.applied, f.live))
            .collect();
        assert_eq!(
            got,
            vec![
                ("tags.gone".into(), Some(json!("x")), None),
                ("tags.new".into(), None, Some(json!("y"))),
                (
                    "tags.tier".into(),
                    Some(json!("public")),
                    Some(json!("private"))
                ),
            ]
        );
        let doc = FieldDrift {
            field: "document".into(),
            applied: Some(json!({"Statement": []})),
            live: Some(json!({"Statement": [1]})),
        };
        assert_eq!(per_key(doc.clone()), vec![doc]);
    }
}
