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
