//! `infra adopt --from-terraform FILE.tfstate`: maps what a Terraform state
//! holds onto the addresses the plan expands to, by type and attributes
//! (ids, names, CIDRs, ARNs) and never by module path, then tags the mapped
//! resources with infra's identity and writes their state rows.
//!
//! Matching runs to a fixpoint: a resource is mapped when exactly one
//! unmapped Terraform instance of its types agrees on every attribute whose
//! value is known so far (references resolve through what is already
//! mapped), or when a mapped resource's attribute names it (a NAT gateway's
//! `allocation_id` names its EIP, a cluster's `role_arn` its role).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::tfstate::{Instance, TfState};
use crate::graph::ResourceGraph;
use crate::model::{Outputs, Ref, has_unknown, resolve};

/// How a kind is found in Terraform: its types and (infra prop, Terraform attribute) pairs.
struct Rule {
    kind: &'static str,
    types: &'static [&'static str],
    pairs: &'static [(&'static str, &'static str)],
}

const RULES: &[Rule] = &[
    Rule {
        kind: "Vpc",
        types: &["aws_vpc"],
        pairs: &[("cidr", "cidr_block")],
    },
    Rule {
        kind: "Subnet",
        types: &["aws_subnet"],
        pairs: &[
            ("cidr", "cidr_block"),
            ("az", "availability_zone"),
            ("vpc_id", "vpc_id"),
        ],
    },
    Rule {
        kind: "InternetGateway",
        types: &["aws_internet_gateway"],
        pairs: &[("vpc_id", "vpc_id")],
    },
    Rule {
        kind: "ElasticIp",
        types: &["aws_eip"],
        pairs: &[],
    },
    Rule {
        kind: "NatGateway",
        types: &["aws_nat_gateway"],
        pairs: &[
            ("subnet_id", "subnet_id"),
            ("allocation_id", "allocation_id"),
        ],
    },
    Rule {
        kind: "RouteTable",
        types: &["aws_route_table"],
        pairs: &[("vpc_id", "vpc_id")],
    },
    Rule {
        kind: "Route",
        types: &["aws_route"],
        pairs: &[
            ("route_table_id", "route_table_id"),
            ("destination_cidr", "destination_cidr_block"),
            ("gateway_id", "gateway_id"),
            ("nat_gateway_id", "nat_gateway_id"),
        ],
    },
    Rule {
        kind: "RouteTableAssociation",
        types: &["aws_route_table_association"],
        pairs: &[
            ("subnet_id", "subnet_id"),
            ("route_table_id", "route_table_id"),
        ],
    },
    Rule {
        kind: "SecurityGroup",
        types: &["aws_security_group"],
        pairs: &[("vpc_id", "vpc_id"), ("name", "name")],
    },
    Rule {
        kind: "SecurityGroupRule",
        types: &[
            "aws_security_group_rule",
            "aws_vpc_security_group_ingress_rule",
            "aws_vpc_security_group_egress_rule",
        ],
        pairs: &[],
    },
    Rule {
        kind: "IamRole",
        types: &["aws_iam_role"],
        pairs: &[("name", "name")],
    },
    Rule {
        kind: "IamRolePolicyAttachment",
        types: &["aws_iam_role_policy_attachment"],
        pairs: &[("role", "role"), ("policy_arn", "policy_arn")],
    },
    Rule {
        kind: "IamRolePolicy",
        types: &["aws_iam_role_policy"],
        pairs: &[("role", "role"), ("name", "name")],
    },
    Rule {
        kind: "IamInstanceProfile",
        types: &["aws_iam_instance_profile"],
        pairs: &[("name", "name"), ("role", "role")],
    },
    Rule {
        kind: "IamOidcProvider",
        types: &["aws_iam_openid_connect_provider"],
        pairs: &[("url", "url")],
    },
    Rule {
        kind: "EksCluster",
        types: &["aws_eks_cluster"],
        pairs: &[("name", "name"), ("role_arn", "role_arn")],
    },
    Rule {
        kind: "EksNodegroup",
        types: &["aws_eks_node_group"],
        pairs: &[
            ("cluster_name", "cluster_name"),
            ("name", "node_group_name"),
            ("node_role_arn", "node_role_arn"),
        ],
    },
    Rule {
        kind: "EksAddon",
        types: &["aws_eks_addon"],
        pairs: &[
            ("cluster_name", "cluster_name"),
            ("name", "addon_name"),
            ("service_account_role_arn", "service_account_role_arn"),
        ],
    },
    Rule {
        kind: "EksAccessEntry",
        types: &["aws_eks_access_entry"],
        pairs: &[
            ("cluster_name", "cluster_name"),
            ("principal_arn", "principal_arn"),
        ],
    },
    Rule {
        kind: "KmsKey",
        types: &["aws_kms_key"],
        pairs: &[],
    },
    Rule {
        kind: "KmsAlias",
        types: &["aws_kms_alias"],
        pairs: &[("name", "name"), ("target_key_id", "target_key_id")],
    },
    Rule {
        kind: "SqsQueue",
        types: &["aws_sqs_queue"],
        pairs: &[("name", "name")],
    },
    Rule {
        kind: "SqsQueuePolicy",
        types: &["aws_sqs_queue_policy"],
        pairs: &[("queue_url", "queue_url")],
    },
    Rule {
        kind: "EventRule",
        types: &["aws_cloudwatch_event_rule"],
        pairs: &[("name", "name")],
    },
    Rule {
        kind: "DbSubnetGroup",
        types: &["aws_db_subnet_group"],
        pairs: &[("name", "name")],
    },
    Rule {
        kind: "DbParameterGroup",
        types: &["aws_db_parameter_group"],
        pairs: &[("name", "name"), ("family", "family")],
    },
    Rule {
        kind: "DbInstance",
        types: &["aws_db_instance"],
        pairs: &[
            ("identifier", "identifier"),
            ("engine", "engine"),
            ("db_subnet_group_name", "db_subnet_group_name"),
            ("parameter_group_name", "parameter_group_name"),
        ],
    },
    Rule {
        kind: "Route53Zone",
        types: &["aws_route53_zone"],
        pairs: &[("name", "name")],
    },
    Rule {
        kind: "Route53Record",
        types: &["aws_route53_record"],
        pairs: &[("zone_id", "zone_id"), ("name", "name"), ("type", "type")],
    },
    Rule {
        kind: "AcmCertificate",
        types: &["aws_acm_certificate"],
        pairs: &[("domain_name", "domain_name")],
    },
    Rule {
        kind: "AcmCertificateValidation",
        types: &["aws_acm_certificate_validation"],
        pairs: &[("certificate_arn", "certificate_arn")],
    },
];

/// Terraform types whose resources infra does not manage (said so, not an error).
const NOT_MANAGED: &[(&str, &str)] = &[
    (
        "aws_cloudwatch_log_group",
        "infra leaves the cluster's log group to EKS",
    ),
    (
        "aws_launch_template",
        "infra's node groups use EKS's default launch template",
    ),
    (
        "aws_iam_policy",
        "infra keeps policies inline on their roles",
    ),
    (
        "aws_cloudwatch_event_target",
        "part of infra's EventRule, found with it",
    ),
    (
        "aws_eks_access_policy_association",
        "infra makes it from [[access]]",
    ),
    ("aws_security_group_rule_set", "not an AWS resource"),
    ("aws_ec2_tag", "a tag, not a resource"),
    (
        "aws_secretsmanager_secret",
        "the master secret is RDS's own",
    ),
    ("aws_iam_service_linked_role", "AWS owns it"),
    (
        "aws_default_security_group",
        "the VPC's default group is AWS's",
    ),
    ("aws_default_network_acl", "the VPC's default ACL is AWS's"),
    (
        "aws_default_route_table",
        "the VPC's default route table is AWS's",
    ),
    (
        "aws_iam_role_policy_attachment_exclusive",
        "not an AWS resource",
    ),
    ("time_sleep", "not an AWS resource"),
    ("null_resource", "not an AWS resource"),
    ("tls_certificate", "not an AWS resource"),
    ("random_id", "not an AWS resource"),
    ("random_password", "not an AWS resource"),
];

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Adopted,
    AdoptedWithDifferences,
    NotMapped,
    Refused,
}

impl Verdict {
    pub fn text(&self) -> &'static str {
        match self {
            Verdict::Adopted => "adopted",
            Verdict::AdoptedWithDifferences => "adopted with differences",
            Verdict::NotMapped => "not mapped",
            Verdict::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub terraform: String,
    pub infra: Option<String>,
    pub kind: Option<String>,
    pub id: String,
    pub verdict: Verdict,
    /// Why not mapped or refused; the differing fields when adopted with differences.
    pub detail: String,
}

/// One mapped resource: its infra address and kind, the id infra uses, its outputs.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub address: String,
    pub kind: String,
    pub id: String,
    pub outputs: Outputs,
    pub terraform: String,
}

/// The id infra keys a resource by, from Terraform's attributes.
fn infra_id(kind: &str, i: &Instance) -> String {
    let pick = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| i.attr(k).filter(|v| !v.is_empty()))
            .unwrap_or_else(|| i.id())
            .to_string()
    };
    match kind {
        // Provider v5: the instance's `id` is its resource id; infra uses the identifier.
        "DbInstance" => pick(&["identifier"]),
        "SecurityGroupRule" => pick(&["security_group_rule_id"]),
        "EksCluster" => pick(&["name"]),
        "IamRole" | "IamInstanceProfile" => pick(&["name"]),
        "SqsQueue" => pick(&["url", "id"]),
        "Route53Zone" => pick(&["zone_id"]),
        _ => i.id().to_string(),
    }
}

fn outputs_of(kind: &str, i: &Instance) -> Outputs {
    let mut out = Outputs::new();
    if let Some(obj) = i.attributes.as_object() {
        for (k, v) in obj {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    out.insert("id".into(), infra_id(kind, i));
    if kind == "EksNodegroup"
        && let Some(n) = i.attr("node_group_name")
    {
        out.insert("name".into(), n.to_string());
    }
    if kind == "EksCluster"
        && let Some(issuer) = i
            .attributes
            .pointer("/identity/0/oidc/0/issuer")
            .and_then(|v| v.as_str())
    {
        out.insert("oidc_issuer".into(), issuer.to_string());
        out.insert(
            "oidc_issuer_host".into(),
            issuer.trim_start_matches("https://").to_string(),
        );
    }
    if kind == "DbInstance"
        && let Some(r) = i.attr("resource_id")
    {
        out.insert("resource_id".into(), r.to_string());
    }
    out
}

fn norm(s: &str) -> &str {
    s.trim_start_matches("https://").trim_end_matches('.')
}

/// Whether a known infra value equals a Terraform attribute value.
fn equal(infra: &Value, tf: Option<&Value>) -> bool {
    let Some(tf) = tf else { return false };
    match (infra, tf) {
        (Value::String(a), Value::String(b)) => norm(a) == norm(b),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) => a.to_string() == *b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            let set = |v: &Vec<Value>| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
            set(a) == set(b)
        }
        _ => false,
    }
}

/// A security group rule against Terraform's two rule shapes.
fn rule_matches(props: &crate::model::Props, i: &Instance) -> Option<bool> {
    let get = |k: &str| props.get(k).filter(|v| !has_unknown(v));
    let group = get("group_id")?;
    let a = &i.attributes;
    let (kind, group_attr, protocol_attr, cidr_attr, source_attr) = match i.kind.as_str() {
        "aws_security_group_rule" => (
            a.get("type")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            "security_group_id",
            "protocol",
            "cidr_blocks",
            "source_security_group_id",
        ),
        "aws_vpc_security_group_ingress_rule" => (
            "ingress".to_string(),
            "security_group_id",
            "ip_protocol",
            "cidr_ipv4",
            "referenced_security_group_id",
        ),
        _ => (
            "egress".to_string(),
            "security_group_id",
            "ip_protocol",
            "cidr_ipv4",
            "referenced_security_group_id",
        ),
    };
    if !equal(group, a.get(group_attr))
        || get("direction").and_then(|v| v.as_str()) != Some(kind.as_str())
    {
        return Some(false);
    }
    let protocol = get("protocol").and_then(|v| v.as_str()).unwrap_or("-1");
    let tf_protocol = a
        .get(protocol_attr)
        .and_then(|v| v.as_str())
        .unwrap_or("-1");
    let all = |p: &str| p == "-1" || p == "all";
    if !(protocol == tf_protocol || all(protocol) && all(tf_protocol)) {
        return Some(false);
    }
    if !all(protocol) {
        let port = |k: &str| a.get(k).and_then(|v| v.as_i64());
        if get("from_port").and_then(|v| v.as_i64()) != port("from_port")
            || get("to_port").and_then(|v| v.as_i64()) != port("to_port")
        {
            return Some(false);
        }
    }
    if let Some(cidr) = props.get("cidr").and_then(|v| v.as_str()) {
        let tf_cidrs: Vec<&str> = match a.get(cidr_attr) {
            Some(Value::Array(v)) => v.iter().filter_map(|x| x.as_str()).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        return Some(tf_cidrs == [cidr]);
    }
    if props.get("self").and_then(|v| v.as_bool()) == Some(true)
        || props.get("source_group_id").is_some_and(|v| v == group)
    {
        let is_self = a.get("self").and_then(|v| v.as_bool()) == Some(true)
            || a.get(source_attr).is_some_and(|v| v == group);
        return Some(is_self);
    }
    let source = get("source_group_id")?;
    Some(equal(source, a.get(source_attr)))
}

/// Maps Terraform instances onto the plan's addresses: by attributes, then
/// by what mapped instances refer to, until neither finds more; then one row
/// per instance saying what became of it.
pub fn map(graph: &ResourceGraph, state: &TfState) -> (Vec<Mapped>, Vec<Row>) {
    let instances = state.instances();
    let mut m = Matcher {
        graph,
        instances: &instances,
        rules: RULES.iter().map(|r| (r.kind, r)).collect(),
        used: BTreeSet::new(),
        mapped: BTreeMap::new(),
    };
    while m.by_attributes() | m.by_references() {}
    report(graph, &instances, &m.mapped)
}

/// The matching under way: each plan address mapped to one instance.
struct Matcher<'a> {
    graph: &'a ResourceGraph,
    instances: &'a [Instance],
    rules: HashMap<&'static str, &'static Rule>,
    /// Instances already mapped, by index.
    used: BTreeSet<usize>,
    /// Plan address → (instance index, its outputs).
    mapped: BTreeMap<String, (usize, Outputs)>,
}

impl Matcher<'_> {
    /// The instances still free that `rule`'s Terraform types cover.
    fn free<'r>(&'r self, rule: &'r Rule) -> impl Iterator<Item = (usize, &'r Instance)> + 'r {
        self.instances.iter().enumerate().filter(|(n, i)| {
            !self.used.contains(n)
                && i.mode == "managed"
                && !i.tainted
                && !i.deposed
                && rule.types.contains(&i.kind.as_str())
        })
    }

    fn take(&mut self, address: &str, kind: &str, n: usize) {
        self.used.insert(n);
        let outputs = outputs_of(kind, &self.instances[n]);
        self.mapped.insert(address.to_string(), (n, outputs));
    }

    /// Maps each unmapped address whose resolved attributes match exactly
    /// one free instance; whether any was.
    fn by_attributes(&mut self) -> bool {
        let mut progress = false;
        for d in self.graph.in_order() {
            if self.mapped.contains_key(&d.address) {
                continue;
            }
            let Some(rule) = self.rules.get(d.kind.as_str()).copied() else {
                continue;
            };
            let lookup = |r: &Ref| {
                self.mapped
                    .get(&r.address)
                    .and_then(|(_, o)| o.get(&r.output).cloned())
            };
            let Ok(resolved) = resolve(&d.props, &lookup, true) else {
                continue;
            };
            let candidates: Vec<usize> = self
                .free(rule)
                .filter(|(_, i)| attributes_match(rule, &resolved, i))
                .map(|(n, _)| n)
                .collect();
            if let [n] = candidates[..] {
                self.take(&d.address, &d.kind, n);
                progress = true;
            }
        }
        progress
    }

    /// Back references: a mapped instance's attribute names what it refers
    /// to, which maps the referred address when exactly one free instance
    /// has that id, ARN or name; whether any was.
    fn by_references(&mut self) -> bool {
        let mut progress = false;
        for d in self.graph.in_order() {
            let Some((n, _)) = self.mapped.get(&d.address).cloned() else {
                continue;
            };
            let Some(rule) = self.rules.get(d.kind.as_str()).copied() else {
                continue;
            };
            for (prop, attr) in rule.pairs {
                let Some(r) = d
                    .props
                    .get(*prop)
                    .and_then(|v| v.as_str())
                    .and_then(Ref::parse)
                else {
                    continue;
                };
                if self.mapped.contains_key(&r.address) {
                    continue;
                }
                let Some(target) = self.graph.get(&r.address) else {
                    continue;
                };
                let Some(target_rule) = self.rules.get(target.kind.as_str()).copied() else {
                    continue;
                };
                let Some(value) = self.instances[n].attr(attr).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let found: Vec<usize> = self
                    .free(target_rule)
                    .filter(|(_, i)| {
                        ["id", "arn", "name", "identifier"]
                            .iter()
                            .any(|k| i.attr(k) == Some(value))
                    })
                    .map(|(m, _)| m)
                    .collect();
                if let [m] = found[..] {
                    self.take(&r.address, &target.kind, m);
                    progress = true;
                }
            }
        }
        progress
    }
}

/// Whether an instance has the resolved attributes `rule` compares (at
/// least one known), or, for a security group rule, is the same rule.
fn attributes_match(rule: &Rule, resolved: &crate::model::Props, i: &Instance) -> bool {
    if rule.kind == "SecurityGroupRule" {
        return rule_matches(resolved, i).unwrap_or(false);
    }
    let mut compared = 0;
    for (prop, attr) in rule.pairs {
        let Some(v) = resolved
            .get(*prop)
            .filter(|v| !has_unknown(v) && !v.is_null())
        else {
            continue;
        };
        if !equal(v, i.attributes.get(*attr)) {
            return false;
        }
        compared += 1;
    }
    compared > 0
}

/// The mapped resources, and one row per instance: adopted, or why not.
fn report(
    graph: &ResourceGraph,
    instances: &[Instance],
    mapped: &BTreeMap<String, (usize, Outputs)>,
) -> (Vec<Mapped>, Vec<Row>) {
    let mut out = Vec::new();
    let mut rows = Vec::new();
    let by_instance: HashMap<usize, &String> = mapped.iter().map(|(a, (n, _))| (*n, a)).collect();
    for (n, i) in instances.iter().enumerate() {
        let Some(address) = by_instance.get(&n) else {
            let (verdict, detail) = unmapped(i);
            rows.push(Row {
                terraform: i.address.clone(),
                infra: None,
                kind: None,
                id: i.id().to_string(),
                verdict,
                detail,
            });
            continue;
        };
        let kind = graph
            .get(address)
            .map(|d| d.kind.clone())
            .unwrap_or_default();
        let (_, outputs) = &mapped[*address];
        out.push(Mapped {
            address: (*address).clone(),
            kind: kind.clone(),
            id: infra_id(&kind, i),
            outputs: outputs.clone(),
            terraform: i.address.clone(),
        });
        rows.push(Row {
            terraform: i.address.clone(),
            infra: Some((*address).clone()),
            kind: Some(kind.clone()),
            id: infra_id(&kind, i),
            verdict: Verdict::Adopted,
            detail: String::new(),
        });
    }
    (out, rows)
}

/// Why an instance was not mapped, or was refused.
fn unmapped(i: &Instance) -> (Verdict, String) {
    if i.mode == "data" {
        let why = "a data source: Terraform only read it";
        return (Verdict::NotMapped, why.to_string());
    }
    if i.tainted {
        let why = "tainted: Terraform would replace it; fix it with Terraform first or let infra create it";
        return (Verdict::Refused, why.to_string());
    }
    if i.deposed {
        let why = "deposed: left over from a create-before-destroy; delete it with Terraform first";
        return (Verdict::Refused, why.to_string());
    }
    let why = if let Some((_, why)) = NOT_MANAGED.iter().find(|(t, _)| *t == i.kind) {
        format!("a kind infra does not manage: {why}")
    } else if let Some(rule) = RULES.iter().find(|r| r.types.contains(&i.kind.as_str())) {
        format!("the plan has no {} with these attributes", rule.kind)
    } else {
        format!("a kind infra does not manage ({})", i.kind)
    };
    (Verdict::NotMapped, why)
}

/// ARNs naming another region or account than the plan's: `(terraform address, arn)`.
pub fn foreign_arns(state: &TfState, region: &str, account: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in state.instances().iter().filter(|i| i.mode == "managed") {
        let Some(arn) = i.attr("arn") else { continue };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" {
            continue;
        }
        let (r, a) = (parts[3], parts[4]);
        if (!r.is_empty() && r != region)
            || (!a.is_empty() && a != "aws" && !account.is_empty() && a != account)
        {
            out.push((i.address.clone(), arn.to_string()));
        }
    }
    out
}

/// The mapping table as text.
pub fn table(rows: &[Row]) -> String {
    use std::fmt::Write;
    let w0 = rows
        .iter()
        .map(|r| r.terraform.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let w1 = rows
        .iter()
        .map(|r| r.infra.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(5)
        .max(5);
    let w2 = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  verdict",
        "terraform", "infra", "id"
    );
    for r in rows {
        let detail = if r.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", r.detail)
        };
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}{detail}",
            r.terraform,
            r.infra.as_deref().unwrap_or("-"),
            r.id,
            r.verdict.text()
        );
    }
    out
}
