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

mod adopt;
mod destroy;
mod drift;
mod import;
mod output;
mod plan;
mod refresh;
mod state_access;
mod state_mv;
mod state_rm;
mod unlock;
mod up;

pub use adopt::*;
pub use destroy::*;
pub use drift::*;
pub use import::*;
pub use output::*;
pub use plan::*;
pub use refresh::*;
pub use state_access::*;
pub use state_mv::*;
pub use state_rm::*;
pub use unlock::*;
pub use up::*;

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
    /// An address, file or argument a takeover command cannot use (exit 3).
    #[error(transparent)]
    BadInput(#[from] crate::takeover::BadInput),
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
            Error::InvalidPlan(_) | Error::BadInput(_) => crate::exit::INVALID_INPUT,
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
