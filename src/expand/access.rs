//! Human access (seed file 001 §14): each `[[access]]` group role becomes
//! an EKS access entry for its IAM role and the access policies of its
//! kind. Break-glass exists only until its `until` time: past it, the entry
//! is not expanded, so the next `up` removes it.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::{Expanded, tags};
use crate::config::{Access, LoadedPlan};
use crate::model::Ref;

const POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/";

/// The group a security auditor's RBAC (policies, audit) binds to when the
/// plan names none.
const AUDITOR_GROUP: &str = "security-auditors";

/// (policy name, scope) pairs for a role; `None` scope is the whole cluster.
fn policies(a: &Access) -> Vec<(&'static str, Option<&[String]>)> {
    let ns = Some(a.namespaces.as_slice());
    let whole_or_ns = if a.namespaces.is_empty() { None } else { ns };
    match a.role.as_str() {
        "viewer" => vec![("AmazonEKSViewPolicy", whole_or_ns)],
        "developer" => vec![("AmazonEKSEditPolicy", ns)],
        "operator" => vec![("AmazonEKSEditPolicy", ns), ("AmazonEKSViewPolicy", None)],
        "platform-admin" if a.cluster_admin => vec![
            ("AmazonEKSAdminPolicy", None),
            ("AmazonEKSClusterAdminPolicy", None),
        ],
        "platform-admin" => vec![("AmazonEKSAdminPolicy", None)],
        "security-auditor" => vec![("AmazonEKSViewPolicy", None)],
        "break-glass" => vec![("AmazonEKSClusterAdminPolicy", None)],
        _ => Vec::new(),
    }
}

fn scope(namespaces: Option<&[String]>) -> Value {
    match namespaces {
        Some(ns) => {
            let mut ns = ns.to_vec();
            ns.sort();
            json!({ "type": "namespace", "namespaces": ns })
        }
        None => json!({ "type": "cluster", "namespaces": [] }),
    }
}

pub fn expand(plan: &LoadedPlan, now: SystemTime, out: &mut Expanded) {
    let cluster = plan.file.cluster_name(&plan.env);
    for spanned in &plan.file.access {
        let a = spanned.get_ref();
        let span = Some(spanned.span());
        let key = a.name.replace('-', "_");
        if let (Some(until), Some(at)) = (&a.until, a.expires_at()) {
            if at <= now {
                out.warnings.push(format!(
                    "access {}: break-glass expired at {until}; its entry is removed (delete the [[access]] block to silence this)",
                    a.name
                ));
                continue;
            }
            out.warnings.push(format!(
                "access {}: break-glass cluster-admin for {} until {until}",
                a.name, a.principal_arn
            ));
        }
        let mut groups = a.kubernetes_groups.clone();
        if a.role == "security-auditor" && groups.is_empty() {
            groups.push(AUDITOR_GROUP.to_string());
        }
        groups.sort();
        let entry = format!("eks_access_entry.{key}");
        let mut props = json!({
            "cluster_name": Ref::expr("eks_cluster.main", "name"),
            "principal_arn": a.principal_arn,
            "kubernetes_groups": groups,
            "type": "STANDARD",
            "tags": tags(plan, &format!("{cluster}-{}", a.name), &[("access-role", &a.role)]),
        });
        if let Some(until) = &a.until {
            props["_until"] = json!(until);
        }
        out.add(
            entry.clone(),
            "EksAccessEntry",
            props,
            "access",
            span.clone(),
        );
        for (policy, namespaces) in policies(a) {
            out.add(
                format!(
                    "eks_access_policy.{key}_{}",
                    policy
                        .trim_start_matches("AmazonEKS")
                        .trim_end_matches("Policy")
                        .to_ascii_lowercase()
                ),
                "EksAccessPolicyAssociation",
                json!({
                    "cluster_name": Ref::expr("eks_cluster.main", "name"),
                    "principal_arn": Ref::expr(&entry, "principal_arn"),
                    "policy_arn": format!("{POLICY}{policy}"),
                    "access_scope": scope(namespaces),
                }),
                "access",
                span.clone(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(role: &str, namespaces: &[&str], cluster_admin: bool) -> Access {
        Access {
            name: "x".into(),
            principal_arn: "arn:aws:iam::123456789012:role/x".into(),
            role: role.into(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            kubernetes_groups: Vec::new(),
            until: None,
            cluster_admin,
        }
    }

    #[test]
    fn each_role_maps_to_its_access_policies() {
        let names = |a: &Access| {
            policies(a)
                .into_iter()
                .map(|(p, s)| (p, s.map(|s| s.len())))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&access("viewer", &[], false)),
            vec![("AmazonEKSViewPolicy", None)]
        );
        assert_eq!(
            names(&access("developer", &["todo"], false)),
            vec![("AmazonEKSEditPolicy", Some(1))]
        );
        assert_eq!(
            names(&access("operator", &["a", "b"], false)),
            vec![
                ("AmazonEKSEditPolicy", Some(2)),
                ("AmazonEKSViewPolicy", None)
            ]
        );
        assert_eq!(
            names(&access("platform-admin", &[], false)),
            vec![("AmazonEKSAdminPolicy", None)]
        );
        assert_eq!(
            names(&access("platform-admin", &[], true)),
            vec![
                ("AmazonEKSAdminPolicy", None),
                ("AmazonEKSClusterAdminPolicy", None)
            ]
        );
        assert_eq!(
            names(&access("security-auditor", &[], false)),
            vec![("AmazonEKSViewPolicy", None)]
        );
        assert_eq!(
            names(&access("break-glass", &[], false)),
            vec![("AmazonEKSClusterAdminPolicy", None)]
        );
    }

    #[test]
    fn scopes_are_sorted_namespaces_or_the_cluster() {
        assert_eq!(
            scope(Some(&["b".to_string(), "a".to_string()])),
            json!({ "type": "namespace", "namespaces": ["a", "b"] })
        );
        assert_eq!(scope(None), json!({ "type": "cluster", "namespaces": [] }));
    }
}
