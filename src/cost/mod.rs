//! The monthly cost of an environment: on-demand list prices × 730 hours a
//! month for what the plan makes, per resource and in total, and the change
//! between two sets of resources (what exists now and what will after the
//! plan), checked against an optional budget.
//!
//! Pure: no cloud call. Prices come from `prices.toml` beside this file
//! (embedded; `scripts/refresh_prices.py` refreshes it), the EKS version
//! calendar from [`calendar`]. A price the file lacks is never taken as zero:
//! the resource's line says "no price for …", the estimate's notes list it
//! and the total says it leaves it out.
//!
//! Amounts are `f64` dollars at full precision; only display rounds to
//! cents. Tests compare with a tolerance of half a cent.
//!
//! Priced kinds: `EksCluster`, `EksNodegroup`, `NatGateway`, `ElasticIp`,
//! `DbInstance`, `RdsCluster`, `RdsClusterInstance`, `KmsKey`,
//! `Route53Zone`; shown at ~$0 with a note: `SqsQueue`, `EventRule`,
//! `AcmCertificate`. Every other kind costs nothing and has no line.

pub mod calendar;
mod date;
mod prices;
mod render;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use calendar::{CALENDAR, CALENDAR_SOURCE, Support};
pub use date::Date;
pub use prices::{PRICES_TOML, Price, Prices};
pub use render::{fmt_usd, render_text};

use crate::model::{Props, UNKNOWN};

/// Hours in the billing month the estimate uses (AWS's convention).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// GB a NAT gateway processes a month when the plan does not say.
pub const DEFAULT_NAT_GB_PER_MONTH: f64 = 100.0;
/// A managed node group's root volume when the plan sets no disk size:
/// EKS's default for Linux nodes without a launch template.
pub const DEFAULT_NODE_DISK_GIB: f64 = 20.0;
/// Aurora storage grows with the data; an estimate has to assume some.
pub const AURORA_ASSUMED_STORAGE_GB: f64 = 20.0;
/// A version leaving standard support within this many days gets a note.
pub const EKS_WARN_DAYS: i64 = 90;

/// The plan file's `[cost]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CostSettings {
    /// GB each NAT gateway processes a month (default 100).
    pub nat_gb_per_month: Option<f64>,
    /// Warn when the monthly total after the plan exceeds this.
    pub budget_monthly_usd: Option<f64>,
}

impl CostSettings {
    /// What is wrong with the values, as `key: message` lines (empty: fine).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, v) in [
            ("cost.nat_gb_per_month", self.nat_gb_per_month),
            ("cost.budget_monthly_usd", self.budget_monthly_usd),
        ] {
            if let Some(v) = v.filter(|v| !v.is_finite() || *v < 0.0) {
                out.push(format!("{key}: must be a number >= 0 (got {v})"));
            }
        }
        out
    }
}

/// One resource to price: its address, kind and properties (desired ones
/// from the plan, or those in state).
#[derive(Debug, Clone, Copy)]
pub struct Priced<'a> {
    pub address: &'a str,
    pub kind: &'a str,
    pub props: &'a Props,
}

/// One resource's monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub address: String,
    pub kind: String,
    /// `None`: no price known (see `detail`); left out of the total.
    pub monthly_usd: Option<f64>,
    /// How the amount is made, e.g. `2 × t3.medium × 730 h × $0.0416 + 2 × 20 GiB gp3 × $0.08`.
    pub detail: String,
}

/// The monthly cost of one set of resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub lines: Vec<CostLine>,
    /// The sum of the priced lines (unpriced ones are named in `notes`).
    pub total_monthly_usd: f64,
    /// Assumptions, warnings and missing prices, each once.
    pub notes: Vec<String>,
}

impl Estimate {
    /// Lines with no price: not in the total.
    pub fn unpriced(&self) -> impl Iterator<Item = &CostLine> {
        self.lines.iter().filter(|l| l.monthly_usd.is_none())
    }
}

/// One side of a [`LineChange`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineCost {
    pub monthly_usd: Option<f64>,
    pub detail: String,
}

/// One address before and after; `None` on a side where it does not exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChange {
    pub address: String,
    pub kind: String,
    pub before: Option<LineCost>,
    pub after: Option<LineCost>,
    /// After minus before (a missing side counts 0); `None` when a side
    /// that exists has no price.
    pub delta_monthly_usd: Option<f64>,
}

impl LineChange {
    /// Whether the amount differs by a cent or more, or the resource comes or goes.
    pub fn changes(&self) -> bool {
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => match (b.monthly_usd, a.monthly_usd) {
                (Some(x), Some(y)) => (x - y).abs() >= 0.005,
                (x, y) => x.is_some() != y.is_some() || b.detail != a.detail,
            },
            _ => true,
        }
    }
}

/// Now vs after the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostChange {
    pub before_monthly_usd: f64,
    pub after_monthly_usd: f64,
    pub delta_monthly_usd: f64,
    pub budget_monthly_usd: Option<f64>,
    /// How far the total after the plan is above the budget.
    pub over_budget_by_usd: Option<f64>,
    /// Every address priced on either side: after's order, then those only before.
    pub lines: Vec<LineChange>,
    /// The after estimate's notes, then the before estimate's other notes
    /// prefixed `now: `.
    pub notes: Vec<String>,
}

/// The monthly cost of `items` in `region` on `today` (the EKS version
/// calendar decides a control plane's rate).
pub fn estimate<'a>(
    items: impl IntoIterator<Item = Priced<'a>>,
    region: &str,
    settings: &CostSettings,
    today: Date,
) -> Estimate {
    estimate_with(Prices::embedded(), items, region, settings, today)
}

/// [`estimate`] with a given price table.
pub fn estimate_with<'a>(
    prices: &Prices,
    items: impl IntoIterator<Item = Priced<'a>>,
    region: &str,
    settings: &CostSettings,
    today: Date,
) -> Estimate {
    let mut cx = Cx {
        prices,
        region,
        settings,
        today,
        notes: Vec::new(),
    };
    cx.note(format!(
        "on-demand list prices in {region}, {HOURS_PER_MONTH} h a month, from src/cost/prices.toml; data transfer, CloudWatch, load balancers and nodes that controllers (Karpenter) launch are not included"
    ));
    if !prices.regions.contains_key(region) {
        cx.note(format!(
            "src/cost/prices.toml has no prices for region {region}"
        ));
    }
    let mut lines = Vec::new();
    for item in items {
        let Some(result) = price_item(&mut cx, &item) else {
            continue;
        };
        let (monthly_usd, detail) = match result {
            Ok((usd, detail)) => (Some(usd), detail),
            Err(why) => {
                cx.note(format!("{}: {why}; not in the total", item.address));
                (None, why)
            }
        };
        lines.push(CostLine {
            address: item.address.to_string(),
            kind: item.kind.to_string(),
            monthly_usd,
            detail,
        });
    }
    let total_monthly_usd = lines.iter().filter_map(|l| l.monthly_usd).sum();
    let unpriced: Vec<&str> = lines
        .iter()
        .filter(|l| l.monthly_usd.is_none())
        .map(|l| l.address.as_str())
        .collect();
    if !unpriced.is_empty() {
        let n = unpriced.len();
        cx.note(format!(
            "the total excludes {n} resource{} with no price: {}",
            if n == 1 { "" } else { "s" },
            unpriced.join(", ")
        ));
    }
    Estimate {
        lines,
        total_monthly_usd,
        notes: cx.notes,
    }
}

/// The change from `before` (now) to `after` (after the plan), and how the
/// result stands against `budget`.
pub fn compare(before: &Estimate, after: &Estimate, budget: Option<f64>) -> CostChange {
    let side = |l: &CostLine| LineCost {
        monthly_usd: l.monthly_usd,
        detail: l.detail.clone(),
    };
    let find =
        |e: &Estimate, address: &str| e.lines.iter().find(|l| l.address == address).map(side);
    let mut lines: Vec<LineChange> = Vec::new();
    let mut push = |address: &str, kind: &str, b: Option<LineCost>, a: Option<LineCost>| {
        let amount = |s: &Option<LineCost>| match s {
            None => Some(0.0),
            Some(c) => c.monthly_usd,
        };
        let delta_monthly_usd = match (amount(&b), amount(&a)) {
            (Some(x), Some(y)) => Some(y - x),
            _ => None,
        };
        lines.push(LineChange {
            address: address.to_string(),
            kind: kind.to_string(),
            before: b,
            after: a,
            delta_monthly_usd,
        });
    };
    for l in &after.lines {
        push(&l.address, &l.kind, find(before, &l.address), Some(side(l)));
    }
    for l in &before.lines {
        if !after.lines.iter().any(|a| a.address == l.address) {
            push(&l.address, &l.kind, Some(side(l)), None);
        }
    }
    let mut notes: Vec<String> = Vec::new();
    for n in &after.notes {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
    for n in &before.notes {
        let prefixed = format!("now: {n}");
        if !after.notes.contains(n) && !notes.contains(&prefixed) {
            notes.push(prefixed);
        }
    }
    let (b, a) = (before.total_monthly_usd, after.total_monthly_usd);
    CostChange {
        before_monthly_usd: b,
        after_monthly_usd: a,
        delta_monthly_usd: a - b,
        budget_monthly_usd: budget,
        over_budget_by_usd: budget.filter(|limit| a > *limit).map(|limit| a - limit),
        lines,
        notes,
    }
}

// ----------------------------------------------------------------------------

struct Cx<'p> {
    prices: &'p Prices,
    region: &'p str,
    settings: &'p CostSettings,
    today: Date,
    notes: Vec<String>,
}

type Priced1 = Result<(f64, String), String>;

impl Cx<'_> {
    fn note(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// A unit price, or "no price for <what> in <region>".
    fn price(&self, table: &str, item: &str, what: &str) -> Result<f64, String> {
        self.prices
            .get(self.region, table, item)
            .ok_or_else(|| format!("no price for {what} in {}", self.region))
    }
}

/// `None`: the kind costs nothing and gets no line.
fn price_item(cx: &mut Cx, item: &Priced) -> Option<Priced1> {
    let p = item.props;
    let a = item.address;
    Some(match item.kind {
        "EksCluster" => eks_cluster(cx, a, p),
        "EksNodegroup" => eks_nodegroup(cx, a, p),
        "NatGateway" => nat_gateway(cx),
        "ElasticIp" => cx
            .price("vpc", "public_ipv4_hour", "a public IPv4 address")
            .map(|h| {
                (
                    HOURS_PER_MONTH * h,
                    format!("730 h × {} (public IPv4 address)", rate(h)),
                )
            }),
        "DbInstance" => db_instance(cx, a, p),
        "RdsCluster" => rds_cluster(cx, a, p),
        "RdsClusterInstance" => rds_cluster_instance(cx, p),
        "KmsKey" => {
            if p.get("enable_rotation").and_then(Value::as_bool) == Some(true) {
                cx.note("KMS keys: the first two yearly rotations of a key add $1/month each (not included)".into());
            }
            cx.price("kms", "key_month", "a KMS key")
                .map(|m| (m, format!("1 key × {}/month", rate(m))))
        }
        "Route53Zone" => {
            cx.note("Route53: DNS queries are not included".into());
            cx.price("route53", "hosted_zone_month", "a Route53 hosted zone")
                .map(|m| (m, format!("1 hosted zone × {}/month", rate(m))))
        }
        "SqsQueue" => Ok((
            0.0,
            "~$0 at this scale: the first 1 million SQS requests a month are free".into(),
        )),
        "EventRule" => Ok((
            0.0,
            "~$0: events from AWS services to EventBridge rules are free".into(),
        )),
        "AcmCertificate" => Ok((0.0, "$0: public ACM certificates are free".into())),
        _ => return None,
    })
}

fn is_unknown(s: &str) -> bool {
    s == UNKNOWN || s.contains("${")
}

/// A string property, or why it cannot be priced.
fn text<'p>(props: &'p Props, key: &str) -> Result<&'p str, String> {
    match props.get(key) {
        Some(Value::String(s)) if is_unknown(s) => {
            Err(format!("cannot price: {key} is known only after apply"))
        }
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(format!("cannot price: {key} is not set")),
    }
}

fn number(props: &Props, key: &str) -> Option<f64> {
    match props.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A unit price for a detail line: at least 2 decimals, no trailing zeros.
fn rate(usd: f64) -> String {
    let s = format!("{usd:.6}");
    let s = s.trim_end_matches('0');
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    format!("${int}.{frac:0<2}")
}

/// `2`, `0.5`: quantities without float noise.
fn qty(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn eks_cluster(cx: &mut Cx, address: &str, props: &Props) -> Priced1 {
    let raw = text(props, "version")?;
    let version = calendar::parse_version(raw)
        .ok_or_else(|| format!("cannot price: version {raw:?} is not a Kubernetes version"))?;
    let v = format!("{}.{}", version.0, version.1);
    let standard = cx.price("eks", "cluster_hour_standard", "an EKS cluster hour")?;
    let extended = cx.price(
        "eks",
        "cluster_hour_extended",
        "an EKS cluster hour in extended support",
    )?;
    let month = |h: f64| fmt_usd(HOURS_PER_MONTH * h);
    let (hourly, why) = match calendar::support(version, cx.today) {
        calendar::Support::Standard { until } => {
            let days = cx.today.days_until(until);
            if days <= EKS_WARN_DAYS {
                cx.note(format!(
                    "{address}: Kubernetes {v} leaves EKS standard support on {until} (in {days} day{}); the control plane then costs {}/month instead of {} until upgraded",
                    if days == 1 { "" } else { "s" },
                    month(extended),
                    month(standard)
                ));
            }
            (standard, format!("{v} in standard support until {until}"))
        }
        calendar::Support::Extended { since, until } => {
            cx.note(format!(
                "{address}: Kubernetes {v} left EKS standard support on {since}: the control plane costs {}/month instead of {} until upgraded; extended support ends {until}",
                month(extended),
                month(standard)
            ));
            (extended, format!("{v} in extended support since {since}"))
        }
        calendar::Support::Ended { since } => {
            cx.note(format!(
                "{address}: Kubernetes {v} reached the end of EKS extended support on {since}; EKS upgrades the control plane on its own, priced at the extended rate until then"
            ));
            (
                extended,
                format!("{v} past the end of extended support ({since})"),
            )
        }
        calendar::Support::NewerThanCalendar => {
            cx.note(format!(
                "{address}: Kubernetes {v} is newer than the embedded EKS calendar (1.28–1.35, src/cost/calendar.rs): assumed in standard support"
            ));
            (standard, format!("{v}, assumed in standard support"))
        }
        calendar::Support::OlderThanCalendar => {
            cx.note(format!(
                "{address}: Kubernetes {v} is older than the embedded EKS calendar: priced in extended support (EKS upgrades versions past it on its own)"
            ));
            (extended, format!("{v}, past standard support"))
        }
    };
    Ok((
        HOURS_PER_MONTH * hourly,
        format!("730 h × {} ({why})", rate(hourly)),
    ))
}

fn eks_nodegroup(cx: &mut Cx, address: &str, props: &Props) -> Priced1 {
    let types: Vec<&str> = props
        .get("instance_types")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let itype = *types
        .first()
        .ok_or("cannot price: instance_types is not set")?;
    if is_unknown(itype) {
        return Err("cannot price: instance_types is known only after apply".into());
    }
    if types.len() > 1 {
        cx.note(format!(
            "{address}: priced as its first instance type, {itype}, of {}",
            types.join(", ")
        ));
    }
    let count = match (
        number(props, "desired_size"),
        number(props, "_desired_size"),
        number(props, "min_size"),
    ) {
        (Some(n), _, _) => n,
        (None, Some(n), _) => {
            cx.note(format!("{address}: priced at its initial desired size ({}); an autoscaler owns the live size", qty(n)));
            n
        }
        (None, None, Some(n)) => {
            cx.note(format!(
                "{address}: no desired size; priced at min_size ({})",
                qty(n)
            ));
            n
        }
        _ => return Err("cannot price: no desired_size or min_size".into()),
    };
    let disk = match number(props, "disk_size") {
        Some(d) => d,
        None => {
            cx.note(format!(
                "node groups without a disk size: each node's root volume assumed {} GiB gp3 (EKS's default disk size)",
                qty(DEFAULT_NODE_DISK_GIB)
            ));
            DEFAULT_NODE_DISK_GIB
        }
    };
    if props.get("capacity_type").and_then(Value::as_str) == Some("SPOT") {
        cx.note(format!(
            "{address}: SPOT capacity priced at the on-demand rate (an upper bound)"
        ));
    }
    let hourly = cx.price("ec2_instance_hour", itype, itype)?;
    let gb = cx.price("ebs_gb_month", "gp3", "EBS gp3 storage")?;
    let n = qty(count);
    Ok((
        count * HOURS_PER_MONTH * hourly + count * disk * gb,
        format!(
            "{n} × {itype} × 730 h × {} + {n} × {} GiB gp3 × {}",
            rate(hourly),
            qty(disk),
            rate(gb)
        ),
    ))
}

fn nat_gateway(cx: &mut Cx) -> Priced1 {
    let gb = match cx.settings.nat_gb_per_month {
        Some(gb) => {
            cx.note(format!(
                "NAT gateways: {} GB processed per gateway a month (nat_gb_per_month in [cost])",
                qty(gb)
            ));
            gb
        }
        None => {
            cx.note(format!(
                "NAT gateways: {} GB processed per gateway a month assumed (set nat_gb_per_month in the plan's [cost] table)",
                qty(DEFAULT_NAT_GB_PER_MONTH)
            ));
            DEFAULT_NAT_GB_PER_MONTH
        }
    };
    let hourly = cx.price("vpc", "nat_gateway_hour", "a NAT gateway hour")?;
    let per_gb = cx.price("vpc", "nat_gateway_gb", "NAT gateway data processing")?;
    Ok((
        HOURS_PER_MONTH * hourly + gb * per_gb,
        format!(
            "730 h × {} + {} GB × {}",
            rate(hourly),
            qty(gb),
            rate(per_gb)
        ),
    ))
}

fn db_instance(cx: &mut Cx, address: &str, props: &Props) -> Priced1 {
    let class = text(props, "instance_class")?;
    let engine = props
        .get("engine")
        .and_then(Value::as_str)
        .unwrap_or("postgres");
    let table = match engine {
        "postgres" => "rds_postgres_instance_hour",
        other => return Err(format!("no price for {other} {class} in {}", cx.region)),
    };
    let gb =
        number(props, "allocated_storage").ok_or("cannot price: allocated_storage is not set")?;
    let storage = match props.get("storage_type").and_then(Value::as_str) {
        Some(s) => s.to_string(),
        None => {
            cx.note(
                "RDS storage assumed gp3 (RDS's default for a new instance without IOPS)".into(),
            );
            "gp3".into()
        }
    };
    let multi = props
        .get("multi_az")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if props.get("performance_insights").and_then(Value::as_bool) == Some(true) {
        cx.note(format!(
            "{address}: Performance Insights at its free tier (7 days of history): $0"
        ));
    }
    let hourly = cx.price(table, class, class)?;
    let per_gb = cx.price(
        "rds_storage_gb_month",
        &storage,
        &format!("RDS {storage} storage"),
    )?;
    let n = if multi { 2.0 } else { 1.0 };
    let total = n * HOURS_PER_MONTH * hourly + n * gb * per_gb;
    let detail = if multi {
        format!(
            "2 × 730 h × {} + 2 × {} GB {storage} × {} (Multi-AZ: primary and standby)",
            rate(hourly),
            qty(gb),
            rate(per_gb)
        )
    } else {
        format!(
            "730 h × {} + {} GB {storage} × {}",
            rate(hourly),
            qty(gb),
            rate(per_gb)
        )
    };
    Ok((total, detail))
}

fn aurora_storage_note(cx: &mut Cx, per_gb: f64) {
    cx.note(format!(
        "Aurora storage: {} GB assumed at {}/GB-month; I/O requests and backups beyond the retention period are not included",
        qty(AURORA_ASSUMED_STORAGE_GB),
        rate(per_gb)
    ));
}

fn rds_cluster(cx: &mut Cx, address: &str, props: &Props) -> Priced1 {
    let engine = text(props, "engine")?;
    if !engine.starts_with("aurora") {
        return Err(format!("no price for a {engine} cluster in {}", cx.region));
    }
    let per_gb = cx.price("aurora", "storage_gb_month", "Aurora storage")?;
    let storage = AURORA_ASSUMED_STORAGE_GB * per_gb;
    let Some(sv2) = props.get("serverless_v2").and_then(Value::as_object) else {
        // Provisioned: the instances carry the compute.
        aurora_storage_note(cx, per_gb);
        return Ok((
            storage,
            format!(
                "{} GB × {} (storage; instances priced on their own lines)",
                qty(AURORA_ASSUMED_STORAGE_GB),
                rate(per_gb)
            ),
        ));
    };
    let num = |k: &str| sv2.get(k).and_then(Value::as_f64);
    let min = num("min_acu").ok_or("cannot price: serverless_v2.min_acu is not set")?;
    let acu = cx.price(
        "aurora",
        "serverless_v2_acu_hour",
        "an Aurora Serverless v2 ACU-hour",
    )?;
    let at_max = num("max_acu").map(|max| {
        format!(
            "; at its maximum, {} ACU, compute would cost {}/month",
            qty(max),
            fmt_usd(max * HOURS_PER_MONTH * acu)
        )
    });
    cx.note(format!(
        "{address}: Aurora Serverless v2 priced at its minimum capacity, {} ACU, all month{}",
        qty(min),
        at_max.unwrap_or_default()
    ));
    aurora_storage_note(cx, per_gb);
    Ok((
        min * HOURS_PER_MONTH * acu + storage,
        format!(
            "{} ACU × 730 h × {} + {} GB × {}",
            qty(min),
            rate(acu),
            qty(AURORA_ASSUMED_STORAGE_GB),
            rate(per_gb)
        ),
    ))
}

fn rds_cluster_instance(cx: &mut Cx, props: &Props) -> Priced1 {
    let class = text(props, "instance_class")?;
    if class == "db.serverless" {
        return Ok((
            0.0,
            "$0: Serverless v2 capacity is priced on its cluster's line".into(),
        ));
    }
    let table = match props.get("engine").and_then(Value::as_str) {
        Some("aurora-mysql") => "aurora_mysql_instance_hour",
        _ => "aurora_postgres_instance_hour",
    };
    let hourly = cx.price(table, class, &format!("Aurora {class}"))?;
    Ok((
        HOURS_PER_MONTH * hourly,
        format!("730 h × {}", rate(hourly)),
    ))
}

#[cfg(test)]
mod tests;
