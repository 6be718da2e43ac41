//! Customer managed keys, one per service (EKS secrets, RDS storage, logs),
//! each with an alias and rotation on. Tiers that encrypt with a key ask
//! [`key_arn`] for it; a service whose key is off gets the AWS-managed key.

use serde_json::json;

use super::{Expanded, tags};
use crate::config::{Kms, LoadedPlan};
use crate::model::Ref;

/// The services a key can be made for, with what the key is for.
const SERVICES: [(&str, &str); 3] = [
    ("eks", "EKS secrets envelope encryption"),
    ("rds", "RDS storage encryption"),
    ("logs", "CloudWatch Logs and S3"),
];

fn enabled(k: &Kms, service: &str) -> bool {
    match service {
        "eks" => k.eks,
        "rds" => k.rds,
        "logs" => k.logs,
        _ => false,
    }
}

/// `${kms_key.<service>.arn}` when the plan makes a key for the service.
pub fn key_arn(plan: &LoadedPlan, service: &str) -> Option<String> {
    plan.file
        .kms
        .as_ref()
        .filter(|k| enabled(k, service))
        .map(|_| Ref::expr(&format!("kms_key.{service}"), "arn"))
}

pub fn expand(plan: &LoadedPlan, k: &Kms, out: &mut Expanded) {
    let name = plan.file.cluster_name(&plan.env);
    let span = k.deletion_window_days.as_ref().map(|d| d.span());
    for (service, purpose) in SERVICES {
        if !enabled(k, service) {
            continue;
        }
        let mut key = json!({
            "description": format!("{name}: {purpose}"),
            "enable_rotation": true,
            "_deletion_window_days": k.deletion_window(),
            "tags": tags(plan, &format!("{name}-{service}"), &[]),
        });
        if service == "logs" {
            // CloudWatch Logs encrypts with a customer key only when the key
            // policy lets it. Read back from the policy, so a key whose create
            // was cut short before its policy is finished by the next `up`.
            key["grant_services"] =
                json!([format!("logs.{}.amazonaws.com", plan.file.region.get_ref())]);
        }
        out.add(
            format!("kms_key.{service}"),
            "KmsKey",
            key,
            "kms",
            span.clone(),
        );
        out.add(
            format!("kms_alias.{service}"),
            "KmsAlias",
            json!({ "name": format!("alias/{name}-{service}"), "target_key_id": Ref::expr(&format!("kms_key.{service}"), "id") }),
            "kms",
            span.clone(),
        );
        out.outputs.insert(
            format!("kms_{service}_key_arn"),
            json!(Ref::expr(&format!("kms_key.{service}"), "arn")),
        );
    }
}
