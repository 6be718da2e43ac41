//! How adoption and orphans read: one block each, grouped by tier, so a lost
//! state file shows as "infra adopts these 93", not 93 separate notes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::diff::Plan;
use crate::drift::tier;

const WIDTH: usize = 100;

/// Words joined with ", ", wrapped at [`WIDTH`], continuation lines indented by `indent`.
fn wrap(words: &[String], indent: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (i, w) in words.iter().enumerate() {
        let piece = if i + 1 < words.len() {
            format!("{w}, ")
        } else {
            w.clone()
        };
        if line > 0 && indent + line + piece.trim_end().len() > WIDTH {
            out.truncate(out.trim_end().len());
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line = 0;
        }
        out.push_str(&piece);
        line += piece.len();
    }
    out.trim_end().to_string()
}

/// `route.{a, b}` for several names under one prefix, `vpc.main` for one,
/// as words to wrap: `route.{a`, `b}`.
fn braced(prefixes: BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    let mut words = Vec::new();
    for (prefix, mut names) in prefixes {
        names.sort_unstable();
        let last = names.len() - 1;
        for (i, name) in names.iter().enumerate() {
            words.push(match (i, last) {
                (0, 0) => format!("{prefix}.{name}"),
                (0, _) => format!("{prefix}.{{{name}"),
                (i, last) if i == last => format!("{name}}}"),
                _ => name.to_string(),
            });
        }
    }
    words
}

/// The adopted resources in one block; `done` when `up` has recorded them already.
pub fn adopted_text(env: &str, plan: &Plan, done: bool) -> String {
    if plan.adopted.is_empty() {
        return String::new();
    }
    let mut by_tier: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for a in &plan.adopted {
        let (prefix, name) = a
            .address
            .split_once('.')
            .unwrap_or((a.address.as_str(), ""));
        by_tier
            .entry(tier(&a.kind))
            .or_default()
            .entry(prefix)
            .or_default()
            .push(name);
    }
    let n = plan.adopted.len();
    let mut out = if done {
        format!(
            "Adopted into state: {n} resource(s) that exist in the cloud for env {env} and that the plan declares\n(found by their infra:address tag or their name); none of them is created again:\n"
        )
    } else {
        format!(
            "State does not know {n} resource(s) that exist in the cloud for env {env} and that the plan declares\n(found by their infra:address tag or their name); `infra up` adopts all of them into state and\ncreates none of them again:\n"
        )
    };
    let width = by_tier.keys().map(|t| t.len()).max().unwrap_or(0);
    for (t, prefixes) in by_tier {
        let count: usize = prefixes.values().map(Vec::len).sum();
        let head = format!("  {t:width$} ({count:>2})  ");
        out.push_str(&format!("{head}{}\n", wrap(&braced(prefixes), head.len())));
    }
    out
}

/// Orphans left alone; empty when there are none or they are pruned.
pub fn orphans_text(env: &str, plan: &Plan, pruning: bool) -> String {
    if plan.orphans.is_empty() || pruning {
        return String::new();
    }
    let mut out = format!(
        "Orphans: {} resource(s) tagged with env {env} that neither state nor the plan accounts for; left alone\n(`infra plan --prune-orphans` shows their deletion, `infra up --prune-orphans` deletes them):\n",
        plan.orphans.len()
    );
    for o in &plan.orphans {
        let note = match (&o.duplicate_of, &o.live.address) {
            (Some(a), _) => {
                format!(" (tagged {a}, which state manages as another resource: a duplicate)")
            }
            (None, Some(a)) => format!(" (tagged {a})"),
            (None, None) => String::new(),
        };
        out.push_str(&format!("  {} {}{note}\n", o.kind, o.live.id));
    }
    out
}

/// `adopted` and `orphans` of the plan JSON.
pub fn json(plan: &Plan) -> (Value, Value) {
    let adopted = plan
        .adopted
        .iter()
        .map(|a| json!({ "address": a.address, "kind": a.kind, "id": a.id }))
        .collect::<Vec<_>>();
    let orphans = plan
        .orphans
        .iter()
        .map(|o| json!({ "kind": o.kind, "id": o.live.id, "address": o.live.address, "duplicate_of": o.duplicate_of }))
        .collect::<Vec<_>>();
    (Value::Array(adopted), Value::Array(orphans))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_within_the_width_and_indents_continuations() {
        let words: Vec<String> = (0..40).map(|i| format!("subnet.app_{i}")).collect();
        let text = wrap(&words, 20);
        assert!(text.lines().count() > 1);
        for line in text.lines() {
            assert!(line.len() <= WIDTH, "{line}");
        }
        for line in text.lines().skip(1) {
            assert!(
                line.starts_with(&" ".repeat(20)) && !line.starts_with(&" ".repeat(21)),
                "{line:?}"
            );
        }
        assert_eq!(text.matches("subnet.app_").count(), 40);
        assert!(
            text.lines().all(|l| l == l.trim_end()),
            "no trailing spaces: {text:?}"
        );
    }

    #[test]
    fn names_under_one_prefix_are_braced() {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        m.insert("subnet", vec!["b", "a"]);
        m.insert("vpc", vec!["main"]);
        assert_eq!(wrap(&braced(m), 0), "subnet.{a, b}, vpc.main");
    }
}
