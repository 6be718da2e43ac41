//! Where an env's state lives: the local file (the default, nothing to set
//! up) or an S3 bucket shared by a team, with a lease and fenced uploads
//! (`super::s3`).
//!
//! Chosen by the plan file's `[state]` table, or by `--state s3://BUCKET/PREFIX`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The plan file's `[state]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `"local"` (default) or `"s3"`.
    #[serde(default)]
    pub backend: Option<String>,
    /// The bucket (`s3`).
    pub bucket: Option<String>,
    /// A key prefix inside the bucket; the env's objects are under
    /// `<prefix>/<project>/<env>/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// SSE-KMS with this key (id, ARN or alias); SSE-S3 when absent.
    pub kms_key_id: Option<String>,
}

impl StateSettings {
    /// What is wrong with the values, as `key: message` lines (empty: fine).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.backend.as_deref() {
            None | Some("local") => {
                if self.bucket.is_some() || self.kms_key_id.is_some() {
                    out.push("state: `bucket` and `kms_key_id` need `backend = \"s3\"`".to_string());
                }
            }
            Some("s3") => match self.bucket.as_deref() {
                None | Some("") => out.push("state.bucket: required with `backend = \"s3\"`".to_string()),
                Some(b) if !valid_bucket(b) => out.push(format!("state.bucket: `{b}` is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")),
                Some(_) => {}
            },
            Some(other) => out.push(format!("state.backend: `{other}` is not a backend; use \"local\" or \"s3\"")),
        }
        out
    }

    pub fn is_s3(&self) -> bool {
        self.backend.as_deref() == Some("s3")
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// Where one env's remote state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The env's folder, `<prefix>/<project>/<env>/` (no leading `/`).
    pub dir: String,
    pub kms_key_id: Option<String>,
}

impl S3Location {
    pub fn new(
        bucket: &str,
        prefix: &str,
        project: &str,
        env: &str,
        kms_key_id: Option<String>,
    ) -> S3Location {
        let prefix = prefix.trim_matches('/');
        let dir = if prefix.is_empty() {
            format!("{project}/{env}/")
        } else {
            format!("{prefix}/{project}/{env}/")
        };
        S3Location {
            bucket: bucket.to_string(),
            dir,
            kms_key_id,
        }
    }

    /// Parses `s3://BUCKET[/PREFIX]` (the `--state` override).
    pub fn parse_url(
        url: &str,
        project: &str,
        env: &str,
        kms_key_id: Option<String>,
    ) -> Option<S3Location> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Location::new(bucket, prefix, project, env, kms_key_id))
    }

    /// The SQLite snapshot of the state, journal included.
    pub fn state_key(&self) -> String {
        format!("{}state.db", self.dir)
    }

    pub fn lease_key(&self) -> String {
        format!("{}lease.json", self.dir)
    }

    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// The local caches of a remote state, beside where the local file would be.
/// Write runs and read-only commands keep separate copies, so a `drift`
/// never swaps the file under a running `up` in the same folder.
pub fn cache_paths(local: &Path) -> (PathBuf, PathBuf) {
    let stem = local
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("state")
        .to_string();
    let dir = local.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{stem}.s3-cache.db")),
        dir.join(format!("{stem}.s3-read.db")),
    )
}

/// Every wait of the S3 backend, from the environment so tests use seconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a lease lasts without renewal (`INFRA_LEASE_SECONDS`, 60).
    pub lease: Duration,
    /// How often the holder renews it (`INFRA_LEASE_HEARTBEAT_SECONDS`, 10).
    pub heartbeat: Duration,
    /// At most one state upload per this interval while a run applies
    /// (`INFRA_STATE_UPLOAD_SECONDS`, 2); always one at the end.
    pub upload: Duration,
}

fn seconds(var: &str, default: f64) -> Duration {
    let v = std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0);
    Duration::from_secs_f64(v.unwrap_or(default))
}

impl Timing {
    pub fn from_env() -> Timing {
        let lease = seconds("INFRA_LEASE_SECONDS", 60.0);
        let heartbeat = seconds(
            "INFRA_LEASE_HEARTBEAT_SECONDS",
            (lease.as_secs_f64() / 6.0).max(0.2),
        );
        let upload = seconds("INFRA_STATE_UPLOAD_SECONDS", 2.0);
        // A heartbeat slower than a third of the lease would let it lapse on one slow call.
        let heartbeat = heartbeat.min(lease / 3);
        Timing {
            lease,
            heartbeat,
            upload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_urls() {
        let l = S3Location::new("b", "/teams/", "todo", "dev", None);
        assert_eq!(l.state_key(), "teams/todo/dev/state.db");
        assert_eq!(l.lease_key(), "teams/todo/dev/lease.json");
        let l = S3Location::parse_url("s3://b", "todo", "dev", None).unwrap();
        assert_eq!(l.state_key(), "todo/dev/state.db");
        let l = S3Location::parse_url("s3://b/x/y", "todo", "dev", None).unwrap();
        assert_eq!(l.url(&l.lease_key()), "s3://b/x/y/todo/dev/lease.json");
        assert!(S3Location::parse_url("s3:///x", "todo", "dev", None).is_none());
        assert!(S3Location::parse_url("state/dev.db", "todo", "dev", None).is_none());
    }

    #[test]
    fn settings_problems() {
        let s3 = |b: Option<&str>| StateSettings {
            backend: Some("s3".into()),
            bucket: b.map(String::from),
            ..Default::default()
        };
        assert!(s3(Some("team-state")).problems().is_empty());
        assert_eq!(s3(None).problems().len(), 1);
        assert_eq!(s3(Some("Bad_Bucket")).problems().len(), 1);
        assert!(StateSettings::default().problems().is_empty());
        let other = StateSettings {
            backend: Some("gcs".into()),
            ..Default::default()
        };
        assert!(other.problems()[0].contains("gcs"));
    }
}
