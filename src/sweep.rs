//! The out-of-band sweep before `destroy`: what controllers made inside the
//! env's network and that blocks its deletion — load balancers and target
//! groups of the AWS Load Balancer Controller, the security groups it made,
//! instances Karpenter launched, ENIs left available in our subnets. Found by
//! the tags those controllers set, deleted before anything of infra's. In the
//! env's zone, the records external-dns made, found by its TXT ownership
//! records (a zone with records left in it cannot be deleted).

use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, ErrorClass, SdkResultExt};
use crate::report::Event;

pub use crate::model::OutOfBand;

/// What the sweep looks in: the cluster's name and the env's network.
pub struct Scope<'a> {
    pub cluster: &'a str,
    pub vpc_id: Option<&'a str>,
    pub subnet_ids: &'a [String],
    /// The env's Route53 zone, when it has one.
    pub zone_id: Option<&'a str>,
}

fn filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// What the cluster's controllers left in the env's VPC, subnets and zone:
/// Karpenter's nodes, the load balancer controller's load balancers, target
/// groups and security groups, available network interfaces, and
/// external-dns's records.
pub async fn find(cx: &Cx, scope: &Scope<'_>) -> Result<Vec<OutOfBand>, AwsError> {
    let mut found = karpenter_nodes(cx, scope).await?;
    found.extend(load_balancers(cx, scope).await?);
    if let Some(vpc) = scope.vpc_id {
        found.extend(controller_security_groups(cx, scope, vpc).await?);
    }
    if !scope.subnet_ids.is_empty() {
        found.extend(available_interfaces(cx, scope).await?);
    }
    if let Some(zone) = scope.zone_id {
        // A zone deleted outside infra holds nothing to sweep.
        match crate::aws::kinds::route53_record::list(cx, zone).await {
            Ok(records) => found.extend(external_dns_records(&records, zone)),
            Err(e) if e.class == ErrorClass::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The load balancer controller's tag, naming the cluster.
const LBC_TAG: &str = "elbv2.k8s.aws/cluster";

/// Karpenter's nodes: tagged with the cluster and a node pool.
async fn karpenter_nodes(cx: &Cx, scope: &Scope<'_>) -> Result<Vec<OutOfBand>, AwsError> {
    let owned = format!("tag:kubernetes.io/cluster/{}", scope.cluster);
    let states = ["pending", "running", "stopping", "stopped"];
    let instances = cx
        .call("DescribeInstances", || {
            cx.clients
                .ec2
                .describe_instances()
                .filters(filter(&owned, &["owned"]))
                .filters(filter("tag-key", &["karpenter.sh/nodepool"]))
                .filters(filter("instance-state-name", &states))
                .send()
        })
        .await?;
    let ids = instances.reservations().iter().flat_map(|r| r.instances());
    Ok(ids
        .filter_map(|i| i.instance_id())
        .map(|id| OutOfBand {
            kind: "Ec2Instance".into(),
            id: id.into(),
            why: "launched by Karpenter for this cluster".into(),
        })
        .collect())
}

/// The load balancer controller's load balancers and target groups in the
/// VPC, told by its cluster tag.
async fn load_balancers(cx: &Cx, scope: &Scope<'_>) -> Result<Vec<OutOfBand>, AwsError> {
    let elbv2 = &cx.clients.elbv2;
    let lbs = cx
        .all("DescribeLoadBalancers", || {
            elbv2
                .describe_load_balancers()
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    let tgs = cx
        .all("DescribeTargetGroups", || {
            elbv2
                .describe_target_groups()
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    let in_vpc = |vpc: Option<&str>| scope.vpc_id.is_none() || vpc == scope.vpc_id;
    let arns: Vec<String> = lbs
        .iter()
        .filter(|lb| in_vpc(lb.vpc_id()))
        .filter_map(|lb| lb.load_balancer_arn().map(String::from))
        .chain(
            tgs.iter()
                .filter(|t| in_vpc(t.vpc_id()))
                .filter_map(|t| t.target_group_arn().map(String::from)),
        )
        .collect();
    let mut found = Vec::new();
    // DescribeTags takes 20 ARNs a call.
    for chunk in arns.chunks(20) {
        let tags = cx
            .call("DescribeTags", || {
                elbv2
                    .describe_tags()
                    .set_resource_arns(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
        for d in tags.tag_descriptions() {
            let ours = d
                .tags()
                .iter()
                .any(|t| t.key() == Some(LBC_TAG) && t.value() == Some(scope.cluster));
            let Some(arn) = d.resource_arn().filter(|_| ours) else {
                continue;
            };
            let kind = if arn.contains(":targetgroup/") {
                "TargetGroup"
            } else {
                "LoadBalancer"
            };
            found.push(OutOfBand {
                kind: kind.into(),
                id: arn.into(),
                why: "made by the AWS Load Balancer Controller".into(),
            });
        }
    }
    Ok(found)
}

/// Security groups the controllers made in our VPC (not infra's own).
async fn controller_security_groups(
    cx: &Cx,
    scope: &Scope<'_>,
    vpc: &str,
) -> Result<Vec<OutOfBand>, AwsError> {
    let groups = cx
        .call("DescribeSecurityGroups", || {
            cx.clients
                .ec2
                .describe_security_groups()
                .filters(filter("vpc-id", &[vpc]))
                .send()
        })
        .await?;
    let owned = format!("kubernetes.io/cluster/{}", scope.cluster);
    let mut found = Vec::new();
    for g in groups.security_groups() {
        let tag = |k: &str| {
            g.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
        };
        let infra = tag(crate::model::TAG_ENV).is_some();
        let controller = tag(LBC_TAG) == Some(scope.cluster) || tag(&owned) == Some("owned");
        if controller && !infra {
            found.push(OutOfBand {
                kind: "SecurityGroup".into(),
                id: g.group_id().unwrap_or_default().into(),
                why: "made by a cluster controller".into(),
            });
        }
    }
    Ok(found)
}

/// Network interfaces left available in our subnets (the VPC CNI's, a
/// deleted load balancer's).
async fn available_interfaces(cx: &Cx, scope: &Scope<'_>) -> Result<Vec<OutOfBand>, AwsError> {
    let subnets: Vec<&str> = scope.subnet_ids.iter().map(String::as_str).collect();
    let enis = cx
        .call("DescribeNetworkInterfaces", || {
            cx.clients
                .ec2
                .describe_network_interfaces()
                .filters(filter("subnet-id", &subnets))
                .filters(filter("status", &["available"]))
                .send()
        })
        .await?;
    Ok(enis
        .network_interfaces()
        .iter()
        .map(|e| OutOfBand {
            kind: "NetworkInterface".into(),
            id: e.network_interface_id().unwrap_or_default().into(),
            why: format!(
                "left available in our subnet {}",
                e.subnet_id().unwrap_or_default()
            ),
        })
        .collect())
}

/// external-dns marks each record it owns with a TXT record holding
/// `heritage=external-dns,external-dns/owner=...`, named like the record
/// (its old format) or `<type>-<name>` / `<type>-<first label>.<rest>` (its
/// current one). Returns the TXT records and the records they own, each as
/// `zone|fqdn|type`.
fn external_dns_records(
    records: &[aws_sdk_route53::types::ResourceRecordSet],
    zone: &str,
) -> Vec<OutOfBand> {
    use crate::aws::kinds::route53_record::fqdn;
    let is_owner = |r: &aws_sdk_route53::types::ResourceRecordSet| {
        r.r#type().as_str() == "TXT"
            && r.resource_records().iter().any(|v| {
                v.value()
                    .contains("heritage=external-dns,external-dns/owner=")
            })
    };
    let mut owned_names = std::collections::BTreeSet::new();
    for r in records.iter().filter(|r| is_owner(r)) {
        let name = fqdn(r.name());
        owned_names.insert(name.clone());
        // `a-app.zone.` / `cname-app.zone.` name the record `app.zone.`.
        if let Some((label, rest)) = name.split_once('.') {
            for prefix in ["a-", "aaaa-", "cname-", "txt-", "ns-", "mx-", "srv-"] {
                if let Some(stripped) = label.strip_prefix(prefix) {
                    owned_names.insert(format!("{stripped}.{rest}"));
                }
            }
        }
    }
    let mut found = Vec::new();
    for r in records {
        let kind = r.r#type().as_str();
        if kind == "SOA" || kind == "NS" || !owned_names.contains(&fqdn(r.name())) {
            continue;
        }
        let why = if is_owner(r) {
            "external-dns ownership record"
        } else {
            "made by external-dns (it owns the name)"
        };
        found.push(OutOfBand {
            kind: "Route53Record".into(),
            id: format!("{zone}|{}|{kind}", fqdn(r.name())),
            why: why.into(),
        });
    }
    found
}

/// Deletes in the order that unblocks: instances, load balancers, target
/// groups, ENIs, security groups. Returns the failures; never stops early.
pub async fn remove(cx: &Cx, items: &[OutOfBand]) -> Vec<(String, AwsError)> {
    let mut failed = Vec::new();
    for kind in [
        "Ec2Instance",
        "LoadBalancer",
        "TargetGroup",
        "NetworkInterface",
        "SecurityGroup",
        "Route53Record",
    ] {
        for item in items.iter().filter(|i| i.kind == kind) {
            cx.reporter.report(Event::Started {
                address: item.id.clone(),
                action: format!("sweep {kind}"),
            });
            let started = std::time::Instant::now();
            match remove_one(cx, item).await {
                Ok(()) => cx.reporter.report(Event::Finished {
                    address: item.id.clone(),
                    action: "sweep".into(),
                    elapsed: started.elapsed(),
                }),
                Err(e) => {
                    cx.reporter.report(Event::Failed {
                        address: item.id.clone(),
                        action: "sweep".into(),
                        error: e.to_string(),
                    });
                    failed.push((item.id.clone(), e));
                }
            }
        }
    }
    failed
}

async fn remove_one(cx: &Cx, item: &OutOfBand) -> Result<(), AwsError> {
    let id = item.id.as_str();
    let gone = |r: Result<(), AwsError>| r.gone_is_done();
    match item.kind.as_str() {
        "Ec2Instance" => {
            gone(
                cx.retry(|| async {
                    cx.clients
                        .ec2
                        .terminate_instances()
                        .instance_ids(id)
                        .send()
                        .await
                        .aws("TerminateInstances")
                        .map(|_| ())
                })
                .await,
            )?;
            cx.wait_for(id, "instance to terminate", cx.timeouts.nat, || async {
                let out = cx
                    .clients
                    .ec2
                    .describe_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .aws("DescribeInstances");
                Ok(match out {
                    Ok(o) => o
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .all(|i| {
                            i.state().and_then(|s| s.name()).map(|n| n.as_str())
                                == Some("terminated")
                        })
                        .then_some(()),
                    Err(e) if e.class == ErrorClass::NotFound => Some(()),
                    Err(e) => return Err(e),
                })
            })
            .await
        }
        "LoadBalancer" => gone(
            cx.retry(|| async {
                cx.clients
                    .elbv2
                    .delete_load_balancer()
                    .load_balancer_arn(id)
                    .send()
                    .await
                    .aws("DeleteLoadBalancer")
                    .map(|_| ())
            })
            .await,
        ),
        "TargetGroup" => {
            cx.delete_in_use(
                id,
                "still in use by a load balancer",
                "DeleteTargetGroup",
                || {
                    cx.clients
                        .elbv2
                        .delete_target_group()
                        .target_group_arn(id)
                        .send()
                },
            )
            .await
        }
        "NetworkInterface" => {
            cx.delete_in_use(id, "still attached", "DeleteNetworkInterface", || {
                cx.clients
                    .ec2
                    .delete_network_interface()
                    .network_interface_id(id)
                    .send()
            })
            .await
        }
        "Route53Record" => {
            // A delete must repeat the record set exactly: read it back first.
            let mut parts = id.splitn(3, '|');
            let (Some(zone), Some(name), Some(kind)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(AwsError::local(
                    "ChangeResourceRecordSets",
                    format!("`{id}` is not zone|name|type"),
                ));
            };
            let records = crate::aws::kinds::route53_record::list(cx, zone).await?;
            let found = records.into_iter().find(|r| {
                crate::aws::kinds::route53_record::fqdn(r.name()) == name
                    && r.r#type().as_str() == kind
            });
            let Some(set) = found else { return Ok(()) };
            gone(
                crate::aws::kinds::route53_record::change(
                    cx,
                    id,
                    zone,
                    aws_sdk_route53::types::ChangeAction::Delete,
                    set,
                )
                .await,
            )
        }
        _ => {
            cx.delete_in_use(id, "still in use", "DeleteSecurityGroup", || {
                cx.clients.ec2.delete_security_group().group_id(id).send()
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};

    fn set(name: &str, kind: RrType, value: &str) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name(name)
            .r#type(kind)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn external_dns_records_are_found_by_their_ownership_records() {
        let owner = "\"heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/todo/api\"";
        let records = vec![
            set("dev.example.com.", RrType::Ns, "ns-1.awsdns-1.com."),
            set(
                "dev.example.com.",
                RrType::Soa,
                "ns-1.awsdns-1.com. hostmaster. 1 7200 900 1209600 86400",
            ),
            set(
                "_abc.dev.example.com.",
                RrType::Cname,
                "_xyz.acm-validations.aws.",
            ),
            set("api.dev.example.com.", RrType::A, "10.0.0.1"),
            set("api.dev.example.com.", RrType::Txt, owner),
            set("cname-www.dev.example.com.", RrType::Txt, owner),
            set("www.dev.example.com.", RrType::Cname, "lb.example.net."),
            set("manual.dev.example.com.", RrType::Txt, "\"v=spf1 -all\""),
        ];
        let mut ids: Vec<String> = external_dns_records(&records, "Z1")
            .into_iter()
            .map(|o| o.id)
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "Z1|api.dev.example.com.|A",
                "Z1|api.dev.example.com.|TXT",
                "Z1|cname-www.dev.example.com.|TXT",
                "Z1|www.dev.example.com.|CNAME",
            ]
        );
    }
}
