//! State that lost track of the cloud: resources the plan declares that exist
//! (found by their `infra:address` tag, their name or another natural key)
//! but that state does not know, or knows under another id — after a run
//! killed before it recorded them, a deleted state file, or a wrong one.
//! They are adopted all together or not at all: a declared resource that
//! exists and is not adopted would be planned as a create that fails halfway
//! through (`AlreadyExists`), and pruning it as an orphan would delete it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aws::kinds::{Kind, Live, Registry};
use crate::aws::{AwsError, Cx};
use crate::graph::ResourceGraph;
use crate::model::{Outputs, Props, resolve};
use crate::refresh::Observed;
use crate::state::{JournalEntry, StateResource};

/// A resource tagged with the env that neither state nor the plan accounts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orphan {
    pub kind: String,
    /// As read: id, `infra:address` tag, properties (what a prune deletes).
    pub live: Live,
    /// The address is the plan's, but state manages another resource under it.
    pub duplicate_of: Option<String>,
}

/// Why nothing was adopted.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "state does not know resources that exist in the cloud for env {env}, and {} of the plan's addresses match more than one: {}; infra adopts none of them (picking one could manage the wrong database or cluster). Delete the ones that are not wanted (or restore state from the backups next to the state file), then rerun",
    .ambiguous.len(),
    .ambiguous.iter().map(|(a, ids)| format!("{a} ({})", ids.join(", "))).collect::<Vec<_>>().join("; ")
)]
pub struct Ambiguous {
    pub env: String,
    /// Address and the ids that carry it.
    pub ambiguous: Vec<(String, Vec<String>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error(transparent)]
    Ambiguous(#[from] Ambiguous),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Addresses the plan declares, unknown to state, that more than one
/// resource in the cloud carries.
fn ambiguous(
    graph: &ResourceGraph,
    observed: &Observed,
    rows: &HashMap<String, StateResource>,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for d in graph
        .resources()
        .iter()
        .filter(|d| !rows.contains_key(&d.address))
    {
        let ids: Vec<String> = observed
            .untracked
            .iter()
            .filter(|(k, l)| *k == d.kind && l.address.as_deref() == Some(d.address.as_str()))
            .map(|(_, l)| l.id.clone())
            .collect();
        if ids.len() > 1 {
            out.push((d.address.clone(), ids));
        }
    }
    out.sort();
    out
}

/// What state needs to know about the declared resources that exist: their
/// rows, in dependency order. A row state has whose resource is not where
/// state says (a wrong state file) is replaced when the resource is found by
/// its identity. Moves what it adopts from `observed.untracked` to
/// `observed.live`.
pub async fn adopt(
    cx: &Cx,
    graph: &ResourceGraph,
    registry: &Registry,
    observed: &mut Observed,
    rows: &HashMap<String, StateResource>,
    journal: &[JournalEntry],
) -> Result<Vec<StateResource>, AdoptError> {
    let unsure = ambiguous(graph, observed, rows);
    if !unsure.is_empty() {
        return Err(Ambiguous {
            env: cx.env.clone(),
            ambiguous: unsure,
        }
        .into());
    }
    let mut outputs: HashMap<String, Outputs> = rows
        .iter()
        .map(|(a, r)| (a.clone(), r.outputs.clone()))
        .collect();
    for l in observed.live.values() {
        if let Some(a) = &l.address {
            outputs.insert(a.clone(), l.outputs.clone());
        }
    }
    let mut adopted = Vec::new();
    for d in graph.in_order() {
        let Some(kind) = registry.get(&d.kind) else {
            continue;
        };
        if !observed.kinds.contains(&d.kind) || observed.live.contains_key(&d.address) {
            continue;
        }
        // References to what is not known yet read as unknown: a tagged
        // resource is found by its address alone; a natural key needs its
        // own fields resolved, nothing else.
        let lookup = |r: &crate::model::Ref| {
            outputs
                .get(&r.address)
                .and_then(|o| o.get(&r.output).cloned())
        };
        let resolved = resolve(&d.props, &lookup, true).unwrap_or_default();
        let search = Search {
            cx,
            registry,
            kind,
            address: &d.address,
            journal,
        };
        let Some(live) = search.declared(observed, &resolved).await? else {
            continue;
        };
        outputs.insert(d.address.clone(), live.outputs.clone());
        take(observed, &d.kind, &d.address, &live);
        adopted.push(StateResource {
            address: d.address.clone(),
            kind: d.kind.clone(),
            id: live.id.clone(),
            props: seen(&live.props, &resolved),
            outputs: live.outputs.clone(),
            deps: graph.dependencies(&d.address),
            protect: d.protect,
        });
    }
    let taken = |address: &str| {
        graph.get(address).is_some()
            || rows.contains_key(address)
            || adopted.iter().any(|a| a.address == address)
    };
    let left: Vec<&JournalEntry> = journal
        .iter()
        .filter(|j| j.action == "create" && !taken(&j.address))
        .collect();
    adopted.extend(undeclared(cx, registry, observed, journal, &left).await?);
    Ok(adopted)
}

/// Where one address's resource is looked for.
struct Search<'a> {
    cx: &'a Cx,
    registry: &'a Registry,
    kind: &'a dyn Kind,
    address: &'a str,
    journal: &'a [JournalEntry],
}

impl Search<'_> {
    /// A declared resource: by its address tag among what the read found
    /// untracked, by the kind's lookup or the read's natural keys, then as
    /// an interrupted create of the journal.
    async fn declared(
        &self,
        observed: &Observed,
        resolved: &Props,
    ) -> Result<Option<Live>, AwsError> {
        let name = self.kind.name();
        if let Some(live) = untracked(observed, name, self.address) {
            return Ok(Some(live));
        }
        let key = self
            .kind
            .natural_key(resolved)
            .filter(|k| !k.contains(crate::model::UNKNOWN));
        if let Some(key) = &key {
            if let Some(live) = self.kind.lookup(self.cx, resolved).await? {
                return Ok(Some(live));
            }
            if let Some(live) = observed.by_key.get(&(name.to_string(), key.clone())) {
                return Ok(Some(live.clone()));
            }
        }
        // A natural-key create from the journal, with the props it was sent with.
        let sent = self
            .journal
            .iter()
            .filter(|j| j.address == self.address && j.action == "create")
            .find_map(|j| observed.find_unrecorded(self.registry, name, self.address, &j.props));
        if sent.is_some() {
            return Ok(sent);
        }
        interrupted_create(self.cx, self.kind, self.address, self.journal).await
    }
}

/// The resource tagged with `address` among what the read found untracked.
fn untracked(observed: &Observed, kind: &str, address: &str) -> Option<Live> {
    observed
        .untracked
        .iter()
        .find(|(k, l)| *k == kind && l.address.as_deref() == Some(address))
        .map(|(_, l)| l.clone())
}

/// Moves `live` from the untracked to the live resources, as `address`.
fn take(observed: &mut Observed, kind: &str, address: &str, live: &Live) {
    observed
        .untracked
        .retain(|(k, l)| !(*k == kind && l.id == live.id));
    let live = Live {
        address: Some(address.to_string()),
        ..live.clone()
    };
    observed.live.insert(address.to_string(), live);
}

/// Interrupted creates of addresses the plan no longer declares: state
/// takes them, so the plan deletes them (never left behind as "never
/// created").
async fn undeclared(
    cx: &Cx,
    registry: &Registry,
    observed: &mut Observed,
    journal: &[JournalEntry],
    creates: &[&JournalEntry],
) -> Result<Vec<StateResource>, AdoptError> {
    let mut adopted = Vec::new();
    for j in creates {
        if observed.live.contains_key(&j.address) {
            continue;
        }
        let Some(kind) = registry.get(&j.kind) else {
            continue;
        };
        let mut found = untracked(observed, &j.kind, &j.address);
        if found.is_none() {
            found = observed.find_unrecorded(registry, &j.kind, &j.address, &j.props);
        }
        if found.is_none() {
            found = interrupted_create(cx, kind, &j.address, journal).await?;
        }
        let Some(live) = found else { continue };
        if let Some(key) = kind.natural_key(&live.props) {
            observed.by_key.remove(&(j.kind.clone(), key));
        }
        take(observed, &j.kind, &j.address, &live);
        adopted.push(StateResource {
            address: j.address.clone(),
            kind: j.kind.clone(),
            id: live.id.clone(),
            props: seen(&live.props, &j.props),
            outputs: live.outputs.clone(),
            deps: j.deps.clone(),
            protect: false,
        });
    }
    Ok(adopted)
}

/// What an interrupted create of `address` made, found by the kind's own
/// lookup from the properties it was sent with (recorded in the journal):
/// for kinds whose batched read covers only what state knows (a DB
/// parameter group, a Route53 record) or cannot see a half-made resource
/// (an instance profile before its role is added).
async fn interrupted_create(
    cx: &Cx,
    kind: &dyn crate::aws::kinds::Kind,
    address: &str,
    journal: &[JournalEntry],
) -> Result<Option<Live>, AwsError> {
    for j in journal
        .iter()
        .filter(|j| j.address == address && j.action == "create" && j.kind == kind.name())
    {
        if let Some(live) = cx.retry(|| kind.lookup(cx, &j.props)).await?
            && crate::aws::kinds::made_for(kind, &cx.project, address, &j.props, &live)
        {
            return Ok(Some(live));
        }
    }
    Ok(None)
}

/// The live values as if infra had applied them (tags narrowed to the plan's keys).
fn seen(live: &Props, resolved: &Props) -> Props {
    crate::diff::comparable(live, resolved, None)
}

/// Tagged with the env, and neither adopted nor known to state. A resource
/// carrying an address state manages under another id is a duplicate.
pub fn orphans(observed: &Observed, rows: &HashMap<String, StateResource>) -> Vec<Orphan> {
    observed
        .untracked
        .iter()
        .map(|(kind, live)| Orphan {
            kind: kind.clone(),
            live: live.clone(),
            duplicate_of: live.address.clone().filter(|a| {
                rows.get(a).is_some_and(|r| &r.kind == kind) || observed.live.contains_key(a)
            }),
        })
        .collect()
}

/// `--prune-orphans`: one delete per orphan, shown in the plan like any other.
pub fn prune_actions(orphans: &[Orphan]) -> Vec<crate::diff::Action> {
    orphans
        .iter()
        .map(|o| crate::diff::Action {
            address: o.live.address.clone().filter(|_| o.duplicate_of.is_none()).unwrap_or_else(|| format!("orphan.{}", o.live.id)),
            kind: o.kind.clone(),
            op: crate::diff::Op::Delete,
            changes: Vec::new(),
            reason: Some(match &o.duplicate_of {
                Some(a) => format!("orphan {}: a second resource tagged {a}, which state manages as another (--prune-orphans)", o.live.id),
                None => format!("orphan {}: tagged with this env, not in state (--prune-orphans)", o.live.id),
            }),
            props: None,
            current: Some(o.live.clone()),
            deps: Vec::new(),
            state_deps: Vec::new(),
            protect: false,
        })
        .collect()
}
