//! The plan file: `plans/<env>.toml`, the desired state of one environment.
//!
//! Parsing is strict (`deny_unknown_fields`) and every value that can be wrong
//! keeps its byte span, so an error points at the line that caused it.

mod errors;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

pub use errors::{InvalidPlan, PlanError};
pub use schema::*;

/// The permission sets infra knows by name (`builtin = "..."` of an
/// identity): validated here, expanded into policies by `expand`.
pub const BUILTIN_IDENTITIES: [&str; 4] = [
    "aws-load-balancer-controller",
    "external-dns",
    "external-secrets",
    "ebs-csi-driver",
];

/// The most problems one report shows.
pub const MAX_SHOWN: usize = 50;

/// A plan file read from disk and parsed, with its text kept for error reports.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub env: String,
    pub path: PathBuf,
    pub source: String,
    pub file: PlanFile,
}

impl LoadedPlan {
    /// Errors that point into this file.
    pub fn error(
        &self,
        message: impl Into<String>,
        span: Option<std::ops::Range<usize>>,
    ) -> PlanError {
        PlanError::new(&self.path, &self.source, message, span)
    }

    /// Every problem at once, each said once, at most [`MAX_SHOWN`] of them
    /// (then "and N more"): a plan with thousands of the same mistake must
    /// not print megabytes.
    pub fn invalid(&self, errors: Vec<PlanError>) -> InvalidPlan {
        let mut seen = std::collections::HashSet::new();
        let mut unique: Vec<PlanError> = errors
            .into_iter()
            .filter(|e| seen.insert(e.key()))
            .collect();
        if unique.len() > MAX_SHOWN {
            let more = unique.len() - MAX_SHOWN;
            unique.truncate(MAX_SHOWN);
            unique.push(PlanError::plain(format!(
                "{}: and {more} more problem(s) not shown; fix these and run again",
                self.path.display()
            )));
        }
        InvalidPlan {
            file: self.path.display().to_string(),
            errors: unique,
        }
    }

    /// Hash of the plan file's bytes, recorded in saved plans.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.source.as_bytes()))
    }
}

/// Reads `<dir>/<env>.toml`, parses and validates it. Every problem found is
/// returned at once.
pub fn load(dir: &Path, env: &str) -> Result<LoadedPlan, InvalidPlan> {
    let path = dir.join(format!("{env}.toml"));
    let bad_env = !env
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || env.is_empty();
    if bad_env {
        return Err(InvalidPlan {
            file: path.display().to_string(),
            errors: vec![PlanError::plain(format!(
                "--env {env:?}: an env name may hold only letters, digits, '-' and '_'"
            ))],
        });
    }
    let source = std::fs::read_to_string(&path).map_err(|e| InvalidPlan {
        file: path.display().to_string(),
        errors: vec![PlanError::plain(format!(
            "cannot read plan file {}: {e}; --plans DIR picks the folder, --env NAME the file NAME.toml in it",
            path.display()
        ))],
    })?;
    let file: PlanFile = match toml::from_str(&source) {
        Ok(f) => f,
        Err(e) => {
            let err = PlanError::new(&path, &source, e.message().trim().to_string(), e.span());
            return Err(InvalidPlan {
                file: path.display().to_string(),
                errors: vec![err],
            });
        }
    };
    let loaded = LoadedPlan {
        env: env.to_string(),
        path,
        source,
        file,
    };
    let errors = validate::validate(&loaded);
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(loaded.invalid(errors))
    }
}
