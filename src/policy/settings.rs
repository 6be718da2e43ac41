//! `[policy]`: checking the table, and what it says about one finding.

use super::{CHECKS, Check, PolicySettings, Severity, find_check};
use crate::cost::Date;

/// The one check whose finding has no resource (address `env`).
const ENV_WIDE: &str = "INFRA-COST-001";

/// Every problem in `[policy]` at once, each naming its key
/// (`policy.waiver[1].reason is required`). Indexes count from 0, as the
/// rest of the plan file's messages do.
pub fn validate(settings: &PolicySettings) -> Vec<String> {
    let mut errors = Vec::new();
    let known = || {
        format!(
            "{}; or a check's Checkov or Trivy id",
            CHECKS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
        )
    };
    // Where each check was denied, to catch one that is also warned.
    let mut denied: Vec<(&'static str, String)> = Vec::new();
    for (list, ids) in [("deny", &settings.deny), ("warn", &settings.warn)] {
        for (i, id) in ids.iter().enumerate() {
            let key = format!("policy.{list}[{i}]");
            match find_check(id) {
                None => errors.push(format!(
                    "{key}: unknown check id {id:?} (known: {})",
                    known()
                )),
                Some(check) if list == "deny" => denied.push((check.id, key)),
                Some(check) => {
                    if let Some((_, first)) = denied.iter().find(|(c, _)| *c == check.id) {
                        errors.push(format!(
                            "{key}: {id:?} ({}) is also in {first}; a check either denies or warns",
                            check.id
                        ));
                    }
                }
            }
        }
    }
    for (i, w) in settings.waiver.iter().enumerate() {
        let key = format!("policy.waiver[{i}]");
        let check = find_check(&w.id);
        if w.id.trim().is_empty() {
            errors.push(format!("{key}.id is required"));
        } else if check.is_none() {
            errors.push(format!(
                "{key}.id: unknown check id {:?} (known: {})",
                w.id,
                known()
            ));
        }
        let resource = w.resource.trim();
        let env_wide = check.map(|c| c.id == ENV_WIDE);
        if resource.is_empty() {
            errors.push(format!("{key}.resource is required"));
        } else if env_wide == Some(true) && resource != "env" {
            errors.push(format!(
                "{key}.resource: {ENV_WIDE} is about the whole env; write resource = \"env\""
            ));
        } else if env_wide == Some(false) && resource == "env" {
            errors.push(format!(
                "{key}.resource: \"env\" is only for {ENV_WIDE}; name the resource's address"
            ));
        } else if resource != "env"
            && resource
                .split_once('.')
                .is_none_or(|(kind, name)| kind.is_empty() || name.is_empty())
        {
            errors.push(format!(
                "{key}.resource: {:?} is not a resource address like \"eks_cluster.main\" (or \"env\" for env-wide checks)",
                w.resource
            ));
        }
        if w.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            errors.push(format!(
                "{key}.reason is required: say why the finding is accepted"
            ));
        }
        if let Some(date) = &w.expires
            && Date::parse(date.trim()).is_none()
        {
            errors.push(format!(
                "{key}.expires: {date:?} is not a date like \"2025-06-30\" (YYYY-MM-DD)"
            ));
        }
    }
    errors
}

/// Whether `deny` or `warn` names the check.
pub(super) fn listed(settings: &PolicySettings, check: &str) -> bool {
    settings
        .deny
        .iter()
        .chain(&settings.warn)
        .any(|id| find_check(id).is_some_and(|c| c.id == check))
}

/// Deny or warn for one check: a listed id wins (deny over warn if both),
/// then the env's default.
pub(super) fn severity(settings: &PolicySettings, check: &Check, prod: bool) -> Severity {
    let names = |ids: &[String]| {
        ids.iter()
            .any(|id| find_check(id).is_some_and(|c| c.id == check.id))
    };
    if names(&settings.deny) {
        Severity::Deny
    } else if names(&settings.warn) {
        Severity::Warn
    } else if prod {
        Severity::Deny
    } else {
        Severity::Warn
    }
}

/// The waiver for one finding: `(reason of a waiver that counts, expiry date
/// of one that ran out)`. A waiver without a reason never counts.
pub(super) fn waiver_for(
    settings: &PolicySettings,
    check: &Check,
    address: &str,
    today: Date,
) -> (Option<String>, Option<String>) {
    let mut expired: Option<(Date, String)> = None;
    for w in &settings.waiver {
        if w.resource.trim() != address || find_check(&w.id).is_none_or(|c| c.id != check.id) {
            continue;
        }
        let Some(reason) = w.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
            continue;
        };
        match w.expires.as_deref() {
            None => return (Some(reason.to_string()), None),
            Some(text) => match Date::parse(text.trim()) {
                Some(until) if today <= until => return (Some(reason.to_string()), None),
                Some(until) => {
                    if expired.as_ref().is_none_or(|(latest, _)| until > *latest) {
                        expired = Some((until, text.trim().to_string()));
                    }
                }
                // validate() reports it; an unreadable date never counts.
                None => {}
            },
        }
    }
    (None, expired.map(|(_, text)| text))
}
