//! A managed node group. Scaling, labels and taints change in place
//! (UpdateNodegroupConfig); instance types, AMI type, capacity type, subnets
//! and role force a new group. `desired_size` is compared only when the plan
//! owns it: otherwise an autoscaler's changes are never drift.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, Nodegroup, NodegroupScalingConfig, NodegroupStatus, Taint,
    TaintEffect, UpdateLabelsPayload, UpdateTaintsPayload,
};
use serde_json::{Value, json};

use super::eks_common::{
    cluster_and_name, cluster_and_name_props, delete_and_wait, describe_listed, env_clusters,
    gone_is_empty, iam_propagation, read_tags, sorted, strings, update_tags, wait_until,
};
use super::int;
use super::outputs;
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct EksNodegroup;

fn labels(props: &Props) -> HashMap<String, String> {
    props
        .get("labels")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn taints(props: &Props) -> Vec<Taint> {
    props
        .get("taints")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .map(|t| {
            Taint::builder()
                .key(t["key"].as_str().unwrap_or_default())
                .value(t["value"].as_str().unwrap_or_default())
                .effect(TaintEffect::from(
                    t["effect"].as_str().unwrap_or("NO_SCHEDULE"),
                ))
                .build()
        })
        .collect()
}

fn taint_json(t: &Taint) -> Value {
    json!({ "key": t.key().unwrap_or_default(), "value": t.value().unwrap_or_default(), "effect": t.effect().map(|e| e.as_str()).unwrap_or_default() })
}

fn to_live(n: &Nodegroup, owner: crate::model::Owner<'_>) -> Option<Live> {
    let (address, tags) = read_tags(n.tags(), owner)?;
    let cluster = n.cluster_name()?.to_string();
    let name = n.nodegroup_name()?.to_string();
    let scaling = n.scaling_config();
    let mut taints: Vec<Value> = n.taints().iter().map(taint_json).collect();
    crate::model::compare::sort_taints(&mut taints);
    let props = json!({
        "cluster_name": cluster,
        "name": name,
        "node_role_arn": n.node_role().unwrap_or_default(),
        "subnet_ids": sorted(n.subnets().to_vec()),
        "instance_types": n.instance_types(),
        "ami_type": n.ami_type().map(|a| a.as_str()).unwrap_or_default(),
        "capacity_type": n.capacity_type().map(|c| c.as_str()).unwrap_or_default(),
        "min_size": scaling.and_then(|s| s.min_size()),
        "max_size": scaling.and_then(|s| s.max_size()),
        "desired_size": scaling.and_then(|s| s.desired_size()),
        "labels": n.labels().cloned().unwrap_or_default(),
        "taints": taints,
        "tags": tags,
    });
    let id = format!("{cluster}:{name}");
    let arn = n.nodegroup_arn().unwrap_or_default();
    let outputs = outputs([("id", &id), ("name", &name), ("arn", arn)]);
    Some(Live::found(id, address, props, outputs))
}

/// A node group as DescribeNodegroup answers; a missing one is an error.
async fn describe(cx: &Cx, cluster: &str, name: &str) -> Result<Option<Nodegroup>, AwsError> {
    let out = cx
        .call("DescribeNodegroup", || {
            cx.clients
                .eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
        })
        .await?;
    Ok(out.nodegroup().cloned())
}

async fn wait_active(cx: &Cx, address: &str, cluster: &str, name: &str) -> Result<Live, AwsError> {
    wait_until(
        cx,
        address,
        "node group to become ACTIVE",
        cx.timeouts.nodegroup,
        || describe(cx, cluster, name),
        |n| match n.status() {
            Some(NodegroupStatus::Active) => Ok(to_live(&n, cx.owner())),
            Some(NodegroupStatus::CreateFailed) | Some(NodegroupStatus::Degraded) => {
                Err(AwsError::local(
                    "CreateNodegroup",
                    format!("node group {name} is {:?}", n.status()),
                ))
            }
            _ => Ok(None),
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksNodegroup",
    tier: Tier::Cluster,
    tagging: Tagging::Eks,
    outputs: &["id", "name", "arn"],
    replace_fields: &[
        "cluster_name",
        "name",
        "node_role_arn",
        "subnet_ids",
        "instance_types",
        "ami_type",
        "capacity_type",
    ],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksNodegroup {
    async fn arn(&self, cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
        let (cluster, name) = cluster_and_name(id);
        let group = describe(cx, cluster, name).await?;
        Ok(group.and_then(|n| n.nodegroup_arn().map(String::from)))
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let (cluster, name) = cluster_and_name_props(t.props)?;
        let min = int(t.props, "min_size").unwrap_or(1);
        let scaling = NodegroupScalingConfig::builder()
            .min_size(min)
            .max_size(int(t.props, "max_size").unwrap_or(min))
            .desired_size(
                int(t.props, "desired_size")
                    .or(int(t.props, "_desired_size"))
                    .unwrap_or(min),
            )
            .build();
        cx.clients
            .eks
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .node_role(str_prop(t.props, "node_role_arn")?)
            .set_subnets(Some(strings(t.props, "subnet_ids")))
            .set_instance_types(Some(strings(t.props, "instance_types")))
            .ami_type(AmiTypes::from(str_prop(t.props, "ami_type")?))
            .capacity_type(CapacityTypes::from(str_prop(t.props, "capacity_type")?))
            .scaling_config(scaling)
            .set_labels(Some(labels(t.props)))
            .set_taints(Some(taints(t.props)))
            .set_tags(Some(super::tagged::create_tags(cx, t.address, t.props)))
            .client_request_token(t.token)
            .send()
            .await
            .aws("CreateNodegroup")
            .map_err(iam_propagation)?;
        let live = wait_active(cx, t.address, cluster, name).await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let clusters = env_clusters(cx, scope.owner).await?;
        describe_listed(
            clusters.iter().filter_map(|c| c.name()).collect(),
            |cluster| async move {
                let groups = cx
                    .all("ListNodegroups", || {
                        cx.clients
                            .eks
                            .list_nodegroups()
                            .cluster_name(&cluster)
                            .into_paginator()
                            .items()
                            .send()
                    })
                    .await;
                gone_is_empty(groups)
            },
            |cluster, name| async move {
                let group = gone_is_empty(describe(cx, &cluster, &name).await)?;
                Ok(group.and_then(|n| to_live(&n, scope.owner)))
            },
        )
        .await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let (cluster, name) = cluster_and_name(&live.id);
        let has = |f: &str| changed.iter().any(|c| c == f);
        let mut call = cx
            .clients
            .eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name);
        let mut any = false;
        if has("min_size") || has("max_size") || has("desired_size") {
            let min = int(t.props, "min_size").unwrap_or(1);
            let max = int(t.props, "max_size").unwrap_or(min);
            // Not owned by the plan: keep what the autoscaler set, within bounds.
            let desired = int(t.props, "desired_size")
                .or_else(|| int(&live.props, "desired_size"))
                .unwrap_or(min)
                .clamp(min, max);
            call = call.scaling_config(
                NodegroupScalingConfig::builder()
                    .min_size(min)
                    .max_size(max)
                    .desired_size(desired)
                    .build(),
            );
            any = true;
        }
        if has("labels") {
            let (old, new) = (labels(&live.props), labels(t.props));
            let remove: Vec<String> = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .cloned()
                .collect();
            call = call.labels(
                UpdateLabelsPayload::builder()
                    .set_add_or_update_labels(Some(new).filter(|m| !m.is_empty()))
                    .set_remove_labels(Some(remove).filter(|r| !r.is_empty()))
                    .build(),
            );
            any = true;
        }
        if has("taints") {
            let (old, new) = (taints(&live.props), taints(t.props));
            let remove: Vec<Taint> = old
                .into_iter()
                .filter(|o| !new.iter().any(|n| n.key() == o.key()))
                .collect();
            call = call.taints(
                UpdateTaintsPayload::builder()
                    .set_add_or_update_taints(Some(new).filter(|v| !v.is_empty()))
                    .set_remove_taints(Some(remove).filter(|v| !v.is_empty()))
                    .build(),
            );
            any = true;
        }
        if any {
            let call = call;
            cx.call("UpdateNodegroupConfig", || call.clone().send())
                .await?;
            wait_active(cx, t.address, cluster, name).await?;
        }
        update_tags(cx, live, t.props, changed).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let (cluster, name) = cluster_and_name(&live.id);
        let address = live.address.as_deref().unwrap_or(&live.id);
        let delete = cx.call("DeleteNodegroup", || {
            cx.clients
                .eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
        });
        delete_and_wait(
            cx,
            address,
            "node group to be deleted",
            cx.timeouts.nodegroup,
            delete,
            || describe(cx, cluster, name),
        )
        .await
    }
}
