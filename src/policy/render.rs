//! The findings as text for the plan's output.

use std::fmt::Write;

use super::{Finding, Severity};

/// The findings grouped: denied, warned, waived. Each line has the severity,
/// the check id with its Checkov/Trivy ids, `address.field` and the message;
/// then how to fix it, and for a denied one a `[[policy.waiver]]` snippet.
/// Empty when there are no findings.
pub fn render_text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let denied: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.waived.is_none() && f.severity == Severity::Deny)
        .collect();
    let warned: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.waived.is_none() && f.severity == Severity::Warn)
        .collect();
    let waived: Vec<&Finding> = findings.iter().filter(|f| f.waived.is_some()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Policy: {} denied, {} warned, {} waived.",
        denied.len(),
        warned.len(),
        waived.len()
    );
    if !denied.is_empty() {
        let _ = writeln!(out, "\nDenied (fix it, or waive it in the plan file):");
        for f in &denied {
            line(&mut out, "DENY", f);
            let _ = writeln!(out, "        fix: {}", fix_of(f));
            expired(&mut out, f);
            let _ = writeln!(out, "        to waive it, add to the plan file:");
            let _ = writeln!(out, "          [[policy.waiver]]");
            let _ = writeln!(out, "          id = {:?}", f.check);
            let _ = writeln!(out, "          resource = {:?}", f.address);
            let _ = writeln!(out, "          reason = \"<why this is accepted>\"");
            let _ = writeln!(
                out,
                "          expires = \"YYYY-MM-DD\"   # optional: the last day it counts"
            );
        }
    }
    if !warned.is_empty() {
        let _ = writeln!(out, "\nWarned:");
        for f in &warned {
            line(&mut out, "WARN", f);
            let _ = writeln!(out, "        fix: {}", fix_of(f));
            expired(&mut out, f);
        }
    }
    if !waived.is_empty() {
        let _ = writeln!(out, "\nWaived:");
        for f in &waived {
            line(&mut out, "WAIVED", f);
            let _ = writeln!(
                out,
                "        reason: {}",
                f.waived.as_deref().unwrap_or_default()
            );
        }
    }
    out
}

fn line(out: &mut String, label: &str, f: &Finding) {
    let others: Vec<&str> = [f.checkov, f.trivy].into_iter().flatten().collect();
    let ids = if others.is_empty() {
        f.check.to_string()
    } else {
        format!("{} ({})", f.check, others.join("/"))
    };
    let _ = writeln!(
        out,
        "  {label:<6} {ids} {}.{}: {}",
        f.address, f.field, f.message
    );
}

fn fix_of(f: &Finding) -> &'static str {
    super::CHECKS
        .iter()
        .find(|c| c.id == f.check)
        .map(|c| c.fix)
        .unwrap_or_default()
}

fn expired(out: &mut String, f: &Finding) {
    if let Some(date) = &f.expired_waiver {
        let _ = writeln!(
            out,
            "        note: the waiver for this finding expired on {date}; renew its `expires` or fix it"
        );
    }
}
