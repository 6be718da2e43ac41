//! The checks themselves: each reads one kind's props, the way that kind
//! reads them when it applies, and reports what fails. No shape of a value
//! makes them panic; a value of the wrong type reads as the kind would read it.

use serde_json::{Map, Value};

use crate::model::{Desired, Props};

/// One check failing on one resource, before `[policy]` decides deny or warn.
pub(super) struct Hit {
    pub check: &'static str,
    pub address: String,
    pub field: String,
    pub message: String,
    pub span: Option<std::ops::Range<usize>>,
}

/// Ports nobody on the internet should reach.
const SENSITIVE_PORTS: [(i64, &str); 3] = [(22, "SSH"), (3389, "RDP"), (5432, "PostgreSQL")];

/// Every resource-level check on every resource. `prod_only(id)` says
/// whether a prod-only check runs.
pub(super) fn inspect(resources: &[Desired], prod_only: &dyn Fn(&str) -> bool) -> Vec<Hit> {
    let mut sensitive: Vec<(i64, String)> = SENSITIVE_PORTS
        .iter()
        .map(|(p, n)| (*p, n.to_string()))
        .collect();
    // A database on a port of its own makes that port sensitive too.
    for d in resources
        .iter()
        .filter(|d| d.kind == "DbInstance" || d.kind == "RdsCluster")
    {
        if let Some(port) = d.props.get("port").and_then(Value::as_i64)
            && !sensitive.iter().any(|(p, _)| *p == port)
        {
            sensitive.push((port, format!("database {}", d.address)));
        }
    }
    let mut out = Vec::new();
    for d in resources {
        let mut hit = |check: &'static str, field: String, message: String| {
            out.push(Hit {
                check,
                address: d.address.clone(),
                field,
                message,
                span: d.span.clone(),
            });
        };
        let p = &d.props;
        match d.kind.as_str() {
            "EksCluster" => eks_cluster(p, &mut hit),
            "DbInstance" => db_instance(p, prod_only, &mut hit),
            "RdsCluster" => rds_cluster(p, prod_only, &mut hit),
            // An Aurora cluster's instance: only its own public address is its to decide.
            "RdsClusterInstance" => publicly_accessible(p, &mut hit),
            "SecurityGroupRule" => security_group_rule(p, &sensitive, &mut hit),
            "KmsKey" => {
                if !flag(p, "enable_rotation", true) {
                    hit(
                        "INFRA-KMS-001",
                        "enable_rotation".into(),
                        format!(
                            "{}: the key material is never rotated",
                            shown(p, "enable_rotation", true)
                        ),
                    );
                }
            }
            _ => {}
        }
        if d.kind == "IamRole"
            && let Some(doc) = p.get("assume_role_policy")
        {
            oidc_trust(doc, &mut hit);
        }
        if d.kind.starts_with("Iam") {
            admin_statements(p, &mut hit);
        }
    }
    out
}

type HitFn<'a> = dyn FnMut(&'static str, String, String) + 'a;

/// A string holding a `${address.output}` reference, or the sentinel a
/// resolved reference leaves when its value is not known yet: known only at apply.
fn is_ref(s: &str) -> bool {
    s.contains("${") || s == crate::model::UNKNOWN
}

/// A boolean prop as the kinds read it (`as_bool`, else the default); a
/// reference counts as set.
fn flag(p: &Props, key: &str, default: bool) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if is_ref(s) => true,
        _ => default,
    }
}

/// How a boolean prop reads, for a message: `multi_az = false`,
/// `multi_az is not set (false)`, `multi_az = "yes", not a boolean (read as false)`.
fn shown(p: &Props, key: &str, default: bool) -> String {
    match p.get(key) {
        None | Some(Value::Null) => format!("{key} is not set (read as {default})"),
        Some(Value::Bool(b)) => format!("{key} = {b}"),
        Some(v) => format!("{key} = {v}, not a boolean (read as {default})"),
    }
}

/// A list of strings, also from a lone string; other elements are skipped.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `0.0.0.0/0`, `::/0` or any other CIDR of prefix 0: every address.
fn is_world(cidr: &str) -> bool {
    cidr.trim()
        .parse::<ipnet::IpNet>()
        .is_ok_and(|n| n.prefix_len() == 0)
}

fn eks_cluster(p: &Props, hit: &mut HitFn<'_>) {
    if flag(p, "endpoint_public_access", false) {
        let cidrs = strings(p.get("public_access_cidrs"));
        let open: Vec<&str> = cidrs
            .iter()
            .map(String::as_str)
            .filter(|c| is_world(c))
            .collect();
        if cidrs.is_empty() {
            hit(
                "INFRA-EKS-001",
                "public_access_cidrs".into(),
                "the public endpoint is on and public_access_cidrs is empty, so AWS opens it to 0.0.0.0/0".into(),
            );
        } else if !open.is_empty() {
            hit(
                "INFRA-EKS-001",
                "public_access_cidrs".into(),
                format!(
                    "the public endpoint is open to {}: anyone on the internet can reach the Kubernetes API",
                    open.join(", ")
                ),
            );
        }
    }
    let encrypted =
        matches!(p.get("encryption_key_arn"), Some(Value::String(s)) if !s.trim().is_empty());
    if !encrypted {
        hit(
            "INFRA-EKS-002",
            "encryption_key_arn".into(),
            "no encryption_key_arn: Kubernetes secrets are stored without envelope encryption by a KMS key".into(),
        );
    }
    let audit = match p.get("log_types") {
        Some(Value::String(s)) => is_ref(s) || s == "audit",
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .any(|t| t == "audit" || is_ref(t)),
        _ => false,
    };
    if !audit {
        let types = strings(p.get("log_types"));
        let now = if types.is_empty() {
            "no log types are on".to_string()
        } else {
            format!("log_types = [{}]", types.join(", "))
        };
        hit(
            "INFRA-EKS-003",
            "log_types".into(),
            format!(
                "{now}: without \"audit\" nobody can tell who did what through the Kubernetes API"
            ),
        );
    }
}

fn db_instance(p: &Props, prod_only: &dyn Fn(&str) -> bool, hit: &mut HitFn<'_>) {
    let engine = p.get("engine").and_then(Value::as_str).unwrap_or_default();
    // An Aurora instance: storage, Multi-AZ and deletion protection belong to its cluster.
    if !engine.to_ascii_lowercase().starts_with("aurora") {
        if prod_only("INFRA-RDS-001") && !flag(p, "multi_az", false) {
            hit(
                "INFRA-RDS-001",
                "multi_az".into(),
                format!(
                    "{}: one AZ outage takes the database down",
                    shown(p, "multi_az", false)
                ),
            );
        }
        if !flag(p, "storage_encrypted", false) {
            hit(
                "INFRA-RDS-002",
                "storage_encrypted".into(),
                format!(
                    "{}: data, backups and snapshots are stored unencrypted",
                    shown(p, "storage_encrypted", false)
                ),
            );
        }
        if prod_only("INFRA-RDS-003") && !flag(p, "deletion_protection", false) {
            hit(
                "INFRA-RDS-003",
                "deletion_protection".into(),
                format!(
                    "{}: one delete call removes the database",
                    shown(p, "deletion_protection", false)
                ),
            );
        }
    }
    publicly_accessible(p, hit);
}

fn rds_cluster(p: &Props, prod_only: &dyn Fn(&str) -> bool, hit: &mut HitFn<'_>) {
    // Aurora keeps storage in three AZs by itself; only a Multi-AZ DB cluster says multi_az.
    if prod_only("INFRA-RDS-001") && p.contains_key("multi_az") && !flag(p, "multi_az", false) {
        hit(
            "INFRA-RDS-001",
            "multi_az".into(),
            format!(
                "{}: one AZ outage takes the database down",
                shown(p, "multi_az", false)
            ),
        );
    }
    // Aurora Serverless v1 is always encrypted.
    let serverless_v1 = p.get("engine_mode").and_then(Value::as_str) == Some("serverless");
    if !serverless_v1 && !flag(p, "storage_encrypted", false) {
        hit(
            "INFRA-RDS-005",
            "storage_encrypted".into(),
            format!(
                "{}: data, backups and snapshots are stored unencrypted",
                shown(p, "storage_encrypted", false)
            ),
        );
    }
    if prod_only("INFRA-RDS-006") && !flag(p, "deletion_protection", false) {
        hit(
            "INFRA-RDS-006",
            "deletion_protection".into(),
            format!(
                "{}: one delete call removes the cluster",
                shown(p, "deletion_protection", false)
            ),
        );
    }
    publicly_accessible(p, hit);
}

fn publicly_accessible(p: &Props, hit: &mut HitFn<'_>) {
    if flag(p, "publicly_accessible", false) {
        hit(
            "INFRA-RDS-004",
            "publicly_accessible".into(),
            format!(
                "{}: the database gets a public address",
                shown(p, "publicly_accessible", false)
            ),
        );
    }
}

/// The ports a rule opens, as [`security_group_rule`] sees them.
#[derive(Clone, Copy)]
enum Ports {
    All,
    Range(i64, i64),
    /// A port that is a reference: any port.
    Unknown,
}

/// A port as the kind reads it (`as_i64`, else -1: all ports).
fn port(p: &Props, key: &str) -> Option<i64> {
    match p.get(key) {
        Some(Value::String(s)) if is_ref(s) => None,
        Some(v) => Some(v.as_i64().unwrap_or(-1)),
        None => Some(-1),
    }
}

fn security_group_rule(p: &Props, sensitive: &[(i64, String)], hit: &mut HitFn<'_>) {
    if p.get("direction").and_then(Value::as_str) == Some("egress") {
        return;
    }
    let cidrs = strings(p.get("cidr"));
    let open: Vec<&str> = cidrs
        .iter()
        .map(String::as_str)
        .filter(|c| is_world(c))
        .collect();
    if open.is_empty() {
        return;
    }
    // The kind sends "-1" (every protocol) unless protocol is a string.
    let protocol = p
        .get("protocol")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "-1".into());
    let ports = match protocol.as_str() {
        "-1" | "all" => Ports::All,
        "tcp" | "6" | "udp" | "17" => ports_of(p),
        other if is_ref(other) => ports_of(p),
        // icmp and protocols without ports.
        _ => return,
    };
    let reached: Vec<String> = sensitive
        .iter()
        .filter(|(n, _)| match ports {
            Ports::All | Ports::Unknown => true,
            Ports::Range(a, b) => (a..=b).contains(n),
        })
        .map(|(n, name)| format!("{n} ({name})"))
        .collect();
    if reached.is_empty() {
        return;
    }
    let over = match ports {
        Ports::All if protocol == "-1" || protocol == "all" => {
            "every protocol and port".to_string()
        }
        Ports::All => format!("{protocol}, every port"),
        Ports::Range(a, b) if a == b => format!("{protocol} port {a}"),
        Ports::Range(a, b) => format!("{protocol} ports {a}-{b}"),
        Ports::Unknown => format!("{protocol}, a port known only at apply"),
    };
    hit(
        "INFRA-NET-001",
        "cidr".into(),
        format!(
            "ingress from {} on {over} reaches {}",
            open.join(", "),
            reached.join(", ")
        ),
    );
}

fn ports_of(p: &Props) -> Ports {
    match (port(p, "from_port"), port(p, "to_port")) {
        (None, _) | (_, None) => Ports::Unknown,
        (Some(a), Some(b)) if a < 0 || b < 0 => Ports::All,
        (Some(a), Some(b)) => Ports::Range(a.min(b), a.max(b)),
    }
}

/// A policy document: an object, or JSON text of one.
fn document(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) if m.contains_key("Statement") => Some(v.clone()),
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|d| d.get("Statement").is_some()),
        _ => None,
    }
}

/// A document's statements with their paths below it (`Statement[0]`, or
/// `Statement` when it is a single object).
fn statements(doc: &Value) -> Vec<(String, &Map<String, Value>)> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((format!("Statement[{i}]"), s.as_object()?)))
            .collect(),
        Some(Value::Object(s)) => vec![("Statement".into(), s)],
        _ => Vec::new(),
    }
}

fn allows(s: &Map<String, Value>) -> bool {
    s.get("Effect")
        .and_then(Value::as_str)
        .is_none_or(|e| !e.eq_ignore_ascii_case("deny"))
}

/// An IRSA-style trust: every `Federated` principal (except SAML) must come
/// with `<issuer>:sub` and `<issuer>:aud` conditions.
fn oidc_trust(v: &Value, hit: &mut HitFn<'_>) {
    let Some(doc) = document(v) else { return };
    for (path, s) in statements(&doc) {
        if !allows(s) {
            continue;
        }
        let federated = strings(s.get("Principal").and_then(|p| p.get("Federated")));
        if federated.is_empty() {
            continue;
        }
        let actions = strings(s.get("Action"));
        let saml = federated.iter().all(|f| f.contains(":saml-provider/"))
            || (!actions.is_empty()
                && actions
                    .iter()
                    .all(|a| a.eq_ignore_ascii_case("sts:AssumeRoleWithSAML")));
        if saml {
            continue;
        }
        let (sub, aud) = pinned_claims(s.get("Condition"));
        let missing: Vec<&str> = [(!sub).then_some("sub"), (!aud).then_some("aud")]
            .into_iter()
            .flatten()
            .collect();
        if missing.is_empty() {
            continue;
        }
        let why = match (sub, aud) {
            (false, false) => {
                "any identity that issuer vouches for, for any audience, can assume this role"
            }
            (false, true) => {
                "any subject of that issuer (every service account in the cluster) can assume this role"
            }
            _ => "tokens the issuer minted for other audiences are accepted",
        };
        let missing = missing
            .iter()
            .map(|c| format!("\"<issuer>:{c}\""))
            .collect::<Vec<_>>()
            .join(" and ");
        hit(
            "INFRA-IAM-001",
            format!("assume_role_policy.{path}.Condition"),
            format!(
                "trusts {} with no StringEquals/StringLike on {missing}: {why}",
                federated.join(", ")
            ),
        );
    }
}

/// Whether a statement's Condition pins `<issuer>:sub` and `<issuer>:aud`
/// (StringEquals or StringLike, set operators and IfExists included; a
/// StringLike of only `*` pins nothing).
fn pinned_claims(condition: Option<&Value>) -> (bool, bool) {
    let (mut sub, mut aud) = (false, false);
    let Some(Value::Object(ops)) = condition else {
        return (false, false);
    };
    for (op, keys) in ops {
        let base = op.rsplit(':').next().unwrap_or(op);
        let base = base
            .strip_suffix("IfExists")
            .unwrap_or(base)
            .to_ascii_lowercase();
        let like = base == "stringlike";
        if base != "stringequals" && !like {
            continue;
        }
        let Value::Object(keys) = keys else { continue };
        for (key, value) in keys {
            let values = strings(Some(value));
            let pins = !values.is_empty()
                && !(like && values.iter().all(|v| v.trim().chars().all(|c| c == '*')));
            let key = key.to_ascii_lowercase();
            if pins && key.ends_with(":sub") {
                sub = true;
            }
            if pins && key.ends_with(":aud") {
                aud = true;
            }
        }
    }
    (sub, aud)
}

/// `*` on `*` anywhere in an IAM kind's props: in every policy document
/// (objects with a Statement, or JSON text of one), and the AWS managed
/// AdministratorAccess policy attached by ARN.
fn admin_statements(p: &Props, hit: &mut HitFn<'_>) {
    for (key, v) in p {
        walk(v, key, hit);
    }
}

fn walk(v: &Value, path: &str, hit: &mut HitFn<'_>) {
    if let Some(doc) = document(v) {
        for (sub, s) in statements(&doc) {
            let wild = |key: &str| {
                strings(s.get(key))
                    .iter()
                    .any(|a| a.trim() == "*" || a.trim() == "*:*")
            };
            if allows(s) && wild("Action") && wild("Resource") {
                let sid = s
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(|id| format!(" {id:?}"))
                    .unwrap_or_default();
                hit(
                    "INFRA-IAM-002",
                    format!("{path}.{sub}"),
                    format!(
                        "statement{sid} allows Action \"*\" on Resource \"*\": full administrator access"
                    ),
                );
            }
        }
        return;
    }
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, i)| walk(i, &format!("{path}.{k}"), hit)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(n, i)| walk(i, &format!("{path}[{n}]"), hit)),
        Value::String(s)
            if s.trim().ends_with(":policy/AdministratorAccess")
                && s.trim().starts_with("arn:aws") =>
        {
            hit(
                "INFRA-IAM-002",
                path.to_string(),
                format!(
                    "attaches {s}, which allows Action \"*\" on Resource \"*\": full administrator access"
                ),
            )
        }
        _ => {}
    }
}
