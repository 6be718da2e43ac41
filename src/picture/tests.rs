use std::collections::{BTreeMap, BTreeSet};

use super::layout::{CHAR_EM, MAX_WIDTH};
use super::*;

/// The kind for an address's short kind name, as the dev platform names them.
fn kind_of(address: &str) -> &'static str {
    match address.split_once('.').expect("kind.name").0 {
        "vpc" => "Vpc",
        "subnet" => "Subnet",
        "internet_gateway" => "InternetGateway",
        "eip" => "ElasticIp",
        "nat_gateway" => "NatGateway",
        "route_table" => "RouteTable",
        "route" => "Route",
        "route_table_association" => "RouteTableAssociation",
        "security_group" => "SecurityGroup",
        "security_group_rule" => "SecurityGroupRule",
        "eks_cluster" => "EksCluster",
        "eks_nodegroup" => "EksNodegroup",
        "eks_addon" => "EksAddon",
        "iam_oidc_provider" => "IamOidcProvider",
        "iam_instance_profile" => "IamInstanceProfile",
        "sqs_queue" => "SqsQueue",
        "sqs_queue_policy" => "SqsQueuePolicy",
        "event_rule" => "EventRule",
        "iam_role" => "IamRole",
        "iam_role_policy" => "IamRolePolicy",
        "iam_role_policy_attachment" => "IamRolePolicyAttachment",
        "kms_key" => "KmsKey",
        "kms_alias" => "KmsAlias",
        "db_subnet_group" => "DbSubnetGroup",
        "db_parameter_group" => "DbParameterGroup",
        "db_instance" => "DbInstance",
        "route53_zone" => "Route53Zone",
        "route53_record" => "Route53Record",
        "acm_certificate" => "AcmCertificate",
        "acm_certificate_validation" => "AcmCertificateValidation",
        other => panic!("no kind for {other}"),
    }
}

/// A picture shaped like the dev platform: its 82 resources and their
/// references, plus a KMS key and alias so every tier shows.
fn dev_picture() -> Picture {
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut dep = |a: &str, b: &str| edges.push((a.to_string(), b.to_string()));
    let azs = ["a", "b", "c"];
    let mut addresses = vec![
        "vpc.main".to_string(),
        "internet_gateway.main".into(),
        "eip.nat_a".into(),
        "nat_gateway.a".into(),
    ];
    dep("internet_gateway.main", "vpc.main");
    dep("nat_gateway.a", "subnet.public_a");
    dep("nat_gateway.a", "eip.nat_a");
    for t in ["public", "data"] {
        addresses.push(format!("route_table.{t}"));
        dep(&format!("route_table.{t}"), "vpc.main");
    }
    addresses.push("route.public_internet".into());
    dep("route.public_internet", "route_table.public");
    dep("route.public_internet", "internet_gateway.main");
    for z in azs {
        for t in ["public", "app", "data"] {
            let (subnet, assoc) = (
                format!("subnet.{t}_{z}"),
                format!("route_table_association.{t}_{z}"),
            );
            dep(&subnet, "vpc.main");
            dep(&assoc, &subnet);
            let table = match t {
                "app" => format!("route_table.app_{z}"),
                t => format!("route_table.{t}"),
            };
            dep(&assoc, &table);
            addresses.extend([subnet, assoc]);
        }
        let (table, route) = (format!("route_table.app_{z}"), format!("route.app_{z}_nat"));
        dep(&table, "vpc.main");
        dep(&route, &table);
        dep(&route, "nat_gateway.a");
        addresses.extend([table, route]);
    }
    for sg in ["nodes", "database"] {
        addresses.push(format!("security_group.{sg}"));
        dep(&format!("security_group.{sg}"), "vpc.main");
    }
    for rule in ["nodes_egress_all", "nodes_self_all", "nodes_vpc_https"] {
        addresses.push(format!("security_group_rule.{rule}"));
        dep(
            &format!("security_group_rule.{rule}"),
            "security_group.nodes",
        );
    }
    addresses.push("security_group_rule.database_postgres_from_nodes".into());
    dep(
        "security_group_rule.database_postgres_from_nodes",
        "security_group.database",
    );
    dep(
        "security_group_rule.database_postgres_from_nodes",
        "security_group.nodes",
    );

    // Keys.
    addresses.extend(["kms_key.eks".into(), "kms_alias.eks".into()]);
    dep("kms_alias.eks", "kms_key.eks");

    // Identity.
    let attachments = [
        ("cluster_eks", "cluster"),
        ("ebs_csi", "ebs_csi"),
        ("karpenter_node_ecr", "karpenter_node"),
        ("karpenter_node_ssm", "karpenter_node"),
        ("karpenter_node_worker", "karpenter_node"),
        ("node_ecr", "node"),
        ("node_ssm", "node"),
        ("node_worker", "node"),
        ("vpc_cni", "vpc_cni"),
    ];
    for role in [
        "cluster",
        "ebs_csi",
        "karpenter_controller",
        "karpenter_node",
        "node",
        "vpc_cni",
    ] {
        addresses.push(format!("iam_role.{role}"));
    }
    for role in ["ebs_csi", "karpenter_controller", "vpc_cni"] {
        dep(&format!("iam_role.{role}"), "iam_oidc_provider.cluster");
    }
    for (name, role) in attachments {
        addresses.push(format!("iam_role_policy_attachment.{name}"));
        dep(
            &format!("iam_role_policy_attachment.{name}"),
            &format!("iam_role.{role}"),
        );
    }
    for app in [
        "aws_load_balancer_controller",
        "external_dns",
        "external_secrets",
        "todo_api",
    ] {
        let (role, policy) = (
            format!("iam_role.wi_{app}"),
            format!("iam_role_policy.wi_{app}"),
        );
        dep(&policy, &role);
        addresses.extend([role, policy]);
    }
    addresses.push("iam_role_policy.karpenter_controller".into());
    dep(
        "iam_role_policy.karpenter_controller",
        "iam_role.karpenter_controller",
    );
    dep(
        "iam_role_policy.karpenter_controller",
        "sqs_queue.karpenter_interruption",
    );
    dep("iam_role_policy.karpenter_controller", "eks_cluster.main");

    // Cluster.
    addresses.extend([
        "eks_cluster.main".into(),
        "eks_nodegroup.system".into(),
        "iam_oidc_provider.cluster".into(),
    ]);
    dep("eks_cluster.main", "iam_role.cluster");
    dep("eks_cluster.main", "iam_role_policy_attachment.cluster_eks");
    dep("eks_cluster.main", "security_group.nodes");
    dep("eks_cluster.main", "kms_key.eks");
    dep("eks_nodegroup.system", "eks_cluster.main");
    dep("eks_nodegroup.system", "iam_role.node");
    for a in ["node_ecr", "node_ssm", "node_worker"] {
        dep(
            "eks_nodegroup.system",
            &format!("iam_role_policy_attachment.{a}"),
        );
    }
    for z in azs {
        dep("eks_cluster.main", &format!("subnet.app_{z}"));
        dep("eks_nodegroup.system", &format!("subnet.app_{z}"));
    }
    dep("iam_oidc_provider.cluster", "eks_cluster.main");
    for addon in ["aws_ebs_csi_driver", "coredns", "kube_proxy", "vpc_cni"] {
        addresses.push(format!("eks_addon.{addon}"));
        dep(&format!("eks_addon.{addon}"), "eks_cluster.main");
    }
    dep("eks_addon.vpc_cni", "iam_role.vpc_cni");
    dep("eks_addon.aws_ebs_csi_driver", "iam_role.ebs_csi");
    dep("eks_addon.coredns", "eks_nodegroup.system");
    addresses.push("iam_instance_profile.karpenter_node".into());
    dep(
        "iam_instance_profile.karpenter_node",
        "iam_role.karpenter_node",
    );
    addresses.extend([
        "sqs_queue.karpenter_interruption".into(),
        "sqs_queue_policy.karpenter_interruption".into(),
    ]);
    dep(
        "sqs_queue_policy.karpenter_interruption",
        "sqs_queue.karpenter_interruption",
    );
    for rule in [
        "instance_state_change",
        "rebalance",
        "scheduled_change",
        "spot_interruption",
    ] {
        addresses.push(format!("event_rule.karpenter_{rule}"));
        dep(
            &format!("event_rule.karpenter_{rule}"),
            "sqs_queue.karpenter_interruption",
        );
    }

    // Data.
    addresses.extend([
        "db_subnet_group.main".into(),
        "db_parameter_group.main".into(),
        "db_instance.main".into(),
    ]);
    for z in azs {
        dep("db_subnet_group.main", &format!("subnet.data_{z}"));
    }
    dep("db_instance.main", "db_subnet_group.main");
    dep("db_instance.main", "db_parameter_group.main");
    dep("db_instance.main", "security_group.database");

    // DNS.
    addresses.extend([
        "route53_zone.main".into(),
        "route53_record.cert_validation".into(),
        "acm_certificate.main".into(),
        "acm_certificate_validation.main".into(),
    ]);
    dep("route53_record.cert_validation", "route53_zone.main");
    dep("route53_record.cert_validation", "acm_certificate.main");
    dep("acm_certificate_validation.main", "acm_certificate.main");
    dep(
        "acm_certificate_validation.main",
        "route53_record.cert_validation",
    );

    let nodes = addresses
        .into_iter()
        .map(|address| {
            let kind = kind_of(&address);
            Node {
                tier: crate::drift::tier(kind).to_string(),
                kind: kind.to_string(),
                address,
                action: None,
            }
        })
        .collect();
    Picture { nodes, edges }
}

/// The dev picture as a plan would show it: a mix of every action.
fn planned_dev_picture() -> Picture {
    let mut p = dev_picture();
    for (i, n) in p.nodes.iter_mut().enumerate() {
        n.action = Some(match i % 11 {
            0 | 5 => Action::Create,
            3 => Action::Update,
            7 => Action::Replace,
            9 => Action::Delete,
            _ => Action::NoChange,
        });
    }
    p
}

fn num(node: roxmltree::Node, attr: &str) -> f64 {
    node.attribute(attr)
        .unwrap_or_else(|| panic!("{attr} on {:?}", node.tag_name()))
        .parse()
        .unwrap_or_else(|e| panic!("{attr} on {:?}: {e}", node.tag_name()))
}

#[derive(Debug, Clone, Copy)]
struct Box4 {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Box4 {
    fn of(rect: roxmltree::Node) -> Box4 {
        Box4 {
            x: num(rect, "x"),
            y: num(rect, "y"),
            w: num(rect, "width"),
            h: num(rect, "height"),
        }
    }
    fn overlaps(&self, o: &Box4) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
    fn inside(&self, o: &Box4) -> bool {
        self.x >= o.x
            && self.y >= o.y
            && self.x + self.w <= o.x + o.w
            && self.y + self.h <= o.y + o.h
    }
}

fn class_is(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class") == Some(class)
}

/// Checks everything the SVG promises about a picture; returns its width and height.
fn check_svg(p: &Picture) -> (f64, f64) {
    let text = svg(p);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML: {e}\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let (width, height) = (num(root, "width"), num(root, "height"));
    assert_eq!(
        root.attribute("viewBox"),
        Some(format!("0 0 {width} {height}").as_str())
    );
    assert_eq!(root.attribute("font-family"), Some("monospace"));

    // Bands by tier.
    let bands: BTreeMap<String, Box4> = root
        .descendants()
        .filter(|n| class_is(n, "band") && n.has_tag_name("g"))
        .map(|g| {
            let rect = g
                .children()
                .find(|c| c.has_tag_name("rect"))
                .expect("band rect");
            (
                g.attribute("data-tier").unwrap().to_string(),
                Box4::of(rect),
            )
        })
        .collect();
    let tiers: BTreeSet<&str> = p.nodes.iter().map(|n| n.tier.as_str()).collect();
    assert_eq!(
        bands.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        tiers,
        "one band per tier present"
    );

    // One node group per resource, each with one rect inside its band and texts that fit.
    let by_address: BTreeMap<&str, &Node> =
        p.nodes.iter().map(|n| (n.address.as_str(), n)).collect();
    let mut boxes: Vec<(String, Box4)> = Vec::new();
    for g in root.descendants().filter(|n| class_is(n, "node")) {
        let address = g.attribute("data-address").unwrap().to_string();
        let node = by_address
            .get(address.as_str())
            .unwrap_or_else(|| panic!("unknown node {address}"));
        assert_eq!(g.attribute("data-kind"), Some(node.kind.as_str()));
        let rects: Vec<_> = g.children().filter(|c| c.has_tag_name("rect")).collect();
        assert_eq!(rects.len(), 1, "{address}: one rect");
        let b = Box4::of(rects[0]);
        assert!(
            b.inside(&bands[&node.tier]),
            "{address} {b:?} sticks out of its band {:?}",
            bands[&node.tier]
        );
        assert!(
            b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= width && b.y + b.h <= height,
            "{address} outside the picture"
        );
        let texts: Vec<_> = g.children().filter(|c| c.has_tag_name("text")).collect();
        assert_eq!(texts.len(), 2, "{address}: address and kind");
        assert_eq!(texts[0].text(), Some(address.as_str()));
        for t in &texts {
            let content = t.text().unwrap_or("");
            let font = num(*t, "font-size");
            let (x, y) = (num(*t, "x"), num(*t, "y"));
            let estimate = content.chars().count() as f64 * font * CHAR_EM;
            assert!(
                x >= b.x && x + estimate <= b.x + b.w,
                "{address}: {content:?} is wider than its box"
            );
            assert!(
                y - font >= b.y && y <= b.y + b.h,
                "{address}: {content:?} is not inside its box vertically"
            );
        }
        boxes.push((address, b));
    }
    let drawn: BTreeSet<&str> = boxes.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(boxes.len(), p.nodes.len(), "one node group per resource");
    assert_eq!(
        drawn,
        by_address.keys().copied().collect(),
        "every resource drawn"
    );
    for (i, (a, ba)) in boxes.iter().enumerate() {
        for (b, bb) in &boxes[i + 1..] {
            assert!(!ba.overlaps(bb), "{a} {ba:?} overlaps {b} {bb:?}");
        }
    }

    // Bands do not overlap each other either.
    let band_list: Vec<_> = bands.iter().collect();
    for (i, (a, ba)) in band_list.iter().enumerate() {
        for (b, bb) in &band_list[i + 1..] {
            assert!(!ba.overlaps(bb), "band {a} overlaps band {b}");
        }
    }

    // One edge per dependency, drawn before (under) the nodes.
    let edges: Vec<(String, String)> = root
        .descendants()
        .filter(|n| class_is(n, "edge"))
        .map(|e| {
            assert!(e.attribute("d").is_some_and(|d| d.starts_with('M')));
            assert_eq!(e.attribute("marker-end"), Some("url(#arrow)"));
            (
                e.attribute("data-from").unwrap().to_string(),
                e.attribute("data-to").unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = p.edges.iter().cloned().collect();
    assert_eq!(edges.len(), want.len(), "one edge per dependency");
    assert_eq!(edges.into_iter().collect::<BTreeSet<_>>(), want);
    let order: Vec<&str> = root
        .descendants()
        .filter_map(|n| n.attribute("class"))
        .filter(|c| *c == "edge" || *c == "node")
        .collect();
    if let Some(first_node) = order.iter().position(|c| *c == "node") {
        assert!(
            !order[first_node..].contains(&"edge"),
            "edges are drawn under the nodes"
        );
    }
    (width, height)
}

#[test]
fn dev_picture_is_shaped_like_dev() {
    let p = dev_picture();
    assert_eq!(p.nodes.len(), 84);
    let addresses: BTreeSet<&str> = p.nodes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(addresses.len(), p.nodes.len());
    for (a, b) in &p.edges {
        assert!(
            addresses.contains(a.as_str()) && addresses.contains(b.as_str()),
            "{a} -> {b}"
        );
    }
    let tiers: BTreeSet<&str> = p.nodes.iter().map(|n| n.tier.as_str()).collect();
    assert_eq!(
        tiers,
        ["cluster", "database", "dns", "identity", "kms", "network"]
            .into_iter()
            .collect()
    );
}

#[test]
fn svg_of_the_dev_platform_is_readable() {
    for p in [dev_picture(), planned_dev_picture()] {
        let (width, height) = check_svg(&p);
        assert!(width <= MAX_WIDTH as f64, "width {width}");
        assert!(height <= 3000.0, "height {height}");
    }
    // To look at it: INFRA_PICTURE_OUT=/tmp/picture-dev.svg cargo test --lib picture
    if let Ok(path) = std::env::var("INFRA_PICTURE_OUT") {
        std::fs::write(path, svg(&planned_dev_picture())).unwrap();
    }
}

#[test]
fn svg_bands_follow_the_tier_order() {
    let text = svg(&dev_picture());
    let doc = roxmltree::Document::parse(&text).unwrap();
    let tops: Vec<(String, f64)> = doc
        .descendants()
        .filter(|n| class_is(n, "band"))
        .map(|g| {
            (
                g.attribute("data-tier").unwrap().to_string(),
                num(g.first_element_child().unwrap(), "y"),
            )
        })
        .collect();
    let names: Vec<&str> = tops.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        ["network", "cluster", "database", "identity", "dns", "kms"]
    );
    assert!(
        tops.windows(2).all(|w| w[0].1 < w[1].1),
        "bands go down in order: {tops:?}"
    );
}

#[test]
fn svg_in_band_dependencies_point_up() {
    let p = dev_picture();
    let text = svg(&p);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let top: BTreeMap<String, f64> = doc
        .descendants()
        .filter(|n| class_is(n, "node"))
        .map(|g| {
            (
                g.attribute("data-address").unwrap().to_string(),
                num(g.first_element_child().unwrap(), "y"),
            )
        })
        .collect();
    let tier: BTreeMap<&str, &str> = p
        .nodes
        .iter()
        .map(|n| (n.address.as_str(), n.tier.as_str()))
        .collect();
    for (a, b) in &p.edges {
        if tier[a.as_str()] == tier[b.as_str()] {
            assert!(top[b] < top[a], "{b} should be above its dependent {a}");
        }
    }
}

#[test]
fn svg_legend_only_with_a_plan() {
    let plain = svg(&dev_picture());
    assert!(!plain.contains("class=\"legend\""));
    assert!(!plain.contains("data-action"));
    let planned = svg(&planned_dev_picture());
    let doc = roxmltree::Document::parse(&planned).unwrap();
    let legend = doc
        .descendants()
        .find(|n| class_is(n, "legend"))
        .expect("a legend");
    let texts: Vec<&str> = legend
        .children()
        .filter(|c| c.has_tag_name("text"))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(texts.len(), 5);
    for (a, t) in Action::ALL.iter().zip(&texts) {
        assert!(t.contains(a.label()), "{t}");
    }
    let creates = doc
        .descendants()
        .filter(|n| n.attribute("data-action") == Some("create"))
        .count();
    assert!(
        creates > 0 && texts[0].contains(&format!("({creates})")),
        "{}",
        texts[0]
    );
    // Colours differ per action.
    let fill_of = |action: &str| {
        let g = doc
            .descendants()
            .find(|n| n.attribute("data-action") == Some(action))
            .unwrap();
        g.first_element_child()
            .unwrap()
            .attribute("fill")
            .unwrap()
            .to_string()
    };
    let fills: BTreeSet<String> = ["create", "update", "replace", "delete", "nochange"]
        .iter()
        .map(|a| fill_of(a))
        .collect();
    assert_eq!(fills.len(), 5);
}

#[test]
fn svg_is_deterministic_and_independent_of_input_order() {
    let p = dev_picture();
    let mut q = p.clone();
    q.nodes.reverse();
    q.edges.reverse();
    assert_eq!(svg(&p), svg(&p));
    assert_eq!(svg(&p), svg(&q));
}

#[test]
fn svg_wraps_a_wide_layer_into_rows() {
    let nodes: Vec<Node> = (0..60)
        .map(|i| Node {
            address: format!("iam_role_policy_attachment.a_rather_long_name_{i:02}"),
            kind: "IamRolePolicyAttachment".into(),
            tier: "identity".into(),
            action: None,
        })
        .collect();
    let (width, _) = check_svg(&Picture {
        nodes,
        edges: vec![],
    });
    assert!(width <= MAX_WIDTH as f64, "{width}");
}

#[test]
fn svg_skips_dangling_self_and_repeated_edges_and_repeated_nodes() {
    let node = |a: &str, kind: &str, tier: &str| Node {
        address: a.into(),
        kind: kind.into(),
        tier: tier.into(),
        action: None,
    };
    let p = Picture {
        nodes: vec![
            node("vpc.main", "Vpc", "network"),
            node("subnet.a", "Subnet", "network"),
            node("vpc.main", "Vpc", "network"),
        ],
        edges: vec![
            ("subnet.a".into(), "vpc.main".into()),
            ("subnet.a".into(), "vpc.main".into()),
            ("subnet.a".into(), "subnet.a".into()),
            ("subnet.a".into(), "vpc.gone".into()),
            ("nat_gateway.x".into(), "subnet.a".into()),
        ],
    };
    let text = svg(&p);
    assert_eq!(text.matches("class=\"node\"").count(), 2);
    assert_eq!(text.matches("class=\"edge\"").count(), 1);
    let dot_text = dot(&p);
    assert_eq!(dot_text.matches(" -> ").count(), 1);
    assert_eq!(mermaid(&p).matches(" --> ").count(), 1);
}

#[test]
fn svg_of_nothing_is_still_an_svg() {
    let text = svg(&Picture::default());
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert!(num(doc.root_element(), "width") > 0.0);
    assert!(text.contains("(no resources)"));
}

#[test]
fn svg_survives_a_cycle_and_unknown_tiers() {
    let node = |a: &str, tier: &str| Node {
        address: a.into(),
        kind: "Thing".into(),
        tier: tier.into(),
        action: None,
    };
    let p = Picture {
        nodes: vec![
            node("thing.a", "custom"),
            node("thing.b", "custom"),
            node("thing.c", ""),
            node("vpc.main", "network"),
        ],
        edges: vec![
            ("thing.a".into(), "thing.b".into()),
            ("thing.b".into(), "thing.a".into()),
            ("thing.c".into(), "vpc.main".into()),
        ],
    };
    let text = svg(&p);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let tiers: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "band"))
        .map(|n| n.attribute("data-tier").unwrap())
        .collect();
    assert_eq!(tiers, ["network", "custom", "other"]);
    assert_eq!(text.matches("class=\"edge\"").count(), 3);
}

#[test]
fn labels_are_escaped() {
    let p = Picture {
        nodes: vec![
            Node {
                address: "custom.a<&>\"'#b".into(),
                kind: "K<&>\"".into(),
                tier: "other".into(),
                action: Some(Action::Update),
            },
            Node {
                address: "vpc.main".into(),
                kind: "Vpc".into(),
                tier: "network".into(),
                action: None,
            },
        ],
        edges: vec![("custom.a<&>\"'#b".into(), "vpc.main".into())],
    };
    let text = svg(&p);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let g = doc
        .descendants()
        .find(|n| n.attribute("data-kind") == Some("K<&>\""))
        .expect("node found by its unescaped kind");
    assert_eq!(g.attribute("data-address"), Some("custom.a<&>\"'#b"));
    assert_eq!(
        g.children()
            .find(|c| c.has_tag_name("text"))
            .unwrap()
            .text(),
        Some("custom.a<&>\"'#b")
    );
    let e = doc.descendants().find(|n| class_is(n, "edge")).unwrap();
    assert_eq!(e.attribute("data-from"), Some("custom.a<&>\"'#b"));
    assert!(!text.contains("a<&>"));

    let d = dot(&p);
    assert!(
        d.contains(r#""custom.a<&>\"'#b" [label="custom.a<&>\"'#b\nK<&>\"""#),
        "{d}"
    );
    assert!(d.contains(r#""custom.a<&>\"'#b" -> "vpc.main";"#), "{d}");

    let m = mermaid(&p);
    assert!(
        m.contains(r#"["custom.a#lt;#amp;#gt;#quot;'#35;b"]"#),
        "{m}"
    );
    assert!(!m.contains("a<&>"), "{m}");
}

#[test]
fn dot_has_every_node_edge_and_tier() {
    let p = planned_dev_picture();
    let d = dot(&p);
    assert!(d.starts_with("digraph infra {\n") && d.trim_end().ends_with('}'));
    for tier in ["network", "cluster", "database", "identity", "dns", "kms"] {
        assert_eq!(
            d.matches(&format!("subgraph cluster_{tier} {{")).count(),
            1,
            "{tier}"
        );
    }
    for n in &p.nodes {
        let line = format!("\"{}\" [label=\"{}\\n{}\"", n.address, n.address, n.kind);
        assert_eq!(d.matches(&line).count(), 1, "{line}");
        assert!(
            d.contains(&format!(
                "{line}, fillcolor=\"{}\"",
                n.action.unwrap().fill()
            )),
            "{line}"
        );
    }
    for (a, b) in &p.edges {
        assert_eq!(
            d.matches(&format!("  \"{a}\" -> \"{b}\";\n")).count(),
            1,
            "{a} -> {b}"
        );
    }
    assert_eq!(d.matches(" -> ").count(), p.edges.len());
    assert!(d.contains("subgraph cluster_legend"));
    assert!(!dot(&dev_picture()).contains("legend"));
}

#[test]
fn mermaid_has_every_node_edge_and_tier() {
    let p = planned_dev_picture();
    let m = mermaid(&p);
    assert!(m.starts_with("flowchart LR\n"));
    let ids: BTreeMap<String, String> = m
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (id, rest) = l.split_once("[\"")?;
            (id.starts_with('n') && id[1..].chars().all(|c| c.is_ascii_digit()))
                .then(|| (rest.trim_end_matches("\"]").to_string(), id.to_string()))
        })
        .collect();
    assert_eq!(ids.len(), p.nodes.len());
    for n in &p.nodes {
        assert!(ids.contains_key(&n.address), "{}", n.address);
    }
    for (a, b) in &p.edges {
        assert_eq!(
            m.matches(&format!("  {} --> {}\n", ids[a], ids[b])).count(),
            1,
            "{a} -> {b}"
        );
    }
    assert_eq!(m.matches(" --> ").count(), p.edges.len());
    for tier in ["network", "cluster", "database", "identity", "dns", "kms"] {
        assert_eq!(
            m.matches(&format!("subgraph tier_{tier}[")).count(),
            1,
            "{tier}"
        );
    }
    for a in Action::ALL {
        assert!(
            m.contains(&format!("classDef {} fill:{}", a.class(), a.fill())),
            "{}",
            a.class()
        );
    }
    assert!(!mermaid(&dev_picture()).contains("classDef"));
}

#[test]
fn mermaid_small_picture() {
    let node = |a: &str, kind: &str, tier: &str, action| Node {
        address: a.into(),
        kind: kind.into(),
        tier: tier.into(),
        action,
    };
    let p = Picture {
        nodes: vec![
            node("vpc.main", "Vpc", "network", Some(Action::NoChange)),
            node("subnet.app_a", "Subnet", "network", Some(Action::Update)),
            node(
                "eks_cluster.main",
                "EksCluster",
                "cluster",
                Some(Action::Replace),
            ),
            node(
                "iam_role.cluster",
                "IamRole",
                "identity",
                Some(Action::Create),
            ),
            node("kms_key.old", "KmsKey", "kms", Some(Action::Delete)),
        ],
        edges: vec![
            ("subnet.app_a".into(), "vpc.main".into()),
            ("eks_cluster.main".into(), "subnet.app_a".into()),
            ("eks_cluster.main".into(), "iam_role.cluster".into()),
        ],
    };
    insta::assert_snapshot!(mermaid(&p));
}
