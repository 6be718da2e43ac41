//! Amounts are compared with a tolerance of half a cent.

use serde_json::json;

use super::*;

const EPS: f64 = 0.005;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

#[track_caller]
fn assert_usd(got: Option<f64>, want: f64) {
    let got = got.expect("a priced line");
    assert!(close(got, want), "got {got}, want {want}");
}

fn props(v: serde_json::Value) -> Props {
    serde_json::from_value(v).unwrap()
}

/// A fixed day on which 1.32 is in standard support.
const EARLY_2026: Date = Date::new(2026, 1, 15);

fn one(kind: &str, p: serde_json::Value, region: &str) -> Estimate {
    one_with(kind, p, region, &CostSettings::default(), EARLY_2026)
}

fn one_with(
    kind: &str,
    p: serde_json::Value,
    region: &str,
    settings: &CostSettings,
    today: Date,
) -> Estimate {
    let p = props(p);
    estimate(
        [Priced {
            address: "x.main",
            kind,
            props: &p,
        }],
        region,
        settings,
        today,
    )
}

fn has_note(e: &Estimate, needle: &str) -> bool {
    e.notes.iter().any(|n| n.contains(needle))
}

#[test]
fn node_group_is_instances_plus_root_volumes() {
    let e = one(
        "EksNodegroup",
        json!({ "instance_types": ["t3.medium"], "_desired_size": 2, "min_size": 2, "max_size": 3 }),
        "us-east-1",
    );
    let l = &e.lines[0];
    // 2 × 0.0416 × 730 + 2 × 20 × 0.08 = 60.736 + 3.20
    assert_usd(l.monthly_usd, 60.736 + 3.20);
    assert_eq!(
        l.detail,
        "2 × t3.medium × 730 h × $0.0416 + 2 × 20 GiB gp3 × $0.08"
    );
    assert!(close(e.total_monthly_usd, 63.936));
    assert!(has_note(&e, "20 GiB gp3"), "{:?}", e.notes);
    assert!(has_note(&e, "initial desired size (2)"));

    // An owned desired size wins over min_size; a disk size replaces the default.
    let e = one(
        "EksNodegroup",
        json!({ "instance_types": ["m6i.large", "m5.large"], "desired_size": 3, "min_size": 1, "disk_size": 50 }),
        "us-east-1",
    );
    assert_usd(
        e.lines[0].monthly_usd,
        3.0 * 0.096 * 730.0 + 3.0 * 50.0 * 0.08,
    );
    assert!(has_note(&e, "first instance type, m6i.large"));
    assert!(!has_note(&e, "root volume assumed"));
}

#[test]
fn nat_gateway_is_hours_plus_processed_gb_and_says_the_assumption() {
    let e = one(
        "NatGateway",
        json!({ "subnet_id": "${subnet.public_a.id}" }),
        "us-east-1",
    );
    assert_usd(e.lines[0].monthly_usd, 0.045 * 730.0 + 0.045 * 100.0);
    assert_eq!(e.lines[0].detail, "730 h × $0.045 + 100 GB × $0.045");
    assert!(has_note(&e, "100 GB processed per gateway a month assumed"));

    let settings = CostSettings {
        nat_gb_per_month: Some(250.0),
        budget_monthly_usd: None,
    };
    let e = one_with("NatGateway", json!({}), "us-east-1", &settings, EARLY_2026);
    assert_usd(e.lines[0].monthly_usd, 32.85 + 11.25);
    assert!(has_note(
        &e,
        "250 GB processed per gateway a month (nat_gb_per_month"
    ));
}

#[test]
fn elastic_ip_is_a_public_ipv4_address() {
    let e = one("ElasticIp", json!({ "tags": {} }), "us-east-1");
    assert_usd(e.lines[0].monthly_usd, 3.65);
}

#[test]
fn rds_instance_single_and_multi_az() {
    let db = |multi: bool, class: &str, pi: bool| json!({ "engine": "postgres", "instance_class": class, "allocated_storage": 20, "multi_az": multi, "performance_insights": pi });
    let e = one("DbInstance", db(false, "db.t4g.micro", false), "us-east-1");
    assert_usd(e.lines[0].monthly_usd, 0.016 * 730.0 + 20.0 * 0.115);
    assert_eq!(e.lines[0].detail, "730 h × $0.016 + 20 GB gp3 × $0.115");
    assert!(has_note(&e, "RDS storage assumed gp3"));
    assert!(!has_note(&e, "Performance Insights"));

    let e = one("DbInstance", db(true, "db.t4g.micro", true), "us-east-1");
    assert_usd(e.lines[0].monthly_usd, 2.0 * (0.016 * 730.0 + 20.0 * 0.115));
    assert!(e.lines[0].detail.contains("Multi-AZ"));
    assert!(has_note(
        &e,
        "Performance Insights at its free tier (7 days of history): $0"
    ));

    let e = one("DbInstance", db(true, "db.t4g.small", false), "us-east-1");
    assert_usd(
        e.lines[0].monthly_usd,
        2.0 * 0.032 * 730.0 + 2.0 * 20.0 * 0.115,
    );
}

#[test]
fn eks_control_plane_jumps_to_the_extended_rate_at_end_of_standard_support() {
    let cluster = json!({ "name": "todo-dev", "version": "1.32" });
    let before = one_with(
        "EksCluster",
        cluster.clone(),
        "us-east-1",
        &CostSettings::default(),
        Date::new(2026, 3, 22),
    );
    assert_usd(before.lines[0].monthly_usd, 73.0);
    assert_eq!(
        before.lines[0].detail,
        "730 h × $0.10 (1.32 in standard support until 2026-03-23)"
    );
    assert!(
        has_note(
            &before,
            "leaves EKS standard support on 2026-03-23 (in 1 day)"
        ),
        "{:?}",
        before.notes
    );

    let after = one_with(
        "EksCluster",
        cluster.clone(),
        "us-east-1",
        &CostSettings::default(),
        Date::new(2026, 3, 23),
    );
    assert_usd(after.lines[0].monthly_usd, 438.0);
    assert_eq!(
        after.lines[0].detail,
        "730 h × $0.60 (1.32 in extended support since 2026-03-23)"
    );
    assert!(has_note(&after, "costs $438.00/month instead of $73.00"));

    // Far from the end of standard support: no warning.
    let calm = one_with(
        "EksCluster",
        cluster.clone(),
        "us-east-1",
        &CostSettings::default(),
        Date::new(2025, 6, 1),
    );
    assert!(!has_note(&calm, "standard support"));

    // After the end of extended support, and a version the calendar does not know yet.
    let ended = one_with(
        "EksCluster",
        cluster,
        "us-east-1",
        &CostSettings::default(),
        Date::new(2027, 4, 1),
    );
    assert_usd(ended.lines[0].monthly_usd, 438.0);
    assert!(has_note(
        &ended,
        "end of EKS extended support on 2027-03-23"
    ));
    let newer = one_with(
        "EksCluster",
        json!({ "version": "1.36" }),
        "us-east-1",
        &CostSettings::default(),
        Date::new(2027, 4, 1),
    );
    assert_usd(newer.lines[0].monthly_usd, 73.0);
    assert!(has_note(&newer, "newer than the embedded EKS calendar"));
}

#[test]
fn aurora_serverless_v2_is_priced_on_the_cluster_at_min_acu() {
    let c = props(
        json!({ "engine": "aurora-postgresql", "serverless_v2": { "min_acu": 0.5, "max_acu": 4 } }),
    );
    let i = props(
        json!({ "instance_class": "db.serverless", "cluster_identifier": "${rds_cluster.main.id}" }),
    );
    let e = estimate(
        [
            Priced {
                address: "rds_cluster.main",
                kind: "RdsCluster",
                props: &c,
            },
            Priced {
                address: "rds_cluster_instance.main_1",
                kind: "RdsClusterInstance",
                props: &i,
            },
        ],
        "us-east-1",
        &CostSettings::default(),
        EARLY_2026,
    );
    // 0.5 ACU × 730 h × $0.12 + 20 GB × $0.10
    assert_usd(e.lines[0].monthly_usd, 43.8 + 2.0);
    assert_eq!(e.lines[0].detail, "0.5 ACU × 730 h × $0.12 + 20 GB × $0.10");
    assert_usd(e.lines[1].monthly_usd, 0.0);
    assert!(e.lines[1].detail.contains("priced on its cluster"));
    assert!(has_note(
        &e,
        "minimum capacity, 0.5 ACU, all month; at its maximum, 4 ACU, compute would cost $350.40/month"
    ));
    assert!(has_note(
        &e,
        "Aurora storage: 20 GB assumed at $0.10/GB-month"
    ));
    assert!(close(e.total_monthly_usd, 45.8));
}

#[test]
fn small_fixed_prices_and_near_zero_kinds_get_lines() {
    let kms = props(json!({ "enable_rotation": true }));
    let zone = props(json!({ "name": "dev.todo.example.com" }));
    let q = props(json!({ "name": "q" }));
    let rule = props(json!({ "name": "r" }));
    let cert = props(json!({ "domain_name": "d" }));
    let vpc = props(json!({ "cidr": "10.0.0.0/16" }));
    let e = estimate(
        [
            Priced {
                address: "kms_key.eks",
                kind: "KmsKey",
                props: &kms,
            },
            Priced {
                address: "route53_zone.main",
                kind: "Route53Zone",
                props: &zone,
            },
            Priced {
                address: "sqs_queue.k",
                kind: "SqsQueue",
                props: &q,
            },
            Priced {
                address: "event_rule.k",
                kind: "EventRule",
                props: &rule,
            },
            Priced {
                address: "acm_certificate.main",
                kind: "AcmCertificate",
                props: &cert,
            },
            Priced {
                address: "vpc.main",
                kind: "Vpc",
                props: &vpc,
            },
        ],
        "us-west-2",
        &CostSettings::default(),
        EARLY_2026,
    );
    let amounts: Vec<(&str, Option<f64>)> = e
        .lines
        .iter()
        .map(|l| (l.address.as_str(), l.monthly_usd))
        .collect();
    assert_eq!(
        amounts,
        [
            ("kms_key.eks", Some(1.0)),
            ("route53_zone.main", Some(0.5)),
            ("sqs_queue.k", Some(0.0)),
            ("event_rule.k", Some(0.0)),
            ("acm_certificate.main", Some(0.0)),
        ]
    );
    assert!(e.lines[2..].iter().all(|l| !l.detail.is_empty()));
    assert!(close(e.total_monthly_usd, 1.5));
    assert!(has_note(&e, "rotations"));
}

#[test]
fn a_missing_price_is_reported_never_zero() {
    let e = one(
        "EksNodegroup",
        json!({ "instance_types": ["t3.nano"], "desired_size": 2 }),
        "us-east-1",
    );
    assert_eq!(e.lines[0].monthly_usd, None);
    assert_eq!(e.lines[0].detail, "no price for t3.nano in us-east-1");
    assert!(has_note(
        &e,
        "x.main: no price for t3.nano in us-east-1; not in the total"
    ));
    assert!(has_note(
        &e,
        "the total excludes 1 resource with no price: x.main"
    ));
    assert_eq!(e.total_monthly_usd, 0.0);
    assert_eq!(e.unpriced().count(), 1);

    // A region the file does not have: every priced kind says so.
    let ng = props(json!({ "instance_types": ["t3.nano"], "desired_size": 1 }));
    let eip = props(json!({}));
    let zone = props(json!({}));
    let e = estimate(
        [
            Priced {
                address: "eks_nodegroup.a",
                kind: "EksNodegroup",
                props: &ng,
            },
            Priced {
                address: "eip.a",
                kind: "ElasticIp",
                props: &eip,
            },
            Priced {
                address: "route53_zone.main",
                kind: "Route53Zone",
                props: &zone,
            },
        ],
        "eu-west-3",
        &CostSettings::default(),
        EARLY_2026,
    );
    assert_eq!(e.lines[0].detail, "no price for t3.nano in eu-west-3");
    assert_eq!(
        e.lines[1].detail,
        "no price for a public IPv4 address in eu-west-3"
    );
    // Route53 is global: priced anywhere.
    assert_usd(e.lines[2].monthly_usd, 0.5);
    assert!(close(e.total_monthly_usd, 0.5));
    assert!(has_note(&e, "no prices for region eu-west-3"));
    assert!(has_note(
        &e,
        "the total excludes 2 resources with no price: eks_nodegroup.a, eip.a"
    ));

    // A value known only after apply is not a price either.
    let e = one(
        "DbInstance",
        json!({ "instance_class": "(known after apply)", "allocated_storage": 20 }),
        "us-east-1",
    );
    assert_eq!(e.lines[0].monthly_usd, None);
    assert!(e.lines[0].detail.contains("known only after apply"));
}

#[test]
fn us_west_2_prices_are_read() {
    let prices = Prices::embedded();
    assert_eq!(
        prices.get("us-west-2", "ec2_instance_hour", "t3.medium"),
        Some(0.0416)
    );
    assert_eq!(
        prices.get("us-west-2", "rds_postgres_instance_hour", "db.t4g.small"),
        Some(0.032)
    );
    let e = one(
        "EksNodegroup",
        json!({ "instance_types": ["t4g.medium"], "desired_size": 1, "disk_size": 30 }),
        "us-west-2",
    );
    assert_usd(e.lines[0].monthly_usd, 0.0336 * 730.0 + 30.0 * 0.08);
    assert!(has_note(&e, "in us-west-2"));
}

#[test]
fn compare_gives_per_line_and_total_deltas_and_over_budget() {
    let ng2 = props(json!({ "instance_types": ["t3.medium"], "desired_size": 2 }));
    let ng3 = props(json!({ "instance_types": ["t3.medium"], "desired_size": 3 }));
    let nat = props(json!({}));
    let eip = props(json!({}));
    let cluster = props(json!({ "version": "1.32" }));
    let today = Date::new(2026, 6, 1); // 1.32 in extended support
    let s = CostSettings::default();
    let before = estimate(
        [
            Priced {
                address: "eks_cluster.main",
                kind: "EksCluster",
                props: &cluster,
            },
            Priced {
                address: "eks_nodegroup.system",
                kind: "EksNodegroup",
                props: &ng2,
            },
            Priced {
                address: "eip.nat_a",
                kind: "ElasticIp",
                props: &eip,
            },
        ],
        "us-east-1",
        &s,
        today,
    );
    let after = estimate(
        [
            Priced {
                address: "eks_cluster.main",
                kind: "EksCluster",
                props: &cluster,
            },
            Priced {
                address: "eks_nodegroup.system",
                kind: "EksNodegroup",
                props: &ng3,
            },
            Priced {
                address: "nat_gateway.a",
                kind: "NatGateway",
                props: &nat,
            },
        ],
        "us-east-1",
        &s,
        today,
    );
    let c = compare(&before, &after, Some(500.0));
    assert!(close(c.before_monthly_usd, 438.0 + 63.936 + 3.65));
    assert!(close(
        c.after_monthly_usd,
        438.0 + 3.0 * 30.368 + 3.0 * 1.6 + 37.35
    ));
    assert!(close(
        c.delta_monthly_usd,
        c.after_monthly_usd - c.before_monthly_usd
    ));
    assert!(close(c.delta_monthly_usd, 31.968 + 37.35 - 3.65));
    assert!(close(
        c.over_budget_by_usd.unwrap(),
        c.after_monthly_usd - 500.0
    ));
    assert_eq!(c.budget_monthly_usd, Some(500.0));

    let addresses: Vec<&str> = c.lines.iter().map(|l| l.address.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "eks_cluster.main",
            "eks_nodegroup.system",
            "nat_gateway.a",
            "eip.nat_a"
        ]
    );
    assert!(!c.lines[0].changes());
    assert!(close(c.lines[1].delta_monthly_usd.unwrap(), 31.968));
    assert!(c.lines[2].before.is_none() && c.lines[2].changes());
    assert!(close(c.lines[3].delta_monthly_usd.unwrap(), -3.65));
    assert!(c.lines[3].after.is_none());
    // Notes once each; both estimates share the extended-support note.
    assert_eq!(
        c.notes
            .iter()
            .filter(|n| n.contains("left EKS standard support"))
            .count(),
        1
    );

    // Within budget: no overage.
    let c = compare(&before, &after, Some(1000.0));
    assert_eq!(c.over_budget_by_usd, None);
    let c = compare(&before, &after, None);
    assert_eq!(c.over_budget_by_usd, None);
}

#[test]
fn compare_keeps_unpriced_lines_out_of_deltas() {
    let known = props(json!({ "instance_types": ["t3.medium"], "desired_size": 1 }));
    let unknown = props(json!({ "instance_types": ["x9.huge"], "desired_size": 1 }));
    let b = estimate(
        [Priced {
            address: "eks_nodegroup.a",
            kind: "EksNodegroup",
            props: &known,
        }],
        "us-east-1",
        &CostSettings::default(),
        EARLY_2026,
    );
    let a = estimate(
        [Priced {
            address: "eks_nodegroup.a",
            kind: "EksNodegroup",
            props: &unknown,
        }],
        "us-east-1",
        &CostSettings::default(),
        EARLY_2026,
    );
    let c = compare(&b, &a, None);
    assert_eq!(c.lines[0].delta_monthly_usd, None);
    assert!(c.lines[0].changes());
    assert!(c.notes.iter().any(|n| n.contains("no price for x9.huge")));
    let text = render_text(&c);
    assert!(text.contains("$31.97 → no price"), "{text}");
    assert!(
        text.contains("excludes eks_nodegroup.a (no price)"),
        "{text}"
    );
}

#[test]
fn render_text_shows_changes_total_budget_and_notes() {
    let ng2 = props(json!({ "instance_types": ["t3.medium"], "desired_size": 2 }));
    let ng3 = props(json!({ "instance_types": ["t3.medium"], "desired_size": 3 }));
    let cluster = props(json!({ "version": "1.33" }));
    let today = Date::new(2026, 6, 1);
    let s = CostSettings::default();
    let b = estimate(
        [
            Priced {
                address: "eks_cluster.main",
                kind: "EksCluster",
                props: &cluster,
            },
            Priced {
                address: "eks_nodegroup.system",
                kind: "EksNodegroup",
                props: &ng2,
            },
        ],
        "us-east-1",
        &s,
        today,
    );
    let a = estimate(
        [
            Priced {
                address: "eks_cluster.main",
                kind: "EksCluster",
                props: &cluster,
            },
            Priced {
                address: "eks_nodegroup.system",
                kind: "EksNodegroup",
                props: &ng3,
            },
        ],
        "us-east-1",
        &s,
        today,
    );
    let text = render_text(&compare(&b, &a, Some(150.0)));
    let expected_head = "\
Monthly cost (on-demand, 730 h/month)
  eks_cluster.main      EksCluster               $73.00           730 h × $0.10 (1.33 in standard support until 2026-07-29)
  eks_nodegroup.system  EksNodegroup    $63.94 → $95.90  +$31.97  3 × t3.medium × 730 h × $0.0416 + 3 × 20 GiB gp3 × $0.08
  Total                               $136.94 → $168.90  +$31.97
  Budget $150.00/month: OVER BUDGET by $18.90
Notes:
";
    assert!(text.starts_with(expected_head), "{text}");
    assert!(text.contains("  - eks_cluster.main: Kubernetes 1.33 leaves EKS standard support on 2026-07-29 (in 58 days)"), "{text}");
    assert!(!text.contains('\x1b'));

    let same = render_text(&compare(&a, &a, Some(500.0)));
    assert!(same.contains("$168.90  no change"), "{same}");
    assert!(same.contains("within budget ($331.10 left)"), "{same}");
}

#[test]
fn usd_formatting() {
    assert_eq!(fmt_usd(1234.565), "$1,234.57");
    assert_eq!(fmt_usd(-365.0), "-$365.00");
    assert_eq!(fmt_usd(0.001), "$0.00");
    assert_eq!(fmt_usd(-0.001), "$0.00");
    assert_eq!(fmt_usd(1_000_000.0), "$1,000,000.00");
    assert_eq!(rate(0.1), "$0.10");
    assert_eq!(rate(0.0416), "$0.0416");
    assert_eq!(rate(1.0), "$1.00");
    assert_eq!(rate(0.08925), "$0.08925");
}

#[test]
fn every_price_has_a_known_source_and_a_date() {
    let prices = Prices::parse(PRICES_TOML).expect("prices.toml parses");
    assert_eq!(prices.schema, 1);
    assert_eq!(prices.hours_per_month, HOURS_PER_MONTH);
    let mut n = 0;
    for (region, table, item, p) in prices.entries() {
        let at = format!("{region}.{table}.{item}");
        assert!(p.usd.is_finite() && p.usd > 0.0, "{at}: usd {}", p.usd);
        assert!(!p.source.trim().is_empty(), "{at}: no source");
        let source = prices
            .sources
            .get(&p.source)
            .unwrap_or_else(|| panic!("{at}: source {:?} is not in [sources]", p.source));
        assert!(!source.trim().is_empty(), "{at}: empty source text");
        let date = Date::parse(&p.as_of)
            .unwrap_or_else(|| panic!("{at}: as_of {:?} is not YYYY-MM-DD", p.as_of));
        assert!(
            date >= Date::new(2024, 1, 1),
            "{at}: as_of {date} is implausible"
        );
        n += 1;
    }
    assert!(n > 100, "only {n} prices");
    // Every region has what every priced kind needs.
    for region in ["us-east-1", "us-west-2"] {
        for (table, item) in [
            ("eks", "cluster_hour_standard"),
            ("eks", "cluster_hour_extended"),
            ("vpc", "nat_gateway_hour"),
            ("vpc", "nat_gateway_gb"),
            ("vpc", "public_ipv4_hour"),
            ("ebs_gb_month", "gp3"),
            ("rds_storage_gb_month", "gp3"),
            ("aurora", "serverless_v2_acu_hour"),
            ("aurora", "storage_gb_month"),
            ("kms", "key_month"),
            ("route53", "hosted_zone_month"),
        ] {
            assert!(
                prices.get(region, table, item).is_some(),
                "{region}: {table}.{item} missing"
            );
        }
        for t in [
            "t3.medium",
            "t3.large",
            "m5.large",
            "m6i.large",
            "m7i.large",
            "c6i.large",
            "t4g.medium",
        ] {
            assert!(
                prices.get(region, "ec2_instance_hour", t).is_some(),
                "{region}: {t} missing"
            );
        }
        for c in [
            "db.t4g.micro",
            "db.t4g.small",
            "db.t4g.medium",
            "db.t3.micro",
            "db.r6g.large",
            "db.m6g.large",
        ] {
            assert!(
                prices
                    .get(region, "rds_postgres_instance_hour", c)
                    .is_some(),
                "{region}: {c} missing"
            );
        }
    }
    // The facts the estimate was checked against (us-east-1, on-demand).
    for (table, item, usd) in [
        ("eks", "cluster_hour_standard", 0.10),
        ("eks", "cluster_hour_extended", 0.60),
        ("vpc", "nat_gateway_hour", 0.045),
        ("vpc", "nat_gateway_gb", 0.045),
        ("vpc", "public_ipv4_hour", 0.005),
        ("ec2_instance_hour", "t3.medium", 0.0416),
        ("rds_postgres_instance_hour", "db.t4g.micro", 0.016),
        ("rds_postgres_instance_hour", "db.t4g.small", 0.032),
        ("rds_storage_gb_month", "gp3", 0.115),
        ("ebs_gb_month", "gp3", 0.08),
        ("kms", "key_month", 1.0),
        ("route53", "hosted_zone_month", 0.5),
    ] {
        assert_eq!(
            prices.get("us-east-1", table, item),
            Some(usd),
            "{table}.{item}"
        );
    }
}

#[test]
fn cost_settings_reject_unknown_keys_and_negative_values() {
    let s: CostSettings =
        toml::from_str("nat_gb_per_month = 50.0\nbudget_monthly_usd = 400.0").unwrap();
    assert_eq!(
        s,
        CostSettings {
            nat_gb_per_month: Some(50.0),
            budget_monthly_usd: Some(400.0)
        }
    );
    assert!(s.problems().is_empty());
    assert!(toml::from_str::<CostSettings>("budget = 1.0").is_err());
    let bad = CostSettings {
        nat_gb_per_month: Some(-1.0),
        budget_monthly_usd: Some(f64::NAN),
    };
    assert_eq!(bad.problems().len(), 2);
}

/// The real plans, expanded as `infra plan` does, priced end to end: the
/// props the expanders write are the ones the estimate reads.
#[test]
fn prices_the_dev_and_prod_plans() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let run = |env: &str, today: Date| {
        let plan =
            crate::config::load(&dir, env).unwrap_or_else(|_| panic!("plans/{env}.toml loads"));
        let expanded = crate::expand::expand(&plan);
        let region = plan.file.region.get_ref().clone();
        estimate(
            expanded.resources.iter().map(|r| Priced {
                address: &r.address,
                kind: &r.kind,
                props: &r.props,
            }),
            &region,
            &CostSettings::default(),
            today,
        )
    };
    let line = |e: &Estimate, address: &str| {
        e.lines
            .iter()
            .find(|l| l.address == address)
            .unwrap_or_else(|| panic!("{address}"))
            .monthly_usd
    };

    // dev, us-east-1, 1.32 in extended support.
    let dev = run("dev", Date::new(2026, 6, 1));
    assert_eq!(dev.unpriced().count(), 0, "{:?}", dev.notes);
    assert_usd(line(&dev, "eks_cluster.main"), 438.0);
    assert_usd(line(&dev, "eks_nodegroup.system"), 63.936);
    assert_usd(line(&dev, "nat_gateway.a"), 37.35);
    assert_usd(line(&dev, "eip.nat_a"), 3.65);
    assert_usd(line(&dev, "db_instance.main"), 13.98);
    assert_usd(line(&dev, "route53_zone.main"), 0.5);
    assert_usd(line(&dev, "sqs_queue.karpenter_interruption"), 0.0);
    assert_usd(line(&dev, "acm_certificate.main"), 0.0);
    assert!(
        dev.lines
            .iter()
            .all(|l| !l.kind.starts_with("Iam") && l.kind != "Subnet")
    );
    assert!(
        close(
            dev.total_monthly_usd,
            438.0 + 63.936 + 37.35 + 3.65 + 13.98 + 0.5
        ),
        "{}",
        dev.total_monthly_usd
    );

    // prod, us-west-2, 1.32 still in standard support; 3 NATs, Multi-AZ, 3 keys.
    let prod = run("prod", EARLY_2026);
    assert_eq!(prod.unpriced().count(), 0, "{:?}", prod.notes);
    assert_usd(line(&prod, "eks_cluster.main"), 73.0);
    assert_usd(line(&prod, "db_instance.main"), 51.32);
    assert_usd(line(&prod, "kms_key.rds"), 1.0);
    assert!(
        close(
            prod.total_monthly_usd,
            73.0 + 63.936 + 3.0 * 37.35 + 3.0 * 3.65 + 51.32 + 3.0 + 0.5
        ),
        "{}",
        prod.total_monthly_usd
    );
    assert!(has_note(&prod, "Performance Insights"));
}
