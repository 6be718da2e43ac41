//! The writer lock. The real lock is an OS file lock (`flock`) on the state
//! file itself, so it follows the file's identity (device and inode), not
//! its name: a symlink, a hard link or a relative path to one state all meet
//! the same lock, and there is no separate lock file to delete by hand. The
//! kernel drops it when the process dies, so a killed run never leaves a
//! stuck lock. The lock row in the database describes the holder for the
//! refusal message; a row is stale only when its OS lock is free *and* its
//! process is not alive on this host.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{StateError, StateStore, now};

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
    lock_id: String,
}

/// Device and inode: what a file is, whatever it is called.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Opens `path` for its OS lock. The descriptor is never closed while the
/// process runs: closing any descriptor of a file drops every POSIX lock the
/// process holds on it, SQLite's own included (they are per process and
/// inode), so it is leaked on purpose: one per store that locks, freed at
/// exit.
fn open_for_lock(path: &Path) -> Result<&'static File, StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new().read(true).open(path).map_err(io)?;
    Ok(Box::leak(Box::new(file)))
}

/// Whether `path` still names the file behind `file` (not deleted, not
/// replaced by another file since it was opened).
fn still_named(path: &Path, file: &File) -> Result<bool, StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let held = identity(&file.metadata().map_err(io)?);
    match std::fs::metadata(path) {
        Ok(now) => Ok(identity(&now) == held),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(e)),
    }
}

/// This machine's name: the kernel's, else `gethostname(2)`.
pub fn host() -> String {
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        && !s.trim().is_empty()
    {
        return s.trim().to_string();
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated
    // when it fits, and the last byte is kept 0 for when it does not.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if ok && end > 0 {
        return String::from_utf8_lossy(&buf[..end]).to_string();
    }
    "unknown-host".into()
}

/// Who runs this: `$USER` or `$LOGNAME`, else the uid's name in
/// `/etc/passwd`, else `uid <n>`.
pub fn user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v.trim().to_string();
        }
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    user_of(&passwd, uid).unwrap_or_else(|| format!("uid {uid}"))
}

/// The name of `uid` in a passwd file's text.
fn user_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Whether a process with this pid runs on this host.
pub fn pid_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// When the process `pid` started (Unix seconds), from `/proc`; `None` where
/// there is no `/proc`.
fn process_started(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (`starttime`, clock ticks after boot); the command name
    // (field 2) is in parentheses and may hold spaces.
    let ticks: i64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let boot: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| boot + ticks / hz as i64)
}

/// The holder's process still runs on this host: its pid is alive and was
/// started before it took the lock (a pid reused since is someone else).
fn holder_process_alive(holder: &LockHolder) -> bool {
    holder.host == host()
        && pid_alive(holder.pid)
        && process_started(holder.pid).is_none_or(|started| started <= holder.started_at + 2)
}

impl StateStore {
    fn lock_row(&self) -> Result<Option<LockHolder>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT lock_id, user, host, pid, command, started_at FROM lock WHERE id = 1",
                [],
                |r| {
                    Ok(LockHolder {
                        lock_id: r.get(0)?,
                        user: r.get(1)?,
                        host: r.get(2)?,
                        pid: r.get(3)?,
                        command: r.get(4)?,
                        started_at: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The state file's lock descriptor, opened on first use.
    fn os_lock_file(&mut self) -> Result<Option<&'static File>, StateError> {
        if self.os_lock.is_none()
            && let Some(path) = self.path.as_deref()
            && path.exists()
        {
            self.os_lock = Some(open_for_lock(path)?);
        }
        Ok(self.os_lock)
    }

    /// Takes the writer lock for `command`. Returns the stale holder it
    /// cleared, if a killed run had left its row behind.
    pub fn lock(&mut self, command: &str) -> Result<Option<LockHolder>, StateError> {
        let locked = match self.os_lock_file()? {
            Some(file) => {
                let path = self.path.clone().unwrap_or_default();
                match file.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(match self.lock_row()? {
                            Some(holder) => StateError::Locked { holder },
                            None => StateError::LockedUndescribed { lock_file: path },
                        });
                    }
                    Err(std::fs::TryLockError::Error(source)) => {
                        return Err(StateError::Io { path, source });
                    }
                }
                // Re-checked under the lock: the name still names the file
                // this store opened, so the lock and the writes are on one file.
                if !still_named(&path, file)? {
                    let _ = file.unlock();
                    return Err(StateError::Replaced { path });
                }
                true
            }
            None => false,
        };
        let row = self.lock_row()?;
        // A row whose process still runs on this host is never stale, even
        // with its OS lock free (a build that locked another file, a lock
        // taken through a filesystem that ignores flock).
        if let Some(holder) = row.as_ref().filter(|h| !locked || holder_process_alive(h)) {
            if let Some(file) = self.os_lock.filter(|_| locked) {
                let _ = file.unlock();
            }
            return Err(StateError::Locked {
                holder: holder.clone(),
            });
        }
        let stale = row;
        let holder = LockHolder {
            lock_id: uuid::Uuid::new_v4().to_string(),
            user: user(),
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
        // Into the file itself, not only this name's WAL: a run through a
        // hard link (its own WAL, by its own name) then reads who holds it.
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        self.lock = Some(HeldLock {
            lock_id: holder.lock_id,
        });
        Ok(stale)
    }

    /// Releases the lock this store holds.
    pub fn unlock(&mut self) {
        if let Some(held) = self.lock.take() {
            let _ = self
                .conn
                .execute("DELETE FROM lock WHERE lock_id = ?1", [&held.lock_id]);
            if let Some(file) = self.os_lock {
                let _ = file.unlock();
            }
        }
    }

    /// Who holds the lock, as its row describes them.
    pub fn holder(&self) -> Result<Option<LockHolder>, StateError> {
        self.lock_row()
    }

    /// Whether a process still holds the OS lock on the state file: the
    /// holder is alive on this host (the kernel drops the lock on exit).
    pub fn lock_file_held(&mut self) -> Result<bool, StateError> {
        if self.lock.is_some() {
            return Ok(true);
        }
        let Some(file) = self.os_lock_file()? else {
            return Ok(false);
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(false)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(source)) => Err(StateError::Io {
                path: self.path.clone().unwrap_or_default(),
                source,
            }),
        }
    }

    /// The holder still runs: its OS lock is held, or its process is alive
    /// on this host.
    pub fn holder_alive(&mut self, holder: &LockHolder) -> Result<bool, StateError> {
        Ok(self.lock_file_held()? || holder_process_alive(holder))
    }

    /// Clears a lock row by id, for backends where OS locks do not reach.
    pub fn force_unlock(&mut self, lock_id: &str) -> Result<LockHolder, StateError> {
        let Some(holder) = self.lock_row()? else {
            return Err(StateError::NotLocked);
        };
        if holder.lock_id != lock_id {
            return Err(StateError::WrongLockId {
                given: lock_id.into(),
                held: holder.lock_id,
            });
        }
        self.conn
            .execute("DELETE FROM lock WHERE lock_id = ?1", [lock_id])?;
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
        // Simulate a killed process: the OS lock goes, the row stays, and
        // its pid is no longer alive.
        s.lock.take();
        s.os_lock.unwrap().unlock().unwrap();
        s.conn
            .execute("UPDATE lock SET pid = ?1", [i64::from(i32::MAX)])
            .unwrap();
        drop(s);
        let mut s = StateStore::open(&path).unwrap();
        let stale = s.lock("infra up").unwrap();
        assert_eq!(stale.map(|h| h.command), Some("infra up".to_string()));
    }

    #[test]
    fn the_user_comes_from_passwd_by_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nada:x:1000:1000::/home/ada:/bin/sh\n";
        assert_eq!(user_of(passwd, 1000).as_deref(), Some("ada"));
        assert_eq!(user_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_of(passwd, 42), None);
        assert!(!host().is_empty());
    }

    #[test]
    fn a_holder_is_alive_while_it_holds_the_os_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let mut s = StateStore::open(&path).unwrap();
        s.lock("infra up").unwrap();
        let holder = s.holder().unwrap().unwrap();
        assert_ne!(holder.user, "unknown");
        let mut other = StateStore::open(&path).unwrap();
        assert!(other.lock_file_held().unwrap());
        assert!(other.holder_alive(&holder).unwrap());
        drop(s);
        assert!(!other.lock_file_held().unwrap());
        let dead = LockHolder {
            pid: i64::from(i32::MAX),
            host: host(),
            ..holder
        };
        assert!(!other.holder_alive(&dead).unwrap());
    }

    #[test]
    fn force_unlock_refuses_a_wrong_id() {
        let mut s = StateStore::open_in_memory().unwrap();
        s.lock("infra up").unwrap();
        let held = s.lock_row().unwrap().unwrap().lock_id;
        assert!(matches!(
            s.force_unlock("nope"),
            Err(StateError::WrongLockId { .. })
        ));
        assert_eq!(s.force_unlock(&held).unwrap().lock_id, held);
        assert!(matches!(s.force_unlock(&held), Err(StateError::NotLocked)));
    }
}
