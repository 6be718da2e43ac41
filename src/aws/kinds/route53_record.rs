//! A Route53 record set. Records carry no tags: one is known by its zone,
//! name and type, and read with one paginated list per zone that state
//! knows. Create and update are UPSERTs, so a resent change is harmless;
//! each change is waited on until Route53 reports it INSYNC.

use async_trait::async_trait;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::json;

use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, ErrorClass, OrMissing, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};
use crate::model::{Outputs, Props};

pub struct Route53Record;

/// Lowercase with the trailing dot Route53 returns names with.
pub fn fqdn(name: &str) -> String {
    let n = unescape(name).to_ascii_lowercase();
    if n.ends_with('.') { n } else { format!("{n}.") }
}

/// Route53 answers names with every character outside `a-z0-9-_.` as a
/// three-digit octal escape (`\052` for the `*` of a wildcard record);
/// the plan spells them as they are.
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn key_of(zone: &str, name: &str, kind: &str) -> String {
    format!("{zone}|{}|{kind}", fqdn(name))
}

fn record_set(props: &Props) -> Result<ResourceRecordSet, AwsError> {
    let records: Vec<ResourceRecord> = super::strings(props, "records")
        .into_iter()
        .filter_map(|v| ResourceRecord::builder().value(v).build().ok())
        .collect();
    ResourceRecordSet::builder()
        .name(fqdn(str_prop(props, "name")?))
        .r#type(RrType::from(str_prop(props, "type")?))
        .ttl(props.get("ttl").and_then(|v| v.as_i64()).unwrap_or(300))
        .set_resource_records(Some(records))
        .build()
        .map_err(|e| AwsError::local("ResourceRecordSet", e.to_string()))
}

/// Sends one change and waits until it is INSYNC on Route53's servers.
pub async fn change(
    cx: &Cx,
    address: &str,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(), AwsError> {
    let change = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| AwsError::local("Change", e.to_string()))?;
    let batch = ChangeBatch::builder()
        .changes(change)
        .build()
        .map_err(|e| AwsError::local("ChangeBatch", e.to_string()))?;
    let sent = cx
        .call("ChangeResourceRecordSets", || {
            cx.clients
                .route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch.clone())
                .send()
        })
        .await?;
    let Some(id) = sent.change_info().map(|c| c.id().to_string()) else {
        return Ok(());
    };
    cx.wait_for(
        address,
        "the DNS change to reach every Route53 server",
        cx.timeouts.dependency,
        || async {
            let got = cx
                .clients
                .route53
                .get_change()
                .id(&id)
                .send()
                .await
                .aws("GetChange")?;
            Ok(got
                .change_info()
                .is_some_and(|c| *c.status() == ChangeStatus::Insync)
                .then_some(()))
        },
    )
    .await
}

/// Every record set of a zone (300 per page, the API's largest).
pub async fn list(cx: &Cx, zone: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let mut out = Vec::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let page = cx
            .retry(|| async {
                let mut call = cx
                    .clients
                    .route53
                    .list_resource_record_sets()
                    .hosted_zone_id(zone)
                    .max_items(300);
                if let Some((name, kind)) = &start {
                    call = call.start_record_name(name).start_record_type(kind.clone());
                }
                call.send().await.aws("ListResourceRecordSets")
            })
            .await?;
        out.extend(page.resource_record_sets().iter().cloned());
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => start = Some((n.to_string(), t.clone())),
            _ => break,
        }
    }
    Ok(out)
}

fn to_live(zone: &str, r: &ResourceRecordSet) -> Live {
    let mut values: Vec<String> = r
        .resource_records()
        .iter()
        .map(|v| v.value().to_string())
        .collect();
    values.sort();
    let id = key_of(zone, r.name(), r.r#type().as_str());
    let props = json!({ "zone_id": zone, "name": fqdn(r.name()), "type": r.r#type().as_str(), "ttl": r.ttl(), "records": values });
    let outputs: Outputs = [("id".into(), id.clone()), ("fqdn".into(), fqdn(r.name()))].into();
    Live {
        id,
        address: None,
        props: props.as_object().cloned().unwrap_or_default(),
        outputs,
    }
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "Route53Record",
    tier: Tier::Dns,
    outputs: &["id", "fqdn"],
    replace_fields: &["zone_id", "name", "type"],
    natural_key: NaturalKey::Computed(record_key),
    tagging: Tagging::None,
    // Resent safely: an UPSERT.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

/// A record is told apart by its zone, fully qualified name and type.
fn record_key(props: &Props) -> Option<String> {
    Some(key_of(
        props.get("zone_id")?.as_str()?,
        props.get("name")?.as_str()?,
        props.get("type")?.as_str()?,
    ))
}

#[async_trait]
impl Kind for Route53Record {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let zone = str_prop(t.props, "zone_id")?;
        change(
            cx,
            t.address,
            zone,
            ChangeAction::Upsert,
            record_set(t.props)?,
        )
        .await?;
        let id = key_of(zone, str_prop(t.props, "name")?, str_prop(t.props, "type")?);
        let mut props = t.props.clone();
        props.insert("name".into(), json!(fqdn(str_prop(t.props, "name")?)));
        let outputs: Outputs = [
            ("id".into(), id.clone()),
            ("fqdn".into(), fqdn(str_prop(t.props, "name")?)),
        ]
        .into();
        Ok(Live {
            id,
            address: Some(t.address.to_string()),
            props,
            outputs,
        })
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut zones: Vec<&str> = scope
            .known
            .iter()
            .filter_map(|k| k.props.get("zone_id").and_then(|v| v.as_str()))
            .collect();
        zones.sort();
        zones.dedup();
        let wanted: Vec<String> = scope.known.iter().map(|k| k.id.clone()).collect();
        let mut out = Vec::new();
        for zone in zones {
            let Some(sets) = list(cx, zone).await.or_missing()? else {
                continue;
            };
            out.extend(
                sets.iter()
                    .map(|r| to_live(zone, r))
                    .filter(|l| wanted.contains(&l.id)),
            );
        }
        Ok(out)
    }

    /// The batched read lists only the zones state knows: the plan's zone, once resolved.
    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let (Some(zone), Some(key)) = (opt_str(resolved, "zone_id"), self.natural_key(resolved))
        else {
            return Ok(None);
        };
        match list(cx, zone).await {
            Ok(sets) => Ok(sets.iter().map(|r| to_live(zone, r)).find(|l| l.id == key)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        change(
            cx,
            t.address,
            str_prop(t.props, "zone_id")?,
            ChangeAction::Upsert,
            record_set(t.props)?,
        )
        .await?;
        let mut props = t.props.clone();
        props.insert("name".into(), json!(fqdn(str_prop(t.props, "name")?)));
        Ok(Live {
            props,
            ..live.clone()
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        let zone = str_prop(&live.props, "zone_id")?;
        // A DELETE must name the record's current values: read them back.
        let current = match list(cx, zone).await {
            Ok(sets) => sets
                .into_iter()
                .find(|r| key_of(zone, r.name(), r.r#type().as_str()) == live.id),
            Err(e) if e.class == ErrorClass::NotFound => None,
            Err(e) => return Err(e),
        };
        let Some(set) = current else { return Ok(()) };
        match change(cx, address, zone, ChangeAction::Delete, set).await {
            Err(e)
                if e.class == ErrorClass::NotFound
                    || (e.code == "InvalidChangeBatch" && e.message.contains("not found")) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fqdn;

    #[test]
    fn names_read_back_with_octal_escapes_match_the_plan() {
        assert_eq!(fqdn("\\052.apps.example.com."), fqdn("*.apps.example.com"));
        assert_eq!(fqdn("Api.Example.com"), "api.example.com.");
        // Not an escape: kept as it is.
        assert_eq!(fqdn("a\\b.example.com"), "a\\b.example.com.");
    }
}
