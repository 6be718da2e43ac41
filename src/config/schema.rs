//! The plan file's schema. Unknown keys are errors everywhere.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// The platform's name; with the env it names the cluster (`todo-dev`).
    pub project: String,
    pub region: Spanned<String>,
    /// Tags added to every taggable resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub network: Option<Network>,
    pub cluster: Option<Cluster>,
    /// Extra resources of any kind, keyed by address, with explicit
    /// `${address.output}` references.
    #[serde(default)]
    pub resources: BTreeMap<String, Spanned<CustomResource>>,
}

impl PlanFile {
    pub fn cluster_name(&self, env: &str) -> String {
        format!("{}-{env}", self.project)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub cidr: Spanned<String>,
    /// The availability zones, one subnet of each tier in each.
    pub azs: Spanned<Vec<String>>,
    /// NAT gateways: 1 (shared) or one per AZ.
    pub nat_gateways: Spanned<u32>,
    /// Explicit subnet CIDRs per tier, in AZ order; derived from `cidr` when absent.
    pub subnets: Option<Spanned<ExplicitSubnets>>,
    #[serde(default)]
    pub security_groups: BTreeMap<String, Spanned<SecurityGroup>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplicitSubnets {
    pub public: Vec<Spanned<String>>,
    pub app: Vec<Spanned<String>>,
    pub data: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<Spanned<SecurityGroupRule>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupRule {
    /// Names the rule's address: `security_group_rule.<group>_<name>`.
    pub name: String,
    pub direction: Direction,
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// One port, or use `from_port` and `to_port` for a range.
    pub port: Option<i32>,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// Exactly one peer: a CIDR, another group of this plan, or the group itself.
    pub cidr: Option<Spanned<String>>,
    pub source_group: Option<Spanned<String>>,
    #[serde(default, rename = "self")]
    pub self_peer: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomResource {
    pub kind: String,
    #[serde(default)]
    pub protect: bool,
    #[serde(default)]
    pub props: toml::Table,
}

fn default_log_types() -> Vec<String> {
    vec!["api".into(), "audit".into(), "authenticator".into()]
}

fn default_auth_mode() -> String {
    "API_AND_CONFIG_MAP".into()
}

fn default_conflicts() -> String {
    "OVERWRITE".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Kubernetes version; a bump is an in-place update.
    pub version: Spanned<String>,
    /// The public endpoint; when on, `public_access_cidrs` must list who may reach it.
    #[serde(default = "yes")]
    pub endpoint_public_access: bool,
    pub public_access_cidrs: Option<Spanned<Vec<String>>>,
    #[serde(default = "default_log_types")]
    pub log_types: Vec<String>,
    #[serde(default = "default_auth_mode")]
    pub authentication_mode: String,
    /// Envelope encryption of Kubernetes secrets with a KMS key made for it.
    #[serde(default)]
    pub secrets_encryption: bool,
    /// Refuse `destroy` of the cluster.
    #[serde(default)]
    pub protect: bool,
    /// How long to wait for the cluster to become ACTIVE.
    pub wait_timeout_minutes: Option<u64>,
    #[serde(default)]
    pub node_groups: BTreeMap<String, Spanned<NodeGroup>>,
    /// Add-on name → pinned version, or `{}` for the newest compatible one.
    #[serde(default)]
    pub addons: BTreeMap<String, Addon>,
    /// How add-ons resolve conflicts with existing settings: NONE, OVERWRITE or PRESERVE.
    #[serde(default = "default_conflicts")]
    pub addon_conflicts: String,
    #[serde(default = "yes")]
    pub karpenter: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    pub instance_types: Vec<String>,
    pub capacity_type: String,
    #[serde(default = "default_ami")]
    pub ami_type: String,
    pub min_size: i64,
    pub desired_size: i64,
    pub max_size: i64,
    /// Whether infra owns `desired_size`. When false (the default), an
    /// autoscaler may change it and that is never drift.
    #[serde(default)]
    pub own_desired_size: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `key=value:NoSchedule` (or NoExecute, PreferNoSchedule).
    #[serde(default)]
    pub taints: Vec<String>,
}

impl Cluster {
    pub fn public_cidrs(&self) -> &[String] {
        self.public_access_cidrs.as_ref().map(|c| c.get_ref().as_slice()).unwrap_or_default()
    }

    pub fn public_cidrs_span(&self) -> Option<std::ops::Range<usize>> {
        self.public_access_cidrs.as_ref().map(|c| c.span()).or_else(|| Some(self.version.span()))
    }
}

fn default_ami() -> String {
    "AL2023_x86_64_STANDARD".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    pub version: Option<String>,
}

/// Parses `key=value:Effect` into (key, value, EKS effect).
pub fn parse_taint(s: &str) -> Option<(String, String, &'static str)> {
    let (kv, effect) = s.rsplit_once(':')?;
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    let effect = match effect {
        "NoSchedule" => "NO_SCHEDULE",
        "NoExecute" => "NO_EXECUTE",
        "PreferNoSchedule" => "PREFER_NO_SCHEDULE",
        _ => return None,
    };
    (!k.is_empty()).then(|| (k.to_string(), v.to_string(), effect))
}
