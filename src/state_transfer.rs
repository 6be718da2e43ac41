//! Moving whole states: `infra state pull`, `infra state push` and
//! `infra state migrate` (a local state to the S3 backend in one step).

use std::path::{Path, PathBuf};

use crate::config::LoadedPlan;
use crate::ops::{EnvOptions, Error, Store, read_state, s3_location, store};
use crate::state::StateStore;
use crate::state::s3;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{path} is not an infra state file: {why}")]
    NotAState { path: PathBuf, why: String },
    #[error(
        "{path} is of another lineage ({theirs}) than the state of env {env} ({ours}); pushing it would replace a different state. Pass --force if that is what you want"
    )]
    OtherLineage {
        path: PathBuf,
        env: String,
        theirs: String,
        ours: String,
    },
    #[error(
        "{path} has serial {theirs}, older than the state of env {env} (serial {ours}); pushing it would lose {lost} write(s). Pass --force if that is what you want"
    )]
    Older {
        path: PathBuf,
        env: String,
        theirs: i64,
        ours: i64,
        lost: i64,
    },
    #[error(
        "{url} already holds a state of another lineage ({remote}, {resources} resource(s)) than {path} ({local}); nothing was moved"
    )]
    MigrateOtherLineage {
        url: String,
        path: PathBuf,
        remote: String,
        local: String,
        resources: i64,
    },
    #[error("{url} already holds this state (serial {remote} ≥ {local}); nothing was moved")]
    AlreadyThere {
        url: String,
        remote: i64,
        local: i64,
    },
    #[error(
        "env {env} does not keep its state on S3: set [state] backend = \"s3\" and bucket in the plan, or pass --state s3://BUCKET/PREFIX"
    )]
    NotRemote { env: String },
    #[error("no local state at {0}: nothing to migrate")]
    NoLocal(PathBuf),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<TransferError> for Error {
    fn from(e: TransferError) -> Error {
        Error::Transfer(e.to_string())
    }
}

struct Info {
    serial: i64,
    lineage: Option<String>,
    resources: i64,
}

fn info_of(path: &Path) -> Result<Info, Error> {
    if !path.exists() {
        return Err(TransferError::NotAState {
            path: path.into(),
            why: "no such file".into(),
        }
        .into());
    }
    // A consistent copy first: the file may be in WAL mode with a run's last writes beside it.
    let bytes = s3::snapshot(path, None).map_err(|e| TransferError::NotAState {
        path: path.into(),
        why: e.to_string(),
    })?;
    let (serial, lineage, resources) =
        s3::serial_and_lineage(&bytes).map_err(|why| TransferError::NotAState {
            path: path.into(),
            why,
        })?;
    Ok(Info {
        serial,
        lineage,
        resources,
    })
}

/// `infra state pull FILE`: the current state (remote or local) into FILE.
pub async fn pull(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
    out: &Path,
) -> Result<(i64, usize), Error> {
    let (state, _, existed) = read_state(opts, loaded).await?;
    if !existed {
        return Err(Error::Transfer(format!(
            "env {} has no state yet; nothing was written",
            opts.env
        )));
    }
    let source = state
        .path()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Transfer("no state file".into()))?;
    let serial = state.serial()?;
    let count = state.resources()?.len();
    let bytes = s3::snapshot(&source, None)?;
    std::fs::write(out, bytes).map_err(|source| TransferError::Io {
        path: out.into(),
        source,
    })?;
    Ok((serial, count))
}

fn refuse_push(file: &Path, env: &str, theirs: &Info, ours: &Info) -> Result<(), TransferError> {
    if let (Some(t), Some(o)) = (&theirs.lineage, &ours.lineage)
        && t != o
    {
        return Err(TransferError::OtherLineage {
            path: file.into(),
            env: env.into(),
            theirs: t.clone(),
            ours: o.clone(),
        });
    }
    if theirs.serial < ours.serial {
        return Err(TransferError::Older {
            path: file.into(),
            env: env.into(),
            theirs: theirs.serial,
            ours: ours.serial,
            lost: ours.serial - theirs.serial,
        });
    }
    Ok(())
}

/// `infra state push FILE`: replaces the env's state with FILE, under the
/// lock (or lease), refusing another lineage or an older serial unless `force`.
pub async fn push(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
    file: &Path,
    force: bool,
    command: &str,
) -> Result<String, Error> {
    let theirs = info_of(file)?;
    match store(opts, loaded).await? {
        Store::Local(path) => {
            let mut state = StateStore::open(&path)?;
            state.lock(command)?;
            let ours = Info {
                serial: state.serial()?,
                lineage: None,
                resources: state.resources()?.len() as i64,
            };
            let ours = Info {
                lineage: info_of(&path).ok().and_then(|i| i.lineage),
                ..ours
            };
            if !force && ours.resources + ours.serial > 0 {
                refuse_push(file, &opts.env, &theirs, &ours)?;
            }
            state.backup()?;
            let bytes = s3::snapshot(file, None)?;
            let tmp = path.with_extension("db.push");
            std::fs::write(&tmp, &bytes).map_err(|source| TransferError::Io {
                path: tmp.clone(),
                source,
            })?;
            for suffix in ["-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            std::fs::rename(&tmp, &path).map_err(|source| TransferError::Io {
                path: path.clone(),
                source,
            })?;
            drop(state);
            Ok(path.display().to_string())
        }
        Store::S3 {
            remote,
            write_cache,
            ..
        } => {
            let (lease, _) = remote.acquire(command).await?;
            let result = async {
                let fetched = remote.fetch(&write_cache).await?;
                if let Some(tag) = &fetched.tag {
                    let ours = info_of(&write_cache)?;
                    if !force {
                        refuse_push(file, &opts.env, &theirs, &ours)?;
                    }
                    let _ = tag;
                }
                let expected = fetched.tag.as_ref().map(|t| t.etag.clone());
                let tag = remote
                    .upload_file(file, expected.as_deref(), Some(lease.generation()))
                    .await?;
                s3::forget_cache(&write_cache);
                Ok::<_, Error>(format!(
                    "{} (version {})",
                    remote.loc.url(&tag.key),
                    tag.version_id.unwrap_or_else(|| "-".into())
                ))
            }
            .await;
            remote.release(&lease).await?;
            result
        }
    }
}

/// `infra state migrate`: uploads the local state file to the env's S3
/// location, refusing when the remote holds a state of another lineage, then
/// renames the local file to `<file>.migrated` so it cannot be used by mistake.
pub async fn migrate(
    opts: &EnvOptions,
    loaded: &LoadedPlan,
    from: Option<&Path>,
    command: &str,
) -> Result<(String, PathBuf, i64), Error> {
    let local = from
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.state_path());
    if s3_location(opts, loaded)?.is_none() {
        return Err(TransferError::NotRemote {
            env: opts.env.clone(),
        }
        .into());
    }
    if !local.exists() {
        return Err(TransferError::NoLocal(local).into());
    }
    // Held while migrating: no local run may write it meanwhile.
    let mut local_state = StateStore::open(&local)?;
    local_state.lock(command)?;
    let mine = info_of(&local)?;
    let Store::S3 {
        remote,
        write_cache,
        ..
    } = store(opts, loaded).await?
    else {
        unreachable!("checked above")
    };
    let (lease, _) = remote.acquire(command).await?;
    let result = async {
        let fetched = remote.fetch(&write_cache).await?;
        let url = remote.loc.url(&remote.loc.state_key());
        if fetched.tag.is_some() {
            let there = info_of(&write_cache)?;
            let other = match (&there.lineage, &mine.lineage) {
                (Some(a), Some(b)) => a != b,
                // Without lineages, a remote that holds resources is someone else's.
                _ => there.resources > 0,
            };
            if other {
                return Err(TransferError::MigrateOtherLineage {
                    url,
                    path: local.clone(),
                    remote: there.lineage.clone().unwrap_or_else(|| "unknown".into()),
                    local: mine.lineage.clone().unwrap_or_else(|| "unknown".into()),
                    resources: there.resources,
                }
                .into());
            }
            if there.resources > 0 && there.serial >= mine.serial {
                return Err(TransferError::AlreadyThere {
                    url,
                    remote: there.serial,
                    local: mine.serial,
                }
                .into());
            }
        }
        let expected = fetched.tag.as_ref().map(|t| t.etag.clone());
        let tag = remote
            .upload_file(&local, expected.as_deref(), Some(lease.generation()))
            .await?;
        s3::forget_cache(&write_cache);
        Ok::<_, Error>(format!(
            "{} (version {})",
            url,
            tag.version_id.unwrap_or_else(|| "-".into())
        ))
    }
    .await;
    remote.release(&lease).await.map_err(Error::from)?;
    let url = result?;
    drop(local_state);
    let moved = PathBuf::from(format!("{}.migrated", local.display()));
    std::fs::rename(&local, &moved).map_err(|source| TransferError::Io {
        path: moved.clone(),
        source,
    })?;
    for suffix in ["-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(PathBuf::from(format!("{}{suffix}", local.display())));
    }
    Ok((url, moved, mine.resources))
}
