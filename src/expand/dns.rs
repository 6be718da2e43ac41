//! The edge: a public hosted zone for the plan's domain and one ACM
//! certificate for the domain and `*.domain`, validated through DNS. ACM asks
//! for the same validation CNAME for the apex and its wildcard, so one record
//! resource serves both; the validation resource waits for ISSUED.

use serde_json::json;

use super::{Expanded, tags};
use crate::config::{Dns, LoadedPlan};
use crate::model::Ref;

pub fn expand(plan: &LoadedPlan, d: &Dns, out: &mut Expanded) {
    let name = plan.file.cluster_name(&plan.env);
    let domain = d.domain.get_ref().trim_end_matches('.').to_string();
    let span = Some(d.domain.span());
    out.add(
        "route53_zone.main".into(),
        "Route53Zone",
        json!({ "name": domain, "comment": format!("{name}: public zone"), "tags": tags(plan, &domain, &[]) }),
        "dns",
        span.clone(),
    );
    out.add(
        "acm_certificate.main".into(),
        "AcmCertificate",
        json!({
            "domain_name": domain,
            "subject_alternative_names": [format!("*.{domain}")],
            "validation_method": "DNS",
            "tags": tags(plan, &domain, &[]),
        }),
        "dns",
        span.clone(),
    );
    out.add(
        "route53_record.cert_validation".into(),
        "Route53Record",
        json!({
            "zone_id": Ref::expr("route53_zone.main", "id"),
            "name": Ref::expr("acm_certificate.main", "validation_name"),
            "type": Ref::expr("acm_certificate.main", "validation_type"),
            "ttl": 300,
            "records": [Ref::expr("acm_certificate.main", "validation_value")],
        }),
        "dns",
        span.clone(),
    );
    out.add(
        "acm_certificate_validation.main".into(),
        "AcmCertificateValidation",
        json!({
            "certificate_arn": Ref::expr("acm_certificate.main", "arn"),
            "validation_record": Ref::expr("route53_record.cert_validation", "id"),
            "_timeout_minutes": d.certificate_timeout_minutes.unwrap_or(45),
        }),
        "dns",
        span,
    );
    out.outputs.insert(
        "zone_id".into(),
        json!(Ref::expr("route53_zone.main", "id")),
    );
    // A list: the zone keeps its name servers comma-joined.
    out.outputs.insert(
        "zone_name_servers".into(),
        json!({ (crate::outputs::SPLIT_COMMAS): Ref::expr("route53_zone.main", "name_servers") }),
    );
    out.outputs.insert(
        "certificate_arn".into(),
        json!(Ref::expr(
            "acm_certificate_validation.main",
            "certificate_arn"
        )),
    );
}
