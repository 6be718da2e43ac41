//! The state store: one SQLite file per env (`state/<env>.db`), owned by one
//! `StateStore` that is the only holder of its connection.
//!
//! It keeps what infra applied (properties, outputs, dependencies), a
//! write-ahead journal of mutating calls, the run history, and the writer
//! lock. Every action's result is committed as soon as the action finishes,
//! in the same transaction that closes its journal row.

mod lock;
mod migrations;
mod outputs;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub use lock::{LockHolder, host, user};
pub use outputs::NamedOutputs;

/// The schema this build writes (`infra version`).
pub const SCHEMA_VERSION: i64 = migrations::LATEST;

use crate::model::{Outputs, Props};

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
    #[error("state is locked by a running process that holds {} but left no description (its lock row was cleared by force-unlock); wait for it to finish, or find it with `fuser {}`", .lock_file.display(), .lock_file.display())]
    LockedUndescribed { lock_file: PathBuf },
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

/// One managed resource as infra last applied or observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateResource {
    pub address: String,
    pub kind: String,
    pub id: String,
    pub props: Props,
    pub outputs: Outputs,
    pub deps: Vec<String>,
    pub protect: bool,
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
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl StateStore {
    /// Opens (creating if needed) the state at `path`, in WAL mode, migrated.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StateError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = StateStore {
            conn,
            path: Some(path.to_path_buf()),
            lock: None,
        };
        store.prepare()?;
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Self, StateError> {
        let mut store = StateStore {
            conn: Connection::open_in_memory()?,
            path: None,
            lock: None,
        };
        store.prepare()?;
        Ok(store)
    }

    /// Opens the state only if it exists; read-only commands never create one.
    pub fn open_existing(path: &Path) -> Result<Self, StateError> {
        if path.exists() {
            Self::open(path)
        } else {
            Self::open_in_memory()
        }
    }

    fn prepare(&mut self) -> Result<(), StateError> {
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(":memory:"));
        let corrupt = |e: rusqlite::Error, backup: Option<PathBuf>| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
            backup,
        };
        let backup = self.latest_backup();
        // Read before writing anything, so a foreign or damaged file is left as it is.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .and_then(|v| {
                self.conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(v))
            })
            .map_err(|e| corrupt(e, backup.clone()))?;
        // A truncated file can still have an intact first page: check it all.
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| corrupt(e, backup.clone()))?;
        if check != "ok" {
            return Err(StateError::Corrupt {
                path,
                detail: check,
                backup,
            });
        }
        if version > migrations::LATEST {
            return Err(StateError::NewerSchema {
                path,
                found: version,
                known: migrations::LATEST,
                backup,
            });
        }
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| corrupt(e, backup.clone()))?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::run(&mut self.conn, version).map_err(|e| corrupt(e, backup))?;
        Ok(())
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
        let rows = stmt.query_map([], row_to_resource)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn resource(&self, address: &str) -> Result<Option<StateResource>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT address, kind, cloud_id, props, outputs, deps, protect FROM resources WHERE address = ?1",
        )?;
        Ok(stmt.query_row([address], row_to_resource).optional()?)
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
            let found = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            found
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
        let rows = stmt.query_map([], |r| {
            let props: String = r.get(6)?;
            let deps: String = r.get(7)?;
            Ok(JournalEntry {
                id: r.get(0)?,
                run_id: r.get(1)?,
                address: r.get(2)?,
                kind: r.get(3)?,
                action: r.get(4)?,
                token: r.get(5)?,
                props: serde_json::from_str(&props).unwrap_or_default(),
                deps: serde_json::from_str(&deps).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("state");
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

/// Backups of this state file, oldest first.
fn list_backups(path: &Path) -> Vec<PathBuf> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("state")
        .to_string();
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

fn row_to_resource(r: &rusqlite::Row) -> rusqlite::Result<StateResource> {
    let json = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    Ok(StateResource {
        address: r.get(0)?,
        kind: r.get(1)?,
        id: r.get(2)?,
        props: serde_json::from_str(&json(3)?).unwrap_or_default(),
        outputs: serde_json::from_str(&json(4)?).unwrap_or_default(),
        deps: serde_json::from_str(&json(5)?).unwrap_or_default(),
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
