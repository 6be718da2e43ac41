//! Schema migrations, compiled in. `PRAGMA user_version` is the schema number.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE resources (
        address TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        cloud_id TEXT NOT NULL,
        props TEXT NOT NULL,
        outputs TEXT NOT NULL,
        deps TEXT NOT NULL,
        protect INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        command TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        status TEXT NOT NULL,
        summary TEXT,
        notes TEXT
     );
     CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        action TEXT NOT NULL,
        token TEXT NOT NULL,
        props TEXT NOT NULL,
        deps TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT
     );
     CREATE INDEX journal_open ON journal(finished_at) WHERE finished_at IS NULL;
     CREATE TABLE lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        lock_id TEXT NOT NULL,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        command TEXT NOT NULL,
        started_at INTEGER NOT NULL
     );",
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn run(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
