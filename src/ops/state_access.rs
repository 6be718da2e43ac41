//! Where an env's state lives and how a command gets it: the local file or
//! the S3 state, read by ETag for reading commands, and for writing runs
//! under the lock or the lease, checked to be this project's and env's.

use super::*;

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
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// The plan file, when the env's state is on S3 (`--state s3://...`, or
/// `[state] backend = "s3"`); `None` for a local state file.
pub(crate) fn remote_plan(opts: &EnvOptions) -> Result<Option<LoadedPlan>, Error> {
    match opts.state_url() {
        Some(_) => Ok(Some(config::load(&opts.plans_dir, &opts.env)?)),
        None => Ok(config::load(&opts.plans_dir, &opts.env)
            .ok()
            .filter(|l| l.file.state.as_ref().is_some_and(|s| s.get_ref().is_s3()))),
    }
}

/// The remote state of a plan whose state is on S3.
pub(crate) fn remote_of(opts: &EnvOptions, loaded: &LoadedPlan) -> Result<Arc<Remote>, Error> {
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
pub(crate) fn read_state_blocking(
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
    pub(crate) fn lease(&self) -> Option<Arc<crate::state::s3::Lease>> {
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

/// Runs `work` on the state under the lock (or the S3 lease), which is
/// given back, and what is left uploaded, whatever the outcome; a lost lease
/// wins over the run's own result.
pub(crate) async fn with_state<T>(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    command: &str,
    lock_timeout: std::time::Duration,
    work: impl AsyncFnOnce(&mut StateStore) -> Result<T, Error>,
) -> Result<T, Error> {
    let reporter = cx.reporter.as_ref();
    let loaded = &prepared.loaded;
    let mut writer = open_for_write(opts, loaded, command, reporter, lock_timeout).await?;
    let result = work(&mut writer.state).await;
    writer.finish(result).await
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
pub(crate) fn ready_to_write(
    state: &mut StateStore,
    loaded: &LoadedPlan,
    backup: bool,
) -> Result<(), Error> {
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
pub(crate) async fn lock_local(
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
pub(crate) async fn open_session(
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
pub(crate) fn owner_of(loaded: &LoadedPlan) -> (&str, &str, &str) {
    (
        &loaded.file.project,
        &loaded.env,
        loaded.file.region.get_ref(),
    )
}

/// Refuses a state recorded for another project, env or region.
pub(crate) fn check_owner(
    state: &StateStore,
    loaded: &LoadedPlan,
) -> Result<Option<crate::state::StateOwner>, Error> {
    let (project, env, region) = owner_of(loaded);
    Ok(state.check_owner(project, env, region)?)
}
