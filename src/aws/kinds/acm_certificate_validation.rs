//! The wait for a DNS-validated certificate to be ISSUED, as a resource of
//! its own: it runs after the validation record exists, and whatever uses
//! the certificate depends on it. Nothing in the cloud is made or deleted
//! here; the certificate itself is the `AcmCertificate` resource.

use async_trait::async_trait;
use aws_sdk_acm::types::CertificateStatus;
use serde_json::json;

use super::acm_certificate::describe;
use super::{Kind, Live, ReadScope, Target, str_prop};
use crate::aws::{AwsError, Cx};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};
use crate::model::{Outputs, Props};

pub struct AcmCertificateValidation;

fn outputs(arn: &str) -> Outputs {
    [
        ("id".into(), arn.to_string()),
        ("certificate_arn".into(), arn.to_string()),
    ]
    .into()
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "AcmCertificateValidation",
    tier: Tier::Dns,
    outputs: &["id", "certificate_arn"],
    replace_fields: &["certificate_arn", "validation_record"],
    natural_key: NaturalKey::Fields(&["certificate_arn"]),
    tagging: Tagging::None,
    // Resent safely: nothing is created.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for AcmCertificateValidation {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let arn = str_prop(t.props, "certificate_arn")?;
        let minutes = t
            .props
            .get("_timeout_minutes")
            .and_then(|v| v.as_u64())
            .unwrap_or(45);
        cx.wait_for(
            t.address,
            "the certificate to be ISSUED (ACM checks the validation record)",
            std::time::Duration::from_secs(minutes * 60),
            || async {
                let Some(c) = describe(cx, arn).await? else {
                    return Err(AwsError::local(
                        "DescribeCertificate",
                        format!("certificate {arn} is gone"),
                    ));
                };
                match c.status() {
                    Some(CertificateStatus::Issued) => Ok(Some(())),
                    Some(
                        s @ (CertificateStatus::Failed
                        | CertificateStatus::ValidationTimedOut
                        | CertificateStatus::Revoked),
                    ) => Err(AwsError::local(
                        "DescribeCertificate",
                        format!(
                            "certificate {arn} is {}: {}",
                            s.as_str(),
                            c.failure_reason()
                                .map(|r| r.as_str())
                                .unwrap_or("check the validation record in the zone")
                        ),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await?;
        Ok(t.made_with(arn.to_string(), outputs(arn)))
    }

    /// Valid while the certificate is ISSUED; the record it was validated by
    /// is the record resource's to check.
    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for known in &scope.known {
            let Some(c) = describe(cx, &known.id).await? else {
                continue;
            };
            if c.status() != Some(&CertificateStatus::Issued) {
                continue;
            }
            let props = json!({ "certificate_arn": known.id, "validation_record": known.props.get("validation_record") });
            out.push(Live::found(
                known.id.clone(),
                None,
                props,
                outputs(&known.id),
            ));
        }
        Ok(out)
    }

    /// The batched read covers the certificates state knows: the plan's, once resolved.
    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Ok(arn) = str_prop(resolved, "certificate_arn") else {
            return Ok(None);
        };
        // The record it was validated by is not known yet (its record
        // resource was not found): adopting it would record that unknown,
        // and the next plan would replace it. Left to create, which only
        // waits for the issued certificate again.
        if resolved
            .get("validation_record")
            .is_some_and(crate::model::has_unknown)
        {
            return Ok(None);
        }
        let Some(c) = describe(cx, arn).await? else {
            return Ok(None);
        };
        if c.status() != Some(&CertificateStatus::Issued) {
            return Ok(None);
        }
        let props = json!({ "certificate_arn": arn, "validation_record": resolved.get("validation_record") });
        Ok(Some(Live::found(
            arn.to_string(),
            None,
            props,
            outputs(arn),
        )))
    }

    async fn update(
        &self,
        _cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, _cx: &Cx, _live: &Live) -> Result<(), AwsError> {
        Ok(())
    }
}
