//! Field comparison: how a resource's live properties are set against the
//! desired ones, shared by the diff, the executor (a found resource's missing
//! steps) and drift.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Props;

/// One field that differs, and whether changing it needs a new resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub forces_replacement: bool,
}

/// Compares the managed part of the tags: the keys the plan wants now, and
/// the keys infra set before. Tags others add (EKS, Karpenter) never show.
fn managed_tags(live: &Value, desired: &Value, applied: Option<&Value>) -> Value {
    let (Some(live), Some(desired)) = (live.as_object(), desired.as_object()) else {
        return live.clone();
    };
    let applied = applied.and_then(|a| a.as_object());
    let keep = |k: &String| desired.contains_key(k) || applied.is_some_and(|a| a.contains_key(k));
    Value::Object(
        live.iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The live props as the diff sees them: tags narrowed to managed keys.
pub fn comparable(live: &Props, desired: &Props, applied: Option<&Props>) -> Props {
    let mut out = live.clone();
    if let (Some(l), Some(d)) = (live.get("tags"), desired.get("tags")) {
        out.insert(
            "tags".into(),
            managed_tags(l, d, applied.and_then(|a| a.get("tags"))),
        );
    }
    out
}

/// Lists of strings (subnet ids, CIDRs) are sets to AWS: order never counts.
fn same(old: Option<&Value>, new: &Value) -> bool {
    match (old, new) {
        (Some(Value::Array(a)), Value::Array(b)) if a.iter().chain(b).all(|v| v.is_string()) => {
            let mut a: Vec<&str> = a.iter().filter_map(|v| v.as_str()).collect();
            let mut b: Vec<&str> = b.iter().filter_map(|v| v.as_str()).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        }
        (old, new) => old == Some(new),
    }
}

/// A field named `_x` is write-only: sent on create and update (a conflict
/// policy, an ordering-only reference) but never read back, so never diffed.
pub fn is_write_only(field: &str) -> bool {
    field.starts_with('_')
}

/// Field-by-field changes from `current` to `desired` (resolved).
pub fn field_changes(
    current: &Props,
    desired: &Props,
    replace_fields: &[&str],
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    for (field, new) in desired {
        let old = current.get(field);
        if is_write_only(field) || same(old, new) {
            continue;
        }
        // An absent optional value reads back as empty.
        if old.is_none() && (new.as_str() == Some("") || new.is_null()) {
            continue;
        }
        changes.push(FieldChange {
            field: field.clone(),
            old: old.cloned(),
            new: Some(new.clone()),
            forces_replacement: replace_fields.contains(&field.as_str()),
        });
    }
    // Fields the plan does not set are not compared: AWS fills them in.
    changes
}

/// Node group taints are a set to EKS: the plan's and the read-back ones are
/// put in this one order (key, effect, value) so that order never shows as
/// a change.
pub fn sort_taints(taints: &mut [Value]) {
    let field = |t: &Value, k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    taints.sort_by_key(|t| (field(t, "key"), field(t, "effect"), field(t, "value")));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_added_by_others_are_not_changes_but_removed_managed_tags_are() {
        let live = json!({"Name": "x", "kubernetes.io/cluster/todo": "shared"});
        let desired_tags = json!({"Name": "x"});
        assert_eq!(
            managed_tags(&live, &desired_tags, None),
            json!({"Name": "x"})
        );
        let applied = json!({"Name": "x", "team": "a"});
        let live = json!({"Name": "x", "team": "a"});
        assert_eq!(
            managed_tags(&live, &desired_tags, Some(&applied)),
            json!({"Name": "x", "team": "a"})
        );
    }

    #[test]
    fn taints_in_any_order_compare_equal() {
        let a = json!({"key": "a", "value": "1", "effect": "NO_EXECUTE"});
        let b = json!({"key": "b", "value": "", "effect": "NO_SCHEDULE"});
        let (mut plan, mut read) = (vec![b.clone(), a.clone()], vec![a, b]);
        sort_taints(&mut plan);
        sort_taints(&mut read);
        let want = |v: Vec<Value>| {
            [("taints".to_string(), Value::Array(v))]
                .into_iter()
                .collect::<Props>()
        };
        assert!(field_changes(&want(read), &want(plan), &[]).is_empty());
    }
}
