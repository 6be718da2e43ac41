//! The writer lock. The real lock is an OS file lock (`flock`) on
//! `<state>.lock`: the kernel drops it when the process dies, so a killed run
//! can never leave a stuck lock. The lock row in the database only describes
//! the holder for the refusal message; a row whose holder no longer holds the
//! OS lock is stale by definition and is cleared.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::{now, StateError, StateStore};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub lock_id: String,
    pub user: String,
    pub host: String,
    pub pid: i64,
    pub command: String,
    pub started_at: i64,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.started_at.max(0) as u64),
        );
        write!(
            f,
            "{}@{} (pid {}) running `{}` since {} (lock id {})",
            self.user, self.host, self.pid, self.command, since, self.lock_id
        )
    }
}

pub(super) struct HeldLock {
    _file: Option<File>,
    lock_id: String,
}

fn lock_path(store: &StateStore) -> Option<PathBuf> {
    store.path.as_ref().map(|p| {
        let mut s = p.clone().into_os_string();
        s.push(".lock");
        PathBuf::from(s)
    })
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

impl StateStore {
    fn lock_row(&self) -> Result<Option<LockHolder>, StateError> {
        Ok(self
            .conn
            .query_row("SELECT lock_id, user, host, pid, command, started_at FROM lock WHERE id = 1", [], |r| {
                Ok(LockHolder {
                    lock_id: r.get(0)?,
                    user: r.get(1)?,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    command: r.get(4)?,
                    started_at: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// Takes the writer lock for `command`. Returns the stale holder it
    /// cleared, if a killed run had left its row behind.
    pub fn lock(&mut self, command: &str) -> Result<Option<LockHolder>, StateError> {
        let file = match lock_path(self) {
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|source| StateError::Io { path: path.clone(), source })?;
                match file.try_lock() {
                    Ok(()) => Some(file),
                    Err(std::fs::TryLockError::WouldBlock) => {
                        let holder = self.lock_row()?.unwrap_or(LockHolder {
                            lock_id: "unknown".into(),
                            user: "another process".into(),
                            host: host(),
                            pid: 0,
                            command: "infra".into(),
                            started_at: now(),
                        });
                        return Err(StateError::Locked { holder });
                    }
                    Err(std::fs::TryLockError::Error(source)) => return Err(StateError::Io { path, source }),
                }
            }
            None => {
                if let Some(holder) = self.lock_row()? {
                    return Err(StateError::Locked { holder });
                }
                None
            }
        };
        let stale = if file.is_some() { self.lock_row()? } else { None };
        let holder = LockHolder {
            lock_id: uuid::Uuid::new_v4().to_string(),
            user: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()),
            host: host(),
            pid: std::process::id() as i64,
            command: command.to_string(),
            started_at: now(),
        };
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM lock", [])?;
        tx.execute(
            "INSERT INTO lock(id, lock_id, user, host, pid, command, started_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![holder.lock_id, holder.user, holder.host, holder.pid, holder.command, holder.started_at],
        )?;
        tx.commit()?;
        self.lock = Some(HeldLock { _file: file, lock_id: holder.lock_id });
        Ok(stale)
    }

    /// Releases the lock this store holds.
    pub fn unlock(&mut self) {
        if let Some(held) = self.lock.take() {
            let _ = self.conn.execute("DELETE FROM lock WHERE lock_id = ?1", [&held.lock_id]);
        }
    }

    /// Clears a lock row by id, for backends where OS locks do not reach.
    pub fn force_unlock(&mut self, lock_id: &str) -> Result<LockHolder, StateError> {
        let Some(holder) = self.lock_row()? else { return Err(StateError::NotLocked) };
        if holder.lock_id != lock_id {
            return Err(StateError::WrongLockId { given: lock_id.into(), held: holder.lock_id });
        }
        self.conn.execute("DELETE FROM lock WHERE lock_id = ?1", [lock_id])?;
        Ok(holder)
    }
}

impl Drop for StateStore {
    fn drop(&mut self) {
        self.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let mut first = StateStore::open(&path).unwrap();
        assert_eq!(first.lock("infra up --env dev").unwrap(), None);
        let mut second = StateStore::open(&path).unwrap();
        match second.lock("infra up --env dev") {
            Err(StateError::Locked { holder }) => {
                assert_eq!(holder.pid, std::process::id() as i64);
                assert_eq!(holder.command, "infra up --env dev");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        assert_eq!(second.lock("infra up --env dev").unwrap(), None);
    }

    #[test]
    fn a_row_without_an_os_lock_is_stale_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let mut s = StateStore::open(&path).unwrap();
        s.lock("infra up").unwrap();
        // Simulate a killed process: the OS lock goes, the row stays.
        s.lock.take();
        drop(s);
        let mut s = StateStore::open(&path).unwrap();
        let stale = s.lock("infra up").unwrap();
        assert_eq!(stale.map(|h| h.command), Some("infra up".to_string()));
    }

    #[test]
    fn force_unlock_refuses_a_wrong_id() {
        let mut s = StateStore::open_in_memory().unwrap();
        s.lock("infra up").unwrap();
        let held = s.lock_row().unwrap().unwrap().lock_id;
        assert!(matches!(s.force_unlock("nope"), Err(StateError::WrongLockId { .. })));
        assert_eq!(s.force_unlock(&held).unwrap().lock_id, held);
        assert!(matches!(s.force_unlock(&held), Err(StateError::NotLocked)));
    }
}
