//! infra's identity tags on resources infra did not create: put on by
//! `import`, `adopt` and `state mv`, taken off by `state rm`. One tag call
//! per resource, through each service's own tagging API; nothing else about
//! the resource is touched.

use std::collections::HashMap;

use super::kinds::tagged::create_tags;
use super::kinds::{
    acm_certificate, db_cluster_parameter_group, db_instance, db_parameter_group, db_subnet_group,
    eks_addon, eks_cluster, eks_nodegroup, event_rule, kms_key, rds_cluster, sqs_queue,
};
use super::{AwsError, Cx, SdkResultExt};
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

/// One change of tags on one resource.
struct Change<'a> {
    kind: &'a str,
    id: &'a str,
    outputs: &'a crate::model::Outputs,
    pairs: Vec<(String, String)>,
    remove: Vec<String>,
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
    let change = Change {
        kind,
        id,
        outputs,
        pairs: add.into_iter().collect(),
        remove,
    };
    if ec2(kind) {
        ec2_tags(cx, change).await?;
        return Ok(true);
    }
    match kind {
        "IamRole" | "IamInstanceProfile" | "IamOidcProvider" => iam(cx, change).await,
        "EksCluster"
        | "EksNodegroup"
        | "EksAddon"
        | "EksAccessEntry"
        | "EksPodIdentityAssociation" => eks(cx, change).await,
        "DbInstance"
        | "RdsCluster"
        | "RdsClusterInstance"
        | "DbSubnetGroup"
        | "DbParameterGroup"
        | "DbClusterParameterGroup" => rds(cx, change).await,
        "SqsQueue" => sqs(cx, change).await,
        "EventRule" => eventbridge(cx, change).await,
        "KmsKey" => kms(cx, change).await,
        "Route53Zone" => route53(cx, change).await,
        "AcmCertificate" => acm(cx, change).await,
        other => Err(AwsError::local(
            "identity",
            format!("infra cannot tag a {other}"),
        )),
    }?;
    Ok(true)
}

/// Tags EC2 kinds, by id.
async fn ec2_tags(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        id, pairs, remove, ..
    } = change;
    use aws_sdk_ec2::types::Tag;
    if !pairs.is_empty() {
        let tags: Vec<Tag> = pairs
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        cx.call("CreateTags", || {
            cx.clients
                .ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await?;
    }
    if !remove.is_empty() {
        let tags: Vec<Tag> = remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        cx.call("DeleteTags", || {
            cx.clients
                .ec2
                .delete_tags()
                .resources(id)
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await?;
    }
    Ok(())
}

/// Tags IamRole, IamInstanceProfile, IamOidcProvider.
async fn iam(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        kind,
        id,
        pairs,
        remove,
        ..
    } = change;
    use aws_sdk_iam::types::Tag;
    let tags: Vec<Tag> = pairs
        .iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect();
    let iam = &cx.clients.iam;
    if !tags.is_empty() {
        match kind {
            "IamRole" => {
                cx.retry(|| async {
                    iam.tag_role()
                        .role_name(id)
                        .set_tags(Some(tags.clone()))
                        .send()
                        .await
                        .aws("TagRole")
                        .map(|_| ())
                })
                .await?
            }
            "IamInstanceProfile" => {
                cx.retry(|| async {
                    iam.tag_instance_profile()
                        .instance_profile_name(id)
                        .set_tags(Some(tags.clone()))
                        .send()
                        .await
                        .aws("TagInstanceProfile")
                        .map(|_| ())
                })
                .await?
            }
            _ => {
                cx.retry(|| async {
                    iam.tag_open_id_connect_provider()
                        .open_id_connect_provider_arn(id)
                        .set_tags(Some(tags.clone()))
                        .send()
                        .await
                        .aws("TagOpenIDConnectProvider")
                        .map(|_| ())
                })
                .await?
            }
        }
    }
    if !remove.is_empty() {
        match kind {
            "IamRole" => {
                cx.retry(|| async {
                    iam.untag_role()
                        .role_name(id)
                        .set_tag_keys(Some(remove.clone()))
                        .send()
                        .await
                        .aws("UntagRole")
                        .map(|_| ())
                })
                .await?
            }
            "IamInstanceProfile" => {
                cx.retry(|| async {
                    iam.untag_instance_profile()
                        .instance_profile_name(id)
                        .set_tag_keys(Some(remove.clone()))
                        .send()
                        .await
                        .aws("UntagInstanceProfile")
                        .map(|_| ())
                })
                .await?
            }
            _ => {
                cx.retry(|| async {
                    iam.untag_open_id_connect_provider()
                        .open_id_connect_provider_arn(id)
                        .set_tag_keys(Some(remove.clone()))
                        .send()
                        .await
                        .aws("UntagOpenIDConnectProvider")
                        .map(|_| ())
                })
                .await?
            }
        }
    }
    Ok(())
}

/// Tags EksCluster, EksNodegroup, EksAddon, EksAccessEntry, EksPodIdentityAssociation.
async fn eks(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        kind,
        id,
        outputs,
        pairs,
        remove,
    } = change;
    let arn = arn_of(cx, kind, id, outputs).await?;
    eks_cluster::apply_tags(cx, &arn, (pairs.into_iter().collect(), remove)).await
}

/// Tags DbInstance, RdsCluster, RdsClusterInstance, DbSubnetGroup, DbParameterGroup, DbClusterParameterGroup.
async fn rds(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        kind,
        id,
        outputs,
        pairs,
        remove,
        ..
    } = change;
    use aws_sdk_rds::types::Tag;
    let arn = arn_of(cx, kind, id, outputs).await?;
    let tags: Vec<Tag> = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !tags.is_empty() {
        cx.call("AddTagsToResource", || {
            cx.clients
                .rds
                .add_tags_to_resource()
                .resource_name(&arn)
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await?;
    }
    if !remove.is_empty() {
        cx.call("RemoveTagsFromResource", || {
            cx.clients
                .rds
                .remove_tags_from_resource()
                .resource_name(&arn)
                .set_tag_keys(Some(remove.clone()))
                .send()
        })
        .await?;
    }
    Ok(())
}

/// Tags SqsQueue.
async fn sqs(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        id, pairs, remove, ..
    } = change;
    sqs_queue::apply_tags(cx, id, (pairs.into_iter().collect(), remove)).await
}

/// Tags EventRule.
async fn eventbridge(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        kind,
        id,
        outputs,
        pairs,
        remove,
    } = change;
    let arn = arn_of(cx, kind, id, outputs).await?;
    event_rule::apply_tags(cx, &arn, (pairs.into_iter().collect(), remove)).await
}

/// Tags KmsKey.
async fn kms(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        id, pairs, remove, ..
    } = change;
    kms_key::apply_tags(cx, id, (pairs.into_iter().collect(), remove)).await
}

/// Tags Route53Zone.
async fn route53(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        id, pairs, remove, ..
    } = change;
    use aws_sdk_route53::types::{Tag, TagResourceType};
    let zone = id.trim_start_matches("/hostedzone/");
    let tags: Vec<Tag> = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    cx.call("ChangeTagsForResource", || {
        cx.clients
            .route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(zone)
            .set_add_tags(Some(tags.clone()).filter(|t| !t.is_empty()))
            .set_remove_tag_keys(Some(remove.clone()).filter(|r| !r.is_empty()))
            .send()
    })
    .await?;
    Ok(())
}

/// Tags AcmCertificate.
async fn acm(cx: &Cx, change: Change<'_>) -> Result<(), AwsError> {
    let Change {
        id, pairs, remove, ..
    } = change;
    acm_certificate::apply_tags(cx, id, (pairs.into_iter().collect(), remove)).await
}
