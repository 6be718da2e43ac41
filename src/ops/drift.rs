//! `infra drift`: what changed outside infra.

use super::*;

/// `infra drift`: reads everything, changes nothing (state included).
pub async fn drift(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
) -> Result<Vec<crate::drift::Finding>, Error> {
    let (state, _, _) = read_state(opts, &prepared.loaded).await?;
    check_owner(&state, &prepared.loaded)?;
    let mut rows = state_map(&state)?;
    let mut kinds: BTreeSet<String> = rows.values().map(|r| r.kind.clone()).collect();
    kinds.extend(prepared.graph.resources().iter().map(|r| r.kind.clone()));
    let mut observed = refresh(cx, &prepared.registry, kinds, &rows).await?;
    // What `up` would adopt is reported as such, never as orphans.
    let adopted = crate::adopt::adopt(
        cx,
        &prepared.graph,
        &prepared.registry,
        &mut observed,
        &rows,
        &state.unfinished_journal()?,
    )
    .await?;
    let mut findings: Vec<crate::drift::Finding> = adopted
        .iter()
        .map(|a| crate::drift::Finding::Unrecorded {
            address: a.address.clone(),
            kind: a.kind.clone(),
            id: a.id.clone(),
        })
        .collect();
    for a in adopted {
        rows.insert(a.address.clone(), a);
    }
    findings.extend(crate::drift::detect(
        &prepared.graph,
        &rows,
        &observed,
        &prepared.registry,
    ));
    findings.extend(crate::drift::added_by_hand(&crate::by_hand::find(
        &prepared.graph,
        &rows,
        &observed,
        &prepared.registry,
    )));
    // An expired break-glass entry is reported once, as such.
    let reported: BTreeSet<String> = findings
        .iter()
        .filter_map(|f| match f {
            crate::drift::Finding::Access { principal_arn, .. } => Some(principal_arn.clone()),
            _ => None,
        })
        .collect();
    let unnamed = unnamed_cluster_admins(prepared, cx).await?;
    findings.extend(unnamed.into_iter().filter(|f| !matches!(f, crate::drift::Finding::Access { principal_arn, .. } if reported.contains(principal_arn))));
    Ok(findings)
}

/// Cluster admins the plan does not name (seed: no permanent cluster-admin).
/// The plan names break-glass entries still in their time, platform admins
/// with `cluster_admin = true`, and, while `bootstrap_cluster_creator_admin`
/// is on, the creator's entry (the identity infra runs as).
pub(crate) async fn unnamed_cluster_admins(
    prepared: &Prepared,
    cx: &Cx,
) -> Result<Vec<crate::drift::Finding>, Error> {
    use crate::aws::kinds::eks_access_policy::{
        CLUSTER_ADMIN_POLICY, caller_principal, cluster_admins,
    };
    let Some(cluster) = &prepared.loaded.file.cluster else {
        return Ok(Vec::new());
    };
    if cluster.authentication_mode == "CONFIG_MAP" {
        return Ok(Vec::new());
    }
    let admins = cluster_admins(cx, cx.owner()).await?;
    if admins.is_empty() {
        return Ok(Vec::new());
    }
    let mut named: BTreeSet<String> = prepared
        .graph
        .resources()
        .iter()
        .filter(|d| {
            d.kind == "EksAccessPolicyAssociation"
                && d.props.get("policy_arn").and_then(|v| v.as_str()) == Some(CLUSTER_ADMIN_POLICY)
        })
        .filter_map(|d| {
            d.props
                .get("principal_arn")?
                .as_str()?
                .strip_prefix("${")?
                .strip_suffix(".principal_arn}")
                .map(String::from)
        })
        .filter_map(|entry| {
            prepared
                .graph
                .get(&entry)?
                .props
                .get("principal_arn")?
                .as_str()
                .map(String::from)
        })
        .collect();
    if cluster.bootstrap_cluster_creator_admin {
        named.insert(caller_principal(cx).await?);
    }
    Ok(admins
        .into_iter()
        .filter(|(_, principal)| !named.contains(principal))
        .map(|(cluster, principal)| crate::drift::Finding::Access {
            kind: "EksAccessEntry".into(),
            why: format!("cluster admin on {cluster} that the plan does not name; grant it through [[access]] (break-glass with `until`) or remove the entry"),
            principal_arn: principal,
            address: None,
        })
        .collect())
}
