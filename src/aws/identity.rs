//! infra's identity tags on resources infra did not create: put on by
//! `import`, `adopt` and `state mv`, taken off by `state rm`. One tag call
//! per resource, through each service's own tagging API; nothing else about
//! the resource is touched.

use std::collections::HashMap;

use super::kinds::iam_details::{self, Taggable};
use super::kinds::tagged::create_tags;
use super::kinds::{
    self, acm_certificate, ec2_tags, eks_cluster, event_rule, kms_key, rds_common, route53_zone,
    sqs_queue,
};
use super::{AwsError, Cx};
use crate::model::{Outputs, Props, Tagging};

/// Kinds AWS cannot tag: infra finds them by their natural key.
pub fn untagged(kind: &str) -> bool {
    kinds::info(kind).is_some_and(|i| i.tagging == Tagging::None)
}

/// The identity tags for `address` in this env.
pub fn identity(cx: &Cx, address: &str) -> HashMap<String, String> {
    create_tags(cx, address, &Props::new())
}

/// The ARN a resource tagged by ARN is tagged by: from its outputs, or asked
/// of its kind (one describe).
async fn arn_of(cx: &Cx, kind: &str, id: &str, outputs: &Outputs) -> Result<String, AwsError> {
    if let Some(arn) = outputs.get("arn").filter(|a| !a.is_empty()) {
        return Ok(arn.clone());
    }
    let arn = match kinds::kind(kind) {
        Some(k) => k.arn(cx, id).await?,
        None => None,
    };
    arn.ok_or_else(|| AwsError::local("identity", format!("{kind} {id}: no ARN found")))
}

/// Puts the identity tags of `address` on the resource. `Ok(false)`: the
/// kind takes no tags (found by its natural key instead).
pub async fn tag(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &Outputs,
    address: &str,
) -> Result<bool, AwsError> {
    set(cx, kind, id, outputs, identity(cx, address), Vec::new()).await
}

/// Takes infra's identity tags off the resource.
pub async fn untag(cx: &Cx, kind: &str, id: &str, outputs: &Outputs) -> Result<bool, AwsError> {
    let keys = identity(cx, "-").into_keys().collect();
    set(cx, kind, id, outputs, HashMap::new(), keys).await
}

async fn set(
    cx: &Cx,
    kind: &str,
    id: &str,
    outputs: &Outputs,
    add: HashMap<String, String>,
    remove: Vec<String>,
) -> Result<bool, AwsError> {
    let Some(info) = kinds::info(kind) else {
        let message = format!("infra cannot tag a {kind}");
        return Err(AwsError::local("identity", message));
    };
    let delta = (add, remove);
    match info.tagging {
        Tagging::None => return Ok(false),
        Tagging::Ec2 => ec2_tags::apply_tags(cx, id, delta).await,
        Tagging::IamRole => iam_details::apply_tags(cx, Taggable::Role(id), delta).await,
        Tagging::IamInstanceProfile => {
            iam_details::apply_tags(cx, Taggable::InstanceProfile(id), delta).await
        }
        Tagging::IamOidcProvider => {
            iam_details::apply_tags(cx, Taggable::OidcProvider(id), delta).await
        }
        Tagging::Eks => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            eks_cluster::apply_tags(cx, &arn, delta).await
        }
        Tagging::Rds => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            rds_common::apply_tags(cx, &arn, delta).await
        }
        Tagging::EventBridge => {
            let arn = arn_of(cx, kind, id, outputs).await?;
            event_rule::apply_tags(cx, &arn, delta).await
        }
        Tagging::Sqs => sqs_queue::apply_tags(cx, id, delta).await,
        Tagging::Kms => kms_key::apply_tags(cx, id, delta).await,
        Tagging::Route53 => route53_zone::apply_tags(cx, id, delta).await,
        Tagging::Acm => acm_certificate::apply_tags(cx, id, delta).await,
    }?;
    Ok(true)
}
