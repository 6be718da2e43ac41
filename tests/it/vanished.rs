//! What was deleted by hand, outside infra: `plan` and `drift` report it as
//! deleted outside infra (and plan creates it again), `destroy` treats it as
//! already gone. Never a failure of the whole read.

use crate::support::*;

/// Deletes the env's zone as an operator would: its records first (a zone
/// with records in it cannot be deleted), then the zone.
async fn delete_zone_by_hand(sdk: &Sdk, zone: &str) {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let sets = sdk
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    let changes: Vec<Change> = sets
        .resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type().as_str(), "NS" | "SOA"))
        .map(|r| {
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(r.clone())
                .build()
                .unwrap()
        })
        .collect();
    if !changes.is_empty() {
        let batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .build()
            .unwrap();
        sdk.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .unwrap();
    }
    sdk.route53
        .delete_hosted_zone()
        .id(zone)
        .send()
        .await
        .unwrap();
}

/// Deletes the env's cluster as an operator would: node groups and add-ons, then the cluster.
async fn delete_cluster_by_hand(sdk: &Sdk, cluster: &str) {
    for ng in sdk
        .eks
        .list_nodegroups()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap()
        .nodegroups()
    {
        sdk.eks
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(ng)
            .send()
            .await
            .unwrap();
    }
    for addon in sdk
        .eks
        .list_addons()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap()
        .addons()
    {
        sdk.eks
            .delete_addon()
            .cluster_name(cluster)
            .addon_name(addon)
            .send()
            .await
            .unwrap();
    }
    sdk.eks.delete_cluster().name(cluster).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_and_a_cluster_deleted_by_hand_are_planned_again_and_already_gone_for_destroy() {
    let env = TestEnv::from_dev("it-vanish", 70);
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let outputs =
        serde_json::from_slice::<serde_json::Value>(&env.expect(&["output", "--json"], 0).stdout)
            .unwrap()["outputs"]
            .clone();
    let zone = outputs["zone_id"]
        .as_str()
        .expect("zone_id output")
        .to_string();
    let cluster = format!("todo-{}", env.name);
    delete_zone_by_hand(&sdk, &zone).await;
    delete_cluster_by_hand(&sdk, &cluster).await;

    // plan: deleted outside infra, created again; never a failed read.
    let out = env.expect(&["plan"], 0);
    let plan = text(&out.stdout);
    for address in ["route53_zone.main", "eks_cluster.main"] {
        let line = plan
            .lines()
            .position(|l| l.contains(&format!("+ {address} ")))
            .unwrap_or_else(|| panic!("{address} planned for create:\n{plan}"));
        assert!(
            plan.lines()
                .nth(line + 1)
                .unwrap_or_default()
                .contains("deleted outside infra"),
            "{address} said deleted outside infra:\n{plan}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&env.expect(&["plan", "--json"], 0).stdout).unwrap();
    let creates: Vec<&str> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "create")
        .filter_map(|a| a["address"].as_str())
        .collect();
    assert!(
        creates.contains(&"route53_zone.main") && creates.contains(&"eks_cluster.main"),
        "{creates:?}"
    );

    // drift: the same, as findings.
    let out = env.expect(&["drift", "--json"], 2);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["finding"] == "deleted")
        .filter_map(|f| f["address"].as_str())
        .collect();
    assert!(
        deleted.contains(&"route53_zone.main") && deleted.contains(&"eks_cluster.main"),
        "{report:#}"
    );

    // destroy: already gone, exit 0, nothing left.
    let out = env.expect(&["destroy", "--yes"], 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("already deleted outside infra"), "{stdout}");
    assert!(
        ec2_inventory(&sdk.ec2, &env.name).await.is_empty(),
        "EC2 resources left"
    );
    assert_eq!(
        sdk.other_inventory(&env.name).await,
        Vec::<String>::new(),
        "resources left"
    );
    assert!(
        sdk.route53
            .get_hosted_zone()
            .id(&zone)
            .send()
            .await
            .is_err()
    );
}
