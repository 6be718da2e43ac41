//! Guardrails: checks run on the desired resources at plan time, before
//! anything is created.
//!
//! Every check has a stable infra id, `INFRA-<AREA>-<NNN>`, where the area is
//! the service (`EKS`, `RDS`, `NET`, `KMS`, `IAM`, `COST`) and the number is
//! never reused. The Checkov and Trivy columns name the closest rule of those
//! scanners, so a finding can be matched with a scanner's report; where the
//! scanner's rule is broader or narrower than ours, the note says how.
//!
//! | id | Checkov | Trivy | what it flags | kind: property |
//! |----|---------|-------|---------------|----------------|
//! | `INFRA-EKS-001` | CKV_AWS_38 | AVD-AWS-0041 | the public API endpoint is open to the whole internet | `EksCluster`: `endpoint_public_access` with `public_access_cidrs` holding `0.0.0.0/0` or `::/0`, or empty (AWS then opens it to `0.0.0.0/0`) |
//! | `INFRA-EKS-002` | CKV_AWS_58 | AVD-AWS-0039 | Kubernetes secrets are not envelope-encrypted with a KMS key | `EksCluster`: `encryption_key_arn` absent or empty |
//! | `INFRA-EKS-003` | CKV_AWS_37 ¹ | AVD-AWS-0038 ¹ | control-plane audit logging is off | `EksCluster`: `log_types` without `"audit"` |
//! | `INFRA-RDS-001` | CKV_AWS_157 | — | a database is not Multi-AZ (env `prod` only) | `DbInstance`: `multi_az`; `RdsCluster`: `multi_az` when the plan sets it ² |
//! | `INFRA-RDS-002` | CKV_AWS_16 | AVD-AWS-0080 | DB instance storage is not encrypted | `DbInstance`: `storage_encrypted` |
//! | `INFRA-RDS-003` | CKV_AWS_293 | AVD-AWS-0177 | DB instance deletion protection is off (env `prod` only) | `DbInstance`: `deletion_protection` |
//! | `INFRA-RDS-004` | CKV_AWS_17 | AVD-AWS-0180 | a database is publicly accessible | `DbInstance`, `RdsCluster`, `RdsClusterInstance`: `publicly_accessible` |
//! | `INFRA-RDS-005` | CKV_AWS_96 | AVD-AWS-0079 | Aurora cluster storage is not encrypted | `RdsCluster`: `storage_encrypted` |
//! | `INFRA-RDS-006` | CKV_AWS_139 | AVD-AWS-0343 | Aurora cluster deletion protection is off (env `prod` only) | `RdsCluster`: `deletion_protection` |
//! | `INFRA-NET-001` | CKV_AWS_24 ³ | AVD-AWS-0107 | a security group rule lets the whole internet reach SSH (22), RDP (3389) or PostgreSQL (5432) | `SecurityGroupRule`: `direction`, `protocol`, `from_port`/`to_port`, `cidr` |
//! | `INFRA-KMS-001` | CKV_AWS_7 | AVD-AWS-0065 | KMS key rotation is off | `KmsKey`: `enable_rotation` |
//! | `INFRA-IAM-001` | — | — | an OIDC trust does not pin both `sub` and `aud` | `IamRole`: `assume_role_policy` |
//! | `INFRA-IAM-002` | CKV_AWS_62 | AVD-AWS-0057 ⁴ | a statement allows Action `*` on Resource `*` | any `Iam*` kind: every policy document in its props (an object with `Statement`, or its JSON text), and a `policy_arn` of AWS's `AdministratorAccess` |
//! | `INFRA-COST-001` | — | — | the env has no monthly budget | the plan's `[cost] budget_monthly_usd` (address `env`) |
//!
//! ¹ Checkov and Trivy want all five log types; this check asks only for
//! `audit`. ² Aurora keeps its storage in three AZs by itself, so an
//! `RdsCluster` is only checked when it says `multi_az` (a Multi-AZ DB
//! cluster); a `DbInstance` whose `engine` starts with `aurora` is a cluster
//! member: only `publicly_accessible` is checked on it, the rest belongs to its
//! cluster. ³ CKV_AWS_24 is port 22, CKV_AWS_25 port 3389; both ids name this
//! check. ⁴ AVD-AWS-0057 flags any wildcard, this check only `*` on `*`; an
//! attached `AdministratorAccess` is Checkov's CKV_AWS_274.
//!
//! The prod-only checks (`INFRA-RDS-001`, `-003`, `-006`) run in env `prod`,
//! and in any other env whose `[policy]` lists them in `deny` or `warn`.
//!
//! Values are read the way the kinds read them when they apply: an absent
//! flag is false (except `KmsKey.enable_rotation`, on unless set to false), a
//! value that is not a boolean counts as absent, and a `${address.output}`
//! reference (or the `(known after apply)` it resolves to) counts as set (true, or "a value is there"). A reference can not
//! be `0.0.0.0/0`, but a port that is a reference may be any port, so it counts
//! as reaching the sensitive ones.
//!
//! # Deny or warn
//!
//! `[policy]` in the plan file: `deny = [ids]`, `warn = [ids]`. Without them,
//! env `prod` denies every check and any other env warns. A listed id
//! overrides that default. An id may be written as the infra id, its Checkov
//! id or its Trivy id, in any case. A denied finding that is not waived stops
//! `plan`/`up` ([`Finding::blocks`]).
//!
//! # Waivers
//!
//! ```toml
//! [[policy.waiver]]
//! id = "INFRA-EKS-001"          # or the Checkov id
//! resource = "eks_cluster.main" # the finding's address ("env" for INFRA-COST-001)
//! reason = "office VPN not ready; tracked in OPS-42"   # required, not empty
//! expires = "2025-06-30"        # optional; counts through that day
//! ```
//!
//! A waiver turns the finding into a waived one (kept in the output with its
//! reason). After `expires` it no longer counts: the finding is back, with
//! [`Finding::expired_waiver`] naming the date.

mod checks;
mod render;
mod settings;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::cost::Date;
use crate::model::Desired;

pub use render::render_text;
pub use settings::validate;

/// The plan file's `[policy]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Check ids that deny (stop `plan`/`up`) whatever the env.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Check ids that only warn whatever the env.
    #[serde(default)]
    pub warn: Vec<String>,
    /// `[[policy.waiver]]`: accepted findings, one resource each.
    #[serde(default)]
    pub waiver: Vec<Waiver>,
}

/// One accepted finding: a check on one resource, with why and until when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The check's infra, Checkov or Trivy id.
    pub id: String,
    /// The resource's address (`eks_cluster.main`), or `env`.
    pub resource: String,
    /// Required and not empty ([`validate`] says so).
    pub reason: Option<String>,
    /// `YYYY-MM-DD`: the last day the waiver counts.
    pub expires: Option<String>,
}

/// One guardrail.
#[derive(Debug)]
pub struct Check {
    /// `INFRA-EKS-001`: stable, never reused.
    pub id: &'static str,
    /// The closest Checkov rule.
    pub checkov: Option<&'static str>,
    /// The closest Trivy (AVD) rule.
    pub trivy: Option<&'static str>,
    pub title: &'static str,
    /// How to fix it, in terms of the plan file.
    pub fix: &'static str,
}

/// Every check, in the order of the module's table.
pub const CHECKS: &[Check] = &[
    Check {
        id: "INFRA-EKS-001",
        checkov: Some("CKV_AWS_38"),
        trivy: Some("AVD-AWS-0041"),
        title: "EKS public endpoint open to 0.0.0.0/0",
        fix: "list your office/VPN CIDRs in cluster.public_access_cidrs, or set cluster.endpoint_public_access = false",
    },
    Check {
        id: "INFRA-EKS-002",
        checkov: Some("CKV_AWS_58"),
        trivy: Some("AVD-AWS-0039"),
        title: "EKS secrets not encrypted with a KMS key",
        fix: "set eks = true in [kms] (the cluster then gets encryption_key_arn); changing it replaces the cluster",
    },
    Check {
        id: "INFRA-EKS-003",
        checkov: Some("CKV_AWS_37"),
        trivy: Some("AVD-AWS-0038"),
        title: "EKS control-plane audit logging off",
        fix: "add \"audit\" to cluster.log_types",
    },
    Check {
        id: "INFRA-RDS-001",
        checkov: Some("CKV_AWS_157"),
        trivy: None,
        title: "database not Multi-AZ in prod",
        fix: "set multi_az = true in [database]",
    },
    Check {
        id: "INFRA-RDS-002",
        checkov: Some("CKV_AWS_16"),
        trivy: Some("AVD-AWS-0080"),
        title: "DB instance storage not encrypted",
        fix: "set storage_encrypted = true on the instance (a new instance: restore from an encrypted snapshot copy to keep data)",
    },
    Check {
        id: "INFRA-RDS-003",
        checkov: Some("CKV_AWS_293"),
        trivy: Some("AVD-AWS-0177"),
        title: "DB instance deletion protection off in prod",
        fix: "set deletion_protection = true in [database]",
    },
    Check {
        id: "INFRA-RDS-004",
        checkov: Some("CKV_AWS_17"),
        trivy: Some("AVD-AWS-0180"),
        title: "database publicly accessible",
        fix: "set publicly_accessible = false and reach the database from inside the VPC",
    },
    Check {
        id: "INFRA-RDS-005",
        checkov: Some("CKV_AWS_96"),
        trivy: Some("AVD-AWS-0079"),
        title: "Aurora cluster storage not encrypted",
        fix: "set storage_encrypted = true on the cluster (a new cluster: restore from an encrypted snapshot copy to keep data)",
    },
    Check {
        id: "INFRA-RDS-006",
        checkov: Some("CKV_AWS_139"),
        trivy: Some("AVD-AWS-0343"),
        title: "Aurora cluster deletion protection off in prod",
        fix: "set deletion_protection = true on the cluster",
    },
    Check {
        id: "INFRA-NET-001",
        checkov: Some("CKV_AWS_24"),
        trivy: Some("AVD-AWS-0107"),
        title: "security group open to the internet on SSH, RDP or PostgreSQL",
        fix: "give the rule a narrower cidr (office/VPN) or a source_group, or a port range that leaves out 22, 3389 and 5432",
    },
    Check {
        id: "INFRA-KMS-001",
        checkov: Some("CKV_AWS_7"),
        trivy: Some("AVD-AWS-0065"),
        title: "KMS key rotation off",
        fix: "set enable_rotation = true on the key (infra's [kms] keys have it on)",
    },
    Check {
        id: "INFRA-IAM-001",
        checkov: None,
        trivy: None,
        title: "OIDC trust without sub and aud conditions",
        fix: "pin both \"<issuer>:sub\" (system:serviceaccount:<namespace>:<service-account>) and \"<issuer>:aud\" (sts.amazonaws.com) under StringEquals",
    },
    Check {
        id: "INFRA-IAM-002",
        checkov: Some("CKV_AWS_62"),
        trivy: Some("AVD-AWS-0057"),
        title: "IAM statement allows Action * on Resource *",
        fix: "list the actions the workload needs and the resources it needs them on",
    },
    Check {
        id: "INFRA-COST-001",
        checkov: None,
        trivy: None,
        title: "env has no monthly budget",
        fix: "set budget_monthly_usd in the plan's [cost] table",
    },
];

/// Ids that name a check besides its own three (the RDP half of INFRA-NET-001).
const ALIASES: &[(&str, &str)] = &[("CKV_AWS_25", "INFRA-NET-001")];

/// The check an id names: its infra, Checkov or Trivy id, or an alias, in any case.
pub fn find_check(id: &str) -> Option<&'static Check> {
    let id = id.trim();
    let same = |s: &str| s.eq_ignore_ascii_case(id);
    CHECKS
        .iter()
        .find(|c| same(c.id) || c.checkov.is_some_and(same) || c.trivy.is_some_and(same))
        .or_else(|| {
            let (_, target) = ALIASES.iter().find(|(alias, _)| same(alias))?;
            CHECKS.iter().find(|c| c.id == *target)
        })
}

/// Whether a finding stops the run or is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Deny,
    Warn,
}

/// One check failing on one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The infra id (`INFRA-EKS-001`).
    pub check: &'static str,
    pub checkov: Option<&'static str>,
    pub trivy: Option<&'static str>,
    pub title: &'static str,
    /// The resource's address, or `env` for env-wide checks.
    pub address: String,
    /// The property at fault, a path into the props (`document.Statement[2]`).
    pub field: String,
    pub message: String,
    pub severity: Severity,
    /// The reason of the waiver that accepts this finding.
    pub waived: Option<String>,
    /// The `expires` date (`YYYY-MM-DD`) of a waiver that would accept this
    /// finding but has run out; the finding counts again.
    pub expired_waiver: Option<String>,
    /// The resource's span in the plan file, for the CLI to show the line.
    #[serde(skip)]
    pub span: Option<std::ops::Range<usize>>,
}

impl Finding {
    /// Denied and not waived: `plan`/`up` must stop on it.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Deny && self.waived.is_none()
    }
}

/// Runs every check on the desired resources of `env`.
///
/// `has_budget`: the plan's `[cost]` sets `budget_monthly_usd`. `today` is
/// (year, month, day), for waivers' `expires`. Settings are expected to have
/// passed [`validate`]; ids it would reject are ignored here.
pub fn evaluate(
    resources: &[Desired],
    env: &str,
    settings: &PolicySettings,
    has_budget: bool,
    today: Date,
) -> Vec<Finding> {
    let prod = env == "prod";
    let prod_only = |id: &str| prod || settings::listed(settings, id);
    let mut hits = checks::inspect(resources, &prod_only);
    if !has_budget {
        hits.push(checks::Hit {
            check: "INFRA-COST-001",
            address: "env".into(),
            field: "cost.budget_monthly_usd".into(),
            message: format!(
                "env {env:?} has no monthly budget: [cost] budget_monthly_usd is not set"
            ),
            span: None,
        });
    }
    hits.into_iter()
        .filter_map(|hit| {
            let check = CHECKS.iter().find(|c| c.id == hit.check)?;
            let severity = settings::severity(settings, check, prod);
            let (waived, expired_waiver) =
                settings::waiver_for(settings, check, &hit.address, today);
            Some(Finding {
                check: check.id,
                checkov: check.checkov,
                trivy: check.trivy,
                title: check.title,
                address: hit.address,
                field: hit.field,
                message: hit.message,
                severity,
                waived,
                expired_waiver,
                span: hit.span,
            })
        })
        .collect()
}
