//! An ACM certificate validated through DNS. The create returns once ACM has
//! published the validation record (the apex and `*.domain` share one), so
//! the record resource can be made from its outputs; waiting for ISSUED is
//! the validation resource's job. The idempotency token is the action's
//! journal token, so a resent request returns the same certificate.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, Tag, ValidationMethod};
use serde_json::json;

use super::tagged::{TagDelta, apply_delta, create_tags, tag_delta};
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::OrMissing;
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, Resend, Tagging, Tier};
use crate::model::{Outputs, TAG_ADDRESS, is_foreign_tag};

pub struct AcmCertificate;

/// Every status: `ListCertificates` without a filter returns only some.
pub const ALL_STATUSES: [CertificateStatus; 7] = [
    CertificateStatus::PendingValidation,
    CertificateStatus::Issued,
    CertificateStatus::Inactive,
    CertificateStatus::Expired,
    CertificateStatus::ValidationTimedOut,
    CertificateStatus::Revoked,
    CertificateStatus::Failed,
];

pub async fn describe(cx: &Cx, arn: &str) -> Result<Option<CertificateDetail>, AwsError> {
    let got = cx
        .call("DescribeCertificate", || {
            cx.clients
                .acm
                .describe_certificate()
                .certificate_arn(arn)
                .send()
        })
        .await;
    Ok(got.or_missing()?.and_then(|o| o.certificate().cloned()))
}

/// The outputs, once ACM has published the validation record.
fn outputs(c: &CertificateDetail) -> Option<Outputs> {
    let arn = c.certificate_arn()?.to_string();
    let record = c
        .domain_validation_options()
        .iter()
        .find_map(|d| d.resource_record())?;
    Some(
        [
            ("id".into(), arn.clone()),
            ("arn".into(), arn),
            (
                "status".into(),
                c.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ),
            ("validation_name".into(), record.name().to_string()),
            (
                "validation_type".into(),
                record.r#type().as_str().to_string(),
            ),
            ("validation_value".into(), record.value().to_string()),
        ]
        .into(),
    )
}

/// The certificate and its outputs; a certificate still waiting for ACM to
/// publish its validation record (the seconds after a request: a run killed
/// right after `RequestCertificate` left it) is waited for, so it is seen and
/// adopted rather than requested a second time. `None`: gone, or a
/// certificate that will never have a record (failed).
async fn published(cx: &Cx, arn: &str) -> Result<Option<(CertificateDetail, Outputs)>, AwsError> {
    let Some(detail) = describe(cx, arn).await? else {
        return Ok(None);
    };
    if let Some(out) = outputs(&detail) {
        return Ok(Some((detail, out)));
    }
    if detail.status() != Some(&CertificateStatus::PendingValidation) {
        return Ok(None);
    }
    cx.wait_for(
        arn,
        "ACM to publish the DNS validation record",
        cx.timeouts.dependency,
        || async {
            Ok(describe(cx, arn)
                .await?
                .and_then(|d| outputs(&d).map(|o| (d, o))))
        },
    )
    .await
    .map(Some)
}

fn sans(c: &CertificateDetail) -> Vec<String> {
    // ACM lists the primary domain among the alternative names.
    let mut v: Vec<String> = c
        .subject_alternative_names()
        .iter()
        .filter(|n| Some(n.as_str()) != c.domain_name())
        .cloned()
        .collect();
    v.sort();
    v
}

async fn tags_of(cx: &Cx, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let got = cx
        .call("ListTagsForCertificate", || {
            cx.clients
                .acm
                .list_tags_for_certificate()
                .certificate_arn(arn)
                .send()
        })
        .await?;
    Ok(got
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

fn acm_tags(map: HashMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// Sets and removes tags on a certificate, by ARN: its update and the
/// takeover's identity tags.
pub async fn apply_tags(cx: &Cx, arn: &str, delta: TagDelta) -> Result<(), AwsError> {
    let acm = &cx.clients.acm;
    apply_delta(
        delta,
        |set| async move {
            let tags = acm_tags(set);
            cx.call("AddTagsToCertificate", || {
                acm.add_tags_to_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await
        },
        |keys| async move {
            let tags: Vec<Tag> = keys
                .iter()
                .filter_map(|k| Tag::builder().key(k).build().ok())
                .collect();
            cx.call("RemoveTagsFromCertificate", || {
                acm.remove_tags_from_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "AcmCertificate",
    tier: Tier::Dns,
    tagging: Tagging::Acm,
    outputs: &[
        "id",
        "arn",
        "status",
        "validation_name",
        "validation_type",
        "validation_value",
    ],
    replace_fields: &[
        "domain_name",
        "subject_alternative_names",
        "validation_method",
    ],
    // Resent safely: IdempotencyToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for AcmCertificate {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let token: String = t
            .token
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(32)
            .collect();
        let requested = cx
            .clients
            .acm
            .request_certificate()
            .domain_name(str_prop(t.props, "domain_name")?)
            .set_subject_alternative_names(Some(super::strings(
                t.props,
                "subject_alternative_names",
            )))
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_tags(Some(acm_tags(create_tags(cx, t.address, t.props))))
            .send()
            .await
            .aws("RequestCertificate")?;
        let arn = requested
            .certificate_arn()
            .ok_or_else(|| {
                AwsError::local("RequestCertificate", "no certificate ARN in the response")
            })?
            .to_string();
        // ACM publishes the validation record a few seconds after the request.
        let outputs = cx
            .wait_for(
                t.address,
                "ACM to publish the DNS validation record",
                cx.timeouts.dependency,
                || async { Ok(describe(cx, &arn).await?.as_ref().and_then(outputs)) },
            )
            .await?;
        Ok(t.made_with(arn, outputs))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let listed = cx
            .all("ListCertificates", || {
                cx.clients
                    .acm
                    .list_certificates()
                    .set_certificate_statuses(Some(ALL_STATUSES.to_vec()))
                    .max_items(1000)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        let mut out = Vec::new();
        // ACM has no batch tag read: one call per certificate, then a describe for the env's own.
        for summary in listed {
            let Some(arn) = summary.certificate_arn() else {
                continue;
            };
            let Some(tags) = tags_of(cx, arn).await.or_missing()? else {
                continue;
            };
            if !crate::model::readable(
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                scope.owner,
            ) {
                continue;
            }
            let Some((detail, outputs)) = published(cx, arn).await? else {
                continue;
            };
            let comparable: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .filter(|(k, _)| !is_foreign_tag(k))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let props = json!({
                "domain_name": detail.domain_name(),
                "subject_alternative_names": sans(&detail),
                "validation_method": "DNS",
                "tags": comparable,
            });
            let address = tags
                .iter()
                .find(|(k, _)| k == TAG_ADDRESS)
                .map(|(_, v)| v.clone());
            out.push(Live::found(arn.to_string(), address, props, outputs));
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        apply_tags(cx, &live.id, tag_delta(&live.props, t.props)).await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        // In use by a load balancer's listener until the controller lets go of it.
        let in_use = "certificate still in use";
        cx.delete_in_use(address, in_use, "DeleteCertificate", || {
            cx.clients
                .acm
                .delete_certificate()
                .certificate_arn(&live.id)
                .send()
        })
        .await
    }
}
