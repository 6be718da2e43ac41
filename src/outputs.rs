//! The plan's named outputs (`infra output`): resolved from what state
//! holds, typed (lists stay lists), and recorded in state when `up`,
//! `refresh` or `destroy` ends, so reading them needs neither the cloud nor
//! the plan file.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{Props, Ref, resolve};
pub use crate::state::NamedOutputs;

/// A declared output `{"split_commas": "${a.b.c}"}` is a list made from a
/// comma-joined resource output (a zone's name servers).
pub const SPLIT_COMMAS: &str = "split_commas";

/// Strings longer than this are shown by name only (`infra output NAME`).
pub const LONG: usize = 200;

/// Each declared output resolved; `null` where a reference has no value yet.
pub fn resolve_named(
    declared: &BTreeMap<String, Value>,
    lookup: &dyn Fn(&Ref) -> Option<String>,
) -> NamedOutputs {
    declared
        .iter()
        .map(|(name, value)| {
            let mut props = Props::new();
            props.insert("v".into(), value.clone());
            let resolved = match resolve(&props, lookup, false) {
                Ok(mut p) => typed(p.remove("v").unwrap_or(Value::Null)),
                Err(_) => Value::Null,
            };
            (name.clone(), resolved)
        })
        .collect()
}

fn typed(v: Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key(SPLIT_COMMAS) => {
            match &m[SPLIT_COMMAS] {
                Value::String(s) => Value::Array(
                    s.split(',')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(|x| Value::String(x.into()))
                        .collect(),
                ),
                other => other.clone(),
            }
        }
        other => other,
    }
}

/// The names whose value is not known.
pub fn unknown(outputs: &NamedOutputs) -> Vec<String> {
    outputs
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(n, _)| n.clone())
        .collect()
}

/// One output as `infra output` lists it: JSON, with long strings replaced
/// by their size and how to print them.
pub fn listed(name: &str, value: &Value) -> String {
    match value {
        Value::Null => "(not known: not applied yet)".into(),
        Value::String(s) if s.len() > LONG => format!(
            "(… {} bytes, `infra output {name}` prints it)",
            thousands(s.len())
        ),
        other => other.to_string(),
    }
}

/// A value with no quoting (`--raw`): a string as it is, a list one item a line.
pub fn raw(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(raw).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_keep_their_types_and_unknowns_are_null() {
        let declared: BTreeMap<String, Value> = [
            ("vpc_id".to_string(), json!("${vpc.main.id}")),
            (
                "ids".to_string(),
                json!(["${subnet.a.id}", "${subnet.b.id}"]),
            ),
            (
                "ns".to_string(),
                json!({ SPLIT_COMMAS: "${route53_zone.main.name_servers}" }),
            ),
            ("db".to_string(), json!("${db_instance.main.endpoint}")),
        ]
        .into();
        let lookup = |r: &Ref| match (r.address.as_str(), r.output.as_str()) {
            ("vpc.main", "id") => Some("vpc-1".to_string()),
            ("subnet.a", "id") => Some("subnet-a".to_string()),
            ("subnet.b", "id") => Some("subnet-b".to_string()),
            ("route53_zone.main", "name_servers") => Some("ns-1.example,ns-2.example".to_string()),
            _ => None,
        };
        let out = resolve_named(&declared, &lookup);
        assert_eq!(out["vpc_id"], json!("vpc-1"));
        assert_eq!(out["ids"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(out["ns"], json!(["ns-1.example", "ns-2.example"]));
        assert_eq!(out["db"], Value::Null);
        assert_eq!(unknown(&out), vec!["db".to_string()]);
    }

    #[test]
    fn long_values_are_listed_by_size_and_raw_has_no_quotes() {
        let ca = "A".repeat(1468);
        assert_eq!(
            listed("cluster_ca_data", &json!(ca)),
            "(… 1,468 bytes, `infra output cluster_ca_data` prints it)"
        );
        assert_eq!(listed("vpc_id", &json!("vpc-1")), "\"vpc-1\"");
        assert_eq!(listed("ids", &json!(["a", "b"])), "[\"a\",\"b\"]");
        assert_eq!(raw(&json!("vpc-1")), "vpc-1");
        assert_eq!(raw(&json!(["a", "b"])), "a\nb");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
