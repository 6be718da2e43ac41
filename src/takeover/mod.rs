//! Day-2 state work and taking over what infra did not create: `state
//! mv/rm`, `[[moved]]`, `--target/--exclude/--replace`, and the mapping of
//! `adopt --from-terraform` ([`adopt`]). The `import` and `adopt` commands
//! themselves are `ops::import` and `ops::adopt`.

pub mod adopt;
pub mod tfstate;

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::aws::kinds::Live;
use crate::aws::{Cx, identity};
use crate::diff::{Move, Op, Plan};
use crate::graph::ResourceGraph;
use crate::ops::{Error, Prepared};
use crate::refresh::Observed;
use crate::state::{StateResource, StateStore};

/// Kinds AWS cannot tag: infra finds them by their natural key, so taking
/// one over or letting it go touches no tags.
pub fn found_by_natural_key(kind: &str) -> bool {
    identity::untagged(kind)
}

/// Bad input to a takeover command (exit 3): an unknown address, a bad file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// `--target`, `--exclude`, `--replace` as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub targets: Vec<String>,
    pub excludes: Vec<String>,
    pub replaces: Vec<String>,
}

impl Selection {
    pub fn is_partial(&self) -> bool {
        !self.targets.is_empty() || !self.excludes.is_empty()
    }

    /// The plan header's lines, one per flag.
    pub fn header(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.targets.iter().map(|a| format!("--target {a}")));
        out.extend(self.excludes.iter().map(|a| format!("--exclude {a}")));
        out.extend(self.replaces.iter().map(|a| format!("--replace {a}")));
        out
    }

    pub fn replace_set(&self) -> BTreeSet<String> {
        self.replaces.iter().cloned().collect()
    }

    /// Every address must be one the plan or state knows.
    pub fn check(
        &self,
        graph: &ResourceGraph,
        rows: &HashMap<String, StateResource>,
        destroy: bool,
    ) -> Result<(), BadInput> {
        let mut unknown = Vec::new();
        for (flag, list) in [
            ("--target", &self.targets),
            ("--exclude", &self.excludes),
            ("--replace", &self.replaces),
        ] {
            for a in list {
                let known = if destroy {
                    rows.contains_key(a)
                } else {
                    graph.get(a).is_some() || rows.contains_key(a)
                };
                if !known {
                    unknown.push(format!("{flag} {a}"));
                }
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let where_ = if destroy {
            "state"
        } else {
            "the plan file or state"
        };
        Err(BadInput(format!(
            "{} names no resource in {where_}; `infra state list --env ENV` lists what state holds",
            unknown.join(", ")
        )))
    }

    /// Keeps the actions the selection allows on `plan`/`up`: targets with
    /// what they depend on, minus excludes with what depends on them.
    pub fn apply_to(
        &self,
        plan: &mut Plan,
        graph: &ResourceGraph,
        rows: &HashMap<String, StateResource>,
    ) {
        let deps = dependency_map(graph, rows);
        if !self.targets.is_empty() {
            let keep = closure(&self.targets, &deps);
            plan.actions.retain(|a| keep.contains(subject(a)));
            plan.moves.retain(|m| keep.contains(&m.to));
        }
        if !self.excludes.is_empty() {
            let dependents = reverse(&deps);
            let drop = closure(&self.excludes, &dependents);
            plan.actions.retain(|a| !drop.contains(subject(a)));
            plan.moves.retain(|m| !drop.contains(&m.to));
        }
        plan.selection = self.header();
    }

    /// The addresses a targeted destroy may delete; `None`: all of state.
    pub fn destroy_scope(&self, rows: &HashMap<String, StateResource>) -> Option<BTreeSet<String>> {
        if !self.is_partial() {
            return None;
        }
        let deps: HashMap<String, Vec<String>> = rows
            .iter()
            .map(|(a, r)| (a.clone(), r.deps.clone()))
            .collect();
        let mut scope: BTreeSet<String> = if self.targets.is_empty() {
            rows.keys().cloned().collect()
        } else {
            closure(&self.targets, &reverse(&deps))
        };
        if !self.excludes.is_empty() {
            let drop = closure(&self.excludes, &deps);
            scope.retain(|a| !drop.contains(a));
        }
        Some(scope)
    }

    /// `destroy --target`: the targets and everything that depends on them.
    pub fn apply_to_destroy(&self, plan: &mut Plan, rows: &HashMap<String, StateResource>) {
        let deps: HashMap<String, Vec<String>> = rows
            .iter()
            .map(|(a, r)| (a.clone(), r.deps.clone()))
            .collect();
        let dependents = reverse(&deps);
        if !self.targets.is_empty() {
            let keep = closure(&self.targets, &dependents);
            plan.actions.retain(|a| keep.contains(subject(a)));
            plan.out_of_band.clear();
        }
        if !self.excludes.is_empty() {
            // Excluded, and what they depend on, stay (deleting those would fail).
            let drop = closure(&self.excludes, &deps);
            plan.actions.retain(|a| !drop.contains(subject(a)));
        }
        plan.selection = self.header();
    }
}

/// The address a selection judges an action by: a rule or policy added by
/// hand (`by_hand.ID`, no address of its own) goes with the group or role it
/// was added to.
fn subject(action: &crate::diff::Action) -> &str {
    match action.address.strip_prefix("by_hand.") {
        Some(_) => action
            .state_deps
            .first()
            .map(String::as_str)
            .unwrap_or(&action.address),
        None => &action.address,
    }
}

/// What each address depends on: the plan's references, else state's record.
fn dependency_map(
    graph: &ResourceGraph,
    rows: &HashMap<String, StateResource>,
) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|(a, r)| (a.clone(), r.deps.clone()))
        .collect();
    for d in graph.resources() {
        out.insert(d.address.clone(), graph.dependencies(&d.address));
    }
    out
}

fn reverse(deps: &HashMap<String, Vec<String>>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (a, ds) in deps {
        for d in ds {
            out.entry(d.clone()).or_default().push(a.clone());
        }
    }
    out
}

fn closure(start: &[String], edges: &HashMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = start.to_vec();
    while let Some(a) = todo.pop() {
        if seen.insert(a.clone()) {
            todo.extend(edges.get(&a).into_iter().flatten().cloned());
        }
    }
    seen
}

/// The `[[moved]]` renames state still needs: `from` in state, `to` not.
pub fn pending_moves(
    prepared: &Prepared,
    rows: &HashMap<String, StateResource>,
) -> Result<(Vec<Move>, Vec<String>), Error> {
    let loaded = &prepared.loaded;
    let mut errors = Vec::new();
    let mut moves = Vec::new();
    let mut warnings = Vec::new();
    for m in &loaded.file.moved {
        let span = Some(m.span());
        let m = m.get_ref();
        if prepared.graph.get(&m.to).is_none() {
            errors.push(loaded.error(
                format!(
                    "moved: `to = \"{}\"` names no resource of this plan (from = \"{}\")",
                    m.to, m.from
                ),
                span,
            ));
            continue;
        }
        match (rows.get(&m.from), rows.contains_key(&m.to)) {
            (Some(row), false) => moves.push(Move { from: m.from.clone(), to: m.to.clone(), kind: row.kind.clone(), id: row.id.clone() }),
            (Some(_), true) => warnings.push(format!("moved: both {} and {} are in state; nothing is moved (`infra state rm` one of them)", m.from, m.to)),
            (None, _) => {}
        }
    }
    if !errors.is_empty() {
        return Err(loaded.invalid(errors).into());
    }
    Ok((moves, warnings))
}

/// Renames in memory, so the diff sees the moved resources at their new addresses.
pub fn rename_in_memory(
    moves: &[Move],
    rows: &mut HashMap<String, StateResource>,
    observed: &mut Observed,
) {
    for m in moves {
        if let Some(mut row) = rows.remove(&m.from) {
            row.address = m.to.clone();
            rows.insert(m.to.clone(), row);
        }
        for r in rows.values_mut() {
            r.deps
                .iter_mut()
                .filter(|d| **d == m.from)
                .for_each(|d| *d = m.to.clone());
        }
        if let Some(live) = observed.live.remove(&m.from) {
            observed.live.insert(
                m.to.clone(),
                Live {
                    address: Some(m.to.clone()),
                    ..live
                },
            );
        }
    }
}

/// Renames in state and re-tags `infra:address` in the cloud, journaled.
pub async fn perform_move(
    cx: &Cx,
    state: &mut StateStore,
    run_id: &str,
    m: &Move,
) -> Result<(), Error> {
    let Some(row) = state.resource(&m.from)? else {
        return Ok(());
    };
    let token = uuid::Uuid::new_v4().to_string();
    let j = state.journal_begin(
        run_id, &m.to, &row.kind, "move", &token, &row.props, &row.deps,
    )?;
    identity::tag(cx, &row.kind, &row.id, &row.outputs, &m.to).await?;
    state.journal_finish_rename(j, &m.from, &m.to)?;
    Ok(())
}

/// `state rm`: forgets a resource and takes infra's identity tags off it.
/// Returns the row and whether the kind carries tags.
pub async fn forget(
    cx: &Cx,
    state: &mut StateStore,
    run_id: &str,
    address: &str,
) -> Result<(StateResource, bool), Error> {
    let row = state.resource(address)?.ok_or_else(|| no_row(address))?;
    let token = uuid::Uuid::new_v4().to_string();
    let j = state.journal_begin(
        run_id, address, &row.kind, "forget", &token, &row.props, &row.deps,
    )?;
    let tagged = match identity::untag(cx, &row.kind, &row.id, &row.outputs).await {
        Ok(t) => t,
        // Already gone from the cloud: forgetting it is all there is to do.
        Err(e) if e.class == crate::aws::ErrorClass::NotFound => !identity::untagged(&row.kind),
        Err(e) => return Err(e.into()),
    };
    state.journal_finish(
        j,
        "forgotten",
        &crate::state::RowChange::Remove(address.to_string()),
    )?;
    Ok((row, tagged))
}

pub fn no_row(address: &str) -> Error {
    Error::Incomplete(format!("{address} is not in state"))
}

/// One row of `state list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub address: String,
    pub kind: String,
    pub id: String,
}

/// Values never shown by `state show`, whatever a kind keeps.
pub fn redact(props: &crate::model::Props) -> crate::model::Props {
    props
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let secret = (lower.contains("password")
                || lower.contains("secret_string")
                || lower.contains("private_key"))
                && !lower.ends_with("_arn");
            (
                k.clone(),
                if secret {
                    serde_json::Value::String("(sensitive)".into())
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Counts a plan's actions of each op, for summaries.
pub fn count(plan: &Plan, op: Op) -> usize {
    plan.actions.iter().filter(|a| a.op == op).count()
}
