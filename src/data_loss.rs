//! Which planned deletes and replacements lose data or identity, said loudly:
//! a database and its data, a cluster and every workload on it, the OIDC
//! provider every IRSA role trusts, a zone's records, a key and what it
//! encrypted.

use serde::{Deserialize, Serialize};

use crate::diff::{Op, Plan};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataLoss {
    pub address: String,
    pub kind: String,
    pub op: Op,
    /// The fields that force a replacement (empty for a delete).
    pub forced_by: Vec<String>,
    /// What is lost, in words.
    pub lost: String,
}

fn flag(props: Option<&crate::model::Props>, key: &str) -> bool {
    props
        .and_then(|p| p.get(key))
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// What deleting a resource of this kind loses; `None` for kinds that hold
/// neither data nor identity (a route can be made again, the same).
fn what_is_lost(kind: &str, final_snapshot: bool) -> Option<String> {
    let snapshot = if final_snapshot {
        "a final snapshot is taken"
    } else {
        "NO final snapshot is taken (final_snapshot = false)"
    };
    Some(match kind {
        "DbInstance" => format!("the database and its data are deleted; {snapshot}"),
        "RdsCluster" => format!("the Aurora cluster and its data are deleted; {snapshot}"),
        "EksCluster" => "the cluster and every workload, secret and volume claim on it are deleted".into(),
        "EksNodegroup" => "every node of the group is drained and terminated; pods reschedule elsewhere or wait".into(),
        "IamOidcProvider" => "every IRSA role's trust stops working until the new provider is in place".into(),
        "Route53Zone" => "the zone and its records are deleted; a new zone gets new name servers to delegate again".into(),
        "KmsKey" => "the key is scheduled for deletion; whatever it encrypted cannot be decrypted after the window".into(),
        _ => return None,
    })
}

pub fn find(plan: &Plan) -> Vec<DataLoss> {
    plan.actions
        .iter()
        .filter(|a| matches!(a.op, Op::Delete | Op::Replace))
        .filter_map(|a| {
            let props = a.props.as_ref().or(a.current.as_ref().map(|c| &c.props));
            let final_snapshot = flag(props, "_final_snapshot")
                || flag(a.current.as_ref().map(|c| &c.props), "_final_snapshot");
            let lost = what_is_lost(&a.kind, final_snapshot)?;
            let forced_by = a
                .changes
                .iter()
                .filter(|c| c.forces_replacement)
                .map(|c| c.field.clone())
                .collect();
            Some(DataLoss {
                address: a.address.clone(),
                kind: a.kind.clone(),
                op: a.op,
                forced_by,
                lost,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Action, FieldChange};

    fn action(
        address: &str,
        kind: &str,
        op: Op,
        changes: Vec<FieldChange>,
        final_snapshot: bool,
    ) -> Action {
        let props: crate::model::Props = [(
            "_final_snapshot".to_string(),
            serde_json::json!(final_snapshot),
        )]
        .into_iter()
        .collect();
        Action {
            address: address.into(),
            kind: kind.into(),
            op,
            changes,
            reason: None,
            props: Some(props),
            current: None,
            deps: Vec::new(),
            state_deps: Vec::new(),
            protect: false,
        }
    }

    #[test]
    fn a_database_replace_names_its_field_and_the_snapshot() {
        let change = FieldChange {
            field: "engine_major".into(),
            old: None,
            new: None,
            forces_replacement: true,
        };
        let plan = Plan {
            actions: vec![
                action(
                    "db_instance.main",
                    "DbInstance",
                    Op::Replace,
                    vec![change],
                    false,
                ),
                action(
                    "route.public_default",
                    "Route",
                    Op::Delete,
                    Vec::new(),
                    false,
                ),
                action(
                    "rds_cluster.main",
                    "RdsCluster",
                    Op::Delete,
                    Vec::new(),
                    true,
                ),
                action(
                    "eks_cluster.main",
                    "EksCluster",
                    Op::Update,
                    Vec::new(),
                    false,
                ),
            ],
            ..Plan::default()
        };
        let found = find(&plan);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].forced_by, vec!["engine_major"]);
        assert!(
            found[0].lost.contains("NO final snapshot"),
            "{}",
            found[0].lost
        );
        assert!(
            found[1].lost.contains("a final snapshot is taken"),
            "{}",
            found[1].lost
        );
    }
}
