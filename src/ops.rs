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
use crate::state::backend::{S3Location, cache_paths};
use crate::state::s3::{Remote, RemoteError, Session};
use crate::state::{StateError, StateResource, StateStore};

/// Every failure a command can end with; each knows its exit code.
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
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{0}")]
    Transfer(String),
    #[error("--state {0}: not an S3 location; use s3://BUCKET[/PREFIX] or a local path")]
    BadStateUrl(String),
    #[error(
        "{local} holds {count} resource(s) but {url} has no state yet; move it there first with `infra state migrate --env {env}` (or move the file away)"
    )]
    NotMigrated {
        local: PathBuf,
        count: usize,
        url: String,
        env: String,
    },
}

impl Error {
    /// The process exit code this failure ends a command with
    /// ([`crate::exit`]): invalid input is 3, never 2, so a broken plan
    /// never reads as drift.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidPlan(_) => crate::exit::INVALID_INPUT,
            _ => crate::exit::FAILURE,
        }
    }
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
    /// The local state file (with the S3 backend: where its caches go beside).
    pub fn state_path(&self) -> PathBuf {
        self.state_path
            .clone()
            .filter(|p| !p.to_string_lossy().starts_with("s3://"))
            .unwrap_or_else(|| PathBuf::from("state").join(format!("{}.db", self.env)))
    }

    /// `--state s3://...`, when given.
    fn state_url(&self) -> Option<String> {
        self.state_path
            .as_ref()
            .map(|p| p.to_string_lossy().to_string())
            .filter(|p| p.starts_with("s3://"))
    }
}

/// Where an env's state lives, resolved from `--state` and `[state]`.
pub enum Store {
    Local(PathBuf),
    S3 {
        remote: Arc<Remote>,
        write_cache: PathBuf,
        read_cache: PathBuf,
    },
}

/// The S3 location of the env's state, if it is on S3.
pub fn s3_location(opts: &EnvOptions, loaded: &LoadedPlan) -> Result<Option<S3Location>, Error> {
    let settings = loaded
        .file
        .state
        .as_ref()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    let project = &loaded.file.project;
    if let Some(url) = opts.state_url() {
        return S3Location::parse_url(&url, project, &opts.env, settings.kms_key_id.clone())
            .map(Some)
            .ok_or(Error::BadStateUrl(url));
    }
    Ok(settings.is_s3().then(|| {
        S3Location::new(
            settings.bucket.as_deref().unwrap_or_default(),
            settings.prefix.as_deref().unwrap_or_default(),
            project,
            &opts.env,
            settings.kms_key_id.clone(),
        )
    }))
}

pub async fn store(opts: &EnvOptions, loaded: &LoadedPlan) -> Result<Store, Error> {
    let local = opts.state_path();
    Ok(match s3_location(opts, loaded)? {
        None => Store::Local(local),
        Some(loc) => {
            let (write_cache, read_cache) = cache_paths(&local);
            let remote = Remote::new(loc, loaded.file.region.get_ref(), &opts.env).await;
            remote.preflight().await?;
            Store::S3 {
                remote: Arc::new(remote),
                write_cache,
                read_cache,
            }
        }
    })
}

/// The state as read-only commands see it: the local file, or the remote
/// state downloaded by ETag (a conditional GET against the read cache).
/// Never takes a lock or the lease. Returns the remote object's tag.
pub async fn read_state(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
) -> Result<(StateStore, Option<crate::state::s3::CacheTag>, bool), Error> {
    match store(opts, loaded).await? {
        Store::Local(path) => Ok((StateStore::open_existing(&path)?, None, path.exists())),
        Store::S3 {
            remote, read_cache, ..
        } => match remote.fetch(&read_cache).await?.tag {
            Some(tag) => Ok((StateStore::open(&read_cache)?, Some(tag), true)),
            None => Ok((StateStore::open_in_memory()?, None, false)),
        },
    }
}

/// Runs `f` to its end from a command that is not async (the runtime has
/// several threads, so this one may block).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// The plan file, when the env's state is on S3 (`--state s3://...`, or
/// `[state] backend = "s3"`); `None` for a local state file.
fn remote_plan(opts: &EnvOptions) -> Result<Option<LoadedPlan>, Error> {
    match opts.state_url() {
        Some(_) => Ok(Some(config::load(&opts.plans_dir, &opts.env)?)),
        None => Ok(config::load(&opts.plans_dir, &opts.env)
            .ok()
            .filter(|l| l.file.state.as_ref().is_some_and(|s| s.get_ref().is_s3()))),
    }
}

/// The remote state of a plan whose state is on S3.
fn remote_of(opts: &EnvOptions, loaded: &LoadedPlan) -> Result<Arc<Remote>, Error> {
    match block_on(store(opts, loaded))? {
        Store::S3 { remote, .. } => Ok(remote),
        Store::Local(path) => Err(Error::Transfer(format!(
            "env `{}` keeps its state in {}, not on S3",
            opts.env,
            path.display()
        ))),
    }
}

/// [`read_state`] for the commands that are not async.
fn read_state_blocking(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
) -> Result<(StateStore, bool), Error> {
    if s3_location(opts, loaded)?.is_none() {
        let path = opts.state_path();
        return Ok((StateStore::open_existing(&path)?, path.exists()));
    }
    let (state, _, existed) = block_on(read_state(opts, loaded))?;
    Ok((state, existed))
}

/// The env's state for a command that only reads it: the local file, or the
/// S3 state downloaded by ETag. Never takes the lock or the lease.
pub fn read_only_state(opts: &EnvOptions) -> Result<StateStore, Error> {
    match remote_plan(opts)? {
        Some(loaded) => Ok(read_state_blocking(opts, &loaded)?.0),
        None => Ok(StateStore::open_existing(&opts.state_path())?),
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
pub async fn context(prepared: &Prepared, reporter: Arc<dyn Reporter>) -> Result<Cx, Error> {
    let cx = unchecked_context(prepared, reporter).await;
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
pub async fn unchecked_context(prepared: &Prepared, reporter: Arc<dyn Reporter>) -> Cx {
    let clients = Clients::load(prepared.loaded.file.region.get_ref()).await;
    let mut timeouts = Timeouts::default();
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

/// A write run's state: the store, and with the S3 backend the session
/// (lease, heartbeat, uploads).
pub struct Writer {
    pub state: StateStore,
    pub session: Option<Session>,
    /// With S3: the ETag of the state as read, before this run fenced it.
    pub read_etag: Option<String>,
    /// A state existed before this run.
    pub existed: bool,
}

impl Writer {
    fn lease(&self) -> Option<Arc<crate::state::s3::Lease>> {
        self.session.as_ref().map(|s| s.guard())
    }

    /// Uploads what is left and releases the lease (S3); `result` is the
    /// run's own outcome, and a lost lease wins over it.
    pub(crate) async fn finish<T>(self, result: Result<T, Error>) -> Result<T, Error> {
        let Writer { state, session, .. } = self;
        let finished = match session {
            Some(s) => {
                crate::aws::fence::clear();
                s.finish().await
            }
            None => Ok(()),
        };
        drop(state);
        match (result, finished) {
            (_, Err(e @ RemoteError::LeaseLost(_))) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e.into()),
            (result, _) => result,
        }
    }
}

/// After a run cancelled before any change (its future dropped): the S3
/// lease it held is given back and what it recorded (recovered actions) is
/// uploaded. A local state's OS lock went with the dropped store.
pub async fn finish_abandoned(reporter: &dyn Reporter) {
    crate::aws::fence::clear();
    for e in crate::state::s3::finish_abandoned().await {
        reporter.report(Event::Warning {
            message: format!("after the cancel: {e}"),
        });
    }
}

/// Takes the lock (the OS lock, or the S3 lease; waiting up to
/// `lock_timeout` for another run's), backs a local state up.
pub(crate) async fn open_for_write(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
    command: &str,
    reporter: &dyn Reporter,
    lock_timeout: std::time::Duration,
) -> Result<Writer, Error> {
    match store(opts, loaded).await? {
        Store::Local(path) => {
            let existed = path.exists();
            let mut state = StateStore::open_unmigrated(&path)?;
            check_owner(&state, loaded)?;
            if let Some(stale) = lock_local(&mut state, command, reporter, lock_timeout).await? {
                reporter.report(Event::Warning {
                    message: format!(
                        "cleared a stale lock: {stale}; its process no longer holds the state"
                    ),
                });
            }
            ready_to_write(&mut state, loaded, true)?;
            Ok(Writer {
                state,
                session: None,
                read_etag: None,
                existed,
            })
        }
        Store::S3 {
            remote,
            write_cache,
            ..
        } => {
            let local = opts.state_path();
            if local.exists() {
                let count = StateStore::open_existing(&local)?.resources()?.len();
                if count > 0 && remote.fetch(&write_cache).await?.tag.is_none() {
                    return Err(Error::NotMigrated {
                        local,
                        count,
                        url: remote.loc.url(&remote.loc.state_key()),
                        env: opts.env.clone(),
                    });
                }
            }
            let opened =
                open_session(remote, &write_cache, command, reporter, lock_timeout).await?;
            crate::aws::fence::install(opened.session.guard());
            if let Some(previous) = &opened.took_over {
                reporter.report(Event::Warning {
                    message: format!("took over the expired state lease of {previous}"),
                });
            }
            let mut state = StateStore::open_unmigrated(&write_cache)?;
            check_owner(&state, loaded)?;
            state.lock(command)?;
            // The cache is a copy of the remote state: its backups are the
            // bucket's versions.
            ready_to_write(&mut state, loaded, false)?;
            Ok(Writer {
                state,
                existed: opened.read_etag.is_some(),
                read_etag: opened.read_etag,
                session: Some(opened.session),
            })
        }
    }
}

/// Under the lock: every cell read before the backup (a corrupt state is
/// never backed up over the good copies), then the backup, then pending
/// migrations, then the owner recorded with a lineage if none was.
fn ready_to_write(state: &mut StateStore, loaded: &LoadedPlan, backup: bool) -> Result<(), Error> {
    state.resources()?;
    state.unfinished_journal()?;
    if backup {
        state.backup()?;
    }
    state.migrate()?;
    let (project, env, region) = owner_of(loaded);
    state.claim_owner(project, env, region)?;
    Ok(())
}

/// The local OS lock, waiting up to `lock_timeout` for another run's.
async fn lock_local(
    state: &mut StateStore,
    command: &str,
    reporter: &dyn Reporter,
    lock_timeout: std::time::Duration,
) -> Result<Option<crate::state::LockHolder>, Error> {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
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
            other => return Ok(other?),
        }
    }
}

/// The S3 lease, waiting up to `lock_timeout` for a live one to be released
/// or to run out.
async fn open_session(
    remote: Arc<Remote>,
    cache: &std::path::Path,
    command: &str,
    reporter: &dyn Reporter,
    lock_timeout: std::time::Duration,
) -> Result<crate::state::s3::Opened, Error> {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match Session::open(remote.clone(), cache, command).await {
            Err(RemoteError::Locked { holder, .. }) if started.elapsed() < lock_timeout => {
                if !said {
                    reporter.report(Event::Warning {
                        message: format!(
                            "state is locked by {holder}; waiting up to {} for it",
                            humantime::format_duration(lock_timeout)
                        ),
                    });
                    said = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// The project, env and region a command is for.
fn owner_of(loaded: &LoadedPlan) -> (&str, &str, &str) {
    (
        &loaded.file.project,
        &loaded.env,
        loaded.file.region.get_ref(),
    )
}

/// Refuses a state recorded for another project, env or region.
fn check_owner(
    state: &StateStore,
    loaded: &LoadedPlan,
) -> Result<Option<crate::state::StateOwner>, Error> {
    let (project, env, region) = owner_of(loaded);
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
    read_etag: Option<&str>,
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
    if let (Some(then), Some(now)) = (saved.state_etag.as_deref(), read_etag)
        && then != now
    {
        return stale(format!(
            "the remote state moved since (version {} then, ETag {then} then, {now} now)",
            saved.state_version.as_deref().unwrap_or("-")
        ));
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
    let mut writer = open_for_write(
        opts,
        &prepared.loaded,
        &run.command,
        cx.reporter.as_ref(),
        run.lock_timeout,
    )
    .await?;
    let existed = writer.existed;
    let read_etag = writer.read_etag.clone();
    let lease = writer.lease();
    let state = &mut writer.state;
    let run_id = state.begin_run(&run.command)?;
    let result = up_locked(
        opts,
        prepared,
        cx,
        run,
        confirm,
        state,
        &run_id,
        existed,
        read_etag.as_deref(),
        lease,
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
    writer.finish(result).await
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
    read_etag: Option<&str>,
    lease: Option<Arc<crate::state::s3::Lease>>,
) -> Result<RunOutcome, Error> {
    let saved = match &run.saved_plan {
        Some(path) => Some(check_saved(
            path, opts, prepared, state, existed, read_etag,
        )?),
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
            lease,
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
    let mut writer = open_for_write(
        opts,
        &prepared.loaded,
        &run.command,
        cx.reporter.as_ref(),
        run.lock_timeout,
    )
    .await?;
    let result = destroy_locked(opts, prepared, cx, run, confirm, &mut writer).await;
    writer.finish(result).await
}

async fn destroy_locked(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
    writer: &mut Writer,
) -> Result<RunOutcome, Error> {
    let lease = writer.lease();
    let state = &mut writer.state;
    let rows = state_map(state)?;
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
    let (observed, adopted) = observe(cx, prepared, state, &rows, run.do_refresh).await?;
    let recovered = recover(state, &run_id, &observed, &adopted, cx.reporter.as_ref())?;
    let rows = state_map(state)?;
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
        state,
        HashMap::new(),
        ApplyOptions {
            parallelism: run.parallelism,
            run_id: run_id.clone(),
            interrupt: run.interrupt,
            lease,
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
    record_outputs(state, prepared, &observed, &plan)?;
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
    let (state, _, _) = read_state(opts, &prepared.loaded).await?;
    check_owner(&state, &prepared.loaded)?;
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
    let mut writer = open_for_write(
        opts,
        &prepared.loaded,
        command,
        cx.reporter.as_ref(),
        lock_timeout,
    )
    .await?;
    let result = refresh_locked(prepared, cx, command, &mut writer.state).await;
    writer.finish(result).await
}

async fn refresh_locked(
    prepared: &Prepared,
    cx: &Cx,
    command: &str,
    state: &mut StateStore,
) -> Result<(usize, usize), Error> {
    let run_id = state.begin_run(command)?;
    let rows = state_map(state)?;
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
    record_outputs(state, prepared, &observed, &Plan::default())?;
    Ok((updated.len(), missing))
}

/// `infra output`: the named outputs recorded in state when a run ended.
/// State alone: no plan file, no cloud (with the S3 backend, the plan file
/// says where state lives and the state object is read). A state written by
/// an older infra (no outputs recorded) is read through the plan file when
/// it is there.
pub fn outputs(opts: &EnvOptions) -> Result<crate::outputs::NamedOutputs, Error> {
    let (state, path) = match remote_plan(opts)? {
        Some(loaded) => {
            let url = s3_location(opts, &loaded)?
                .map(|l| l.url(&l.state_key()))
                .unwrap_or_default();
            let (state, existed) = read_state_blocking(opts, &loaded)?;
            if !existed {
                return Err(Error::NeverApplied {
                    env: opts.env.clone(),
                    path: url.into(),
                    why: "no such object".into(),
                });
            }
            (state, PathBuf::from(url))
        }
        None => {
            let path = opts.state_path();
            if !path.exists() {
                return Err(Error::NeverApplied {
                    env: opts.env.clone(),
                    path,
                    why: "no such file".into(),
                });
            }
            (StateStore::open_existing(&path)?, path)
        }
    };
    let never = |why: &str| Error::NeverApplied {
        env: opts.env.clone(),
        path: path.clone(),
        why: why.into(),
    };
    // No plan file here, so the env (from the command) is what can be checked.
    if let Some(owner) = state.owner()?
        && owner.env != opts.env
    {
        return Err(StateError::WrongOwner {
            path: path.clone(),
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
    if let Some(loaded) = remote_plan(opts)? {
        let remote = remote_of(opts, &loaded)?;
        return Ok(block_on(remote.lease_status(lock_id))?);
    }
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
    let rows = match read_state_blocking(opts, &prepared.loaded)? {
        (state, true) => state_map(&state)?,
        (_, false) => HashMap::new(),
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
    if let Some(loaded) = remote_plan(opts)? {
        // With the S3 backend the lease is the lock: break it by its id.
        let remote = remote_of(opts, &loaded)?;
        return Ok(block_on(remote.force_unlock(lock_id))?);
    }
    let mut state = StateStore::open_existing(&opts.state_path())?;
    Ok(state.force_unlock(lock_id)?.to_string())
}
