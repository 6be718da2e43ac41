//! The core of each command: what `plan`, `up`, `destroy` and `output` do,
//! independent of how the CLI shows it.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::apply::{ApplyOptions, ApplyReport, apply};
use crate::aws::kinds::Registry;
use crate::aws::{AwsError, Clients, Cx, Timeouts};
use crate::config::{self, InvalidPlan, LoadedPlan, PlanError};
use crate::diff::{Current, Plan, destroy_plan};
use crate::expand::{Expanded, expand};
use crate::graph::ResourceGraph;
use crate::model::Outputs;
use crate::refresh::{Observed, refresh};
use crate::report::{Event, Reporter};
use crate::state::{StateError, StateResource, StateStore};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidPlan(#[from] InvalidPlan),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("reading the cloud failed: {0}; {hint}", hint = read_hint(.0))]
    Aws(#[from] AwsError),
    #[error("saved plan {path} is stale: {why}; run `infra plan --out` again")]
    StalePlan { path: PathBuf, why: String },
    #[error("saved plan {path} cannot be read: {why}")]
    BadSavedPlan { path: PathBuf, why: String },
    #[error("refusing to destroy protected resources: {}; to lift it, set `protect = false` (and `deletion_protection = false`) on them in the plan, run `infra up` so AWS drops deletion protection, then destroy again", .0.join(", "))]
    Protected(Vec<String>),
    #[error("refusing to delete protected resources: {}; nothing was changed. To go ahead, set `protect = false` on them in the plan and run `infra up` again", .0.join("; "))]
    ProtectedChange(Vec<String>),
    #[error("the run did not finish cleanly: {0}")]
    Incomplete(String),
    #[error("no output named `{0}`; `infra output --env ENV` lists them")]
    NoSuchOutput(String),
    #[error(transparent)]
    Ambiguous(#[from] crate::adopt::Ambiguous),
    #[error("env `{env}` has nothing applied (state {}: {why}); `infra up --env {env}` makes it", .path.display())]
    NeverApplied {
        env: String,
        path: PathBuf,
        why: String,
    },
    #[error("{} output(s) not known yet: {}; they are known once `infra up --env {env}` has made what they name", .names.len(), .names.join(", "))]
    UnknownOutputs { env: String, names: Vec<String> },
    #[error("state {} holds resources but no recorded outputs (written by an older infra), and the plan file cannot be read to compute them: run `infra refresh --env {env}` once to record them", .path.display())]
    OutputsNotRecorded { env: String, path: PathBuf },
    #[error(
        "refusing to unlock: its holder is still running: {holder}. Wait for it to finish, or stop it (its lock goes when it exits); `--force` clears the lock row anyway"
    )]
    LiveHolder {
        holder: Box<crate::state::LockHolder>,
    },
    #[error("state is still locked after waiting {}: held by {holder}; wait longer (`--lock-timeout`) or for that run to finish", humantime::format_duration(*.waited))]
    LockWait {
        holder: Box<crate::state::LockHolder>,
        waited: std::time::Duration,
    },
    #[error(transparent)]
    Preflight(#[from] crate::aws::preflight::PreflightError),
}

impl From<crate::adopt::AdoptError> for Error {
    fn from(e: crate::adopt::AdoptError) -> Self {
        match e {
            crate::adopt::AdoptError::Ambiguous(a) => Error::Ambiguous(a),
            crate::adopt::AdoptError::Aws(a) => Error::Aws(a),
        }
    }
}

/// What to do about a failed read, by what went wrong.
fn read_hint(e: &AwsError) -> &'static str {
    use crate::aws::ErrorClass;
    match e.class {
        ErrorClass::Transport => {
            "AWS stopped answering: check the network and AWS_ENDPOINT_URL, then rerun"
        }
        ErrorClass::Throttled | ErrorClass::Server => {
            "AWS kept refusing (throttling or server errors): rerun later"
        }
        _ if e.code.contains("AccessDenied") || e.code.contains("Unauthorized") => {
            "the identity infra runs as is not allowed this call: grant it (or use another profile), then rerun"
        }
        _ => "check credentials, region and endpoint, then rerun",
    }
}

/// Which env, which files.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    pub plans_dir: PathBuf,
    pub env: String,
    pub state_path: Option<PathBuf>,
}

impl EnvOptions {
    pub fn state_path(&self) -> PathBuf {
        self.state_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("state").join(format!("{}.db", self.env)))
    }
}

/// A plan file read, expanded and validated into a sealed graph.
pub struct Prepared {
    pub loaded: LoadedPlan,
    pub expanded: Expanded,
    pub graph: ResourceGraph,
    pub registry: Arc<Registry>,
    /// The guardrails' findings on the desired resources (denied ones stop
    /// `plan` and `up`: [`enforce_policy`]).
    pub policy: Vec<crate::policy::Finding>,
}

/// Reads and validates everything; touches neither the cloud nor state.
pub fn prepare(opts: &EnvOptions) -> Result<Prepared, InvalidPlan> {
    let loaded = config::load(&opts.plans_dir, &opts.env)?;
    let mut expanded = expand(&loaded);
    let registry = Arc::new(Registry::new());
    let resources = std::mem::take(&mut expanded.resources);
    let graph = ResourceGraph::new(resources.clone())
        .seal(registry.as_ref())
        .map_err(|errors| {
            let spans: HashMap<&str, Option<std::ops::Range<usize>>> = resources
                .iter()
                .map(|r| (r.address.as_str(), r.span.clone()))
                .collect();
            loaded.invalid(
                errors
                    .iter()
                    .map(|e| {
                        let span = e.address().and_then(|a| spans.get(a).cloned().flatten());
                        loaded.error(e.to_string(), span)
                    })
                    .collect::<Vec<PlanError>>(),
            )
        })?;
    let policy = crate::review::policy_findings(&loaded, &resources);
    Ok(Prepared {
        loaded,
        expanded,
        graph,
        registry,
        policy,
    })
}

/// `plan` and `up` stop on a denied guardrail finding (exit 3), before any call.
pub fn enforce_policy(prepared: &Prepared) -> Result<(), Error> {
    Ok(crate::review::enforce(&prepared.loaded, &prepared.policy)?)
}

/// The clients and limits for the env, once credentials resolve and the
/// endpoint answers (see [`crate::aws::preflight`]): before the first read.
pub async fn context(
    prepared: &Prepared,
    reporter: Arc<dyn Reporter>,
    timeouts: Timeouts,
) -> Result<Cx, Error> {
    let cx = unchecked_context(prepared, reporter, timeouts).await;
    let caller = crate::aws::preflight::check(
        &cx.clients,
        prepared.loaded.file.region.get_ref(),
        crate::aws::preflight::limit(),
    )
    .await?;
    tracing::debug!(target: "infra::aws", caller, "credentials resolved and the endpoint answers");
    Ok(cx)
}

/// [`context`] without the check, for a command that may read nothing
/// (`plan --refresh=false` reads only what an interrupted run left open).
pub async fn unchecked_context(
    prepared: &Prepared,
    reporter: Arc<dyn Reporter>,
    timeouts: Timeouts,
) -> Cx {
    let clients = Clients::load(prepared.loaded.file.region.get_ref()).await;
    let mut timeouts = timeouts;
    if let Some(minutes) = prepared
        .loaded
        .file
        .cluster
        .as_ref()
        .and_then(|c| c.wait_timeout_minutes)
    {
        timeouts.cluster = std::time::Duration::from_secs(minutes.saturating_mul(60));
    }
    if let Some(minutes) = prepared
        .loaded
        .file
        .database
        .as_ref()
        .and_then(|d| d.wait_timeout_minutes)
    {
        timeouts.database = std::time::Duration::from_secs(minutes.saturating_mul(60));
    }
    Cx {
        clients,
        env: prepared.loaded.env.clone(),
        project: prepared.loaded.file.project.clone(),
        timeouts,
        reporter,
        cache: None,
    }
}

pub(crate) fn state_map(state: &StateStore) -> Result<HashMap<String, StateResource>, StateError> {
    Ok(state
        .resources()?
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect())
}

/// Refreshes (or reads only what recovery needs) and finds resources the plan
/// declares that exist in the cloud but not in state (see [`crate::adopt`]).
/// Returns the rows to adopt.
pub(crate) async fn observe(
    cx: &Cx,
    prepared: &Prepared,
    state: &StateStore,
    rows: &HashMap<String, StateResource>,
    do_refresh: bool,
) -> Result<(Observed, Vec<StateResource>), Error> {
    let journal = state.unfinished_journal()?;
    let mut kinds: BTreeSet<String> = journal.iter().map(|j| j.kind.clone()).collect();
    if do_refresh {
        kinds.extend(rows.values().map(|r| r.kind.clone()));
        kinds.extend(prepared.graph.resources().iter().map(|r| r.kind.clone()));
    }
    let mut observed = refresh(cx, &prepared.registry, kinds, rows).await?;
    let adopted = crate::adopt::adopt(
        cx,
        &prepared.graph,
        &prepared.registry,
        &mut observed,
        rows,
        &journal,
    )
    .await?;
    Ok((observed, adopted))
}

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
    pub plan: Plan,
}

pub struct PlanOutcome {
    pub plan: Plan,
    pub saved: Option<SavedPlan>,
}

/// The plan from state, the cloud as observed and what is adopted: diffs,
/// warnings, orphans (a delete each when `prune_orphans`), data loss.
#[allow(clippy::too_many_arguments)]
fn make_plan(
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
        &prepared.registry,
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
    let path = opts.state_path();
    let existed = path.exists();
    let state = StateStore::open_existing(&path)?;
    let owner = check_owner(&state, prepared)?;
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
        plan: plan.clone(),
    };
    Ok(PlanOutcome {
        plan,
        saved: Some(saved),
    })
}

pub struct RunOptions {
    pub parallelism: usize,
    /// Delete resources tagged with the env that state does not know.
    pub prune_orphans: bool,
    /// `destroy`: leave what controllers made (load balancers, nodes, ENIs).
    pub keep_out_of_band: bool,
    pub do_refresh: bool,
    pub interrupt: tokio::sync::watch::Receiver<bool>,
    pub command: String,
    /// A plan saved by `plan --out`, to apply exactly.
    pub saved_plan: Option<PathBuf>,
    /// How long to wait for another run's lock (zero: fail at once).
    pub lock_timeout: std::time::Duration,
    /// `--target`, `--exclude`, `--replace`.
    pub selection: crate::takeover::Selection,
}

pub struct RunOutcome {
    pub plan: Plan,
    pub report: Option<ApplyReport>,
    pub recovered: Vec<String>,
    /// Orphans left alone (no `--prune-orphans`).
    pub orphans: Vec<crate::adopt::Orphan>,
}

/// Takes the lock (waiting up to `lock_timeout` for another run's), backs
/// state up, resolves interrupted actions.
pub(crate) async fn open_for_write(
    opts: &EnvOptions,
    prepared: &Prepared,
    command: &str,
    reporter: &dyn Reporter,
    lock_timeout: std::time::Duration,
) -> Result<StateStore, Error> {
    let mut state = StateStore::open_unmigrated(&opts.state_path())?;
    check_owner(&state, prepared)?;
    let started = std::time::Instant::now();
    let mut said = false;
    let taken = loop {
        match state.lock(command) {
            Err(StateError::Locked { holder }) if !lock_timeout.is_zero() => {
                if started.elapsed() >= lock_timeout {
                    return Err(Error::LockWait {
                        holder: Box::new(holder),
                        waited: lock_timeout,
                    });
                }
                if !said {
                    reporter.report(Event::Warning {
                        message: format!(
                            "state is locked by {holder}; waiting up to {} for it",
                            humantime::format_duration(lock_timeout)
                        ),
                    });
                    said = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(StateError::LockedUndescribed { .. }) if started.elapsed() < lock_timeout => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            other => break other?,
        }
    };
    if let Some(stale) = taken {
        reporter.report(Event::Warning {
            message: format!(
                "cleared a stale lock: {stale}; its process no longer holds the state"
            ),
        });
    }
    // Every cell is read before the backup, so a corrupt state is never
    // backed up over the good copies; migrations run only under the lock,
    // after the backup.
    state.resources()?;
    state.unfinished_journal()?;
    state.backup()?;
    state.migrate()?;
    let (project, env, region) = owner_of(prepared);
    state.claim_owner(project, env, region)?;
    Ok(state)
}

/// The project, env and region a command is for.
fn owner_of(prepared: &Prepared) -> (&str, &str, &str) {
    (
        &prepared.loaded.file.project,
        &prepared.loaded.env,
        prepared.loaded.file.region.get_ref(),
    )
}

/// Refuses a state recorded for another project, env or region.
fn check_owner(
    state: &StateStore,
    prepared: &Prepared,
) -> Result<Option<crate::state::StateOwner>, Error> {
    let (project, env, region) = owner_of(prepared);
    Ok(state.check_owner(project, env, region)?)
}

/// Records adoptions and closes the journal rows an interrupted run left open.
fn recover(
    state: &mut StateStore,
    run_id: &str,
    observed: &Observed,
    adopted: &[StateResource],
    reporter: &dyn Reporter,
) -> Result<Vec<String>, Error> {
    if !adopted.is_empty() {
        state.put_resources(adopted)?;
    }
    let mut notes = Vec::new();
    if !adopted.is_empty() {
        // The CLI shows them as one block; the run log keeps the count.
        state.note_run(
            run_id,
            &format!(
                "adopted {} resource(s) the plan declares and state did not know",
                adopted.len()
            ),
        )?;
    }
    for j in state.unfinished_journal()? {
        let exists = observed.live.contains_key(&j.address)
            || adopted.iter().any(|a| a.address == j.address);
        let outcome = match (j.action.as_str(), exists) {
            ("create", true) => {
                notes.push(format!("adopted {}", j.address));
                "recovered: found by its identity and adopted".to_string()
            }
            ("create", false) => {
                notes.push(format!("{} was never created", j.address));
                "recovered: not found; the plan creates it".to_string()
            }
            ("delete", false) => {
                if state.resource(&j.address)?.is_some() {
                    state.remove_resource(&j.address)?;
                }
                notes.push(format!("confirmed {} deleted", j.address));
                "recovered: confirmed deleted".to_string()
            }
            ("delete", true) => {
                notes.push(format!("{} still exists", j.address));
                "recovered: still exists; the plan decides".to_string()
            }
            _ => {
                notes.push(format!("refreshed {}", j.address));
                "recovered: refreshed; the plan decides".to_string()
            }
        };
        state.journal_finish(j.id, &outcome, &crate::state::RowChange::Keep)?;
    }
    if !notes.is_empty() {
        let line = format!(
            "recovered {} interrupted action(s): {}",
            notes.len(),
            notes.join(", ")
        );
        state.note_run(run_id, &line)?;
        reporter.report(Event::Recovered {
            address: String::new(),
            outcome: line,
        });
    }
    Ok(notes)
}

fn check_saved(
    path: &PathBuf,
    opts: &EnvOptions,
    prepared: &Prepared,
    state: &StateStore,
    existed: bool,
) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadSavedPlan {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| Error::BadSavedPlan {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let stale = |why: String| {
        Err(Error::StalePlan {
            path: path.clone(),
            why,
        })
    };
    if saved.env != opts.env {
        return stale(format!(
            "it was made for env `{}`, not `{}`",
            saved.env, opts.env
        ));
    }
    if saved.plan_digest != prepared.loaded.digest() {
        return stale("the plan file changed since".into());
    }
    if !saved.state_existed && existed {
        return stale("it was made with no state, and state has been created since".into());
    }
    let lineage = state.owner()?.map(|o| o.lineage);
    if saved.lineage.is_some() && saved.lineage != lineage {
        return stale(format!(
            "it was made on another state (lineage {}, this state's is {})",
            saved.lineage.as_deref().unwrap_or("none"),
            lineage.as_deref().unwrap_or("none")
        ));
    }
    let serial = state.serial()?;
    if saved.state_serial != serial {
        return stale(format!(
            "state changed since (serial {} then, {serial} now)",
            saved.state_serial
        ));
    }
    Ok(saved.plan)
}

/// `infra up`: plan, confirm, apply. `confirm` sees the plan before anything changes.
pub async fn up(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
) -> Result<RunOutcome, Error> {
    let existed = opts.state_path().exists();
    let mut state = open_for_write(
        opts,
        prepared,
        &run.command,
        cx.reporter.as_ref(),
        run.lock_timeout,
    )
    .await?;
    let run_id = state.begin_run(&run.command)?;
    let result = up_locked(
        opts, prepared, cx, run, confirm, &mut state, &run_id, existed,
    )
    .await;
    let (status, summary) = match &result {
        Ok(o) => match &o.report {
            Some(r) if r.ok() => ("ok", format!("{} actions done", r.done)),
            Some(r) if r.interrupted && r.failed.is_empty() => (
                "interrupted",
                format!(
                    "{} done, {} not started",
                    r.done,
                    r.not_started.len() + r.skipped.len()
                ),
            ),
            Some(r) => (
                "failed",
                format!(
                    "{} done, {} failed, {} skipped",
                    r.done,
                    r.failed.len(),
                    r.skipped.len()
                ),
            ),
            None => ("no-op", "nothing applied".to_string()),
        },
        Err(e) => ("error", e.to_string()),
    };
    state.finish_run(&run_id, status, &summary)?;
    result
}

#[allow(clippy::too_many_arguments)]
async fn up_locked(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
    state: &mut StateStore,
    run_id: &str,
    existed: bool,
) -> Result<RunOutcome, Error> {
    let saved = match &run.saved_plan {
        Some(path) => Some(check_saved(path, opts, prepared, state, existed)?),
        None => None,
    };
    let rows = state_map(state)?;
    let (observed, mut adopted) = observe(
        cx,
        prepared,
        state,
        &rows,
        run.do_refresh && saved.is_none(),
    )
    .await?;
    // A saved plan adopts exactly what it said it would.
    if let Some(p) = &saved {
        let new: Vec<StateResource> = p
            .adopted
            .iter()
            .filter(|a| {
                !rows.contains_key(&a.address) && !adopted.iter().any(|b| b.address == a.address)
            })
            .cloned()
            .collect();
        adopted.extend(new);
    }
    let recovered = recover(state, run_id, &observed, &adopted, cx.reporter.as_ref())?;
    let mut rows = state_map(state)?;
    let mut observed = observed;
    let moves = crate::takeover::pending_moves(prepared, &rows)?;
    crate::takeover::rename_in_memory(&moves.0, &mut rows, &mut observed);
    let plan = match saved {
        Some(mut p) => {
            p.data_loss = crate::data_loss::find(&p);
            p.cost = Some(crate::review::cost_change(
                &prepared.loaded,
                prepared.graph.resources(),
                &rows,
                crate::cost::Date::today(),
            ));
            p
        }
        None => make_plan(
            prepared,
            &rows,
            &observed,
            adopted,
            run.prune_orphans,
            &run.selection,
            moves,
        ),
    };
    let left = if run.prune_orphans {
        Vec::new()
    } else {
        plan.orphans.clone()
    };
    let protected = crate::diff::protected_deletes(&plan);
    if !protected.is_empty() {
        return Err(Error::ProtectedChange(protected));
    }
    if plan.is_empty() {
        record_outputs(state, prepared, &observed, &plan)?;
    }
    if plan.is_empty() || !confirm(&plan) {
        return Ok(RunOutcome {
            plan,
            report: None,
            recovered,
            orphans: left,
        });
    }
    for m in &plan.moves {
        crate::takeover::perform_move(cx, state, run_id, m).await?;
    }
    let known: HashMap<String, Outputs> = rows
        .iter()
        .map(|(a, r)| {
            (
                a.clone(),
                observed
                    .live
                    .get(a)
                    .map(|l| l.outputs.clone())
                    .unwrap_or_else(|| r.outputs.clone()),
            )
        })
        .collect();
    let report = apply(
        &plan,
        prepared.registry.clone(),
        cx.clone(),
        state,
        known,
        ApplyOptions {
            parallelism: run.parallelism,
            run_id: run_id.to_string(),
            interrupt: run.interrupt,
        },
    )
    .await;
    record_outputs(state, prepared, &observed, &plan)?;
    Ok(RunOutcome {
        plan,
        report: Some(report),
        recovered,
        orphans: left,
    })
}

/// Records the plan's named outputs as they stand now, for `infra output`:
/// from state, where the run just wrote what it made, and from the refreshed
/// view for what it did not touch. Nothing in state: nothing to show.
fn record_outputs(
    state: &mut StateStore,
    prepared: &Prepared,
    observed: &Observed,
    plan: &Plan,
) -> Result<(), Error> {
    let rows = state_map(state)?;
    if rows.is_empty() {
        state.set_named_outputs(None)?;
        return Ok(());
    }
    let acted: BTreeSet<&str> = plan.actions.iter().map(|a| a.address.as_str()).collect();
    let lookup = |r: &crate::model::Ref| {
        let row = rows.get(&r.address)?;
        let outputs = match observed.live.get(&r.address) {
            Some(live) if !acted.contains(r.address.as_str()) => &live.outputs,
            _ => &row.outputs,
        };
        outputs.get(&r.output).cloned()
    };
    let named = crate::outputs::resolve_named(&prepared.expanded.outputs, &lookup);
    state.set_named_outputs(Some(&named))?;
    Ok(())
}

/// AWS itself would refuse the delete (RDS, EKS deletion protection): say so
/// before anything is touched rather than fail halfway through.
fn deletion_protected(props: &crate::model::Props) -> bool {
    props
        .get("deletion_protection")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// `infra destroy`: everything in state, in reverse dependency order.
pub async fn destroy(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
) -> Result<RunOutcome, Error> {
    let mut state = open_for_write(
        opts,
        prepared,
        &run.command,
        cx.reporter.as_ref(),
        run.lock_timeout,
    )
    .await?;
    let rows = state_map(&state)?;
    let scope = run.selection.destroy_scope(&rows);
    let protected: Vec<String> = rows
        .values()
        .filter(|r| scope.as_ref().is_none_or(|s| s.contains(&r.address)))
        // The plan file decides; a resource it no longer has keeps its last word.
        .filter(|r| match prepared.graph.get(&r.address) {
            Some(d) => d.protect || deletion_protected(&d.props),
            None => r.protect || deletion_protected(&r.props),
        })
        .map(|r| r.address.clone())
        .collect();
    if !protected.is_empty() {
        let mut p = protected;
        p.sort();
        return Err(Error::Protected(p));
    }
    let run_id = state.begin_run(&run.command)?;
    let (observed, adopted) = observe(cx, prepared, &state, &rows, run.do_refresh).await?;
    let recovered = recover(
        &mut state,
        &run_id,
        &observed,
        &adopted,
        cx.reporter.as_ref(),
    )?;
    let rows = state_map(&state)?;
    let current = Current {
        state: &rows,
        live: &observed.live,
        refreshed_kinds: &observed.kinds,
    };
    let mut plan = destroy_plan(&current);
    // A policy attached by hand would keep its role from being deleted.
    plan.actions
        .extend(crate::by_hand::removals(&crate::by_hand::find(
            &prepared.graph,
            &rows,
            &observed,
            &prepared.registry,
        )));
    run.selection.apply_to_destroy(&mut plan, &rows);
    // The plan file's word on how to delete (final snapshot, key deletion
    // window) wins over what was applied last.
    for action in &mut plan.actions {
        let (Some(live), Some(d)) = (action.current.as_mut(), prepared.graph.get(&action.address))
        else {
            continue;
        };
        for (k, v) in d
            .props
            .iter()
            .filter(|(k, v)| crate::diff::is_write_only(k) && !v.to_string().contains("${"))
        {
            live.props.insert(k.clone(), v.clone());
        }
    }
    if !run.keep_out_of_band && !rows.is_empty() && run.selection.targets.is_empty() {
        // Only what still exists: a VPC or zone deleted outside infra is already gone.
        let exists = |r: &StateResource| {
            !observed.kinds.contains(&r.kind) || observed.live.contains_key(&r.address)
        };
        let live = |kind: &str| -> Vec<String> {
            rows.values()
                .filter(|r| r.kind == kind && exists(r))
                .map(|r| r.id.clone())
                .collect()
        };
        let subnets = live("Subnet");
        let vpc = live("Vpc").into_iter().next();
        let cluster = prepared.loaded.file.cluster_name(&opts.env);
        let zone = live("Route53Zone").into_iter().next();
        let scope = crate::sweep::Scope {
            cluster: &cluster,
            vpc_id: vpc.as_deref(),
            subnet_ids: &subnets,
            zone_id: zone.as_deref(),
        };
        plan.out_of_band = crate::sweep::find(cx, &scope).await?;
    }
    plan.data_loss = crate::data_loss::find(&plan);
    plan.cost = Some(crate::review::cost_change(
        &prepared.loaded,
        [],
        &rows,
        crate::cost::Date::today(),
    ));
    if plan.is_empty() || !confirm(&plan) {
        state.finish_run(&run_id, "no-op", "nothing destroyed")?;
        return Ok(RunOutcome {
            plan,
            report: None,
            recovered,
            orphans: Vec::new(),
        });
    }
    let swept = crate::sweep::remove(cx, &plan.out_of_band).await;
    let report = apply(
        &plan,
        prepared.registry.clone(),
        cx.clone(),
        &mut state,
        HashMap::new(),
        ApplyOptions {
            parallelism: run.parallelism,
            run_id: run_id.clone(),
            interrupt: run.interrupt,
        },
    )
    .await;
    let mut report = report;
    report.failed.extend(
        swept
            .into_iter()
            .map(|(id, e)| (id, format!("out-of-band sweep: {e}"))),
    );
    let status = if report.ok() { "ok" } else { "failed" };
    state.finish_run(
        &run_id,
        status,
        &format!("{} deleted, {} failed", report.done, report.failed.len()),
    )?;
    record_outputs(&mut state, prepared, &observed, &plan)?;
    Ok(RunOutcome {
        plan,
        report: Some(report),
        recovered,
        orphans: Vec::new(),
    })
}

/// `infra drift`: reads everything, changes nothing (state included).
pub async fn drift(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
) -> Result<Vec<crate::drift::Finding>, Error> {
    let state = StateStore::open_existing(&opts.state_path())?;
    check_owner(&state, prepared)?;
    let mut rows = state_map(&state)?;
    let mut kinds: BTreeSet<String> = rows.values().map(|r| r.kind.clone()).collect();
    kinds.extend(prepared.graph.resources().iter().map(|r| r.kind.clone()));
    let mut observed = refresh(cx, &prepared.registry, kinds, &rows).await?;
    // What `up` would adopt is reported as such, never as orphans.
    let adopted = crate::adopt::adopt(
        cx,
        &prepared.graph,
        &prepared.registry,
        &mut observed,
        &rows,
        &state.unfinished_journal()?,
    )
    .await?;
    let mut findings: Vec<crate::drift::Finding> = adopted
        .iter()
        .map(|a| crate::drift::Finding::Unrecorded {
            address: a.address.clone(),
            kind: a.kind.clone(),
            id: a.id.clone(),
        })
        .collect();
    for a in adopted {
        rows.insert(a.address.clone(), a);
    }
    findings.extend(crate::drift::detect(
        &prepared.graph,
        &rows,
        &observed,
        &prepared.registry,
    ));
    findings.extend(crate::drift::added_by_hand(&crate::by_hand::find(
        &prepared.graph,
        &rows,
        &observed,
        &prepared.registry,
    )));
    // An expired break-glass entry is reported once, as such.
    let reported: BTreeSet<String> = findings
        .iter()
        .filter_map(|f| match f {
            crate::drift::Finding::Access { principal_arn, .. } => Some(principal_arn.clone()),
            _ => None,
        })
        .collect();
    let unnamed = unnamed_cluster_admins(prepared, cx).await?;
    findings.extend(unnamed.into_iter().filter(|f| !matches!(f, crate::drift::Finding::Access { principal_arn, .. } if reported.contains(principal_arn))));
    Ok(findings)
}

/// Cluster admins the plan does not name (seed: no permanent cluster-admin).
/// The plan names break-glass entries still in their time, platform admins
/// with `cluster_admin = true`, and, while `bootstrap_cluster_creator_admin`
/// is on, the creator's entry (the identity infra runs as).
async fn unnamed_cluster_admins(
    prepared: &Prepared,
    cx: &Cx,
) -> Result<Vec<crate::drift::Finding>, Error> {
    use crate::aws::kinds::eks_access_policy::{
        CLUSTER_ADMIN_POLICY, caller_principal, cluster_admins,
    };
    let Some(cluster) = &prepared.loaded.file.cluster else {
        return Ok(Vec::new());
    };
    if cluster.authentication_mode == "CONFIG_MAP" {
        return Ok(Vec::new());
    }
    let admins = cluster_admins(cx, cx.owner()).await?;
    if admins.is_empty() {
        return Ok(Vec::new());
    }
    let mut named: BTreeSet<String> = prepared
        .graph
        .resources()
        .iter()
        .filter(|d| {
            d.kind == "EksAccessPolicyAssociation"
                && d.props.get("policy_arn").and_then(|v| v.as_str()) == Some(CLUSTER_ADMIN_POLICY)
        })
        .filter_map(|d| {
            d.props
                .get("principal_arn")?
                .as_str()?
                .strip_prefix("${")?
                .strip_suffix(".principal_arn}")
                .map(String::from)
        })
        .filter_map(|entry| {
            prepared
                .graph
                .get(&entry)?
                .props
                .get("principal_arn")?
                .as_str()
                .map(String::from)
        })
        .collect();
    if cluster.bootstrap_cluster_creator_admin {
        named.insert(caller_principal(cx).await?);
    }
    Ok(admins
        .into_iter()
        .filter(|(_, principal)| !named.contains(principal))
        .map(|(cluster, principal)| crate::drift::Finding::Access {
            kind: "EksAccessEntry".into(),
            why: format!("cluster admin on {cluster} that the plan does not name; grant it through [[access]] (break-glass with `until`) or remove the entry"),
            principal_arn: principal,
            address: None,
        })
        .collect())
}

/// `infra refresh`: writes what is live into state (properties and outputs
/// of the resources found). Resources gone from the cloud keep their rows,
/// so the next `up` recreates them and says why.
pub async fn refresh_state(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<(usize, usize), Error> {
    let mut state =
        open_for_write(opts, prepared, command, cx.reporter.as_ref(), lock_timeout).await?;
    let run_id = state.begin_run(command)?;
    let rows = state_map(&state)?;
    let kinds: BTreeSet<String> = rows.values().map(|r| r.kind.clone()).collect();
    let observed = refresh(cx, &prepared.registry, kinds, &rows).await?;
    let mut updated = Vec::new();
    let mut missing = 0;
    for row in rows.values() {
        match observed.live.get(&row.address) {
            Some(live) => {
                // Only the fields infra applied: what else AWS reports stays out
                // (an unowned node-group size must never become "applied").
                // Write-only fields are never read back: keep what was sent.
                let seen = crate::diff::comparable(&live.props, &row.props, None);
                let props = row
                    .props
                    .iter()
                    .map(|(k, v)| match seen.get(k) {
                        Some(live_value) if !crate::diff::is_write_only(k) => {
                            (k.clone(), live_value.clone())
                        }
                        _ => (k.clone(), v.clone()),
                    })
                    .collect();
                updated.push(StateResource {
                    id: live.id.clone(),
                    props,
                    outputs: live.outputs.clone(),
                    ..row.clone()
                });
            }
            None => missing += 1,
        }
    }
    state.put_resources(&updated)?;
    state.finish_run(
        &run_id,
        "ok",
        &format!("refreshed {}, {missing} missing", updated.len()),
    )?;
    record_outputs(&mut state, prepared, &observed, &Plan::default())?;
    Ok((updated.len(), missing))
}

/// `infra output`: the named outputs recorded in state when a run ended.
/// State alone: no plan file, no cloud. A state written by an older infra
/// (no outputs recorded) is read through the plan file when it is there.
pub fn outputs(opts: &EnvOptions) -> Result<crate::outputs::NamedOutputs, Error> {
    let path = opts.state_path();
    let never = |why: &str| Error::NeverApplied {
        env: opts.env.clone(),
        path: path.clone(),
        why: why.into(),
    };
    if !path.exists() {
        return Err(never("no such file"));
    }
    let state = StateStore::open_existing(&path)?;
    // No plan file here, so the env (from the command) is what can be checked.
    if let Some(owner) = state.owner()?
        && owner.env != opts.env
    {
        return Err(StateError::WrongOwner {
            path,
            field: "env",
            recorded: owner.env,
            given: opts.env.clone(),
        }
        .into());
    }
    let rows = state_map(&state)?;
    if rows.is_empty() {
        return Err(never("it holds no resources"));
    }
    if let Some(recorded) = state.named_outputs()? {
        return Ok(recorded);
    }
    let prepared = prepare(opts).map_err(|_| Error::OutputsNotRecorded {
        env: opts.env.clone(),
        path: path.clone(),
    })?;
    let lookup = |r: &crate::model::Ref| {
        rows.get(&r.address)
            .and_then(|s| s.outputs.get(&r.output).cloned())
    };
    Ok(crate::outputs::resolve_named(
        &prepared.expanded.outputs,
        &lookup,
    ))
}

/// `infra force-unlock`, first half: who holds the lock `lock_id` names,
/// and whether they still run.
pub fn lock_status(
    opts: &EnvOptions,
    lock_id: &str,
) -> Result<(crate::state::LockHolder, bool), Error> {
    let mut state = StateStore::open_existing(&opts.state_path())?;
    let Some(holder) = state.holder()? else {
        return Err(StateError::NotLocked.into());
    };
    if holder.lock_id != lock_id {
        return Err(StateError::WrongLockId {
            given: lock_id.into(),
            held: holder.lock_id,
        }
        .into());
    }
    let alive = state.holder_alive(&holder)?;
    Ok((holder, alive))
}

/// `infra cost`: the monthly estimate from state (now) and the plan file (after).
pub fn cost(
    opts: &EnvOptions,
    prepared: &Prepared,
    on: crate::cost::Date,
) -> Result<crate::cost::CostChange, Error> {
    let rows = match opts.state_path().exists() {
        true => state_map(&StateStore::open_existing(&opts.state_path())?)?,
        false => HashMap::new(),
    };
    Ok(crate::review::cost_change(
        &prepared.loaded,
        prepared.graph.resources(),
        &rows,
        on,
    ))
}

/// `infra force-unlock`.
pub fn force_unlock(opts: &EnvOptions, lock_id: &str) -> Result<String, Error> {
    let mut state = StateStore::open_existing(&opts.state_path())?;
    Ok(state.force_unlock(lock_id)?.to_string())
}
