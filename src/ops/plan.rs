//! `infra plan`: never writes state, never takes the lock.

use super::*;

/// What a plan was computed from: saved with `--out`, checked by `up FILE`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: u32,
    pub env: String,
    pub state_serial: i64,
    /// Whether a state file existed when the plan was made.
    pub state_existed: bool,
    /// The state's lineage: a plan is never applied to another state that
    /// happens to have the same serial.
    #[serde(default)]
    pub lineage: Option<String>,
    pub plan_digest: String,
    /// With the S3 backend: the state object's ETag and version when planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<String>,
    pub plan: Plan,
}

pub struct PlanOutcome {
    pub plan: Plan,
    pub saved: Option<SavedPlan>,
}

/// The plan from state, the cloud as observed and what is adopted: diffs,
/// warnings, orphans (a delete each when `prune_orphans`), data loss.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_plan(
    prepared: &Prepared,
    rows: &HashMap<String, StateResource>,
    observed: &Observed,
    adopted: Vec<StateResource>,
    prune_orphans: bool,
    selection: &crate::takeover::Selection,
    (moves, move_warnings): (Vec<crate::diff::Move>, Vec<String>),
) -> Plan {
    let current = Current {
        state: rows,
        live: &observed.live,
        refreshed_kinds: &observed.kinds,
    };
    let mut plan = crate::diff::diff_replacing(
        &prepared.graph,
        &current,
        prepared.registry.as_ref(),
        &selection.replace_set(),
    );
    plan.actions
        .extend(crate::by_hand::removals(&crate::by_hand::find(
            &prepared.graph,
            rows,
            observed,
            &prepared.registry,
        )));
    plan.moves = moves;
    selection.apply_to(&mut plan, &prepared.graph, rows);
    plan.warnings = prepared.expanded.warnings.clone();
    plan.warnings.extend(move_warnings);
    plan.warnings
        .extend(crate::diff::keys_still_in_use(&plan, rows));
    plan.adopted = adopted;
    plan.orphans = crate::adopt::orphans(observed, rows);
    if prune_orphans {
        plan.actions
            .extend(crate::adopt::prune_actions(&plan.orphans));
    }
    plan.data_loss = crate::data_loss::find(&plan);
    plan.cost = Some(crate::review::cost_change(
        &prepared.loaded,
        prepared.graph.resources(),
        rows,
        crate::cost::Date::today(),
    ));
    plan
}

/// `infra plan`: never writes state, never takes the lock.
pub async fn plan(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    do_refresh: bool,
    prune_orphans: bool,
) -> Result<PlanOutcome, Error> {
    plan_selected(
        opts,
        prepared,
        cx,
        do_refresh,
        prune_orphans,
        &crate::takeover::Selection::default(),
    )
    .await
}

/// `infra plan` with `--target`, `--exclude`, `--replace`.
pub async fn plan_selected(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    do_refresh: bool,
    prune_orphans: bool,
    selection: &crate::takeover::Selection,
) -> Result<PlanOutcome, Error> {
    let (state, remote_tag, existed) = read_state(opts, &prepared.loaded).await?;
    let owner = check_owner(&state, &prepared.loaded)?;
    let mut rows = state_map(&state)?;
    let (mut observed, adopted) = observe(cx, prepared, &state, &rows, do_refresh).await?;
    for a in &adopted {
        rows.insert(a.address.clone(), a.clone());
    }
    let moves = crate::takeover::pending_moves(prepared, &rows)?;
    crate::takeover::rename_in_memory(&moves.0, &mut rows, &mut observed);
    let plan = make_plan(
        prepared,
        &rows,
        &observed,
        adopted,
        prune_orphans,
        selection,
        moves,
    );
    let saved = SavedPlan {
        format: 1,
        env: opts.env.clone(),
        state_serial: state.serial()?,
        state_existed: existed,
        lineage: owner.map(|o| o.lineage),
        plan_digest: prepared.loaded.digest(),
        state_etag: remote_tag.as_ref().map(|t| t.etag.clone()),
        state_version: remote_tag.and_then(|t| t.version_id),
        plan: plan.clone(),
    };
    Ok(PlanOutcome {
        plan,
        saved: Some(saved),
    })
}
