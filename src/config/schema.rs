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
    pub database: Option<Database>,
    /// Customer managed keys, one per service.
    pub kms: Option<Kms>,
    /// Per-workload IAM roles (IRSA) the platform's pods assume.
    #[serde(default)]
    pub workload_identity: Vec<Spanned<WorkloadIdentity>>,
    /// The public zone and its certificate.
    pub dns: Option<Dns>,
    /// Monthly cost: the NAT traffic assumption and the env's budget.
    pub cost: Option<Spanned<crate::cost::CostSettings>>,
    /// Guardrails: which checks deny, which warn, and reasoned waivers.
    pub policy: Option<Spanned<crate::policy::PolicySettings>>,
    /// Where state lives: the local file (default) or S3 with a lease.
    pub state: Option<Spanned<crate::state::backend::StateSettings>>,
    /// Human access to the cluster through EKS access entries, one per group role.
    #[serde(default)]
    pub access: Vec<Spanned<Access>>,
    /// Extra resources of any kind, keyed by address, with explicit
    /// `${address.output}` references.
    #[serde(default)]
    pub resources: BTreeMap<String, Spanned<CustomResource>>,
    /// Renames: the resource at `from` in state is now `to` in the plan
    /// (done on the next `up`, shown in the plan as a move).
    #[serde(default)]
    pub moved: Vec<Spanned<Moved>>,
}

/// `[[moved]] from = "..." to = "..."`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

impl PlanFile {
    pub fn cluster_name(&self, env: &str) -> String {
        format!("{}-{env}", self.project)
    }

    pub fn cost_settings(&self) -> crate::cost::CostSettings {
        self.cost
            .as_ref()
            .map(|c| c.get_ref().clone())
            .unwrap_or_default()
    }

    pub fn policy_settings(&self) -> crate::policy::PolicySettings {
        self.policy
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_default()
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
    /// EKS makes the cluster's creator a cluster admin (fixed at creation);
    /// prod turns it off and names a platform-admin access entry instead.
    #[serde(default = "yes")]
    pub bootstrap_cluster_creator_admin: bool,
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
        self.public_access_cidrs
            .as_ref()
            .map(|c| c.get_ref().as_slice())
            .unwrap_or_default()
    }

    pub fn public_cidrs_span(&self) -> Option<std::ops::Range<usize>> {
        self.public_access_cidrs
            .as_ref()
            .map(|c| c.span())
            .or_else(|| Some(self.version.span()))
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

/// RDS PostgreSQL in the data subnets, password managed by RDS in Secrets Manager.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres` (an RDS instance, the default) or `aurora-postgresql`
    /// (an Aurora cluster with a Serverless v2 writer).
    #[serde(default = "default_engine")]
    pub engine: Spanned<String>,
    /// The instance's (Aurora: the cluster's) identifier; default
    /// `<cluster name>-db`. For a database made before infra (the seed's
    /// Terraform names it `todo-<env>`): a new identifier is a new database.
    pub identifier: Option<Spanned<String>>,
    /// `16.x`; a new major version is a new instance.
    pub engine_version: Spanned<String>,
    /// The instance form's class; Aurora Serverless v2 uses `db.serverless`.
    pub instance_class: Option<Spanned<String>>,
    /// Aurora only: capacity limits in ACUs, changed in place.
    pub serverless_v2: Option<Spanned<ServerlessV2>>,
    #[serde(default = "default_storage")]
    pub allocated_storage: i64,
    #[serde(default)]
    pub multi_az: bool,
    pub backup_retention_days: Spanned<i64>,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub performance_insights: bool,
    /// Modifies apply now (true) or in the next maintenance window (false).
    pub apply_immediately: bool,
    /// Take a final snapshot when destroyed.
    #[serde(default)]
    pub final_snapshot: bool,
    /// Refuse `destroy` of the database.
    #[serde(default)]
    pub protect: bool,
    #[serde(default = "default_db_name")]
    pub db_name: String,
    #[serde(default = "default_master")]
    pub master_username: String,
    pub wait_timeout_minutes: Option<u64>,
}

fn default_engine() -> Spanned<String> {
    Spanned::new(0..0, "postgres".into())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerlessV2 {
    pub min_acu: f64,
    pub max_acu: f64,
}

fn default_storage() -> i64 {
    20
}

fn default_db_name() -> String {
    "app".into()
}

fn default_master() -> String {
    "app_admin".into()
}

/// One customer managed key per service, each with an alias and rotation on.
/// A service whose key is off uses the AWS-managed key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kms {
    /// Envelope encryption of Kubernetes secrets.
    #[serde(default)]
    pub eks: bool,
    /// RDS storage encryption.
    #[serde(default)]
    pub rds: bool,
    /// CloudWatch Logs and S3 (the key policy lets the logs service use it).
    #[serde(default)]
    pub logs: bool,
    /// Days a destroyed key waits before AWS deletes it (7 to 30; 30 when absent).
    pub deletion_window_days: Option<Spanned<i64>>,
}

impl Kms {
    pub fn deletion_window(&self) -> i64 {
        self.deletion_window_days
            .as_ref()
            .map(|d| *d.get_ref())
            .unwrap_or(30)
    }
}

/// An IAM role one Kubernetes service account assumes through the cluster's
/// OIDC provider (IRSA) or, with `pod_identity`, an EKS Pod Identity association.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIdentity {
    pub name: String,
    pub namespace: String,
    pub service_account: String,
    /// Use an EKS Pod Identity association instead of the OIDC trust.
    #[serde(default)]
    pub pod_identity: bool,
    /// Permissions: a built-in set, managed policy ARNs and inline statements.
    #[serde(default)]
    pub builtin: Option<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub statements: Vec<Statement>,
}

/// One IAM policy statement; `resources` may reference other resources
/// (`${db_instance.main.master_secret_arn}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A public hosted zone for the plan's domain and an ACM certificate for the
/// domain and `*.domain`, validated through DNS records in that zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub domain: Spanned<String>,
    /// How long to wait for the certificate to be ISSUED.
    pub certificate_timeout_minutes: Option<u64>,
}

/// The human access roles of the platform (seed: viewer … break-glass).
pub const ACCESS_ROLES: &[&str] = &[
    "viewer",
    "developer",
    "operator",
    "platform-admin",
    "security-auditor",
    "break-glass",
];

/// One group's access to the cluster: an IAM role (an SSO permission set's,
/// say) gets an EKS access entry and the access policies of its `role`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub name: String,
    pub principal_arn: String,
    /// One of [`ACCESS_ROLES`].
    pub role: String,
    /// The namespaces a developer or operator may change (required for them).
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    /// Break-glass only: the entry exists until this RFC 3339 time.
    pub until: Option<String>,
    /// platform-admin only: add AmazonEKSClusterAdminPolicy as well.
    #[serde(default)]
    pub cluster_admin: bool,
}

impl Access {
    /// When a break-glass entry stops existing (UTC, `Z` optional).
    pub fn expires_at(&self) -> Option<std::time::SystemTime> {
        self.until
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    }
}
