//! Plan and result text, as Terraform users expect to read it.

use std::fmt::Write;

use serde_json::{Value, json};

use super::{json_view, style};
use crate::apply::ApplyReport;
use crate::diff::{Action, FieldChange, Op, Plan};
use crate::exit;

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) if s == crate::model::UNKNOWN => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Tiers in the order a platform is built, then kinds no tier claims.
fn tiers() -> impl Iterator<Item = &'static str> {
    crate::model::Tier::ALL
        .iter()
        .map(|t| t.as_str())
        .chain(["other"])
}

fn symbol(op: Op) -> String {
    let s = op.symbol();
    match op {
        Op::Create => style::green(s),
        Op::Update => style::yellow(s),
        Op::Replace | Op::Delete => style::red(s),
    }
}

/// Each message once, in the order first seen.
fn unique(messages: &[String]) -> Vec<&String> {
    let mut seen = std::collections::HashSet::new();
    messages
        .iter()
        .filter(|m| seen.insert(m.as_str()))
        .collect()
}

/// "3 to add, 1 to replace": only the non-zero counts of some actions.
fn counts_text<'a>(actions: impl Iterator<Item = &'a Action> + Clone) -> String {
    let n = |op| actions.clone().filter(|a| a.op == op).count();
    [
        (Op::Create, "to add"),
        (Op::Update, "to change"),
        (Op::Replace, "to replace"),
        (Op::Delete, "to destroy"),
    ]
    .into_iter()
    .filter_map(|(op, what)| {
        Some(n(op))
            .filter(|&c| c > 0)
            .map(|c| format!("{c} {what}"))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

fn summary_text(plan: &Plan) -> String {
    let mut out = String::new();
    let mut counts = counts_text(plan.actions.iter());
    if !plan.moves.is_empty() {
        let sep = if counts.is_empty() { "" } else { ", " };
        counts.push_str(&format!("{sep}{} to move", plan.moves.len()));
    }
    let _ = writeln!(out, "{} {counts}", style::bold("Summary:"));
    for tier in tiers() {
        let in_tier = plan
            .actions
            .iter()
            .filter(|a| crate::drift::tier(&a.kind) == tier);
        if in_tier.clone().next().is_some() {
            let _ = writeln!(out, "  {tier:<9} {}", counts_text(in_tier));
        }
    }
    for (op, label) in [(Op::Replace, "Replaced"), (Op::Delete, "Destroyed")] {
        let named: Vec<&str> = plan
            .actions
            .iter()
            .filter(|a| a.op == op)
            .map(|a| a.address.as_str())
            .collect();
        if !named.is_empty() {
            let _ = writeln!(out, "  {}: {}", style::red(label), named.join(", "));
        }
    }
    out
}

pub fn plan_text(env: &str, plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.selection.is_empty() {
        let _ = writeln!(out, "Selected: {}", plan.selection.join(", "));
        if plan.selection.iter().any(|s| !s.starts_with("--replace")) {
            let _ = writeln!(
                out,
                "{} this is a partial run: only the selected resources (--target: with what they depend on; --exclude: without what depends on them) are planned; the env may not match its plan file afterwards — run a full `infra plan` next",
                style::yellow("warning:")
            );
        }
    }
    for w in unique(&plan.warnings) {
        let _ = writeln!(out, "{} {w}", style::yellow("warning:"));
    }
    if plan.is_empty() {
        let _ = writeln!(out, "No changes. env {env} matches its plan.");
        if let Some(cost) = &plan.cost {
            let _ = writeln!(
                out,
                "Monthly cost (on-demand estimate): {}",
                crate::cost::fmt_usd(cost.after_monthly_usd)
            );
        }
        return out;
    }
    if !plan.out_of_band.is_empty() {
        let _ = writeln!(
            out,
            "Out-of-band resources that block deletion (deleted first; --keep-out-of-band leaves them):\n"
        );
        for o in &plan.out_of_band {
            let _ = writeln!(out, "  - {} {} ({})", o.kind, o.id, o.why);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "infra will perform these actions on env {env}:\n");
    if !plan.actions.is_empty() || !plan.moves.is_empty() {
        let _ = writeln!(out, "{}", summary_text(plan));
    }
    for m in &plan.moves {
        let _ = writeln!(
            out,
            "  {} {} ({}) has moved to {}\n      # [[moved]]: renamed in state and in its infra:address tag; {} is kept\n",
            style::yellow("~>"),
            m.from,
            m.kind,
            m.to,
            m.id
        );
    }
    for tier in tiers() {
        let in_tier: Vec<&Action> = plan
            .actions
            .iter()
            .filter(|a| crate::drift::tier(&a.kind) == tier)
            .collect();
        if in_tier.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{}\n",
            style::bold(&format!(
                "── {tier}: {} ──",
                counts_text(in_tier.iter().copied())
            ))
        );
        for a in in_tier {
            out.push_str(&action_text(a));
        }
    }
    if !plan.data_loss.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            style::red(&format!(
                "DATA LOSS: {} action(s) delete data or identity:",
                plan.data_loss.len()
            ))
        );
        for d in &plan.data_loss {
            let forced = if d.forced_by.is_empty() {
                String::new()
            } else {
                format!(" (forced by {})", d.forced_by.join(", "))
            };
            let _ = writeln!(
                out,
                "  !! {} {}{forced}: {}",
                d.op.symbol(),
                d.address,
                d.lost
            );
        }
        let _ = writeln!(out);
    }
    let (add, change, destroy) = plan.counts();
    let _ = write!(
        out,
        "{} {add} to add, {change} to change, {destroy} to destroy.",
        style::bold("Plan:")
    );
    if !plan.moves.is_empty() {
        let _ = write!(out, " {} to move.", plan.moves.len());
    }
    if !plan.out_of_band.is_empty() {
        let _ = write!(
            out,
            " Out of band: {} to delete first.",
            plan.out_of_band.len()
        );
    }
    let _ = writeln!(out);
    if let Some(cost) = &plan.cost {
        let _ = write!(out, "\n{}", crate::cost::render_text(cost));
    }
    out
}

fn action_text(a: &Action) -> String {
    let mut out = String::new();
    let requested = a.reason.as_deref() == Some(crate::diff::REPLACE_REQUESTED);
    let verb = match a.op {
        Op::Create => "will be created",
        Op::Update => "will be updated in place",
        Op::Replace if requested => "will be replaced (replace requested)",
        Op::Replace => "must be replaced",
        Op::Delete => "will be destroyed",
    };
    let _ = writeln!(out, "  {} {} ({}) {verb}", symbol(a.op), a.address, a.kind);
    if a.protect && matches!(a.op, Op::Replace | Op::Delete) {
        let _ = writeln!(
            out,
            "      {}",
            style::red(
                "# PROTECTED (protect = true): `up` refuses this until protection is lifted"
            )
        );
    }
    if let Some(reason) = &a.reason {
        let _ = writeln!(out, "      # {reason}");
    }
    // `_after` only orders actions; other `_` fields are settings used when
    // applying (never compared with the cloud), shown apart under a label.
    let (internal, compared): (Vec<&FieldChange>, Vec<&FieldChange>) = a
        .changes
        .iter()
        .filter(|c| c.field != "_after")
        .partition(|c| c.field.starts_with('_'));
    let written = a.props.as_ref();
    out.push_str(&fields_text(a.op, &compared, written));
    if !internal.is_empty() {
        let _ = writeln!(
            out,
            "      {}",
            style::dim("# apply-time settings (not compared with the cloud):")
        );
        out.push_str(&fields_text(a.op, &internal, written));
    }
    let _ = writeln!(out);
    out
}

/// One block per field: `name = value` (a created resource), `name: old -> new`,
/// a map's changed keys, or a document's changed lines.
fn fields_text(op: Op, changes: &[&FieldChange], written: Option<&crate::model::Props>) -> String {
    let mut rows: Vec<(String, String, Vec<String>)> = Vec::new();
    for c in changes {
        let name = c.field.trim_start_matches('_').to_string();
        let forces = if c.forces_replacement {
            style::red(" (forces replacement)")
        } else {
            String::new()
        };
        // Documents and lists name their unknown parts; a scalar stays `(known after apply)`.
        let new = c.new.as_ref().map(|n| match n {
            Value::Object(_) | Value::Array(_) => {
                json_view::with_references(n, written.and_then(|p| p.get(&c.field)))
            }
            _ => n.clone(),
        });
        if op == Op::Create || c.old.is_none() {
            rows.push(value_row(name, " = ", new.as_ref(), &forces));
            continue;
        }
        match (&c.old, &new) {
            (Some(old), Some(new))
                if json_view::is_flat_map(old) && json_view::is_flat_map(new) =>
            {
                let (old, new) = (old.as_object().expect("map"), new.as_object().expect("map"));
                let keys: std::collections::BTreeSet<&String> =
                    old.keys().chain(new.keys()).collect();
                for k in keys {
                    let (o, n) = (old.get(k).cloned(), new.get(k).cloned());
                    if o != n {
                        rows.push((
                            format!("{name}.{k}"),
                            format!(": {} -> {}{forces}", show(&o), show(&n)),
                            Vec::new(),
                        ));
                    }
                }
            }
            (Some(old), Some(new)) if json_view::is_block(old) || json_view::is_block(new) => {
                let lines = json_view::diff_lines(
                    &json_view::pretty_lines(old),
                    &json_view::pretty_lines(new),
                );
                let mut block: Vec<String> = lines.into_iter().map(diff_line).collect();
                if json_view::has_reference(new) {
                    block.push(style::dim("  # ${…} parts are known after apply"));
                }
                rows.push((name, format!(" (changed lines){forces}:"), block));
            }
            _ => rows.push((
                name,
                format!(": {} -> {}{forces}", show(&c.old), show(&new)),
                Vec::new(),
            )),
        }
    }
    // Names align on their `=`/`:`; a document's diff stands under its own name.
    let width = rows
        .iter()
        .filter(|(_, rest, _)| !rest.ends_with(':'))
        .map(|(f, _, _)| f.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (field, rest, block) in rows {
        let w = if rest.ends_with(':') { 0 } else { width };
        let _ = writeln!(out, "      {field:w$}{rest}");
        for line in block {
            let _ = writeln!(out, "        {line}");
        }
    }
    out
}

/// `name = value`, a document on the lines below its name.
fn value_row(
    name: String,
    sep: &str,
    v: Option<&Value>,
    forces: &str,
) -> (String, String, Vec<String>) {
    let unknown_after = |v: &Value| {
        if json_view::has_reference(v) {
            " (known after apply)"
        } else {
            ""
        }
    };
    match v {
        Some(v) if json_view::is_block(v) => {
            let mut lines = json_view::pretty_lines(v);
            let first = lines.remove(0);
            let last = lines.pop().map(|l| format!("{l}{}", unknown_after(v)));
            (
                name,
                format!("{sep}{first}{forces}"),
                lines.into_iter().chain(last).collect(),
            )
        }
        Some(v) if v.is_object() || v.is_array() => (
            name,
            format!("{sep}{v}{}{forces}", unknown_after(v)),
            Vec::new(),
        ),
        other => (
            name,
            format!("{sep}{}{forces}", show(&other.cloned())),
            Vec::new(),
        ),
    }
}

fn diff_line(l: json_view::Line) -> String {
    match l {
        json_view::Line::Same(s) => format!("  {s}"),
        json_view::Line::Removed(s) => style::red(&format!("- {s}")),
        json_view::Line::Added(s) => style::green(&format!("+ {s}")),
        json_view::Line::Skipped(n) => style::dim(&format!(
            "  … {n} unchanged line{}",
            if n == 1 { "" } else { "s" }
        )),
    }
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
        "moves": plan.moves,
        "selection": plan.selection,
        "partial": plan.selection.iter().any(|s| !s.starts_with("--replace")),
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
            println!(
                "The interrupt came while the last actions were running: they finished and are saved; nothing was left undone."
            );
        }
        return exit::SUCCESS;
    }
    let total = r.done + r.failed.len() + r.skipped.len() + r.not_started.len();
    if r.interrupted {
        println!(
            "\n{what} interrupted: {} of {total} action(s) finished and are saved; {} did not start{}.",
            r.done,
            r.not_started.len() + r.skipped.len(),
            if r.failed.is_empty() {
                String::new()
            } else {
                format!(", {} failed", r.failed.len())
            }
        );
        for (address, verb) in &r.finished {
            println!("  done         {address} ({verb})");
        }
    } else {
        println!(
            "\n{what} incomplete: {} done, {} failed, {} skipped, {} not started.",
            r.done,
            r.failed.len(),
            r.skipped.len(),
            r.not_started.len()
        );
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
