//! infra's identity tags on resources infra did not create: put on by
//! `import`, `adopt` and `state mv`, taken off by `state rm`. One tag call
//! per resource, through each service's own tagging API; nothing else about
//! the resource is touched.

use std::collections::HashMap;

use super::kinds::iam_details::{self, Taggable};
use super::kinds::tagged::create_tags;
use super::kinds::{
    acm_certificate, db_cluster_parameter_group, db_instance, db_parameter_group, db_subnet_group,
    ec2_tags, eks_addon, eks_cluster, eks_nodegroup, event_rule, kms_key, rds_cluster, rds_common,
    route53_zone, sqs_queue,
};
use super::{AwsError, Cx};
use crate::model::Props;

/// Kinds AWS cannot tag: infra finds them by their natural key.
pub fn untagged(kind: &str) -> bool {
    super::kinds::info(kind).is_some_and(|i| !i.tags)
}

/// The identity tags for `address` in this env.
pub fn identity(cx: &Cx, address: &str) -> HashMap<String, String> {
    create_tags(cx, address, &Props::new())
}

/// The EC2 kinds: tagged by id with CreateTags.
fn ec2(kind: &str) -> bool {
    matches!(
        kind,
        "Vpc"
            | "Subnet"
            | "InternetGateway"
            | "ElasticIp"
            | "NatGateway"
            | "RouteTable"
            | "SecurityGroup"
            | "SecurityGroupRule"
    )
}

/// The ARN an EKS or RDS resource is tagged by, from its outputs or one describe.
async fn arn_of(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &crate::model::Outputs,
) -> Result<String, AwsError> {
    if let Some(arn) = outputs.get("arn").filter(|a| !a.is_empty()) {
        return Ok(arn.clone());
    }
    let arn = match kind {
        "EksCluster" => eks_cluster::arn(cx, id).await?,
        "EksNodegroup" => eks_nodegroup::arn(cx, id).await?,
        "EksAddon" => eks_addon::arn(cx, id).await?,
        "DbInstance" | "RdsClusterInstance" => db_instance::arn(cx, id).await?,
        "RdsCluster" => rds_cluster::arn(cx, id).await?,
        "DbSubnetGroup" => db_subnet_group::arn(cx, id).await?,
        "DbParameterGroup" => db_parameter_group::arn(cx, id).await?,
        "DbClusterParameterGroup" => db_cluster_parameter_group::arn(cx, id).await?,
        _ => Some(id.to_string()),
    };
    arn.ok_or_else(|| AwsError::local("identity", format!("{kind} {id}: no ARN found")))
}

/// Puts the identity tags of `address` on the resource. `Ok(false)`: the
/// kind takes no tags (found by its natural key instead).
pub async fn tag(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &crate::model::Outputs,
    address: &str,
) -> Result<bool, AwsError> {
    set(cx, kind, id, outputs, identity(cx, address), Vec::new()).await
}

/// Takes infra's identity tags off the resource.
pub async fn untag(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &crate::model::Outputs,
) -> Result<bool, AwsError> {
    let keys = identity(cx, "-").into_keys().collect();
    set(cx, kind, id, outputs, HashMap::new(), keys).await
}

async fn set(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &crate::model::Outputs,
    add: HashMap<String, String>,
    remove: Vec<String>,
) -> Result<bool, AwsError> {
    if untagged(kind) {
        return Ok(false);
    }
    let delta = (add, remove);
    if ec2(kind) {
        ec2_tags::apply_tags(cx, id, delta).await?;
        return Ok(true);
    }
    match kind {
        "IamRole" => iam_details::apply_tags(cx, Taggable::Role(id), delta).await,
        "IamInstanceProfile" => {
            iam_details::apply_tags(cx, Taggable::InstanceProfile(id), delta).await
        }
        "IamOidcProvider" => iam_details::apply_tags(cx, Taggable::OidcProvider(id), delta).await,
        "EksCluster"
        | "EksNodegroup"
        | "EksAddon"
        | "EksAccessEntry"
        | "EksPodIdentityAssociation" => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            eks_cluster::apply_tags(cx, &arn, delta).await
        }
        "DbInstance"
        | "RdsCluster"
        | "RdsClusterInstance"
        | "DbSubnetGroup"
        | "DbParameterGroup"
        | "DbClusterParameterGroup" => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            rds_common::apply_tags(cx, &arn, delta).await
        }
        "SqsQueue" => sqs_queue::apply_tags(cx, id, delta).await,
        "EventRule" => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            event_rule::apply_tags(cx, &arn, delta).await
        }
        "KmsKey" => kms_key::apply_tags(cx, id, delta).await,
        "Route53Zone" => route53_zone::apply_tags(cx, id, delta).await,
        "AcmCertificate" => acm_certificate::apply_tags(cx, id, delta).await,
        other => Err(AwsError::local(
            "identity",
            format!("infra cannot tag a {other}"),
        )),
    }?;
    Ok(true)
}
