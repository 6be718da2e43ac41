//! Desired resources + what is known of the cloud → a [`Plan`] of actions.
//!
//! "What is known" is the refreshed live view where a kind was read, else the
//! last applied state. Values that depend on a resource being created or
//! replaced are unknown until apply; an unknown value in a field that forces
//! replacement makes the dependent a replace too.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::graph::ResourceGraph;
use crate::model::KindCatalog;
use crate::model::Live;
pub use crate::model::compare::{FieldChange, comparable, field_changes, is_write_only};
use crate::model::{Outputs, Props, has_unknown, resolve};
use crate::state::StateResource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Create => "+",
            Op::Update => "~",
            Op::Replace => "-/+",
            Op::Delete => "-",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub address: String,
    pub kind: String,
    pub op: Op,
    pub changes: Vec<FieldChange>,
    /// Why a replace or a create happens, when it is not obvious.
    pub reason: Option<String>,
    /// Desired properties with references unresolved (create, update, replace).
    pub props: Option<Props>,
    /// The resource as it is now (update, replace, delete).
    pub current: Option<Live>,
    /// What this resource refers to in the plan (ordering of creates).
    pub deps: Vec<String>,
    /// What it referred to when applied (ordering of deletes).
    pub state_deps: Vec<String>,
    pub protect: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub warnings: Vec<String>,
    /// `destroy` only: what controllers left that blocks it, deleted first.
    #[serde(default)]
    pub out_of_band: Vec<crate::sweep::OutOfBand>,
    /// Deletes and replacements that lose data or identity (said loudly).
    #[serde(default)]
    pub data_loss: Vec<crate::data_loss::DataLoss>,
    /// The env's monthly cost now and after the plan.
    #[serde(default)]
    pub cost: Option<crate::cost::CostChange>,
    /// Declared resources that exist but that state did not know: `up`
    /// records them (adopts) before anything else, and creates none of them.
    #[serde(default)]
    pub adopted: Vec<StateResource>,
    /// Tagged with the env, unknown to state and the plan: left alone, or
    /// deleted (an action each) with `--prune-orphans`.
    #[serde(default)]
    pub orphans: Vec<crate::adopt::Orphan>,
    /// `[[moved]]` renames done before the actions (no cloud change but a tag).
    #[serde(default)]
    pub moves: Vec<Move>,
    /// `--target`, `--exclude` and `--replace` as given: listed in the plan's
    /// header; a targeted run is partial.
    #[serde(default)]
    pub selection: Vec<String>,
}

/// A resource renamed in state (`[[moved]]`): the same cloud resource, a new address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub kind: String,
    pub id: String,
}

/// The reason a `--replace` replacement gives.
pub const REPLACE_REQUESTED: &str = "replace requested";

impl Plan {
    /// (to add, to change, to destroy), counted as Terraform does.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |op| self.actions.iter().filter(|a| a.op == op).count();
        let replace = n(Op::Replace);
        (
            n(Op::Create) + replace,
            n(Op::Update),
            n(Op::Delete) + replace,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.out_of_band.is_empty() && self.moves.is_empty()
    }
}

/// How each resource stands now: refreshed from the cloud, or from state.
pub struct Current<'a> {
    pub state: &'a HashMap<String, StateResource>,
    /// Live resources by address, for the kinds that were read.
    pub live: &'a HashMap<String, Live>,
    pub refreshed_kinds: &'a BTreeSet<String>,
}

impl Current<'_> {
    /// The resource as known now; `None` when absent (or deleted out of band).
    pub fn get(&self, address: &str, kind: &str) -> Option<Live> {
        if let Some(live) = self.live.get(address) {
            let mut live = live.clone();
            // Write-only instructions (final snapshot, deletion window) are
            // never read back: the last applied ones come from state.
            if let Some(s) = self.state.get(address) {
                for (k, v) in s.props.iter().filter(|(k, _)| is_write_only(k)) {
                    live.props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            return Some(live);
        }
        let s = self.state.get(address)?;
        if self.refreshed_kinds.contains(&s.kind) {
            return None;
        }
        Some(Live {
            id: s.id.clone(),
            address: Some(s.address.clone()),
            props: s.props.clone(),
            outputs: s.outputs.clone(),
        })
        .filter(|_| s.kind == kind || kind.is_empty())
    }
}

/// A replace field a create sets with a later call, still empty: the create
/// was cut short, and the kind's update finishes it in place.
fn finish_in_place(changes: &mut [FieldChange], set_after_create: &[&str]) {
    for c in changes.iter_mut() {
        let unset = c
            .old
            .as_ref()
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if unset && set_after_create.contains(&c.field.as_str()) {
            c.forces_replacement = false;
        }
    }
}

pub fn diff(graph: &ResourceGraph, current: &Current<'_>, kinds: &dyn KindCatalog) -> Plan {
    diff_replacing(graph, current, kinds, &BTreeSet::new())
}

/// [`diff`], with the resources in `replace` replaced even when nothing
/// forces it (`--replace`); what depends on their new ids follows.
pub fn diff_replacing(
    graph: &ResourceGraph,
    current: &Current<'_>,
    kinds: &dyn KindCatalog,
    replace: &BTreeSet<String>,
) -> Plan {
    let mut plan = Plan::default();
    let mut known: HashMap<&str, Outputs> = HashMap::new();
    let mut renewed: HashSet<&str> = HashSet::new();
    for d in graph.in_order() {
        let kind = kinds.info(&d.kind).expect("graph validated kinds");
        let lookup = |r: &crate::model::Ref| {
            if renewed.contains(r.address.as_str()) {
                return None;
            }
            known
                .get(r.address.as_str())
                .and_then(|o| o.get(&r.output).cloned())
        };
        let resolved = resolve(&d.props, &lookup, true).expect("unknowns allowed");
        let deps = graph.dependencies(&d.address);
        let state_row = current.state.get(&d.address);
        let state_deps = state_row.map(|s| s.deps.clone()).unwrap_or_default();
        let now = current
            .get(&d.address, "")
            .filter(|_| state_row.is_none_or(|s| s.kind == d.kind));
        let action = |op, changes, reason: Option<String>, current: Option<Live>| Action {
            address: d.address.clone(),
            kind: d.kind.clone(),
            op,
            changes,
            reason,
            props: Some(d.props.clone()),
            current,
            deps: deps.clone(),
            state_deps: state_deps.clone(),
            protect: d.protect,
        };
        let Some(live) = now else {
            let (op, reason, current_live) = not_in_the_cloud(&d.kind, state_row);
            let changes = resolved
                .iter()
                .map(|(f, v)| FieldChange {
                    field: f.clone(),
                    old: None,
                    new: Some(v.clone()),
                    forces_replacement: false,
                })
                .collect();
            plan.actions.push(action(op, changes, reason, current_live));
            renewed.insert(&d.address);
            continue;
        };
        let seen = comparable(&live.props, &resolved, state_row.map(|s| &s.props));
        let mut changes = field_changes(&seen, &resolved, kind.replace_fields);
        finish_in_place(&mut changes, kind.set_after_create);
        if replace.contains(&d.address) {
            let live = Live {
                props: seen,
                ..live
            };
            plan.actions.push(action(
                Op::Replace,
                changes,
                Some(REPLACE_REQUESTED.to_string()),
                Some(live),
            ));
            renewed.insert(&d.address);
            continue;
        }
        if changes.is_empty() {
            known.insert(&d.address, live.outputs.clone());
            continue;
        }
        let forcing: Vec<&FieldChange> = changes.iter().filter(|c| c.forces_replacement).collect();
        if forcing.is_empty() {
            known.insert(&d.address, live.outputs.clone());
            let live = Live {
                props: seen,
                ..live
            };
            plan.actions
                .push(action(Op::Update, changes, None, Some(live)));
        } else {
            let reason = forcing
                .iter()
                .map(|c| why_replaced(c, &d.props, &renewed))
                .collect::<Vec<_>>()
                .join("; ");
            let live = Live {
                props: seen,
                ..live
            };
            plan.actions.push(action(
                Op::Replace,
                changes,
                Some(format!("{reason}: forces replacement")),
                Some(live),
            ));
            renewed.insert(&d.address);
        }
    }
    plan.actions.extend(removals(graph, current));
    plan.actions.sort_by(|a, b| a.address.cmp(&b.address));
    plan
}

/// A declared resource the cloud does not have: created, or (its kind
/// changed in state) replaced; with why, and the state row being replaced.
fn not_in_the_cloud(
    kind: &str,
    state_row: Option<&StateResource>,
) -> (Op, Option<String>, Option<Live>) {
    match state_row {
        Some(s) if s.kind != kind => {
            let old = Live {
                id: s.id.clone(),
                address: Some(s.address.clone()),
                props: s.props.clone(),
                outputs: s.outputs.clone(),
            };
            let reason = format!("kind changes from {} to {kind}", s.kind);
            (Op::Replace, Some(reason), Some(old))
        }
        Some(_) => {
            let reason = "deleted outside infra; it will be created again";
            (Op::Create, Some(reason.to_string()), None)
        }
        None => (Op::Create, None, None),
    }
}

/// Why a field forces a replacement. A value unknown until apply names the
/// replaced resources it comes from, so a cascade can be traced to its cause.
fn why_replaced(c: &FieldChange, props: &Props, renewed: &HashSet<&str>) -> String {
    if !c.new.as_ref().is_some_and(has_unknown) {
        return format!("`{}` cannot change in place", c.field);
    }
    let field: Props = props
        .get(&c.field)
        .map(|v| [(c.field.clone(), v.clone())].into_iter().collect())
        .unwrap_or_default();
    let mut by: Vec<String> = crate::model::refs_of(&field)
        .into_iter()
        .map(|r| r.address)
        .filter(|a| renewed.contains(a.as_str()))
        .collect();
    by.sort();
    by.dedup();
    if by.is_empty() {
        format!("`{}` depends on a resource that is being replaced", c.field)
    } else {
        let by = by.join(", ");
        format!("`{}` depends on {by}, which is being replaced", c.field)
    }
}

/// What state has and the plan no longer asks for: deleted, or (already gone
/// from the cloud) only its state row removed.
fn removals(graph: &ResourceGraph, current: &Current<'_>) -> Vec<Action> {
    let mut gone: Vec<&StateResource> = current
        .state
        .values()
        .filter(|s| graph.get(&s.address).is_none())
        .collect();
    gone.sort_by(|a, b| a.address.cmp(&b.address));
    gone.into_iter()
        .map(|s| {
            let live = current.get(&s.address, &s.kind);
            let reason = live.is_none().then(|| {
                "already deleted outside infra; only the state row is removed".to_string()
            });
            Action {
                address: s.address.clone(),
                kind: s.kind.clone(),
                op: Op::Delete,
                changes: Vec::new(),
                reason,
                props: None,
                current: live,
                deps: Vec::new(),
                state_deps: s.deps.clone(),
                protect: s.protect,
            }
        })
        .collect()
}

/// The actions of `up` that would delete a resource with `protect = true`
/// (a replace, a removal from the plan): each with what forces it.
pub fn protected_deletes(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .filter(|a| a.protect && matches!(a.op, Op::Replace | Op::Delete))
        .map(|a| match (a.op, &a.reason) {
            (Op::Replace, Some(reason)) => {
                // A cascade: say what forces the replaced resource it depends on.
                let causes: Vec<String> = plan
                    .actions
                    .iter()
                    .filter(|b| {
                        b.op == Op::Replace
                            && b.address != a.address
                            && (reason.contains(&format!("{},", b.address))
                                || reason.contains(&format!("{} ", b.address)))
                    })
                    .filter_map(|b| b.reason.as_ref().map(|r| format!("{}: {r}", b.address)))
                    .collect();
                let causes = if causes.is_empty() {
                    String::new()
                } else {
                    format!("; {}", causes.join("; "))
                };
                format!("{} must be replaced ({reason}{causes})", a.address)
            }
            (Op::Replace, None) => format!("{} must be replaced", a.address),
            _ => format!(
                "{} would be destroyed (it is no longer in the plan)",
                a.address
            ),
        })
        .collect()
}

/// Every resource in state, deleted: the plan of `destroy`.
pub fn destroy_plan(current: &Current<'_>) -> Plan {
    let mut all: Vec<&StateResource> = current.state.values().collect();
    all.sort_by(|a, b| a.address.cmp(&b.address));
    let actions = all
        .into_iter()
        .map(|s| {
            let live = current.get(&s.address, &s.kind);
            Action {
                address: s.address.clone(),
                kind: s.kind.clone(),
                op: Op::Delete,
                changes: Vec::new(),
                reason: live
                    .is_none()
                    .then(|| "already deleted outside infra; only the state row is removed".into()),
                props: None,
                current: live,
                deps: Vec::new(),
                state_deps: s.deps.clone(),
                protect: s.protect,
            }
        })
        .collect();
    Plan {
        actions,
        ..Plan::default()
    }
}

/// A KMS key the plan deletes while a resource that stays still encrypts
/// with it: once the key is gone, that data cannot be read. Warned, not
/// refused: the deletion waits out its window and can be cancelled.
pub fn keys_still_in_use(plan: &Plan, state: &HashMap<String, StateResource>) -> Vec<String> {
    let leaving: HashSet<&str> = plan
        .actions
        .iter()
        .filter(|a| matches!(a.op, Op::Delete | Op::Replace))
        .map(|a| a.address.as_str())
        .collect();
    let mut warnings = Vec::new();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Delete && a.kind == "KmsKey")
    {
        let Some(arn) = state
            .get(&a.address)
            .and_then(|k| k.outputs.get("arn"))
            .filter(|arn| !arn.is_empty())
        else {
            continue;
        };
        let mut users: Vec<&str> = state
            .values()
            .filter(|r| {
                !leaving.contains(r.address.as_str())
                    && r.props.values().any(|v| v.as_str() == Some(arn.as_str()))
            })
            .map(|r| r.address.as_str())
            .collect();
        users.sort();
        if !users.is_empty() {
            warnings.push(format!(
                "{} is scheduled for deletion but {} still encrypt(s) with it; once the key is deleted that data cannot be read — keep the key until nothing uses it",
                a.address,
                users.join(", ")
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::kinds::Registry;
    use crate::graph::ResourceGraph;
    use crate::model::Desired;
    use serde_json::{Value, json};

    fn desired(address: &str, kind: &str, props: Value) -> Desired {
        Desired {
            address: address.into(),
            kind: kind.into(),
            props: props.as_object().unwrap().clone(),
            protect: false,
            origin: String::new(),
            span: None,
        }
    }

    fn row(address: &str, kind: &str, id: &str, props: Value) -> StateResource {
        StateResource {
            address: address.into(),
            kind: kind.into(),
            id: id.into(),
            props: props.as_object().unwrap().clone(),
            outputs: [("id".to_string(), id.to_string())].into(),
            deps: vec![],
            protect: false,
        }
    }

    fn run(desired_list: Vec<Desired>, rows: Vec<StateResource>) -> Plan {
        let registry = Registry::new();
        let graph = ResourceGraph::new(desired_list).seal(&registry).unwrap();
        let state: HashMap<String, StateResource> =
            rows.into_iter().map(|r| (r.address.clone(), r)).collect();
        let live = HashMap::new();
        let kinds = BTreeSet::new();
        diff(
            &graph,
            &Current {
                state: &state,
                live: &live,
                refreshed_kinds: &kinds,
            },
            &registry,
        )
    }

    fn vpc(cidr: &str) -> Desired {
        desired(
            "vpc.main",
            "Vpc",
            json!({"cidr": cidr, "tags": {"Name": "x"}}),
        )
    }

    fn subnet(cidr: &str) -> Desired {
        desired(
            "subnet.a",
            "Subnet",
            json!({"vpc_id": "${vpc.main.id}", "cidr": cidr, "az": "us-east-1a"}),
        )
    }

    #[test]
    fn creates_what_state_lacks_with_unknown_references() {
        let plan = run(vec![vpc("10.0.0.0/16"), subnet("10.0.1.0/24")], vec![]);
        assert_eq!(plan.counts(), (2, 0, 0));
        let s = plan
            .actions
            .iter()
            .find(|a| a.address == "subnet.a")
            .unwrap();
        assert_eq!(s.op, Op::Create);
        assert!(
            s.changes
                .iter()
                .any(|c| c.field == "vpc_id" && c.new == Some(json!(crate::model::UNKNOWN)))
        );
    }

    #[test]
    fn nothing_to_do_when_state_matches() {
        let plan = run(
            vec![vpc("10.0.0.0/16"), subnet("10.0.1.0/24")],
            vec![
                row(
                    "vpc.main",
                    "Vpc",
                    "vpc-1",
                    json!({"cidr": "10.0.0.0/16", "tags": {"Name": "x"}}),
                ),
                row(
                    "subnet.a",
                    "Subnet",
                    "subnet-1",
                    json!({"vpc_id": "vpc-1", "cidr": "10.0.1.0/24", "az": "us-east-1a"}),
                ),
            ],
        );
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_gateway_cut_short_before_its_attach_is_attached_in_place() {
        let gateway = |vpc: &str| {
            let igw = desired(
                "internet_gateway.main",
                "InternetGateway",
                json!({"vpc_id": "vpc-1"}),
            );
            let state = row(
                "internet_gateway.main",
                "InternetGateway",
                "igw-1",
                json!({ "vpc_id": vpc }),
            );
            run(vec![igw], vec![state]).actions[0].op
        };
        assert_eq!(gateway(""), Op::Update, "never attached: attach it");
        assert_eq!(gateway("vpc-0"), Op::Replace, "another VPC's: replace");
    }

    #[test]
    fn updates_in_place_fields_and_replaces_forcing_ones() {
        let plan = run(
            vec![
                desired(
                    "vpc.main",
                    "Vpc",
                    json!({"cidr": "10.0.0.0/16", "tags": {"Name": "y"}}),
                ),
                subnet("10.0.2.0/24"),
            ],
            vec![
                row(
                    "vpc.main",
                    "Vpc",
                    "vpc-1",
                    json!({"cidr": "10.0.0.0/16", "tags": {"Name": "x"}}),
                ),
                row(
                    "subnet.a",
                    "Subnet",
                    "subnet-1",
                    json!({"vpc_id": "vpc-1", "cidr": "10.0.1.0/24", "az": "us-east-1a"}),
                ),
            ],
        );
        let vpc = &plan.actions[1];
        assert_eq!((vpc.address.as_str(), vpc.op), ("vpc.main", Op::Update));
        let subnet = &plan.actions[0];
        assert_eq!(subnet.op, Op::Replace);
        assert!(
            subnet
                .reason
                .as_deref()
                .unwrap()
                .contains("`cidr` cannot change in place")
        );
        assert_eq!(plan.counts(), (1, 1, 1));
    }

    #[test]
    fn a_replaced_dependency_replaces_its_dependents() {
        let plan = run(
            vec![vpc("10.1.0.0/16"), subnet("10.0.1.0/24")],
            vec![
                row(
                    "vpc.main",
                    "Vpc",
                    "vpc-1",
                    json!({"cidr": "10.0.0.0/16", "tags": {"Name": "x"}}),
                ),
                row(
                    "subnet.a",
                    "Subnet",
                    "subnet-1",
                    json!({"vpc_id": "vpc-1", "cidr": "10.0.1.0/24", "az": "us-east-1a"}),
                ),
            ],
        );
        assert!(plan.actions.iter().all(|a| a.op == Op::Replace));
        let s = plan
            .actions
            .iter()
            .find(|a| a.address == "subnet.a")
            .unwrap();
        assert!(
            s.reason
                .as_deref()
                .unwrap()
                .contains("`vpc_id` depends on vpc.main, which is being replaced")
        );
    }

    #[test]
    fn deletes_what_the_plan_dropped() {
        let plan = run(
            vec![],
            vec![row(
                "vpc.main",
                "Vpc",
                "vpc-1",
                json!({"cidr": "10.0.0.0/16"}),
            )],
        );
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(plan.actions[0].op, Op::Delete);
        assert_eq!(plan.counts(), (0, 0, 1));
    }
}
