//! The state store: one SQLite file per env (`state/<env>.db`), owned by one
//! `StateStore` that is the only holder of its connection.
//!
//! It keeps what infra applied (properties, outputs, dependencies), a
//! write-ahead journal of mutating calls, the run history, and the writer
//! lock. Every action's result is committed as soon as the action finishes,
//! in the same transaction that closes its journal row.

pub mod backend;
mod lock;
mod migrations;
mod outputs;
pub mod s3;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

pub use lock::{LockHolder, host, pid_alive, user};
pub use outputs::NamedOutputs;

// The row kinds read and the clock live with the shared vocabulary.
pub use crate::model::{StateResource, now};

/// The schema this build writes (`infra version`).
pub const SCHEMA_VERSION: i64 = migrations::LATEST;

use crate::model::Props;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open state {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("state {path} is corrupt or not an infra state file ({detail}); nothing was changed. {}", backup_hint(.backup))]
    Corrupt {
        path: PathBuf,
        detail: String,
        backup: Option<PathBuf>,
    },
    #[error("state {path} was written by a newer infra (schema {found}, this build knows {known}); upgrade infra. Nothing was changed. {}", backup_hint(.backup))]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
        backup: Option<PathBuf>,
    },
    #[error(
        "state is locked by {holder}; wait for that run to finish (its lock is released the moment its process exits), or pass `--lock-timeout 5m` to wait for it"
    )]
    Locked { holder: LockHolder },
    #[error("state is locked by a running process that holds the OS lock on {} but left no description (its lock row was cleared by force-unlock); wait for it to finish, or find it with `fuser {}`", .lock_file.display(), .lock_file.display())]
    LockedUndescribed { lock_file: PathBuf },
    #[error(
        "state {path} was replaced while it was being opened (another file now has its name); nothing was changed: run the command again"
    )]
    Replaced { path: PathBuf },
    #[error("lock id {given} does not match the lock held ({held}); nothing was unlocked")]
    WrongLockId { given: String, held: String },
    #[error("state is not locked; nothing to unlock")]
    NotLocked,
    #[error(
        "state {path} belongs to {field} `{recorded}`, not `{given}`: refusing to use it (a wrong `--state` would plan against another env's resources). Nothing was changed"
    )]
    WrongOwner {
        path: PathBuf,
        field: &'static str,
        recorded: String,
        given: String,
    },
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("state file i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn backup_hint(backup: &Option<PathBuf>) -> String {
    match backup {
        Some(p) => format!("The latest backup is {}", p.display()),
        None => "No backup exists yet".to_string(),
    }
}

/// Whose a state is: recorded by the first write run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateOwner {
    pub project: String,
    pub env: String,
    pub region: String,
    pub lineage: String,
}

/// An intent recorded before a mutating call.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub id: i64,
    pub run_id: String,
    pub address: String,
    pub kind: String,
    pub action: String,
    pub token: String,
    pub props: Props,
    pub deps: Vec<String>,
}

/// What a finished action does to its resource row.
#[derive(Debug, Clone)]
pub enum RowChange {
    Upsert(StateResource),
    Remove(String),
    Keep,
}

pub struct StateStore {
    conn: Connection,
    path: Option<PathBuf>,
    lock: Option<lock::HeldLock>,
    /// The state file opened for its OS lock, once a lock is taken or
    /// checked (see [`lock`]: never closed while the process runs).
    os_lock: Option<&'static std::fs::File>,
}

impl StateStore {
    /// Opens (creating if needed) the state at `path`, in WAL mode, migrated.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let mut store = Self::open_unmigrated(path)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens (creating if needed) the state at `path`, checked to be an
    /// infra state, without running pending migrations: a write run runs
    /// them with [`Self::migrate`] once it holds the lock and has a backup.
    pub fn open_unmigrated(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Through a symlink, the file it names: SQLite keeps its WAL next to
        // the name it opens, and one file must have one WAL.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let conn = Connection::open(&real).map_err(|source| StateError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = StateStore {
            conn,
            path: Some(path.to_path_buf()),
            lock: None,
            os_lock: None,
        };
        let version = store.check()?;
        store
            .conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| store.corrupt(e.to_string()))?;
        store.conn.pragma_update(None, "synchronous", "NORMAL")?;
        store.conn.pragma_update(None, "foreign_keys", "ON")?;
        store.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if version == 0 {
            // A new (or empty) file: its schema, nothing to back up.
            store.migrate()?;
        }
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Self, StateError> {
        let mut store = StateStore {
            conn: Connection::open_in_memory()?,
            path: None,
            lock: None,
            os_lock: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the state only if it exists, for reading: nothing is written to
    /// the file (no schema, no WAL switch, no migration). An empty file reads
    /// as an empty state; an older schema is migrated in a copy in memory.
    pub fn open_existing(path: &Path) -> Result<Self, StateError> {
        if !path.exists() {
            return Self::open_in_memory();
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let conn =
            Connection::open_with_flags(&real, flags).map_err(|source| StateError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let store = StateStore {
            conn,
            path: Some(path.to_path_buf()),
            lock: None,
            os_lock: None,
        };
        let version = store.check()?;
        store.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if version == 0 {
            return Self::open_in_memory();
        }
        if version < migrations::LATEST {
            let mut mem = Connection::open_in_memory()?;
            rusqlite::backup::Backup::new(&store.conn, &mut mem)?.run_to_completion(
                256,
                std::time::Duration::ZERO,
                None,
            )?;
            let mut copy = StateStore {
                conn: mem,
                path: Some(path.to_path_buf()),
                lock: None,
                os_lock: None,
            };
            copy.migrate()?;
            return Ok(copy);
        }
        Ok(store)
    }

    fn corrupt(&self, detail: String) -> StateError {
        StateError::Corrupt {
            path: self
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from(":memory:")),
            detail,
            backup: self.latest_backup(),
        }
    }

    /// Reads (never writes) what the file is: its schema version. Refuses a
    /// damaged file, a newer schema, and a SQLite file that is not infra's.
    fn check(&self) -> Result<i64, StateError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e.to_string()))?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e.to_string()))?;
        // A truncated file can still have an intact first page: check it all.
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e.to_string()))?;
        if check != "ok" {
            return Err(self.corrupt(check));
        }
        if version > migrations::LATEST {
            let path = self.path.clone().unwrap_or_default();
            return Err(StateError::NewerSchema {
                path,
                found: version,
                known: migrations::LATEST,
                backup: self.latest_backup(),
            });
        }
        let ours = version > 0 && self.conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'resources', 'journal')", [], |r| r.get::<_, i64>(0))? == 3;
        if (version == 0 && tables > 0) || (version > 0 && !ours) {
            return Err(StateError::Corrupt {
                path: self.path.clone().unwrap_or_default(),
                detail: "a SQLite database that is not an infra state (its tables are not infra's); it was left as it is".into(),
                backup: self.latest_backup(),
            });
        }
        Ok(version)
    }

    /// Runs pending schema migrations.
    pub fn migrate(&mut self) -> Result<(), StateError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        migrations::run(&mut self.conn, version).map_err(|e| self.corrupt(e.to_string()))
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The project, env and region this state was made for, and its lineage
    /// (an id drawn when they were first recorded), if recorded.
    pub fn owner(&self) -> Result<Option<StateOwner>, StateError> {
        let get = |k: &str| -> Result<Option<String>, StateError> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?)
        };
        let (Some(project), Some(env), Some(region), Some(lineage)) = (
            get("project")?,
            get("env")?,
            get("region")?,
            get("lineage")?,
        ) else {
            return Ok(None);
        };
        Ok(Some(StateOwner {
            project,
            env,
            region,
            lineage,
        }))
    }

    /// Refuses a state recorded for another project, env or region.
    pub fn check_owner(
        &self,
        project: &str,
        env: &str,
        region: &str,
    ) -> Result<Option<StateOwner>, StateError> {
        let Some(owner) = self.owner()? else {
            return Ok(None);
        };
        let path = self.path.clone().unwrap_or_default();
        for (field, recorded, given) in [
            ("project", &owner.project, project),
            ("env", &owner.env, env),
            ("region", &owner.region, region),
        ] {
            if recorded != given {
                return Err(StateError::WrongOwner {
                    path,
                    field,
                    recorded: recorded.clone(),
                    given: given.to_string(),
                });
            }
        }
        Ok(Some(owner))
    }

    /// [`Self::check_owner`], then records the owner with a new lineage when
    /// none is recorded (a new state, or one made before owners were).
    /// Called by write runs only, under the lock.
    pub fn claim_owner(
        &mut self,
        project: &str,
        env: &str,
        region: &str,
    ) -> Result<StateOwner, StateError> {
        if let Some(owner) = self.check_owner(project, env, region)? {
            return Ok(owner);
        }
        let owner = StateOwner {
            project: project.into(),
            env: env.into(),
            region: region.into(),
            lineage: uuid::Uuid::new_v4().to_string(),
        };
        let tx = self.conn.transaction()?;
        for (k, v) in [
            ("project", &owner.project),
            ("env", &owner.env),
            ("region", &owner.region),
            ("lineage", &owner.lineage),
        ] {
            tx.execute("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![k, v])?;
        }
        tx.commit()?;
        Ok(owner)
    }

    /// Bumped by every write; a saved plan records it.
    pub fn serial(&self) -> Result<i64, StateError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'serial'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn bump_serial(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('serial', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [],
        )?;
        Ok(())
    }

    pub fn resources(&self) -> Result<Vec<StateResource>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT address, kind, cloud_id, props, outputs, deps, protect FROM resources ORDER BY address")?;
        let rows = stmt
            .query_map([], raw_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|r| self.parse_row(r)).collect()
    }

    pub fn resource(&self, address: &str) -> Result<Option<StateResource>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT address, kind, cloud_id, props, outputs, deps, protect FROM resources WHERE address = ?1",
        )?;
        stmt.query_row([address], raw_row)
            .optional()?
            .map(|r| self.parse_row(r))
            .transpose()
    }

    /// A row's JSON cells, parsed: a cell that is not what infra wrote is a
    /// corrupt state (never an empty value, which would plan a replacement).
    fn parse_row(&self, r: RawRow) -> Result<StateResource, StateError> {
        fn cell<T: serde::de::DeserializeOwned>(
            store: &StateStore,
            address: &str,
            column: &str,
            text: &str,
        ) -> Result<T, StateError> {
            serde_json::from_str(text).map_err(|e| {
                store.corrupt(format!(
                    "resource `{address}`: its `{column}` is not valid ({e})"
                ))
            })
        }
        Ok(StateResource {
            props: cell(self, &r.address, "props", &r.props)?,
            outputs: cell(self, &r.address, "outputs", &r.outputs)?,
            deps: cell(self, &r.address, "deps", &r.deps)?,
            address: r.address,
            kind: r.kind,
            id: r.id,
            protect: r.protect,
        })
    }

    /// Writes many rows in one transaction (refresh, recovery adoption).
    pub fn put_resources(&mut self, rows: &[StateResource]) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        for r in rows {
            upsert(&tx, r)?;
        }
        Self::bump_serial(&tx)?;
        tx.commit()?;
        Ok(())
    }

    pub fn remove_resource(&mut self, address: &str) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM resources WHERE address = ?1", [address])?;
        Self::bump_serial(&tx)?;
        tx.commit()?;
        Ok(())
    }

    pub fn begin_run(&mut self, command: &str) -> Result<String, StateError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT INTO runs(id, command, started_at, status) VALUES (?1, ?2, ?3, 'running')",
            params![id, command, now()],
        )?;
        Ok(id)
    }

    pub fn finish_run(
        &mut self,
        run_id: &str,
        status: &str,
        summary: &str,
    ) -> Result<(), StateError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, status = ?3, summary = ?4 WHERE id = ?1",
            params![run_id, now(), status, summary],
        )?;
        Ok(())
    }

    /// Appends a note to a run's history (recovery, stale lock cleared).
    pub fn note_run(&mut self, run_id: &str, note: &str) -> Result<(), StateError> {
        self.conn.execute(
            "UPDATE runs SET notes = coalesce(notes || char(10), '') || ?2 WHERE id = ?1",
            params![run_id, note],
        )?;
        Ok(())
    }

    /// The last runs, newest first: (id, command, status, summary, notes).
    pub fn runs(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String, String, String)>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, command, status, coalesce(summary, ''), coalesce(notes, '') FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Commits the intent to make a mutating call, before the call is made.
    pub fn journal_begin(
        &mut self,
        run_id: &str,
        address: &str,
        kind: &str,
        action: &str,
        token: &str,
        props: &Props,
        deps: &[String],
    ) -> Result<i64, StateError> {
        self.conn.execute(
            "INSERT INTO journal(run_id, address, kind, action, token, props, deps, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run_id,
                address,
                kind,
                action,
                token,
                serde_json::to_string(props).expect("json"),
                serde_json::to_string(deps).expect("json"),
                now()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes a journal row and applies its effect on the resource row, atomically.
    pub fn journal_finish(
        &mut self,
        journal_id: i64,
        outcome: &str,
        change: &RowChange,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE journal SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
            params![journal_id, now(), outcome],
        )?;
        match change {
            RowChange::Upsert(r) => upsert(&tx, r)?,
            RowChange::Remove(address) => {
                tx.execute("DELETE FROM resources WHERE address = ?1", [address])?;
            }
            RowChange::Keep => {}
        }
        if !matches!(change, RowChange::Keep) {
            Self::bump_serial(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Closes a journal row and renames a resource row (`state mv`,
    /// `[[moved]]`), rewriting the other rows' dependencies on it, atomically.
    pub fn journal_finish_rename(
        &mut self,
        journal_id: i64,
        from: &str,
        to: &str,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE journal SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
            params![journal_id, now(), format!("moved from {from}")],
        )?;
        tx.execute(
            "UPDATE resources SET address = ?2, updated_at = ?3 WHERE address = ?1",
            params![from, to, now()],
        )?;
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT address, deps FROM resources")?;

            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?
        };
        for (address, deps) in rows {
            let mut list: Vec<String> = serde_json::from_str(&deps).unwrap_or_default();
            if list.iter().any(|d| d == from) {
                list.iter_mut()
                    .filter(|d| *d == from)
                    .for_each(|d| *d = to.to_string());
                tx.execute(
                    "UPDATE resources SET deps = ?2 WHERE address = ?1",
                    params![address, serde_json::to_string(&list).expect("json")],
                )?;
            }
        }
        Self::bump_serial(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Journal rows whose call may or may not have happened: a run died between them.
    pub fn unfinished_journal(&self) -> Result<Vec<JournalEntry>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, run_id, address, kind, action, token, props, deps FROM journal WHERE finished_at IS NULL ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let props: String = r.get(6)?;
                let deps: String = r.get(7)?;
                let entry = JournalEntry {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    address: r.get(2)?,
                    kind: r.get(3)?,
                    action: r.get(4)?,
                    token: r.get(5)?,
                    props: Props::new(),
                    deps: Vec::new(),
                };
                Ok((entry, props, deps))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(mut entry, props, deps)| {
                let bad = |e: serde_json::Error| {
                    self.corrupt(format!(
                        "journal row {} of `{}`: not valid ({e})",
                        entry.id, entry.address
                    ))
                };
                entry.props = serde_json::from_str(&props).map_err(bad)?;
                entry.deps = serde_json::from_str(&deps).map_err(bad)?;
                Ok(entry)
            })
            .collect()
    }

    /// Writes a consistent copy of the state beside it (`backups/`), keeping the last 10.
    pub fn backup(&self) -> Result<Option<PathBuf>, StateError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let dir = backup_dir(path);
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Io {
            path: dir.clone(),
            source,
        })?;
        let stem = backup_stem(path);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let target = dir.join(format!("{stem}.{nanos}.db"));
        self.conn
            .execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
        let mut old = list_backups(path);
        while old.len() > 10 {
            let victim = old.remove(0);
            let _ = std::fs::remove_file(victim);
        }
        Ok(Some(target))
    }

    fn latest_backup(&self) -> Option<PathBuf> {
        self.path.as_deref().and_then(|p| list_backups(p).pop())
    }
}

fn backup_dir(path: &Path) -> PathBuf {
    path.parent().unwrap_or(Path::new(".")).join("backups")
}

/// Backups are named after the state's file name and a hash of its full
/// path: `dev.db` and `dev.sqlite` (or two `dev.db` in different folders
/// sharing one `backups/`) never rotate each other's away.
fn backup_stem(path: &Path) -> String {
    let full = std::fs::canonicalize(path)
        .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    // FNV-1a: stable across builds and platforms.
    let hash = full
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x100000001b3)
        });
    let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("state");
    format!("{name}-{:08x}", hash as u32)
}

/// Backups of this state file, oldest first.
fn list_backups(path: &Path) -> Vec<PathBuf> {
    let stem = backup_stem(path);
    let mut found: Vec<(u128, PathBuf)> = std::fs::read_dir(backup_dir(path))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let rest = name
                .strip_prefix(&format!("{stem}."))?
                .strip_suffix(".db")?;
            Some((rest.parse().ok()?, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

struct RawRow {
    address: String,
    kind: String,
    id: String,
    props: String,
    outputs: String,
    deps: String,
    protect: bool,
}

fn raw_row(r: &rusqlite::Row) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        address: r.get(0)?,
        kind: r.get(1)?,
        id: r.get(2)?,
        props: r.get(3)?,
        outputs: r.get(4)?,
        deps: r.get(5)?,
        protect: r.get(6)?,
    })
}

fn upsert(tx: &rusqlite::Transaction, r: &StateResource) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO resources(address, kind, cloud_id, props, outputs, deps, protect, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(address) DO UPDATE SET kind = ?2, cloud_id = ?3, props = ?4, outputs = ?5, deps = ?6, protect = ?7, updated_at = ?8",
    )?
    .execute(params![
        r.address,
        r.kind,
        r.id,
        serde_json::to_string(&r.props).expect("json"),
        serde_json::to_string(&r.outputs).expect("json"),
        serde_json::to_string(&r.deps).expect("json"),
        r.protect,
        now()
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(address: &str) -> StateResource {
        StateResource {
            address: address.into(),
            kind: "Vpc".into(),
            id: "vpc-1".into(),
            props: json!({"cidr": "10.0.0.0/16"}).as_object().unwrap().clone(),
            outputs: [("id".to_string(), "vpc-1".to_string())].into(),
            deps: vec![],
            protect: false,
        }
    }

    #[test]
    fn journal_and_rows_commit_together() {
        let mut s = StateStore::open_in_memory().unwrap();
        let run = s.begin_run("up").unwrap();
        let j = s
            .journal_begin(&run, "vpc.main", "Vpc", "create", "tok", &Props::new(), &[])
            .unwrap();
        assert_eq!(s.unfinished_journal().unwrap().len(), 1);
        assert_eq!(s.serial().unwrap(), 0);
        s.journal_finish(j, "created", &RowChange::Upsert(res("vpc.main")))
            .unwrap();
        assert!(s.unfinished_journal().unwrap().is_empty());
        assert_eq!(s.resources().unwrap(), vec![res("vpc.main")]);
        assert_eq!(s.serial().unwrap(), 1);
        let j = s
            .journal_begin(
                &run,
                "vpc.main",
                "Vpc",
                "delete",
                "tok2",
                &Props::new(),
                &[],
            )
            .unwrap();
        s.journal_finish(j, "deleted", &RowChange::Remove("vpc.main".into()))
            .unwrap();
        assert!(s.resources().unwrap().is_empty());
        assert_eq!(s.serial().unwrap(), 2);
    }

    #[test]
    fn persists_across_reopen_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        {
            let mut s = StateStore::open(&path).unwrap();
            s.put_resources(&[res("vpc.main")]).unwrap();
        }
        let s = StateStore::open(&path).unwrap();
        assert_eq!(s.resource("vpc.main").unwrap(), Some(res("vpc.main")));
        s.conn.pragma_update(None, "user_version", 999).unwrap();
        drop(s);
        match StateStore::open(&path) {
            Err(StateError::NewerSchema { found: 999, .. }) => {}
            other => panic!("expected NewerSchema, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_truncated_file_is_corrupt_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        std::fs::write(
            &path,
            b"SQLite format 3\0garbage that is not a database page",
        )
        .unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            StateStore::open(&path),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn backups_are_keyed_by_the_full_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("dev.db"), dir.path().join("dev.sqlite"));
        let (sa, sb) = (StateStore::open(&a).unwrap(), StateStore::open(&b).unwrap());
        let first = sa.backup().unwrap().unwrap();
        for _ in 0..12 {
            sb.backup().unwrap();
        }
        assert_eq!(
            list_backups(&a),
            vec![first],
            "dev.sqlite's backups never rotate dev.db's away"
        );
        assert_eq!(list_backups(&b).len(), 10);
    }

    #[test]
    fn a_foreign_sqlite_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            StateStore::open(&path),
            Err(StateError::Corrupt { .. })
        ));
        assert!(matches!(
            StateStore::open_existing(&path),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // An empty file reads as an empty state and is not written.
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert!(
            StateStore::open_existing(&empty)
                .unwrap()
                .resources()
                .unwrap()
                .is_empty()
        );
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    }

    #[test]
    fn a_corrupt_json_cell_names_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let mut s = StateStore::open(&path).unwrap();
        s.put_resources(&[res("vpc.main")]).unwrap();
        s.conn
            .execute(
                "UPDATE resources SET outputs = '{not json' WHERE address = 'vpc.main'",
                [],
            )
            .unwrap();
        match s.resources() {
            Err(StateError::Corrupt { detail, .. }) => assert!(
                detail.contains("vpc.main") && detail.contains("outputs"),
                "{detail}"
            ),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn backups_keep_the_last_ten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let s = StateStore::open(&path).unwrap();
        for _ in 0..12 {
            s.backup().unwrap();
        }
        assert_eq!(list_backups(&path).len(), 10);
    }
}
