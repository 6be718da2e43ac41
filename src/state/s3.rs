//! State on S3: a SQLite snapshot (journal included) and a lease object
//! under `<prefix>/<project>/<env>/`. The local file is only a cache.
//!
//! - **Lease** (`lease.json`): created with `If-None-Match: *`, renewed with
//!   `If-Match: <its ETag>` on a heartbeat, released by a conditional write.
//!   It names its holder and carries a generation number, bumped by every
//!   take-over. A lease past its expiry may be taken by a new run, which
//!   names the previous holder.
//! - **Fencing**: every upload of the state is a `PutObject` with `If-Match:
//!   <the ETag this run last read or wrote>` (`If-None-Match: *` when there
//!   was none). A run that acquires the lease first writes the state with its
//!   generation in it, so the ETag a previous holder knows is dead from then
//!   on: its next upload gets 412, and it stops.
//! - Each write carries a random `x-amz-meta-infra-write` token: when a
//!   retried conditional write answers 412, a HEAD tells whether the 412 is
//!   our own first attempt that landed (no lost, no doubled state).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::backend::{S3Location, Timing};

const WRITE_TOKEN: &str = "infra-write";

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "S3 bucket `{bucket}` does not exist (reading {url}); create it (versioning on) or fix [state] bucket"
    )]
    NoBucket { bucket: String, url: String },
    #[error(
        "access denied to {url}: this identity needs `{permission}` on arn:aws:s3:::{bucket}/{key}"
    )]
    Denied {
        url: String,
        bucket: String,
        key: String,
        permission: String,
    },
    #[error("{op} {url} failed: {detail}")]
    Call {
        op: String,
        url: String,
        detail: String,
    },
    #[error(
        "remote state {url} is corrupt or not an infra state ({detail}); nothing was changed. {previous}"
    )]
    Corrupt {
        url: String,
        detail: String,
        previous: String,
    },
    #[error(
        "state is locked by {holder} (lease {url}, expires {expires}); wait for it, or if that run is gone: `infra force-unlock --env {env} {lock_id}`"
    )]
    Locked {
        holder: String,
        url: String,
        expires: String,
        env: String,
        lock_id: String,
    },
    #[error(
        "lost the state lease: {0}; no new action was started, the ones running were recorded locally"
    )]
    LeaseLost(String),
    #[error(
        "someone else wrote {url} since this run read it (expected ETag {expected}, now {now}); not overwriting it. {who}"
    )]
    Fenced {
        url: String,
        expected: String,
        now: String,
        who: String,
    },
    #[error("lease id {given} does not match the lease held ({held}); nothing was unlocked")]
    WrongLockId { given: String, held: String },
    #[error("state on {0} is not locked; nothing to unlock")]
    NotLocked(String),
    #[error("local cache {path}: {detail}")]
    Cache { path: PathBuf, detail: String },
}

type Result<T> = std::result::Result<T, RemoteError>;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
    )
    .to_string()
}

/// The lease object's body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseBody {
    pub format: u32,
    pub lock_id: String,
    pub user: String,
    pub host: String,
    pub pid: i64,
    pub command: String,
    pub acquired_at_ms: i64,
    pub renewed_at_ms: i64,
    pub expires_at_ms: i64,
    pub generation: u64,
    #[serde(default)]
    pub released: bool,
}

impl LeaseBody {
    /// The holder as a local lock's holder is described.
    pub fn lock_holder(&self) -> super::LockHolder {
        super::LockHolder {
            lock_id: self.lock_id.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            pid: self.pid,
            command: self.command.clone(),
            started_at: self.acquired_at_ms / 1000,
        }
    }

    /// Whether its holder may still run: the lease is unexpired and, when
    /// the holder is on this host, its process is alive (elsewhere the
    /// renewals are the only sign of life).
    pub fn holder_alive(&self, now: i64) -> bool {
        !self.free(now) && (self.host != super::host() || super::pid_alive(self.pid))
    }

    pub fn holder(&self) -> String {
        format!(
            "{}@{} (pid {}) running `{}` since {} (lock id {}, lease generation {})",
            self.user,
            self.host,
            self.pid,
            self.command,
            rfc3339(self.acquired_at_ms),
            self.lock_id,
            self.generation
        )
    }

    fn free(&self, now: i64) -> bool {
        self.released || now >= self.expires_at_ms
    }
}

/// What the cache holds of the remote state: which object version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheTag {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub version_id: Option<String>,
}

fn tag_path(cache: &Path) -> PathBuf {
    let mut s = cache.as_os_str().to_owned();
    s.push(".etag.json");
    PathBuf::from(s)
}

fn read_tag(cache: &Path) -> Option<CacheTag> {
    serde_json::from_slice(&std::fs::read(tag_path(cache)).ok()?).ok()
}

fn write_tag(cache: &Path, tag: &CacheTag) -> Result<()> {
    std::fs::write(
        tag_path(cache),
        serde_json::to_vec_pretty(tag).expect("json"),
    )
    .map_err(|e| RemoteError::Cache {
        path: tag_path(cache),
        detail: e.to_string(),
    })
}

/// Puts `bytes` in place as the SQLite file `cache` (no stale WAL left beside it).
fn install_cache(cache: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e: std::io::Error| RemoteError::Cache {
        path: cache.to_path_buf(),
        detail: e.to_string(),
    };
    if let Some(dir) = cache.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut tmp = cache.as_os_str().to_owned();
    tmp.push(".download");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err)?;
    for suffix in ["-wal", "-shm"] {
        let mut p = cache.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::rename(&tmp, cache).map_err(err)
}

/// A private folder under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("infra-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks that `bytes` are an intact SQLite database with a `resources` table.
fn check_state_bytes(bytes: &[u8]) -> std::result::Result<(i64, Option<String>, i64), String> {
    let dir = TempDir::new().map_err(|e| e.to_string())?;
    let path = dir.0.join("check.db");
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if check != "ok" {
        return Err(check);
    }
    let resources = conn
        .query_row("SELECT count(*) FROM resources", [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string())?;
    let meta = |k: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| {
            r.get::<_, String>(0)
        })
        .optional()
        .ok()
        .flatten()
    };
    let serial = meta("serial").and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((serial, meta("lineage"), resources))
}

/// A consistent copy of the state at `cache`, without lock rows (the lease is
/// the remote lock), stamped with the lease generation when given.
pub fn snapshot(cache: &Path, generation: Option<u64>) -> Result<Vec<u8>> {
    let err = |e: rusqlite::Error| RemoteError::Cache {
        path: cache.to_path_buf(),
        detail: e.to_string(),
    };
    let dir = TempDir::new().map_err(|e| RemoteError::Cache {
        path: cache.to_path_buf(),
        detail: e.to_string(),
    })?;
    let out = dir.0.join("snapshot.db");
    {
        let conn = Connection::open(cache).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.execute("VACUUM INTO ?1", [out.to_string_lossy()])
            .map_err(err)?;
    }
    {
        let conn = Connection::open(&out).map_err(err)?;
        // A self-contained file: no WAL beside it wherever it is read.
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(err)?;
        conn.execute("DELETE FROM lock", []).map_err(err)?;
        if let Some(g) = generation {
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('lease_generation', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
                [g.to_string()],
            )
            .map_err(err)?;
        }
    }
    std::fs::read(&out).map_err(|e| RemoteError::Cache {
        path: out.clone(),
        detail: e.to_string(),
    })
}

/// One env's remote state.
pub struct Remote {
    pub client: aws_sdk_s3::Client,
    /// For the preflight check (credentials, endpoint) before the first read.
    sts: aws_sdk_sts::Client,
    pub loc: S3Location,
    pub timing: Timing,
    pub env: String,
    region: String,
}

/// What a download found.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `None`: there is no remote state yet.
    pub tag: Option<CacheTag>,
    /// The cache was already current (a 304 to the conditional GET).
    pub not_modified: bool,
}

fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl Remote {
    pub async fn new(loc: S3Location, region: &str, env: &str) -> Remote {
        use aws_config::retry::RetryConfig;
        use aws_config::timeout::TimeoutConfig;
        let attempts = std::env::var("INFRA_S3_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(attempts)
                    .with_initial_backoff(Duration::from_millis(100))
                    .with_max_backoff(Duration::from_secs(4)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await;
        let custom_endpoint =
            conf.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        // Logged like every other client (`-v`, `INFRA_LOG`); never fenced:
        // the lease's own calls must go through.
        let s3conf = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(custom_endpoint)
            .interceptor(crate::aws::calls::CallLog)
            .build();
        Remote {
            client: aws_sdk_s3::Client::from_conf(s3conf),
            sts: aws_sdk_sts::Client::new(&conf),
            loc,
            timing: Timing::from_env(),
            env: env.to_string(),
            region: region.to_string(),
        }
    }

    /// Credentials resolve and the endpoint answers (STS, within seconds),
    /// or the cause and its fix: the same check as for the other clients,
    /// made once a process.
    pub async fn preflight(
        &self,
    ) -> std::result::Result<String, crate::aws::preflight::PreflightError> {
        crate::aws::preflight::check_sts(&self.sts, &self.region, crate::aws::preflight::LIMIT)
            .await
    }

    fn url(&self, key: &str) -> String {
        self.loc.url(key)
    }

    /// Turns an SDK error into one naming the bucket, the key and the permission.
    fn fail<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        op: &str,
        key: &str,
        permission: &str,
        e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> RemoteError {
        let code = e.code().unwrap_or("");
        match (code, status(e)) {
            ("NoSuchBucket", _) => RemoteError::NoBucket {
                bucket: self.loc.bucket.clone(),
                url: self.url(key),
            },
            ("AccessDenied", _) | (_, Some(403)) => RemoteError::Denied {
                url: self.url(key),
                bucket: self.loc.bucket.clone(),
                key: key.to_string(),
                permission: permission.to_string(),
            },
            _ => RemoteError::Call {
                op: op.to_string(),
                url: self.url(key),
                detail: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                ),
            },
        }
    }

    /// Downloads the state into `cache` unless the cache already holds this
    /// version (a conditional GET by ETag). Checks it before installing it.
    pub async fn fetch(&self, cache: &Path) -> Result<Fetched> {
        let key = self.loc.state_key();
        let cached = read_tag(cache)
            .filter(|t| t.bucket == self.loc.bucket && t.key == key && cache.exists());
        let mut req = self.client.get_object().bucket(&self.loc.bucket).key(&key);
        if let Some(t) = &cached {
            req = req.if_none_match(&t.etag);
        }
        match req.send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let version_id = out.version_id().map(String::from);
                let bytes = out.body.collect().await.map_err(|e| RemoteError::Call {
                    op: "GetObject".into(),
                    url: self.url(&key),
                    detail: e.to_string(),
                })?;
                let bytes = bytes.into_bytes();
                if let Err(detail) = check_state_bytes(&bytes) {
                    return Err(RemoteError::Corrupt {
                        url: self.url(&key),
                        detail,
                        previous: self
                            .previous_version_hint(&key, version_id.as_deref())
                            .await,
                    });
                }
                install_cache(cache, &bytes)?;
                let tag = CacheTag {
                    bucket: self.loc.bucket.clone(),
                    key,
                    etag,
                    version_id,
                };
                write_tag(cache, &tag)?;
                Ok(Fetched {
                    tag: Some(tag),
                    not_modified: false,
                })
            }
            Err(e) if status(&e) == Some(304) => Ok(Fetched {
                tag: cached,
                not_modified: true,
            }),
            Err(e)
                if e.code() == Some("NoSuchKey")
                    || (status(&e) == Some(404) && e.code() != Some("NoSuchBucket")) =>
            {
                // No remote state: a cache of an older one must not come back.
                if cached.is_some() {
                    let _ = std::fs::remove_file(tag_path(cache));
                    let _ = std::fs::remove_file(cache);
                }
                Ok(Fetched {
                    tag: None,
                    not_modified: false,
                })
            }
            Err(e) => Err(self.fail("GetObject", &key, "s3:GetObject", &e)),
        }
    }

    /// Names the version before `current` (bucket versioning keeps them).
    async fn previous_version_hint(&self, key: &str, current: Option<&str>) -> String {
        let listed = self
            .client
            .list_object_versions()
            .bucket(&self.loc.bucket)
            .prefix(key)
            .send()
            .await;
        let Ok(listed) = listed else {
            return "Could not list its versions (needs s3:ListBucketVersions); restore an earlier version of the object.".into();
        };
        let mut versions: Vec<_> = listed
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .collect();
        versions.sort_by_key(|v| {
            std::cmp::Reverse(v.last_modified().map(|t| (t.secs(), t.subsec_nanos())))
        });
        let previous = versions
            .iter()
            .find(|v| v.version_id() != current && v.version_id() != Some("null"));
        match previous {
            Some(v) => format!(
                "The previous version is {} ({}); restore it with `aws s3api copy-object --bucket {} --key {key} --copy-source {}/{key}?versionId={}`",
                v.version_id().unwrap_or("?"),
                v.last_modified().map(|t| rfc3339(t.secs() * 1000)).unwrap_or_default(),
                self.loc.bucket,
                self.loc.bucket,
                v.version_id().unwrap_or("?")
            ),
            None => "There is no previous version (turn bucket versioning on: old versions are the backups).".into(),
        }
    }

    /// A conditional write of `body` to `key`: `If-Match: etag`, or
    /// `If-None-Match: *` without one. `Ok(Err(now))` is a 412: someone else
    /// wrote, and `now` is the ETag there (empty when gone).
    async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: Option<&str>,
        content_type: &str,
    ) -> Result<std::result::Result<(String, Option<String>), String>> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.loc.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(WRITE_TOKEN, &token)
            .body(ByteStream::from(body));
        req = match &self.loc.kms_key_id {
            Some(k) => req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(k),
            None => req.server_side_encryption(ServerSideEncryption::Aes256),
        };
        req = match etag {
            Some(e) => req.if_match(e),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(Ok((
                out.e_tag().unwrap_or_default().to_string(),
                out.version_id().map(String::from),
            ))),
            Err(e)
                if status(&e) == Some(412)
                    || e.code() == Some("PreconditionFailed")
                    || status(&e) == Some(409) =>
            {
                // A retried attempt may have been preceded by our own write.
                match self
                    .client
                    .head_object()
                    .bucket(&self.loc.bucket)
                    .key(key)
                    .send()
                    .await
                {
                    Ok(h) if h.metadata().and_then(|m| m.get(WRITE_TOKEN)) == Some(&token) => {
                        Ok(Ok((
                            h.e_tag().unwrap_or_default().to_string(),
                            h.version_id().map(String::from),
                        )))
                    }
                    Ok(h) => Ok(Err(h.e_tag().unwrap_or_default().to_string())),
                    Err(_) => Ok(Err(String::new())),
                }
            }
            Err(e) => Err(self.fail("PutObject", key, "s3:PutObject", &e)),
        }
    }

    /// Uploads the state in `cache`, fenced by `expected` (the ETag this run
    /// last read or wrote). Returns the new tag and updates the cache's tag.
    pub async fn upload(
        &self,
        cache: &Path,
        expected: Option<&str>,
        generation: Option<u64>,
    ) -> Result<CacheTag> {
        let tag = self.upload_file(cache, expected, generation).await?;
        write_tag(cache, &tag)?;
        Ok(tag)
    }

    /// Uploads a snapshot of the SQLite file `source`, fenced by `expected`.
    pub async fn upload_file(
        &self,
        source: &Path,
        expected: Option<&str>,
        generation: Option<u64>,
    ) -> Result<CacheTag> {
        let key = self.loc.state_key();
        let bytes = snapshot(source, generation)?;
        match self
            .put_if(&key, bytes, expected, "application/vnd.sqlite3")
            .await?
        {
            Ok((etag, version_id)) => Ok(CacheTag {
                bucket: self.loc.bucket.clone(),
                key,
                etag,
                version_id,
            }),
            Err(now) => {
                let who = match self.read_lease().await {
                    Ok(Some((l, _))) if !l.released => {
                        format!("The lease is held by {}.", l.holder())
                    }
                    _ => String::new(),
                };
                Err(RemoteError::Fenced {
                    url: self.url(&key),
                    expected: expected
                        .unwrap_or("(none: the object did not exist)")
                        .to_string(),
                    now: if now.is_empty() { "(gone)".into() } else { now },
                    who,
                })
            }
        }
    }

    /// The lease object and its ETag, if there is one.
    pub async fn read_lease(&self) -> Result<Option<(LeaseBody, String)>> {
        let key = self.loc.lease_key();
        match self
            .client
            .get_object()
            .bucket(&self.loc.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let bytes = out.body.collect().await.map_err(|e| RemoteError::Call {
                    op: "GetObject".into(),
                    url: self.url(&key),
                    detail: e.to_string(),
                })?;
                let body: LeaseBody =
                    serde_json::from_slice(&bytes.into_bytes()).map_err(|e| RemoteError::Call {
                        op: "GetObject".into(),
                        url: self.url(&key),
                        detail: format!(
                            "the lease object is not infra's ({e}); delete it if no run holds it"
                        ),
                    })?;
                Ok(Some((body, etag)))
            }
            Err(e)
                if e.code() == Some("NoSuchKey")
                    || (status(&e) == Some(404) && e.code() != Some("NoSuchBucket")) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.fail("GetObject", &key, "s3:GetObject", &e)),
        }
    }

    /// Takes the lease for `command`. Returns it and, when it took over an
    /// expired one, the previous holder.
    pub async fn acquire(&self, command: &str) -> Result<(Lease, Option<String>)> {
        let key = self.loc.lease_key();
        for _ in 0..5 {
            let now = now_ms();
            let mut body = LeaseBody {
                format: 1,
                lock_id: uuid::Uuid::new_v4().to_string(),
                user: super::user(),
                host: super::host(),
                pid: std::process::id() as i64,
                command: command.to_string(),
                acquired_at_ms: now,
                renewed_at_ms: now,
                expires_at_ms: now + self.timing.lease.as_millis() as i64,
                generation: 1,
                released: false,
            };
            let existing = self.read_lease().await?;
            let (expected, previous) = match &existing {
                None => (None, None),
                Some((old, etag)) if old.free(now) => {
                    body.generation = old.generation + 1;
                    let previous = (!old.released).then(|| {
                        format!(
                            "{} (its lease expired at {})",
                            old.holder(),
                            rfc3339(old.expires_at_ms)
                        )
                    });
                    (Some(etag.clone()), previous)
                }
                Some((old, _)) => {
                    return Err(RemoteError::Locked {
                        holder: old.holder(),
                        url: self.url(&key),
                        expires: rfc3339(old.expires_at_ms),
                        env: self.env.clone(),
                        lock_id: old.lock_id.clone(),
                    });
                }
            };
            let sent_at = now_ms();
            let json = serde_json::to_vec_pretty(&body).expect("json");
            match self
                .put_if(&key, json, expected.as_deref(), "application/json")
                .await?
            {
                Ok((etag, _)) => {
                    let lease = Lease {
                        body: Mutex::new(body.clone()),
                        etag: Mutex::new(etag),
                        valid_until_ms: AtomicI64::new(
                            sent_at + self.timing.lease.as_millis() as i64,
                        ),
                        lost: Mutex::new(None),
                    };
                    return Ok((lease, previous));
                }
                Err(_) => continue, // someone else moved first: look again
            }
        }
        match self.read_lease().await? {
            Some((old, _)) => Err(RemoteError::Locked {
                holder: old.holder(),
                url: self.url(&key),
                expires: rfc3339(old.expires_at_ms),
                env: self.env.clone(),
                lock_id: old.lock_id.clone(),
            }),
            None => Err(RemoteError::Call {
                op: "PutObject".into(),
                url: self.url(&key),
                detail: "the lease kept changing; try again".into(),
            }),
        }
    }

    /// Renews `lease` once. A 412 means it was taken over: the lease is lost.
    pub async fn renew(&self, lease: &Lease) -> Result<()> {
        let key = self.loc.lease_key();
        let sent_at = now_ms();
        if let Some(why) = lease.lost() {
            return Err(RemoteError::LeaseLost(why));
        }
        let mut body = lease.body.lock().expect("lease").clone();
        body.renewed_at_ms = sent_at;
        body.expires_at_ms = sent_at + self.timing.lease.as_millis() as i64;
        let etag = lease.etag.lock().expect("lease").clone();
        let json = serde_json::to_vec_pretty(&body).expect("json");
        match self
            .put_if(&key, json.clone(), Some(&etag), "application/json")
            .await?
        {
            Ok((etag, _)) => {
                self.renewed(lease, body, etag, sent_at);
                Ok(())
            }
            Err(_) => {
                // A renewal given up on (timed out) may have landed after
                // all: the object is then still ours (same lock id, not
                // released; a take-over writes its own id). Go on from it.
                if let Ok(Some((now, etag))) = self.read_lease().await
                    && now.lock_id == body.lock_id
                    && !now.released
                    && let Ok(Ok((etag, _))) = self
                        .put_if(&key, json, Some(&etag), "application/json")
                        .await
                {
                    self.renewed(lease, body, etag, sent_at);
                    return Ok(());
                }
                let why = lease.lost_reason(self).await;
                lease.set_lost(why.clone());
                Err(RemoteError::LeaseLost(why))
            }
        }
    }

    fn renewed(&self, lease: &Lease, body: LeaseBody, etag: String, sent_at: i64) {
        *lease.etag.lock().expect("lease") = etag;
        *lease.body.lock().expect("lease") = body;
        lease.valid_until_ms.fetch_max(
            sent_at + self.timing.lease.as_millis() as i64,
            Ordering::SeqCst,
        );
    }

    /// Gives the lease back: a conditional delete, or (where DeleteObject
    /// takes no `If-Match`, as on LocalStack) a conditional write marking it released.
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        let key = self.loc.lease_key();
        let etag = lease.etag.lock().expect("lease").clone();
        match self
            .client
            .delete_object()
            .bucket(&self.loc.bucket)
            .key(&key)
            .if_match(&etag)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(412) => return Ok(()), // no longer ours: nothing to give back
            Err(e) if e.code() == Some("NotImplemented") || status(&e) == Some(501) => {}
            Err(e) => return Err(self.fail("DeleteObject", &key, "s3:DeleteObject", &e)),
        }
        let body = lease.body.lock().expect("lease").clone();
        self.mark_released(body, &etag).await
    }

    async fn mark_released(&self, mut body: LeaseBody, etag: &str) -> Result<()> {
        body.released = true;
        body.expires_at_ms = now_ms();
        let json = serde_json::to_vec_pretty(&body).expect("json");
        let _ = self
            .put_if(&self.loc.lease_key(), json, Some(etag), "application/json")
            .await?;
        Ok(())
    }

    /// Who holds the lease `lock_id` names, and whether they may still run
    /// (`force-unlock` asks, and refuses a live holder without `--force`).
    pub async fn lease_status(&self, lock_id: &str) -> Result<(super::LockHolder, bool)> {
        let Some((body, _)) = self.read_lease().await?.filter(|(b, _)| !b.released) else {
            return Err(RemoteError::NotLocked(self.url(&self.loc.lease_key())));
        };
        if body.lock_id != lock_id {
            return Err(RemoteError::WrongLockId {
                given: lock_id.into(),
                held: body.lock_id,
            });
        }
        Ok((body.lock_holder(), body.holder_alive(now_ms())))
    }

    /// Breaks a live lease by its lock id (`force-unlock`).
    pub async fn force_unlock(&self, lock_id: &str) -> Result<String> {
        let Some((body, etag)) = self.read_lease().await?.filter(|(b, _)| !b.released) else {
            return Err(RemoteError::NotLocked(self.url(&self.loc.lease_key())));
        };
        if body.lock_id != lock_id {
            return Err(RemoteError::WrongLockId {
                given: lock_id.into(),
                held: body.lock_id,
            });
        }
        let holder = body.holder();
        self.mark_released(body, &etag).await?;
        Ok(holder)
    }
}

/// A lease this run holds.
pub struct Lease {
    body: Mutex<LeaseBody>,
    etag: Mutex<String>,
    /// Until when this run may act (the last renewal's send time + lifetime).
    valid_until_ms: AtomicI64,
    lost: Mutex<Option<String>>,
}

impl crate::aws::fence::Guard for Lease {
    fn check(&self) -> std::result::Result<(), String> {
        Lease::check(self)
    }
}

impl Lease {
    pub fn generation(&self) -> u64 {
        self.body.lock().expect("lease").generation
    }

    pub fn lock_id(&self) -> String {
        self.body.lock().expect("lease").lock_id.clone()
    }

    /// `Err(why)` once the lease is lost or has run out unrenewed: no new
    /// mutating call may start.
    pub fn check(&self) -> std::result::Result<(), String> {
        if let Some(why) = self.lost.lock().expect("lease").clone() {
            return Err(why);
        }
        let until = self.valid_until_ms.load(Ordering::SeqCst);
        if now_ms() >= until {
            return Err(format!(
                "the lease ran out at {} without a renewal",
                rfc3339(until)
            ));
        }
        Ok(())
    }

    pub fn set_lost(&self, why: String) {
        let mut lost = self.lost.lock().expect("lease");
        if lost.is_none() {
            *lost = Some(why);
        }
    }

    pub fn lost(&self) -> Option<String> {
        self.lost.lock().expect("lease").clone()
    }

    /// Who has the lease now, for the message.
    async fn lost_reason(&self, remote: &Remote) -> String {
        match remote.read_lease().await {
            Ok(Some((l, _))) if l.lock_id != self.lock_id() && !l.released => {
                format!("{} took it over", l.holder())
            }
            Ok(Some((l, _))) if l.lock_id != self.lock_id() => format!(
                "another run took it over and has released it since (generation {})",
                l.generation
            ),
            Ok(None) => "the lease object was deleted (force-unlock?)".into(),
            Ok(Some(_)) => "the lease ran out without a renewal".into(),
            Err(e) => format!("the lease could not be read: {e}"),
        }
    }
}

/// A write run on the remote state: the lease, its heartbeat, and the
/// coalesced uploads of the local cache.
///
/// A session dropped unfinished (its command's future was dropped: a signal
/// cancelled the run before any change) is kept aside, so that
/// [`finish_abandoned`] still uploads what it recorded and gives the lease back.
pub struct Session(Option<Open>);

struct Open {
    remote: Arc<Remote>,
    lease: Arc<Lease>,
    cache: PathBuf,
    /// The ETag this run last read or wrote.
    etag: Arc<tokio::sync::Mutex<UploadState>>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

static ABANDONED: Mutex<Vec<Open>> = Mutex::new(Vec::new());

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(open) = self.0.take() {
            ABANDONED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(open);
        }
    }
}

/// Finishes the sessions dropped unfinished: uploads what they recorded and
/// releases their leases. Returns what failed.
pub async fn finish_abandoned() -> Vec<RemoteError> {
    let abandoned: Vec<Open> =
        std::mem::take(&mut *ABANDONED.lock().unwrap_or_else(|e| e.into_inner()));
    let mut failed = Vec::new();
    for open in abandoned {
        if let Err(e) = open.finish().await {
            failed.push(e);
        }
    }
    failed
}

struct UploadState {
    etag: Option<String>,
    /// `PRAGMA data_version` as of the last upload, on `conn`.
    seen: i64,
    conn: Connection,
    failed: Option<String>,
}

fn data_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
        .unwrap_or(-1)
}

/// What an acquired session tells its caller.
pub struct Opened {
    pub session: Session,
    /// The previous holder when an expired lease was taken over.
    pub took_over: Option<String>,
    /// The ETag of the remote state as read, before this run fenced it.
    pub read_etag: Option<String>,
}

impl Session {
    /// Takes the lease, downloads the state into `cache` and fences it (the
    /// state is written at once with this lease's generation), then starts
    /// the heartbeat and the uploader. `check` sees the downloaded cache
    /// before anything is written (a saved plan's version, a migration).
    pub async fn open(remote: Arc<Remote>, cache: &Path, command: &str) -> Result<Opened> {
        let (lease, took_over) = remote.acquire(command).await?;
        let lease = Arc::new(lease);
        let result = Self::fence(&remote, &lease, cache).await;
        let (read_etag, etag) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = remote.release(&lease).await;
                return Err(e);
            }
        };
        let conn = Connection::open(cache).map_err(|e| RemoteError::Cache {
            path: cache.to_path_buf(),
            detail: e.to_string(),
        })?;
        let seen = data_version(&conn);
        let state = Arc::new(tokio::sync::Mutex::new(UploadState {
            etag: Some(etag),
            seen,
            conn,
            failed: None,
        }));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        // The heartbeat.
        {
            let remote = remote.clone();
            let lease = lease.clone();
            let mut stop_rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(remote.timing.heartbeat) => {}
                        _ = stop_rx.changed() => return,
                    }
                    // A slow renewal (an S3 call can take seconds) may run as
                    // long as the lease is still valid here, no longer: a
                    // hung one is then given up on and sent again.
                    let started = std::time::Instant::now();
                    let valid_for = Duration::from_millis((lease.valid_until_ms.load(Ordering::SeqCst) - now_ms()).max(1000) as u64);
                    let renewed = tokio::time::timeout(valid_for, remote.renew(&lease)).await;
                    tracing::debug!(target: "infra::state", ms = started.elapsed().as_millis() as u64, ok = matches!(renewed, Ok(Ok(()))), "lease renewal");
                    match renewed {
                        Ok(Ok(())) => {}
                        Ok(Err(RemoteError::LeaseLost(why))) => {
                            lease.set_lost(why);
                            return;
                        }
                        Ok(Err(e)) => tracing::warn!("lease renewal failed (retrying): {e}"),
                        Err(_) => tracing::warn!("lease renewal took over {valid_for:?} (retrying)"),
                    }
                }
            }));
        }
        // The uploader: at most one upload per interval, when the cache changed.
        {
            let remote = remote.clone();
            let lease = lease.clone();
            let state = state.clone();
            let cache = cache.to_path_buf();
            let mut stop_rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(remote.timing.upload) => {}
                        _ = stop_rx.changed() => return,
                    }
                    if let Err(e) = Self::upload_if_changed(&remote, &lease, &state, &cache).await {
                        if matches!(e, RemoteError::Fenced { .. }) {
                            lease.set_lost(e.to_string());
                            return;
                        }
                        tracing::warn!("state upload failed (retrying): {e}");
                    }
                }
            }));
        }
        let open = Open {
            remote,
            lease,
            cache: cache.to_path_buf(),
            etag: state,
            stop,
            tasks,
        };
        Ok(Opened {
            session: Session(Some(open)),
            took_over,
            read_etag,
        })
    }

    /// Downloads, then writes the state with this lease's generation so a
    /// previous holder's ETag no longer matches. Retries when that holder
    /// wrote in between.
    async fn fence(
        remote: &Remote,
        lease: &Lease,
        cache: &Path,
    ) -> Result<(Option<String>, String)> {
        let mut last = None;
        for _ in 0..4 {
            let fetched = remote.fetch(cache).await?;
            let read = fetched.tag.as_ref().map(|t| t.etag.clone());
            if fetched.tag.is_none() {
                // No remote state: start from an empty one.
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = cache.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                super::StateStore::open(cache).map_err(|e| RemoteError::Cache {
                    path: cache.to_path_buf(),
                    detail: e.to_string(),
                })?;
            }
            match remote
                .upload(cache, read.as_deref(), Some(lease.generation()))
                .await
            {
                Ok(tag) => return Ok((read, tag.etag)),
                Err(e @ RemoteError::Fenced { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("tried"))
    }

    async fn upload_if_changed(
        remote: &Remote,
        lease: &Lease,
        state: &tokio::sync::Mutex<UploadState>,
        cache: &Path,
    ) -> Result<bool> {
        let mut st = state.lock().await;
        if let Some(why) = &st.failed {
            return Err(RemoteError::LeaseLost(why.clone()));
        }
        let version = data_version(&st.conn);
        if version == st.seen {
            return Ok(false);
        }
        match remote
            .upload(cache, st.etag.as_deref(), Some(lease.generation()))
            .await
        {
            Ok(tag) => {
                st.etag = Some(tag.etag);
                st.seen = version;
                Ok(true)
            }
            Err(e) => {
                if matches!(e, RemoteError::Fenced { .. }) {
                    st.failed = Some(e.to_string());
                }
                Err(e)
            }
        }
    }

    /// The check the scheduler makes before each mutating call.
    pub fn guard(&self) -> Arc<Lease> {
        self.0.as_ref().expect("an open session").lease.clone()
    }

    /// Stops the heartbeat and the uploader, uploads what is left, releases
    /// the lease. Errors when the lease was lost or the last upload was refused.
    pub async fn finish(mut self) -> Result<()> {
        match self.0.take() {
            Some(open) => open.finish().await,
            None => Ok(()),
        }
    }
}

impl Open {
    async fn finish(self) -> Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let uploaded =
            Session::upload_if_changed(&self.remote, &self.lease, &self.etag, &self.cache).await;
        let lost = self.lease.lost();
        if lost.is_none()
            && !matches!(
                uploaded,
                Err(RemoteError::Fenced { .. }) | Err(RemoteError::LeaseLost(_))
            )
        {
            self.remote.release(&self.lease).await?;
        }
        match (uploaded, lost) {
            (Err(e @ RemoteError::Fenced { .. }), _) => Err(RemoteError::LeaseLost(e.to_string())),
            (_, Some(why)) => Err(RemoteError::LeaseLost(why)),
            (Err(e), None) => Err(e),
            (Ok(_), None) => Ok(()),
        }
    }
}

/// A state file's serial, lineage and resource count, for `state push`.
pub fn serial_and_lineage(bytes: &[u8]) -> std::result::Result<(i64, Option<String>, i64), String> {
    check_state_bytes(bytes)
}

/// Forgets what a cache holds, so the next run downloads.
pub fn forget_cache(cache: &Path) {
    let _ = std::fs::remove_file(tag_path(cache));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_has_no_lock_rows_and_carries_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.s3-cache.db");
        let mut store = crate::state::StateStore::open(&path).unwrap();
        store.lock("infra up").unwrap();
        let bytes = snapshot(&path, Some(7)).unwrap();
        let (serial, lineage, resources) = check_state_bytes(&bytes).unwrap();
        assert_eq!((serial, lineage, resources), (0, None, 0));
        let copy = dir.path().join("copy.db");
        std::fs::write(&copy, &bytes).unwrap();
        let conn = Connection::open(&copy).unwrap();
        assert_eq!(
            conn.query_row("SELECT count(*) FROM lock", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            0
        );
        let g: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'lease_generation'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(g, "7");
        assert!(check_state_bytes(b"SQLite format 3\0garbage").is_err());
    }

    #[test]
    fn a_lease_is_free_when_released_or_expired_and_checks_its_own_expiry() {
        let body = LeaseBody {
            format: 1,
            lock_id: "id".into(),
            user: "alice".into(),
            host: "laptop".into(),
            pid: 42,
            command: "infra up --env dev".into(),
            acquired_at_ms: 1_000,
            renewed_at_ms: 1_000,
            expires_at_ms: 61_000,
            generation: 3,
            released: false,
        };
        assert!(!body.free(60_999));
        assert!(body.free(61_000));
        assert!(
            LeaseBody {
                released: true,
                ..body.clone()
            }
            .free(0)
        );
        assert!(
            body.holder().contains("alice@laptop (pid 42)")
                && body.holder().contains("generation 3")
        );
        let lease = Lease {
            body: Mutex::new(body),
            etag: Mutex::new("e".into()),
            valid_until_ms: AtomicI64::new(now_ms() + 60_000),
            lost: Mutex::new(None),
        };
        assert!(lease.check().is_ok());
        lease.valid_until_ms.store(now_ms() - 1, Ordering::SeqCst);
        assert!(lease.check().unwrap_err().contains("ran out"));
        lease.set_lost("taken over".into());
        assert_eq!(lease.check().unwrap_err(), "taken over");
    }
}
