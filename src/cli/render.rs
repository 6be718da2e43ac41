//! Plan and result text, as Terraform users expect to read it.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::apply::ApplyReport;
use crate::diff::{Op, Plan};
use crate::exit;

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) if s == crate::model::UNKNOWN => s.clone(),
        Some(v) => v.to_string(),
    }
}

pub fn plan_text(env: &str, plan: &Plan) -> String {
    let mut out = String::new();
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if plan.is_empty() {
        let _ = writeln!(out, "No changes. env {env} matches its plan.");
        if let Some(cost) = &plan.cost {
            let _ = writeln!(out, "Monthly cost (on-demand estimate): {}", crate::cost::fmt_usd(cost.after_monthly_usd));
        }
        return out;
    }
    if !plan.out_of_band.is_empty() {
        let _ = writeln!(out, "Out-of-band resources that block deletion (deleted first; --keep-out-of-band leaves them):\n");
        for o in &plan.out_of_band {
            let _ = writeln!(out, "  - {} {} ({})", o.kind, o.id, o.why);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "infra will perform these actions on env {env}:\n");
    for a in &plan.actions {
        let verb = match a.op {
            Op::Create => "will be created",
            Op::Update => "will be updated in place",
            Op::Replace => "must be replaced",
            Op::Delete => "will be destroyed",
        };
        let _ = writeln!(out, "  {} {} ({}) {verb}", a.op.symbol(), a.address, a.kind);
        if let Some(reason) = &a.reason {
            let _ = writeln!(out, "      # {reason}");
        }
        let lines = change_lines(a.op, &a.changes);
        let width = lines.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
        for (field, rest) in lines {
            let _ = writeln!(out, "      {}{rest}", pad(&field, width));
        }
        let _ = writeln!(out);
    }
    if !plan.data_loss.is_empty() {
        let _ = writeln!(out, "DATA LOSS: {} action(s) delete data or identity:", plan.data_loss.len());
        for d in &plan.data_loss {
            let forced = if d.forced_by.is_empty() { String::new() } else { format!(" (forced by {})", d.forced_by.join(", ")) };
            let _ = writeln!(out, "  !! {} {}{forced}: {}", d.op.symbol(), d.address, d.lost);
        }
        let _ = writeln!(out);
    }
    let (add, change, destroy) = plan.counts();
    let _ = write!(out, "Plan: {add} to add, {change} to change, {destroy} to destroy.");
    if !plan.out_of_band.is_empty() {
        let _ = write!(out, " Out of band: {} to delete first.", plan.out_of_band.len());
    }
    let _ = writeln!(out);
    if let Some(cost) = &plan.cost {
        let _ = write!(out, "\n{}", crate::cost::render_text(cost));
    }
    out
}

/// (field, rest of line) per change; a changed map shows only its changed keys.
fn change_lines(op: Op, changes: &[crate::diff::FieldChange]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    // `_after` only orders actions; it says nothing a reader needs.
    for c in changes.iter().filter(|c| c.field != "_after") {
        let forces = if c.forces_replacement { " (forces replacement)" } else { "" };
        if op == Op::Create {
            lines.push((c.field.clone(), format!(" = {}", show(&c.new))));
            continue;
        }
        if let (Some(Value::Object(old)), Some(Value::Object(new))) = (&c.old, &c.new) {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for k in keys {
                let (o, n) = (old.get(k).cloned(), new.get(k).cloned());
                if o != n {
                    lines.push((format!("{}.{k}", c.field), format!(": {} -> {}{forces}", show(&o), show(&n))));
                }
            }
            continue;
        }
        lines.push((c.field.clone(), format!(": {} -> {}{forces}", show(&c.old), show(&c.new))));
    }
    lines
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:width$}")
}

pub fn plan_json(env: &str, plan: &Plan) -> Value {
    let (add, change, destroy) = plan.counts();
    let (adopted, orphans) = super::adoption::json(plan);
    json!({
        "format_version": 1,
        "env": env,
        "warnings": plan.warnings,
        "actions": plan.actions.iter().map(|a| json!({
            "address": a.address,
            "kind": a.kind,
            "action": a.op,
            "reason": a.reason,
            "id": a.current.as_ref().map(|c| c.id.clone()),
            "deps": a.deps,
            "changes": a.changes,
        })).collect::<Vec<_>>(),
        "data_loss": plan.data_loss,
        "cost": plan.cost,
        "adopted": adopted,
        "orphans": orphans,
        "summary": { "add": add, "change": change, "destroy": destroy },
    })
}

/// Prints what an apply did and returns the exit code; `stopped` is the
/// code for a run an interrupt left incomplete (130, or 143 for SIGTERM).
pub fn apply_summary(what: &str, r: &ApplyReport, rerun: &str, stopped: u8) -> u8 {
    if r.ok() {
        println!("\n{what} complete: {} action(s) done.", r.done);
        if r.interrupted {
            println!("The interrupt came while the last actions were running: they finished and are saved; nothing was left undone.");
        }
        return exit::SUCCESS;
    }
    let total = r.done + r.failed.len() + r.skipped.len() + r.not_started.len();
    if r.interrupted {
        println!(
            "\n{what} interrupted: {} of {total} action(s) finished and are saved; {} did not start{}.",
            r.done,
            r.not_started.len() + r.skipped.len(),
            if r.failed.is_empty() { String::new() } else { format!(", {} failed", r.failed.len()) }
        );
        for (address, verb) in &r.finished {
            println!("  done         {address} ({verb})");
        }
    } else {
        println!("\n{what} incomplete: {} done, {} failed, {} skipped, {} not started.", r.done, r.failed.len(), r.skipped.len(), r.not_started.len());
    }
    for (address, error) in &r.failed {
        println!("  failed       {address}: {error}");
    }
    for (address, because) in &r.skipped {
        println!("  skipped      {address}: {because}");
    }
    for address in &r.not_started {
        println!("  not started  {address}");
    }
    if r.interrupted {
        println!("No action was left half-done: rerun `{rerun}` to continue.");
        stopped
    } else {
        println!("Every finished action is saved; fix the errors and rerun `{rerun}` to continue.");
        exit::FAILURE
    }
}
