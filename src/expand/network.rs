//! The network tier: a VPC over N AZs with public, app and data subnets.
//!
//! Subnet CIDRs, when not given, follow one rule (VPC prefix P, AZ index i):
//! - app subnets, where pods take IPs: the i-th block of prefix P+3
//!   (a /16 gives /19s: x.0.0, x.32.0, x.64.0, ...);
//! - public subnets: block 112+i of prefix P+7 (a /16 gives /23s from x.224.0);
//! - data subnets: block 120+i of prefix P+7 (a /16 gives /23s from x.240.0).
//!
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

/// References to the ids of the plan's `tier` subnets, one per AZ (none
/// without a network section).
pub fn subnet_refs(plan: &LoadedPlan, tier: &str) -> Vec<String> {
    let azs = plan.file.network.as_ref().map(|n| n.azs.get_ref().len());
    (0..azs.unwrap_or(0))
        .map(|i| Ref::expr(&format!("subnet.{tier}_{}", az_letter(i)), "id"))
        .collect()
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

/// What every resource of the tier shares: its plan, the cluster name it is
/// named after, and where in the plan file it comes from.
struct Tier<'a> {
    plan: &'a LoadedPlan,
    net: &'a Network,
    cluster: String,
    span: Option<std::ops::Range<usize>>,
    vpc_id: String,
}

const ORIGIN: &str = "network";

impl Tier<'_> {
    fn add(&self, out: &mut Expanded, address: String, kind: &str, props: serde_json::Value) {
        out.add(address, kind, props, ORIGIN, self.span.clone());
    }

    fn tags(&self, name: &str, extra: &[(&str, &str)]) -> serde_json::Value {
        tags(self.plan, name, extra)
    }
}

pub fn expand(plan: &LoadedPlan, net: &Network, out: &mut Expanded) {
    let tier = Tier {
        plan,
        net,
        cluster: plan.file.cluster_name(&plan.env),
        span: Some(net.cidr.span()),
        vpc_id: Ref::expr("vpc.main", "id"),
    };
    let vpc_cidr: Ipv4Net = net.cidr.get_ref().parse().expect("validated");
    tier.add(
        out,
        "vpc.main".into(),
        "Vpc",
        json!({
            "cidr": vpc_cidr.to_string(),
            "enable_dns_support": true,
            "enable_dns_hostnames": true,
            "tags": tier.tags(&tier.cluster, &[]),
        }),
    );
    out.outputs.insert("vpc_id".into(), json!(tier.vpc_id));
    for name in TIERS {
        subnets(&tier, vpc_cidr, name, out);
    }
    gateways(&tier, out);
    route_tables(&tier, out);
    for (name, sg) in &net.security_groups {
        security_group(&tier, name, sg, out);
    }
}

/// One subnet of `tier_name` per AZ, with the tags load balancers and
/// Karpenter look for, and the tier's subnet ids as an output.
fn subnets(tier: &Tier<'_>, vpc_cidr: Ipv4Net, tier_name: &str, out: &mut Expanded) {
    let cluster = tier.cluster.as_str();
    let mut ids = Vec::new();
    for (i, az) in tier.net.azs.get_ref().iter().enumerate() {
        let l = az_letter(i);
        let cidr = match &tier.net.subnets {
            Some(s) => {
                let s = s.get_ref();
                let list = match tier_name {
                    "public" => &s.public,
                    "app" => &s.app,
                    _ => &s.data,
                };
                list[i].get_ref().clone()
            }
            None => derive_subnet(vpc_cidr, tier_name, i).to_string(),
        };
        // `infra:*` keys are identity tags, never diffed; the tier is kept
        // visible under a plain `tier` key instead.
        let extra: Vec<(&str, &str)> = match tier_name {
            "public" => vec![("kubernetes.io/role/elb", "1"), ("tier", "public")],
            "app" => vec![
                ("kubernetes.io/role/internal-elb", "1"),
                ("karpenter.sh/discovery", cluster),
                ("tier", "app"),
            ],
            _ => vec![("tier", "data")],
        };
        let address = format!("subnet.{tier_name}_{l}");
        tier.add(
            out,
            address.clone(),
            "Subnet",
            json!({
                "vpc_id": tier.vpc_id,
                "cidr": cidr,
                "az": az,
                "map_public_ip_on_launch": tier_name == "public",
                "tags": tier.tags(&format!("{cluster}-{tier_name}-{l}"), &extra),
            }),
        );
        ids.push(Ref::expr(&address, "id"));
    }
    out.outputs
        .insert(format!("{tier_name}_subnet_ids"), json!(ids));
}

/// The internet gateway, and the NAT gateways with their addresses.
fn gateways(tier: &Tier<'_>, out: &mut Expanded) {
    let cluster = &tier.cluster;
    tier.add(
        out,
        "internet_gateway.main".into(),
        "InternetGateway",
        json!({ "vpc_id": tier.vpc_id, "tags": tier.tags(cluster, &[]) }),
    );
    for i in 0..*tier.net.nat_gateways.get_ref() as usize {
        let l = az_letter(i);
        tier.add(
            out,
            format!("eip.nat_{l}"),
            "ElasticIp",
            json!({ "tags": tier.tags(&format!("{cluster}-nat-{l}"), &[]) }),
        );
        tier.add(
            out,
            format!("nat_gateway.{l}"),
            "NatGateway",
            json!({
                "subnet_id": Ref::expr(&format!("subnet.public_{l}"), "id"),
                "allocation_id": Ref::expr(&format!("eip.nat_{l}"), "id"),
                "tags": tier.tags(&format!("{cluster}-{l}"), &[]),
            }),
        );
    }
}

/// One public table (to the internet gateway), one data table (no way out)
/// and one app table per AZ (to its NAT gateway, or the only one).
fn route_tables(tier: &Tier<'_>, out: &mut Expanded) {
    let cluster = &tier.cluster;
    let table = |out: &mut Expanded, name: &str| {
        let name_tag = format!("{cluster}-{}", name.replace('_', "-"));
        let props = json!({ "vpc_id": tier.vpc_id, "tags": tier.tags(&name_tag, &[]) });
        tier.add(out, format!("route_table.{name}"), "RouteTable", props);
    };
    let route = |out: &mut Expanded, table: &str, name: &str, via: (&str, String)| {
        let mut props = json!({
            "route_table_id": Ref::expr(&format!("route_table.{table}"), "id"),
            "destination_cidr": "0.0.0.0/0",
        });
        props[via.0] = json!(via.1);
        tier.add(out, format!("route.{name}"), "Route", props);
    };
    let associate = |out: &mut Expanded, table: &str, subnet: &str| {
        let props = json!({
            "route_table_id": Ref::expr(&format!("route_table.{table}"), "id"),
            "subnet_id": Ref::expr(&format!("subnet.{subnet}"), "id"),
        });
        let address = format!("route_table_association.{subnet}");
        tier.add(out, address, "RouteTableAssociation", props);
    };
    table(out, "public");
    let igw = ("gateway_id", Ref::expr("internet_gateway.main", "id"));
    route(out, "public", "public_internet", igw);
    table(out, "data");
    let single_nat = *tier.net.nat_gateways.get_ref() == 1;
    for i in 0..tier.net.azs.get_ref().len() {
        let l = az_letter(i);
        let app = format!("app_{l}");
        table(out, &app);
        let nat = if single_nat { 'a' } else { l };
        let via = (
            "nat_gateway_id",
            Ref::expr(&format!("nat_gateway.{nat}"), "id"),
        );
        route(out, &app, &format!("{app}_nat"), via);
        associate(out, "public", &format!("public_{l}"));
        associate(out, &app, &app);
        associate(out, "data", &format!("data_{l}"));
    }
}

/// A security group of the plan and each of its rules as its own resource.
fn security_group(
    tier: &Tier<'_>,
    name: &str,
    sg: &toml::Spanned<crate::config::SecurityGroup>,
    out: &mut Expanded,
) {
    let cluster = tier.cluster.as_str();
    let sg_origin = format!("network.security_groups.{name}");
    let sg_span = Some(sg.span());
    let sg = sg.get_ref();
    let mut sg_tags = sg
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect::<Vec<_>>();
    if name == "nodes" {
        sg_tags.push(("karpenter.sh/discovery", cluster));
    }
    out.add(
        format!("security_group.{name}"),
        "SecurityGroup",
        json!({
            "vpc_id": tier.vpc_id,
            "name": format!("{cluster}-{name}"),
            "description": sg.description,
            "tags": tier.tags(&format!("{cluster}-{name}"), &sg_tags),
        }),
        &sg_origin,
        sg_span,
    );
    let group_id = Ref::expr(&format!("security_group.{name}"), "id");
    out.outputs
        .insert(format!("{name}_security_group_id"), json!(group_id));
    for rule in &sg.rules {
        let r = rule.get_ref();
        let (from, to) = match (r.port, r.from_port, r.to_port) {
            (Some(p), _, _) => (p, p),
            (None, Some(a), Some(b)) => (a, b),
            _ => (-1, -1),
        };
        let mut props = json!({
            "group_id": group_id,
            "direction": r.direction.as_str(),
            "protocol": if r.protocol == "all" { "-1".to_string() } else { r.protocol.clone() },
            "from_port": from,
            "to_port": to,
            "description": r.description.clone().unwrap_or_default(),
            "tags": tier.tags(&format!("{cluster}-{name}-{}", r.name), &[]),
        });
        // A rule reaches a CIDR, another group, or (neither given) its own group.
        let peer = match (&r.cidr, &r.source_group) {
            (Some(c), _) => ("cidr", json!(c.get_ref())),
            (None, Some(g)) => (
                "source_group_id",
                json!(Ref::expr(&format!("security_group.{}", g.get_ref()), "id")),
            ),
            (None, None) => ("source_group_id", json!(group_id)),
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
