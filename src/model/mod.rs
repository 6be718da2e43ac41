//! The vocabulary shared by every stage: addresses, desired resources, and
//! references between them.
//!
//! A property value is plain JSON. A reference to another resource's output is
//! a string of the form `${<address>.<output>}` (for example `${vpc.main.id}`);
//! it may stand anywhere inside a property. References are what create graph
//! edges, and they are resolved only when the referencing action runs.

pub mod compare;
mod kind;
mod live;

pub use kind::{KindCatalog, KindInfo, NaturalKey, Resend, Tagging, Tier};
pub use live::{Live, OutOfBand};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource's properties: the desired ones from the plan, or the ones read
/// back from the cloud, always in the same shape for one kind.
pub type Props = serde_json::Map<String, Value>;

/// What a created resource exposes to others (`id`, `arn`, ...).
pub type Outputs = BTreeMap<String, String>;

/// One managed resource as infra last applied or observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateResource {
    pub address: String,
    pub kind: String,
    pub id: String,
    pub props: Props,
    pub outputs: Outputs,
    pub deps: Vec<String>,
    pub protect: bool,
}

/// Seconds since the Unix epoch: the one clock (locks, backups, snapshot names).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One resource the plan asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Desired {
    /// `subnet.app_a`: the kind's short name, a dot, the plan's name.
    pub address: String,
    /// The kind as AWS names it (`Subnet`).
    pub kind: String,
    pub props: Props,
    /// Refuse to destroy this resource.
    #[serde(default)]
    pub protect: bool,
    /// The plan key this resource came from (`network.security_groups.nodes`).
    #[serde(default)]
    pub origin: String,
    /// Byte range of that key in the plan file, for error messages.
    #[serde(skip)]
    pub span: Option<std::ops::Range<usize>>,
}

/// A parsed `${address.output}` reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    pub address: String,
    pub output: String,
}

impl Ref {
    pub fn expr(address: &str, output: &str) -> String {
        format!("${{{address}.{output}}}")
    }

    /// Parses a whole-string reference; `None` for any other string.
    pub fn parse(s: &str) -> Option<Ref> {
        let inner = s.strip_prefix("${")?.strip_suffix('}')?;
        let (address, output) = inner.rsplit_once('.')?;
        if !address.contains('.') || output.is_empty() {
            return None;
        }
        Some(Ref {
            address: address.to_string(),
            output: output.to_string(),
        })
    }
}

/// Every `${address.output}` inside a string, in order.
fn refs_in_str(s: &str, out: &mut Vec<Ref>) {
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        if let Some(r) = Ref::parse(&rest[start..start + len + 1]) {
            out.push(r);
        }
        rest = &rest[start + len + 1..];
    }
}

/// Every reference inside a value (in strings and in object keys).
pub fn refs_in(value: &Value, out: &mut Vec<Ref>) {
    match value {
        Value::String(s) => refs_in_str(s, out),
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                refs_in_str(k, out);
                refs_in(v, out);
            }
        }
        _ => {}
    }
}

pub fn refs_of(props: &Props) -> Vec<Ref> {
    let mut out = Vec::new();
    for v in props.values() {
        refs_in(v, &mut out);
    }
    out
}

/// The sentinel a diff shows where a value is known only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// Substitutes the references in one string. A string that is exactly one
/// reference becomes its value; references inside longer strings (a trust
/// policy's `<issuer>:sub` key) are interpolated. `Ok(None)`: some reference
/// is unknown.
fn resolve_str(s: &str, lookup: &dyn Fn(&Ref) -> Option<String>) -> Result<Option<String>, Ref> {
    if !s.contains("${") {
        return Ok(Some(s.to_string()));
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start..start + len + 1];
        out.push_str(&rest[..start]);
        match Ref::parse(expr) {
            Some(r) => match lookup(&r) {
                Some(v) => out.push_str(&v),
                None => return Err(r),
            },
            None => out.push_str(expr),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// Replaces every reference whose output `lookup` knows. Unknown references
/// make their string [`UNKNOWN`] when `allow_unknown`, otherwise they are
/// returned as an error naming the first one.
pub fn resolve(
    props: &Props,
    lookup: &dyn Fn(&Ref) -> Option<String>,
    allow_unknown: bool,
) -> Result<Props, Ref> {
    let text = |s: &str| -> Result<String, Ref> {
        match resolve_str(s, lookup) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(UNKNOWN.to_string()),
            Err(_) if allow_unknown => Ok(UNKNOWN.to_string()),
            Err(r) => Err(r),
        }
    };
    fn walk(v: &Value, text: &dyn Fn(&str) -> Result<String, Ref>) -> Result<Value, Ref> {
        Ok(match v {
            Value::String(s) => Value::String(text(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| walk(i, text))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, i) in map {
                    out.insert(text(k)?, walk(i, text)?);
                }
                Value::Object(out)
            }
            _ => v.clone(),
        })
    }
    let mut out = Props::new();
    for (k, v) in props {
        out.insert(k.clone(), walk(v, &text)?);
    }
    Ok(out)
}

/// True when any part of the value is still [`UNKNOWN`].
pub fn has_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(has_unknown),
        Value::Object(map) => map.values().any(has_unknown),
        _ => false,
    }
}

/// Tags that identify a resource as infra's: set at create, never diffed.
pub const TAG_ENV: &str = "infra:env";
pub const TAG_ADDRESS: &str = "infra:address";
/// The project is part of the identity too: two projects with an env of the
/// same name in one account never see each other's resources. Unlike the
/// other identity tags it is compared (the plan's tags carry it), so a
/// resource made before projects were tagged gains it in place on `up`.
pub const TAG_PROJECT: &str = "infra:project";

/// Tags the cloud or controllers add on their own; never compared.
pub fn is_foreign_tag(key: &str) -> bool {
    key.starts_with("aws:") || (key.starts_with("infra:") && key != TAG_PROJECT)
}

/// Whose resources a run reads: the plan's project and env.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    pub project: &'a str,
    pub env: &'a str,
}

/// How a resource's identity tags stand against an [`Owner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// `infra:env` and `infra:project` are ours.
    Ours,
    /// `infra:env` is ours and there is no `infra:project`: made before
    /// projects were tagged. Refresh accepts it only when state already
    /// holds it by id (then `up` adds the tag); it is never adopted,
    /// recovered or pruned by address alone.
    Untagged,
    /// Another env's or project's, or no `infra:env` at all.
    Foreign,
}

/// The one rule every kind's tag read applies.
pub fn ownership<'t>(
    tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    owner: Owner<'_>,
) -> Ownership {
    let (mut env, mut project) = (None, None);
    for (k, v) in tags {
        if k == TAG_ENV {
            env = Some(v);
        } else if k == TAG_PROJECT {
            project = Some(v);
        }
    }
    match (env, project) {
        (Some(e), Some(p)) if e == owner.env && p == owner.project => Ownership::Ours,
        (Some(e), None) if e == owner.env => Ownership::Untagged,
        _ => Ownership::Foreign,
    }
}

/// The other infra owner (`project/env`) the tags name, when they name one
/// that is not ours. A named resource so claimed is never taken over by its
/// name; one with no infra tags at all (made by hand, by Terraform) can be.
pub fn claimed_elsewhere<'t>(
    tags: impl IntoIterator<Item = (&'t str, &'t str)> + Clone,
    owner: Owner<'_>,
) -> Option<String> {
    if ownership(tags.clone(), owner) != Ownership::Foreign {
        return None;
    }
    let (mut env, mut project) = (None, None);
    for (k, v) in tags {
        match k {
            TAG_ENV => env = Some(v),
            TAG_PROJECT => project = Some(v),
            _ => {}
        }
    }
    if env.is_none() && project.is_none() {
        return None;
    }
    let shown = |v: Option<&str>| v.unwrap_or("?").to_string();
    Some(format!("{}/{}", shown(project), shown(env)))
}

/// True unless [`ownership`] is `Foreign`.
pub fn readable<'t>(tags: impl IntoIterator<Item = (&'t str, &'t str)>, owner: Owner<'_>) -> bool {
    ownership(tags, owner) != Ownership::Foreign
}

/// Tags read back, split into the `infra:address` and the comparable tags
/// (identity and `aws:` keys left out); `None` when they say another owner.
pub fn split_tags<'t, I>(tags: I, owner: Owner<'_>) -> Option<(Option<String>, serde_json::Value)>
where
    I: IntoIterator<Item = (&'t str, &'t str)> + Clone,
{
    if !readable(tags.clone(), owner) {
        return None;
    }
    let mut address = None;
    let mut comparable = serde_json::Map::new();
    for (k, v) in tags {
        if k == TAG_ADDRESS {
            address = Some(v.to_string());
        }
        if !is_foreign_tag(k) {
            comparable.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
    }
    Some((address, serde_json::Value::Object(comparable)))
}

/// The account an ARN names (`arn:partition:service:region:account:...`),
/// empty when it names none.
pub fn account_of_arn(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_string()
}

/// The `infra:project` a live resource's comparable tags carry, if any.
pub fn project_of(props: &Props) -> Option<&str> {
    props
        .get("tags")
        .and_then(|t| t.get(TAG_PROJECT))
        .and_then(|v| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_ownership_rule() {
        let me = Owner {
            project: "a",
            env: "dev",
        };
        assert_eq!(
            ownership([(TAG_ENV, "dev"), (TAG_PROJECT, "a")], me),
            Ownership::Ours
        );
        assert_eq!(
            ownership([(TAG_ENV, "dev"), (TAG_PROJECT, "b")], me),
            Ownership::Foreign
        );
        assert_eq!(ownership([(TAG_ENV, "dev")], me), Ownership::Untagged);
        assert_eq!(
            ownership([(TAG_ENV, "qa"), (TAG_PROJECT, "a")], me),
            Ownership::Foreign
        );
        assert_eq!(ownership([(TAG_PROJECT, "a")], me), Ownership::Foreign);
        assert_eq!(ownership([("Name", "x")], me), Ownership::Foreign);
    }

    #[test]
    fn parses_refs() {
        assert_eq!(
            Ref::parse("${subnet.app_a.id}"),
            Some(Ref {
                address: "subnet.app_a".into(),
                output: "id".into()
            })
        );
        assert_eq!(Ref::parse("subnet.app_a.id"), None);
        assert_eq!(Ref::parse("${vpc}"), None);
    }

    #[test]
    fn resolves_nested_refs_and_marks_unknown() {
        let props: Props = serde_json::from_value(json!({
            "vpc_id": "${vpc.main.id}",
            "ids": ["${subnet.a.id}", "plain"],
        }))
        .unwrap();
        let lookup = |r: &Ref| (r.address == "vpc.main").then(|| "vpc-1".to_string());
        let out = resolve(&props, &lookup, true).unwrap();
        assert_eq!(out["vpc_id"], json!("vpc-1"));
        assert_eq!(out["ids"], json!([UNKNOWN, "plain"]));
        assert!(has_unknown(&out["ids"]));
        let err = resolve(&props, &lookup, false).unwrap_err();
        assert_eq!(err.address, "subnet.a");
    }

    #[test]
    fn interpolates_refs_inside_strings_and_keys() {
        let props: Props = serde_json::from_value(json!({
            "doc": { "${eks_cluster.main.oidc_issuer_host}:sub": "system:serviceaccount:${ns.a.id}:sa" },
        }))
        .unwrap();
        let mut found = refs_of(&props);
        found.sort();
        assert_eq!(found.len(), 2);
        let lookup = |r: &Ref| Some(format!("<{}>", r.address));
        let out = resolve(&props, &lookup, false).unwrap();
        assert_eq!(
            out["doc"],
            json!({ "<eks_cluster.main>:sub": "system:serviceaccount:<ns.a>:sa" })
        );
    }
}
