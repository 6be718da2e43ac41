//! `adopt --from-terraform`: reads Terraform's state, maps its instances onto
//! the plan's addresses (`takeover::adopt::map`), then, under the lock, puts
//! infra's identity tags on them and records them as the cloud reads them.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use super::{EnvOptions, Error, Prepared, state_map, with_state};
use crate::aws::{Cx, identity};
use crate::diff::{Current, Op, Plan};
use crate::model::{Outputs, Ref, resolve};
use crate::refresh::Observed;
use crate::state::{RowChange, StateResource, StateStore};
use crate::takeover::adopt::{Mapped, Row, Verdict, foreign_arns, map};
use crate::takeover::{BadInput, tfstate};

/// What `adopt` did (or, with `--dry-run`, would do).
pub struct Outcome {
    pub rows: Vec<Row>,
    pub tagged: Vec<String>,
    pub dry_run: bool,
}

/// What `adopt` is asked to do.
pub struct AdoptOptions<'a> {
    /// Terraform's state file (read only).
    pub from: &'a Path,
    /// Map and report; tag nothing, write nothing.
    pub dry_run: bool,
    /// The command line, recorded with the run.
    pub command: &'a str,
    pub lock_timeout: Duration,
}

/// Reads, checks and maps the Terraform state; tags and records unless a
/// dry run or `confirm` says no.
pub async fn adopt(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    adopt: &AdoptOptions<'_>,
    confirm: &mut dyn FnMut(&[Mapped]) -> bool,
) -> Result<Outcome, Error> {
    let shown = adopt.from.display().to_string();
    let text = std::fs::read_to_string(adopt.from)
        .map_err(|e| BadInput(format!("{shown}: cannot read: {e}")))?;
    let state = tfstate::parse(&shown, &text).map_err(|e| BadInput(e.to_string()))?;
    refuse_foreign(cx, prepared, &state, &shown).await?;
    let (mapped, rows) = map(&prepared.graph, &state);
    if adopt.dry_run || !confirm(&mapped) {
        let tagged = Vec::new();
        return Ok(Outcome {
            rows,
            tagged,
            dry_run: true,
        });
    }
    let (command, lock_timeout) = (adopt.command, adopt.lock_timeout);
    with_state(opts, prepared, cx, command, lock_timeout, async |store| {
        take_over(cx, prepared, store, command, &shown, mapped, rows).await
    })
    .await
}

/// Refuses a Terraform state whose ARNs name another region or account than
/// the plan's (bad input).
async fn refuse_foreign(
    cx: &Cx,
    prepared: &Prepared,
    state: &tfstate::TfState,
    shown: &str,
) -> Result<(), Error> {
    let region = prepared.loaded.file.region.get_ref().clone();
    let caller = cx
        .call("GetCallerIdentity", || {
            cx.clients.sts.get_caller_identity().send()
        })
        .await
        .map_err(Error::from)?;
    let account = caller.account().unwrap_or_default();
    let foreign = foreign_arns(state, &region, account);
    if foreign.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = foreign
        .iter()
        .map(|(a, arn)| format!("{a} (arn {arn})"))
        .collect();
    Err(BadInput(format!(
        "{shown}: key `resources[].instances[].attributes.arn` names another region or account than the plan's (region {region}, account {account}): {}",
        list.join(", ")
    ))
    .into())
}

/// Tags the mapped resources, records them as read back, and marks the rows
/// whose plan differs.
async fn take_over(
    cx: &Cx,
    prepared: &Prepared,
    store: &mut StateStore,
    command: &str,
    shown: &str,
    mapped: Vec<Mapped>,
    mut rows: Vec<Row>,
) -> Result<Outcome, Error> {
    let run_id = store.begin_run(command)?;
    let tagged = tag_each(cx, store, &run_id, &mapped).await?;
    let (kept, observed) = record(cx, prepared, store, &mapped).await?;
    let plan = plan_against(prepared, store, &observed)?;
    mark_differences(&mut rows, &kept, &plan);
    let summary = format!("adopted {} from {shown}", kept.len());
    store.finish_run(&run_id, "ok", &summary)?;
    Ok(Outcome {
        rows,
        tagged,
        dry_run: false,
    })
}

/// Puts the identity tags on each mapped resource that takes tags, one
/// journal entry each; the addresses tagged.
async fn tag_each(
    cx: &Cx,
    store: &mut StateStore,
    run_id: &str,
    mapped: &[Mapped],
) -> Result<Vec<String>, Error> {
    let mut tagged = Vec::new();
    for m in mapped.iter().filter(|m| !identity::untagged(&m.kind)) {
        let token = uuid::Uuid::new_v4().to_string();
        let props = Default::default();
        let j = store.journal_begin(run_id, &m.address, &m.kind, "adopt", &token, &props, &[])?;
        let result = identity::tag(cx, &m.kind, &m.id, &m.outputs, &m.address).await;
        let outcome = if result.is_ok() { "tagged" } else { "failed" };
        store.journal_finish(j, outcome, &RowChange::Keep)?;
        result?;
        tagged.push(m.address.clone());
    }
    Ok(tagged)
}

/// Provisional rows first: kinds read only when state knows them (a
/// parameter group) are then read like the rest; every row is then
/// rewritten from what the cloud holds, and a row not found is dropped.
async fn record(
    cx: &Cx,
    prepared: &Prepared,
    store: &mut StateStore,
    mapped: &[Mapped],
) -> Result<(Vec<StateResource>, Observed), Error> {
    let outputs: HashMap<&str, &Outputs> = mapped
        .iter()
        .map(|m| (m.address.as_str(), &m.outputs))
        .collect();
    let lookup = |r: &Ref| {
        outputs
            .get(r.address.as_str())
            .and_then(|o| o.get(&r.output).cloned())
    };
    let mut provisional = Vec::new();
    for m in mapped {
        let Some(d) = prepared.graph.get(&m.address) else {
            continue;
        };
        provisional.push(StateResource {
            address: m.address.clone(),
            kind: m.kind.clone(),
            id: m.id.clone(),
            props: resolve(&d.props, &lookup, true).unwrap_or_default(),
            outputs: m.outputs.clone(),
            deps: prepared.graph.dependencies(&m.address),
            protect: d.protect,
        });
    }
    store.put_resources(&provisional)?;
    let current = state_map(store)?;
    let (observed, _) = super::observe(cx, prepared, store, &current, true).await?;
    let mut kept = Vec::new();
    for mut row in provisional {
        let Some(live) = observed.live.get(&row.address) else {
            store.remove_resource(&row.address)?;
            continue;
        };
        row.props = crate::diff::comparable(&live.props, &row.props, None);
        row.outputs = live.outputs.clone();
        row.id = live.id.clone();
        kept.push(row);
    }
    store.put_resources(&kept)?;
    Ok((kept, observed))
}

/// What the plan file says differently from the adopted resources.
fn plan_against(
    prepared: &Prepared,
    store: &StateStore,
    observed: &Observed,
) -> Result<Plan, Error> {
    let all = state_map(store)?;
    let view = Current {
        state: &all,
        live: &observed.live,
        refreshed_kinds: &observed.kinds,
    };
    Ok(crate::diff::diff(
        &prepared.graph,
        &view,
        prepared.registry.as_ref(),
    ))
}

/// An adopted row not read back is not mapped after all; one the plan
/// changes is adopted with differences, naming the fields.
fn mark_differences(rows: &mut [Row], kept: &[StateResource], plan: &Plan) {
    let found: BTreeSet<&str> = kept.iter().map(|k| k.address.as_str()).collect();
    for row in rows.iter_mut().filter(|r| r.verdict == Verdict::Adopted) {
        let address = row.infra.clone().unwrap_or_default();
        if !found.contains(address.as_str()) {
            row.verdict = Verdict::NotMapped;
            row.detail = "mapped, but not found as that address when read back".into();
            continue;
        }
        let Some(a) = plan.actions.iter().find(|a| a.address == address) else {
            continue;
        };
        let fields: Vec<String> = a
            .changes
            .iter()
            .filter(|c| c.field != "_after")
            .map(|c| {
                if c.forces_replacement {
                    format!("{} (forces replacement)", c.field)
                } else {
                    c.field.clone()
                }
            })
            .collect();
        if !fields.is_empty() || a.op != Op::Update {
            row.verdict = Verdict::AdoptedWithDifferences;
            row.detail = fields.join(", ");
        }
    }
}
