//! JSON-valued fields (policies, event patterns) as a reviewer reads them:
//! pretty-printed, diffed line by line, and with references that are not
//! known yet shown by name instead of a placeholder inside the document.

use serde_json::Value;

use crate::model::UNKNOWN;

/// Lines of unchanged context kept around each changed line.
const CONTEXT: usize = 2;

/// A value shown on several lines: anything nested, or a flat list or map
/// too long for one line.
pub fn is_block(v: &Value) -> bool {
    let structured = |i: &Value| i.is_object() || i.is_array();
    match v {
        Value::Object(m) => m.values().any(structured) || v.to_string().len() > 100,
        Value::Array(a) => a.iter().any(structured) || v.to_string().len() > 100,
        _ => false,
    }
}

/// A map whose values are all scalars (tags, parameters): diffed by key.
pub fn is_flat_map(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.values().all(|i| !i.is_object() && !i.is_array()))
}

pub fn pretty_lines(v: &Value) -> Vec<String> {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The value to show for a planned value: where a part is known only after
/// apply, the plan's own reference (`${iam_oidc_provider.main.url}:sub`)
/// stands in for it, so no placeholder sits inside a document and keys that
/// differ only by an unknown prefix stay apart.
pub fn with_references(resolved: &Value, written: Option<&Value>) -> Value {
    if !mentions_unknown(resolved) {
        return resolved.clone();
    }
    match (resolved, written) {
        (Value::String(s), Some(Value::String(w))) if s == UNKNOWN && w.contains("${") => {
            Value::String(w.clone())
        }
        (Value::Array(items), Some(Value::Array(ws))) if items.len() == ws.len() => Value::Array(
            items
                .iter()
                .zip(ws)
                .map(|(i, w)| with_references(i, Some(w)))
                .collect(),
        ),
        (Value::Object(map), Some(Value::Object(ws))) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map.iter().filter(|(k, _)| k.as_str() != UNKNOWN) {
                out.insert(k.clone(), with_references(v, ws.get(k)));
            }
            if map.contains_key(UNKNOWN) {
                // Keys made of an unknown reference: resolving merged them all
                // into one, so each is shown as written, with its value.
                for (k, w) in ws
                    .iter()
                    .filter(|(k, _)| k.contains("${") && !map.contains_key(k.as_str()))
                {
                    out.insert(k.clone(), w.clone());
                }
            }
            Value::Object(out)
        }
        _ => resolved.clone(),
    }
}

/// True when a value or a key anywhere in it is [`UNKNOWN`].
fn mentions_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(mentions_unknown),
        Value::Object(map) => map.iter().any(|(k, i)| k == UNKNOWN || mentions_unknown(i)),
        _ => false,
    }
}

/// True when some string in the value still names a reference.
pub fn has_reference(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Array(items) => items.iter().any(has_reference),
        Value::Object(map) => map
            .iter()
            .any(|(k, i)| k.contains("${") || has_reference(i)),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Same(String),
    Removed(String),
    Added(String),
    /// Unchanged lines left out.
    Skipped(usize),
}

/// Line diff of two documents (longest common subsequence), with
/// [`CONTEXT`] unchanged lines around each change.
pub fn diff_lines(old: &[String], new: &[String]) -> Vec<Line> {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut all = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            all.push(Line::Same(old[i].clone()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines before added ones, as in a unified diff.
            all.push(Line::Removed(old[i].clone()));
            i += 1;
        } else {
            all.push(Line::Added(new[j].clone()));
            j += 1;
        }
    }
    let changed: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(k, _)| k)
        .collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = Vec::new();
    for (k, line) in all.into_iter().enumerate() {
        if matches!(line, Line::Same(_)) && !near(k) {
            match out.last_mut() {
                Some(Line::Skipped(count)) => *count += 1,
                _ => out.push(Line::Skipped(1)),
            }
        } else {
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(v: &Value) -> Vec<String> {
        pretty_lines(v)
    }

    #[test]
    fn a_one_statement_change_shows_only_that_line_and_its_context() {
        let old = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:a", "Sid": "One"},
            {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": "arn:b", "Sid": "Two"}]});
        let mut new = old.clone();
        new["Statement"][1]["Resource"] = json!("arn:c");
        let d = diff_lines(&lines(&old), &lines(&new));
        let removed: Vec<_> = d
            .iter()
            .filter_map(|l| {
                if let Line::Removed(s) = l {
                    Some(s.trim())
                } else {
                    None
                }
            })
            .collect();
        let added: Vec<_> = d
            .iter()
            .filter_map(|l| {
                if let Line::Added(s) = l {
                    Some(s.trim())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(removed, vec![r#""Resource": "arn:b","#]);
        assert_eq!(added, vec![r#""Resource": "arn:c","#]);
        assert!(matches!(d[0], Line::Skipped(n) if n > 3), "{d:?}");
        assert!(d.len() < lines(&new).len());
    }

    #[test]
    fn identical_documents_are_all_skipped() {
        let v = json!({"a": [1, 2, 3]});
        assert_eq!(
            diff_lines(&lines(&v), &lines(&v)),
            vec![Line::Skipped(lines(&v).len())]
        );
    }

    #[test]
    fn unknown_parts_show_the_reference_and_keys_stay_apart() {
        let written = json!({"Principal": {"Federated": "${iam_oidc_provider.main.arn}"},
            "Condition": {"StringEquals": {"${iam_oidc_provider.main.url}:sub": "system:serviceaccount:a:b",
                                           "${iam_oidc_provider.main.url}:aud": "sts.amazonaws.com"}},
            "Action": "sts:AssumeRoleWithWebIdentity"});
        // What resolving with unknowns makes of it: both keys collapse.
        let resolved = json!({"Principal": {"Federated": UNKNOWN},
            "Condition": {"StringEquals": {UNKNOWN: "sts.amazonaws.com"}},
            "Action": "sts:AssumeRoleWithWebIdentity"});
        let shown = with_references(&resolved, Some(&written));
        assert_eq!(
            shown["Principal"]["Federated"],
            json!("${iam_oidc_provider.main.arn}")
        );
        let cond = shown["Condition"]["StringEquals"].as_object().unwrap();
        assert_eq!(cond.len(), 2);
        assert_eq!(
            cond["${iam_oidc_provider.main.url}:sub"],
            json!("system:serviceaccount:a:b")
        );
        assert_eq!(
            cond["${iam_oidc_provider.main.url}:aud"],
            json!("sts.amazonaws.com")
        );
        assert!(!shown.to_string().contains(UNKNOWN));
        assert!(has_reference(&shown));
    }

    #[test]
    fn a_fully_known_value_is_shown_as_resolved() {
        let resolved =
            json!({"StringEquals": {"oidc.example/id/1:sub": "system:serviceaccount:a:b"}});
        let written = json!({"StringEquals": {"${eks_cluster.main.oidc_issuer_host}:sub": "system:serviceaccount:a:b"}});
        assert_eq!(with_references(&resolved, Some(&written)), resolved);
    }

    #[test]
    fn known_values_win_over_the_written_reference() {
        let shown = with_references(
            &json!(["sg-1", UNKNOWN]),
            Some(&json!(["${a.b.id}", "${c.d.id}"])),
        );
        assert_eq!(shown, json!(["sg-1", "${c.d.id}"]));
    }

    #[test]
    fn blocks_are_nested_or_long() {
        assert!(is_block(&json!({"Statement": [{"Effect": "Allow"}]})));
        assert!(!is_block(&json!({"env": "dev", "Name": "x"})));
        assert!(is_flat_map(&json!({"env": "dev"})));
        assert!(!is_flat_map(&json!({"source": ["aws.ec2"]})));
    }
}
