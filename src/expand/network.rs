//! The network tier: a VPC over N AZs with public, app and data subnets.
//!
//! Subnet CIDRs, when not given, follow one rule (VPC prefix P, AZ index i):
//! - app subnets, where pods take IPs: the i-th block of prefix P+3
//!   (a /16 gives /19s: x.0.0, x.32.0, x.64.0, ...);
//! - public subnets: block 112+i of prefix P+7 (a /16 gives /23s from x.224.0);
//! - data subnets: block 120+i of prefix P+7 (a /16 gives /23s from x.240.0).
//! The app blocks use at most 6 of 7 /P+3 blocks; public and data live in the
//! last one, so the three tiers never overlap.

use ipnet::Ipv4Net;
use serde_json::json;

use super::{Expanded, tags};
use crate::config::{LoadedPlan, Network};
use crate::model::Ref;

pub const TIERS: [&str; 3] = ["public", "app", "data"];

pub fn az_letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

pub fn derive_subnet(vpc: Ipv4Net, tier: &str, i: usize) -> Ipv4Net {
    let (bits, index) = match tier {
        "app" => (3, i),
        "public" => (7, 112 + i),
        _ => (7, 120 + i),
    };
    vpc.subnets(vpc.prefix_len() + bits)
        .expect("validated prefix")
        .nth(index)
        .expect("index within the VPC")
}

pub fn expand(plan: &LoadedPlan, net: &Network, out: &mut Expanded) {
    let cluster = plan.file.cluster_name(&plan.env);
    let vpc_cidr: Ipv4Net = net.cidr.get_ref().parse().expect("validated");
    let origin = "network";
    let span = Some(net.cidr.span());
    let vpc_id = Ref::expr("vpc.main", "id");
    out.add(
        "vpc.main".into(),
        "Vpc",
        json!({
            "cidr": vpc_cidr.to_string(),
            "enable_dns_support": true,
            "enable_dns_hostnames": true,
            "tags": tags(plan, &cluster, &[]),
        }),
        origin,
        span.clone(),
    );
    out.outputs.insert("vpc_id".into(), json!(vpc_id));

    let azs = net.azs.get_ref();
    for tier in TIERS {
        let mut ids = Vec::new();
        for (i, az) in azs.iter().enumerate() {
            let l = az_letter(i);
            let cidr = match &net.subnets {
                Some(s) => {
                    let s = s.get_ref();
                    let list = match tier {
                        "public" => &s.public,
                        "app" => &s.app,
                        _ => &s.data,
                    };
                    list[i].get_ref().clone()
                }
                None => derive_subnet(vpc_cidr, tier, i).to_string(),
            };
            let extra: Vec<(&str, &str)> = match tier {
                "public" => vec![("kubernetes.io/role/elb", "1"), ("infra:tier", "public")],
                "app" => vec![
                    ("kubernetes.io/role/internal-elb", "1"),
                    ("karpenter.sh/discovery", cluster.as_str()),
                    ("infra:tier", "app"),
                ],
                _ => vec![("infra:tier", "data")],
            };
            // `infra:*` keys are identity tags, never diffed; the tier tag is
            // kept visible under a plain key instead.
            let extra: Vec<(&str, &str)> = extra
                .into_iter()
                .map(|(k, v)| {
                    if k == "infra:tier" {
                        ("tier", v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
            let address = format!("subnet.{tier}_{l}");
            out.add(
                address.clone(),
                "Subnet",
                json!({
                    "vpc_id": vpc_id,
                    "cidr": cidr,
                    "az": az,
                    "map_public_ip_on_launch": tier == "public",
                    "tags": tags(plan, &format!("{cluster}-{tier}-{l}"), &extra),
                }),
                origin,
                span.clone(),
            );
            ids.push(Ref::expr(&address, "id"));
        }
        out.outputs.insert(format!("{tier}_subnet_ids"), json!(ids));
    }

    out.add(
        "internet_gateway.main".into(),
        "InternetGateway",
        json!({ "vpc_id": vpc_id, "tags": tags(plan, &cluster, &[]) }),
        origin,
        span.clone(),
    );

    let nat_count = *net.nat_gateways.get_ref() as usize;
    for i in 0..nat_count {
        let l = az_letter(i);
        out.add(
            format!("eip.nat_{l}"),
            "ElasticIp",
            json!({ "tags": tags(plan, &format!("{cluster}-nat-{l}"), &[]) }),
            origin,
            span.clone(),
        );
        out.add(
            format!("nat_gateway.{l}"),
            "NatGateway",
            json!({
                "subnet_id": Ref::expr(&format!("subnet.public_{l}"), "id"),
                "allocation_id": Ref::expr(&format!("eip.nat_{l}"), "id"),
                "tags": tags(plan, &format!("{cluster}-{l}"), &[]),
            }),
            origin,
            span.clone(),
        );
    }

    let table = |out: &mut Expanded, name: &str| {
        out.add(
            format!("route_table.{name}"),
            "RouteTable",
            json!({ "vpc_id": vpc_id, "tags": tags(plan, &format!("{cluster}-{}", name.replace('_', "-")), &[]) }),
            origin,
            span.clone(),
        );
    };
    let associate = |out: &mut Expanded, table: &str, subnet: &str| {
        out.add(
            format!("route_table_association.{subnet}"),
            "RouteTableAssociation",
            json!({
                "route_table_id": Ref::expr(&format!("route_table.{table}"), "id"),
                "subnet_id": Ref::expr(&format!("subnet.{subnet}"), "id"),
            }),
            origin,
            span.clone(),
        );
    };
    table(out, "public");
    out.add(
        "route.public_internet".into(),
        "Route",
        json!({
            "route_table_id": Ref::expr("route_table.public", "id"),
            "destination_cidr": "0.0.0.0/0",
            "gateway_id": Ref::expr("internet_gateway.main", "id"),
        }),
        origin,
        span.clone(),
    );
    table(out, "data");
    for i in 0..azs.len() {
        let l = az_letter(i);
        let app = format!("app_{l}");
        table(out, &app);
        let nat = if nat_count == 1 { 'a' } else { l };
        out.add(
            format!("route.{app}_nat"),
            "Route",
            json!({
                "route_table_id": Ref::expr(&format!("route_table.{app}"), "id"),
                "destination_cidr": "0.0.0.0/0",
                "nat_gateway_id": Ref::expr(&format!("nat_gateway.{nat}"), "id"),
            }),
            origin,
            span.clone(),
        );
        associate(out, "public", &format!("public_{l}"));
        associate(out, &app, &app);
        associate(out, "data", &format!("data_{l}"));
    }

    for (name, sg) in &net.security_groups {
        let sg_span = Some(sg.span());
        let sg_origin = format!("network.security_groups.{name}");
        let sg = sg.get_ref();
        let mut sg_tags = sg
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>();
        if name == "nodes" {
            sg_tags.push(("karpenter.sh/discovery", cluster.as_str()));
        }
        out.add(
            format!("security_group.{name}"),
            "SecurityGroup",
            json!({
                "vpc_id": vpc_id,
                "name": format!("{cluster}-{name}"),
                "description": sg.description,
                "tags": tags(plan, &format!("{cluster}-{name}"), &sg_tags),
            }),
            &sg_origin,
            sg_span,
        );
        out.outputs.insert(
            format!("{name}_security_group_id"),
            json!(Ref::expr(&format!("security_group.{name}"), "id")),
        );
        for rule in &sg.rules {
            let r = rule.get_ref();
            let (from, to) = match (r.port, r.from_port, r.to_port) {
                (Some(p), _, _) => (p, p),
                (None, Some(a), Some(b)) => (a, b),
                _ => (-1, -1),
            };
            let mut props = json!({
                "group_id": Ref::expr(&format!("security_group.{name}"), "id"),
                "direction": r.direction.as_str(),
                "protocol": if r.protocol == "all" { "-1".to_string() } else { r.protocol.clone() },
                "from_port": from,
                "to_port": to,
                "description": r.description.clone().unwrap_or_default(),
                "tags": tags(plan, &format!("{cluster}-{name}-{}", r.name), &[]),
            });
            let peer = if let Some(c) = &r.cidr {
                ("cidr", json!(c.get_ref()))
            } else if let Some(g) = &r.source_group {
                (
                    "source_group_id",
                    json!(Ref::expr(&format!("security_group.{}", g.get_ref()), "id")),
                )
            } else {
                (
                    "source_group_id",
                    json!(Ref::expr(&format!("security_group.{name}"), "id")),
                )
            };
            props[peer.0] = peer.1;
            out.add(
                format!("security_group_rule.{name}_{}", r.name),
                "SecurityGroupRule",
                props,
                &format!("{sg_origin}.rules"),
                Some(rule.span()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_subnets_follow_the_documented_rule_and_never_overlap() {
        let vpc: Ipv4Net = "10.10.0.0/16".parse().unwrap();
        assert_eq!(derive_subnet(vpc, "app", 0).to_string(), "10.10.0.0/19");
        assert_eq!(derive_subnet(vpc, "app", 2).to_string(), "10.10.64.0/19");
        assert_eq!(
            derive_subnet(vpc, "public", 0).to_string(),
            "10.10.224.0/23"
        );
        assert_eq!(derive_subnet(vpc, "data", 1).to_string(), "10.10.242.0/23");
        let mut all = Vec::new();
        for t in TIERS {
            for i in 0..6 {
                all.push(derive_subnet(vpc, t, i));
            }
        }
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(!a.contains(b) && !b.contains(a), "{a} overlaps {b}");
            }
        }
    }
}
