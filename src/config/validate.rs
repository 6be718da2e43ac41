//! Checks a parsed plan file for values that are well-formed TOML but wrong.
//! Every problem is collected; nothing stops at the first.

use ipnet::Ipv4Net;

use super::schema::{Database, Dns, Kms, Network};
use super::{LoadedPlan, PlanError};

pub fn validate(plan: &LoadedPlan) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let f = &plan.file;
    check_names_region_tags(plan, &mut errors);
    if let Some(net) = &f.network {
        check_network(plan, net, &mut errors);
    }
    if let Some(c) = &f.cluster {
        check_cluster(plan, c, &mut errors);
    }
    if let Some(d) = &f.database {
        check_database(plan, d, &mut errors);
    }
    if let Some(k) = &f.kms {
        check_kms(plan, k, &mut errors);
    }
    if let Some(d) = &f.dns {
        check_dns(plan, d, &mut errors);
    }
    check_identities(plan, &mut errors);
    check_access(plan, &mut errors);
    if let Some(c) = &f.cost {
        errors.extend(
            c.get_ref()
                .problems()
                .into_iter()
                .map(|m| plan.error(m, Some(c.span()))),
        );
    }
    if let Some(st) = &f.state {
        errors.extend(
            st.get_ref()
                .problems()
                .into_iter()
                .map(|m| plan.error(m, Some(st.span()))),
        );
    }
    if let Some(p) = &f.policy {
        errors.extend(
            crate::policy::validate(p.get_ref())
                .into_iter()
                .map(|m| plan.error(m, Some(p.span()))),
        );
    }
    for (address, res) in &f.resources {
        if address
            .split_once('.')
            .is_none_or(|(k, n)| !is_name(k) || n.is_empty())
        {
            errors.push(plan.error(
                format!(
                    "resources.\"{address}\": an address is `<type>.<name>`, like `route.extra`"
                ),
                Some(res.span()),
            ));
        }
    }
    errors
}

/// The project, env and cluster names, the region, the plan-wide tags and
/// the waits.
fn check_names_region_tags(plan: &LoadedPlan, errors: &mut Vec<PlanError>) {
    let f = &plan.file;
    if f.project.is_empty()
        || !f
            .project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || f.project.starts_with('-')
    {
        // AWS lower-cases RDS identifiers and DNS names: upper case would read
        // back as a change on every run.
        errors.push(plan.error("project: use lowercase letters, digits and '-' only (AWS lower-cases RDS identifiers and DNS names)", None));
    }
    if plan.env.chars().any(|c| c.is_ascii_uppercase())
        || (f.database.is_some() && plan.env.contains('_'))
    {
        errors.push(plan.error(format!("env `{}`: use lowercase letters, digits and '-' only (it is part of every name: RDS identifiers allow no '_' or upper case)", plan.env), None));
    }
    // The cluster's name prefixes every generated name; the longest suffix
    // infra adds (`-karpenter-controller`, `-ebs-csi-driver`, ...) must leave
    // IAM's 64 characters (a role), RDS's 63 (an identifier).
    let cluster = f.cluster_name(&plan.env);
    if cluster.len() > 38 {
        errors.push(plan.error(
            format!("project and env: the cluster name `{cluster}` is {} characters; at most 38, so every name made from it fits AWS's limits (IAM roles 64, RDS identifiers 63, SQS queues 80)", cluster.len()),
            None,
        ));
    }
    let region = f.region.get_ref();
    let region_ok = {
        let parts: Vec<&str> = region.split('-').collect();
        parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts.last().is_some_and(|n| n.parse::<u8>().is_ok())
    };
    if !region_ok && !region.is_empty() {
        errors.push(plan.error(
            format!("region: `{region}` is not an AWS region like \"us-east-1\""),
            Some(f.region.span()),
        ));
    }
    // Tags: AWS allows 50 per resource, and keys starting with `aws:` are
    // AWS's own; `infra:` keys are infra's identity.
    const INFRA_TAGS: usize = 8;
    if f.tags.len() + INFRA_TAGS > 50 {
        errors.push(plan.error(format!("tags: {} tags, with infra's own (up to {INFRA_TAGS}), exceed AWS's 50 per resource; at most {}", f.tags.len(), 50 - INFRA_TAGS), None));
    }
    for (k, v) in &f.tags {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("infra:") || k == "Name" {
            errors.push(plan.error(format!("tags.\"{k}\": `aws:` keys are reserved by AWS, and `infra:` keys and `Name` are set by infra"), None));
        }
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            errors.push(plan.error(
                format!(
                    "tags.\"{k}\": AWS allows keys of 1 to 128 characters and values up to 256"
                ),
                None,
            ));
        }
    }
    for (what, minutes) in [
        (
            "cluster.wait_timeout_minutes",
            f.cluster.as_ref().and_then(|c| c.wait_timeout_minutes),
        ),
        (
            "database.wait_timeout_minutes",
            f.database.as_ref().and_then(|d| d.wait_timeout_minutes),
        ),
    ] {
        if let Some(m) = minutes.filter(|m| !(1..=1440).contains(m)) {
            errors.push(plan.error(
                format!("{what}: {m} is out of range; 1 to 1440 minutes (a day)"),
                None,
            ));
        }
    }
    if f.region.get_ref().is_empty() {
        errors.push(plan.error("region: must not be empty", Some(f.region.span())));
    }
}

/// The VPC's CIDR, its tiers, and the security groups and their rules.
fn check_network(plan: &LoadedPlan, net: &Network, errors: &mut Vec<PlanError>) {
    let region = plan.file.region.get_ref();
    let vpc = match net.cidr.get_ref().parse::<Ipv4Net>() {
        Ok(n) if (16..=24).contains(&n.prefix_len()) && n.network() == n.addr() => Some(n),
        Ok(n) if n.network() != n.addr() => {
            errors.push(plan.error(
                format!(
                    "network.cidr: `{n}` has host bits set; did you mean `{}`?",
                    n.trunc()
                ),
                Some(net.cidr.span()),
            ));
            None
        }
        Ok(n) => {
            errors.push(plan.error(
                format!("network.cidr: `{n}`: a VPC's prefix must be between /16 and /24"),
                Some(net.cidr.span()),
            ));
            None
        }
        Err(_) => {
            errors.push(plan.error(
                format!(
                    "network.cidr: `{}` is not a valid IPv4 CIDR (like 10.10.0.0/16)",
                    net.cidr.get_ref()
                ),
                Some(net.cidr.span()),
            ));
            None
        }
    };
    if let (Some(v), None) = (vpc, &net.subnets)
        && v.prefix_len() > 21
    {
        errors.push(plan.error(
                format!("network.cidr: subnets are derived only from a /21 or larger VPC; `{v}` needs explicit network.subnets"),
                Some(net.cidr.span()),
            ));
    }
    let azs = net.azs.get_ref();
    let mut seen = std::collections::BTreeSet::new();
    if azs.is_empty() || azs.len() > 6 || !azs.iter().all(|a| seen.insert(a)) {
        errors.push(plan.error(
            "network.azs: list 1 to 6 distinct availability zones",
            Some(net.azs.span()),
        ));
    }
    for az in azs {
        let ok = az
            .strip_prefix(region.as_str())
            .is_some_and(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_lowercase()));
        if !ok {
            errors.push(plan.error(format!("network.azs: `{az}` is not an availability zone of {region} (like \"{region}a\")"), Some(net.azs.span())));
        }
    }
    let nats = *net.nat_gateways.get_ref() as usize;
    if nats != 1 && nats != azs.len() {
        errors.push(plan.error(
            format!(
                "network.nat_gateways: must be 1 (shared) or {} (one per AZ), not {nats}",
                azs.len()
            ),
            Some(net.nat_gateways.span()),
        ));
    }
    if let Some(subnets) = &net.subnets {
        let s = subnets.get_ref();
        let mut parsed: Vec<(String, Ipv4Net, std::ops::Range<usize>)> = Vec::new();
        for (tier, list) in [("public", &s.public), ("app", &s.app), ("data", &s.data)] {
            if list.len() != azs.len() {
                errors.push(plan.error(
                    format!(
                        "network.subnets.{tier}: give one CIDR per AZ ({}), not {}",
                        azs.len(),
                        list.len()
                    ),
                    Some(subnets.span()),
                ));
            }
            for (i, c) in list.iter().enumerate() {
                let key = format!("network.subnets.{tier}[{i}]");
                match c.get_ref().parse::<Ipv4Net>() {
                    Ok(n) if n.network() == n.addr() && n.prefix_len() <= 28 => {
                        if let Some(v) = vpc
                            && !v.contains(&n) {
                                errors.push(plan.error(format!("{key}: `{n}` is outside the VPC's {v}"), Some(c.span())));
                            }
                        parsed.push((key, n, c.span()));
                    }
                    _ => errors.push(plan.error(
                        format!("{key}: `{}` is not a valid subnet CIDR (an IPv4 network of /28 or larger)", c.get_ref()),
                        Some(c.span()),
                    )),
                }
            }
        }
        // Each subnet is reported once, against the first one it overlaps:
        // n copies of one CIDR make n - 1 errors, not n².
        for (j, (kb, b, span)) in parsed.iter().enumerate() {
            if let Some((ka, a, _)) = parsed[..j]
                .iter()
                .find(|(_, a, _)| a.contains(b) || b.contains(a))
            {
                errors.push(plan.error(
                    format!("{kb}: `{b}` overlaps {ka} (`{a}`)"),
                    Some(span.clone()),
                ));
            }
        }
    }
    for (name, sg) in &net.security_groups {
        if !is_name(name) {
            errors.push(plan.error(
                format!(
                    "network.security_groups.{name}: use lowercase letters, digits and '_' in names"
                ),
                Some(sg.span()),
            ));
        }
        for rule in &sg.get_ref().rules {
            let key = format!(
                "network.security_groups.{name}.rules[{}]",
                rule.get_ref().name
            );
            check_rule(plan, &key, rule, net, errors);
        }
    }
}

/// The database: its network, version, identifier and backups.
fn check_database(plan: &LoadedPlan, d: &Database, errors: &mut Vec<PlanError>) {
    let f = &plan.file;
    if f.network
        .as_ref()
        .is_none_or(|n| !n.security_groups.contains_key("database"))
    {
        errors.push(plan.error(
            "database: needs [network] with a `database` security group (5432 from the nodes only)",
            None,
        ));
    }
    let v = d.engine_version.get_ref();
    if v.split('.')
        .next()
        .is_none_or(|m| m.parse::<u32>().is_err())
    {
        errors.push(plan.error(
            format!("database.engine_version: `{v}` is not a PostgreSQL version like \"16.4\""),
            Some(d.engine_version.span()),
        ));
    }
    if let Some(id) = &d.identifier
        && !valid_db_identifier(id.get_ref())
    {
        errors.push(plan.error(
            "database.identifier: RDS takes 1 to 63 letters, digits and hyphens, starting with a letter, with no two hyphens in a row and none at the end",
            Some(id.span()),
        ));
    }
    if !(1..=35).contains(d.backup_retention_days.get_ref()) {
        errors.push(plan.error(
            "database.backup_retention_days: RDS keeps backups 1 to 35 days",
            Some(d.backup_retention_days.span()),
        ));
    }
    check_database_engine(plan, d, errors);
}

/// The KMS keys' deletion window.
fn check_kms(plan: &LoadedPlan, k: &Kms, errors: &mut Vec<PlanError>) {
    if !(7..=30).contains(&k.deletion_window()) {
        errors.push(plan.error(
            "kms.deletion_window_days: AWS allows 7 to 30 days",
            k.deletion_window_days.as_ref().map(|d| d.span()),
        ));
    }
}

/// The zone's domain name.
fn check_dns(plan: &LoadedPlan, d: &Dns, errors: &mut Vec<PlanError>) {
    let domain = d.domain.get_ref();
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        });
    if !labels_ok || domain.len() > 253 {
        errors.push(plan.error(
            format!("dns.domain: `{domain}` is not a domain name like \"todo.example.com\""),
            Some(d.domain.span()),
        ));
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_rule(
    plan: &LoadedPlan,
    key: &str,
    rule: &toml::Spanned<super::SecurityGroupRule>,
    net: &super::Network,
    errors: &mut Vec<PlanError>,
) {
    let r = rule.get_ref();
    let span = Some(rule.span());
    if !is_name(&r.name) {
        errors.push(plan.error(
            format!("{key}.name: use lowercase letters, digits and '_'"),
            span.clone(),
        ));
    }
    if !matches!(r.protocol.as_str(), "tcp" | "udp" | "icmp" | "all") {
        errors.push(plan.error(
            format!(
                "{key}.protocol: `{}` is not one of tcp, udp, icmp, all",
                r.protocol
            ),
            span.clone(),
        ));
    }
    let ports = match (r.port, r.from_port, r.to_port) {
        (Some(p), None, None) => Some((p, p)),
        (None, Some(a), Some(b)) => Some((a, b)),
        (None, None, None) if r.protocol == "all" => Some((-1, -1)),
        _ => None,
    };
    match ports {
        None => errors.push(plan.error(
            format!(
                "{key}: give `port`, or both `from_port` and `to_port` (none for protocol \"all\")"
            ),
            span.clone(),
        )),
        Some((a, b))
            if r.protocol != "all"
                && r.protocol != "icmp"
                && (!(0..=65535).contains(&a) || !(a..=65535).contains(&b)) =>
        {
            errors.push(plan.error(
                format!("{key}: port range {a}-{b} is not within 0-65535 in order"),
                span.clone(),
            ))
        }
        _ => {}
    }
    let peers = r.cidr.is_some() as u8 + r.source_group.is_some() as u8 + r.self_peer as u8;
    if peers != 1 {
        errors.push(plan.error(
            format!("{key}: give exactly one of `cidr`, `source_group`, `self = true`"),
            span.clone(),
        ));
    }
    if let Some(c) = &r.cidr
        && c.get_ref()
            .parse::<Ipv4Net>()
            .map(|n| n.network() != n.addr())
            .unwrap_or(true)
    {
        errors.push(plan.error(
            format!("{key}.cidr: `{}` is not a valid IPv4 CIDR", c.get_ref()),
            Some(c.span()),
        ));
    }
    if let Some(g) = &r.source_group
        && !net.security_groups.contains_key(g.get_ref())
    {
        let known: Vec<_> = net.security_groups.keys().map(String::as_str).collect();
        errors.push(plan.error(
            format!(
                "{key}.source_group: no security group `{}` in this plan (known: {})",
                g.get_ref(),
                known.join(", ")
            ),
            Some(g.span()),
        ));
    }
}

fn check_cluster(plan: &LoadedPlan, c: &super::Cluster, errors: &mut Vec<PlanError>) {
    if plan.file.network.is_none() {
        errors.push(plan.error(
            "cluster: needs a [network] section: the cluster is placed in its app subnets",
            None,
        ));
    }
    let v = c.version.get_ref();
    if !v
        .split_once('.')
        .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    {
        errors.push(plan.error(
            format!("cluster.version: `{v}` is not a Kubernetes version like \"1.32\""),
            Some(c.version.span()),
        ));
    }
    if c.endpoint_public_access && c.public_cidrs().is_empty() {
        errors.push(plan.error(
            "cluster.public_access_cidrs: the public endpoint is on, so list who may reach it; opening it to the world needs an explicit [\"0.0.0.0/0\"] (or set endpoint_public_access = false)",
            c.public_cidrs_span(),
        ));
    }
    for cidr in c.public_cidrs() {
        if cidr
            .parse::<Ipv4Net>()
            .map(|n| n.network() != n.addr())
            .unwrap_or(true)
        {
            errors.push(plan.error(
                format!("cluster.public_access_cidrs: `{cidr}` is not a valid IPv4 CIDR"),
                c.public_cidrs_span(),
            ));
        }
    }
    if !matches!(
        c.authentication_mode.as_str(),
        "API" | "API_AND_CONFIG_MAP" | "CONFIG_MAP"
    ) {
        errors.push(plan.error(
            format!(
                "cluster.authentication_mode: `{}` is not API, API_AND_CONFIG_MAP or CONFIG_MAP",
                c.authentication_mode
            ),
            None,
        ));
    }
    let logs = [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ];
    for l in &c.log_types {
        if !logs.contains(&l.as_str()) {
            errors.push(plan.error(
                format!("cluster.log_types: `{l}` is not one of {}", logs.join(", ")),
                None,
            ));
        }
    }
    if !matches!(
        c.addon_conflicts.as_str(),
        "NONE" | "OVERWRITE" | "PRESERVE"
    ) {
        errors.push(plan.error(
            format!(
                "cluster.addon_conflicts: `{}` is not NONE, OVERWRITE or PRESERVE",
                c.addon_conflicts
            ),
            None,
        ));
    }
    for (name, ng) in &c.node_groups {
        let key = format!("cluster.node_groups.{name}");
        let g = ng.get_ref();
        if !(0 <= g.min_size
            && g.min_size <= g.desired_size
            && g.desired_size <= g.max_size
            && g.max_size >= 1)
        {
            errors.push(plan.error(
                format!("{key}: sizes must satisfy 0 <= min_size <= desired_size <= max_size (got {}/{}/{})", g.min_size, g.desired_size, g.max_size),
                Some(ng.span()),
            ));
        }
        if !matches!(
            g.capacity_type.as_str(),
            "ON_DEMAND" | "SPOT" | "CAPACITY_BLOCK"
        ) {
            errors.push(plan.error(
                format!(
                    "{key}.capacity_type: `{}` is not ON_DEMAND, SPOT or CAPACITY_BLOCK",
                    g.capacity_type
                ),
                Some(ng.span()),
            ));
        }
        if g.instance_types.is_empty() {
            errors.push(plan.error(
                format!("{key}.instance_types: list at least one"),
                Some(ng.span()),
            ));
        }
        for t in &g.taints {
            if super::parse_taint(t).is_none() {
                errors.push(plan.error(format!("{key}.taints: `{t}` is not `key=value:NoSchedule|NoExecute|PreferNoSchedule`"), Some(ng.span())));
            }
        }
    }
}

fn check_identities(plan: &LoadedPlan, errors: &mut Vec<PlanError>) {
    let f = &plan.file;
    let mut seen = std::collections::BTreeSet::new();
    for spanned in &f.workload_identity {
        let w = spanned.get_ref();
        let span = Some(spanned.span());
        let key = format!("workload_identity[{}]", w.name);
        if f.cluster.is_none() {
            errors.push(plan.error(format!("{key}: needs a [cluster]: the role is assumed through the cluster's OIDC provider or Pod Identity"), span.clone()));
        }
        if w.name.is_empty()
            || !w
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errors.push(plan.error(
                format!("{key}.name: use lowercase letters, digits and '-'"),
                span.clone(),
            ));
        }
        if !seen.insert(w.name.replace('-', "_")) {
            errors.push(plan.error(format!("{key}: declared twice"), span.clone()));
        }
        if w.namespace.is_empty() || w.service_account.is_empty() {
            errors.push(plan.error(
                format!("{key}: namespace and service_account are both required"),
                span.clone(),
            ));
        }
        if f.project.len() + plan.env.len() + w.name.len() + 2 > 64 {
            errors.push(plan.error(
                format!(
                    "{key}.name: the role name `<project>-<env>-{}` would pass IAM's 64 characters",
                    w.name
                ),
                span.clone(),
            ));
        }
        match w.builtin.as_deref() {
            None => {}
            Some(b) if !super::BUILTIN_IDENTITIES.contains(&b) => errors.push(plan.error(
                format!("{key}.builtin: `{b}` is not one of {}", super::BUILTIN_IDENTITIES.join(", ")),
                span.clone(),
            )),
            Some("external-dns") if f.dns.is_none() => {
                errors.push(plan.error(format!("{key}.builtin: external-dns is limited to this plan's zone, so it needs a [dns] section"), span.clone()))
            }
            Some("external-secrets") if f.database.is_none() => errors.push(plan.error(
                format!("{key}.builtin: external-secrets may read only the database's master secret, so it needs a [database] section"),
                span.clone(),
            )),
            Some(_) => {}
        }
        if w.builtin.is_none() && w.managed_policies.is_empty() && w.statements.is_empty() {
            errors.push(plan.error(
                format!("{key}: give it permissions: builtin, managed_policies or statements"),
                span.clone(),
            ));
        }
        for s in &w.statements {
            if s.actions.is_empty() || s.resources.is_empty() {
                errors.push(plan.error(
                    format!("{key}.statements: each statement needs actions and resources"),
                    span.clone(),
                ));
            }
        }
    }
}

fn check_database_engine(plan: &LoadedPlan, d: &super::Database, errors: &mut Vec<PlanError>) {
    let span = |s: &toml::Spanned<String>| Some(s.span()).filter(|r| !r.is_empty());
    match d.engine.get_ref().as_str() {
        "postgres" => {
            if d.instance_class.is_none() {
                errors.push(plan.error("database.instance_class: required for engine \"postgres\" (like \"db.t4g.micro\")", Some(d.engine_version.span())));
            }
            if let Some(s) = &d.serverless_v2 {
                errors.push(plan.error(
                    "database.serverless_v2: only for engine = \"aurora-postgresql\"",
                    Some(s.span()),
                ));
            }
        }
        "aurora-postgresql" => {
            match &d.serverless_v2 {
                None => errors.push(plan.error(
                    "database.serverless_v2: Aurora here is Serverless v2: set serverless_v2 = { min_acu = 0.5, max_acu = 4 }",
                    span(&d.engine),
                )),
                Some(s) => {
                    let (min, max) = (s.get_ref().min_acu, s.get_ref().max_acu);
                    let step = |v: f64| (v * 2.0).fract() == 0.0;
                    if !(0.0..=256.0).contains(&min) || !(1.0..=256.0).contains(&max) || min > max || !step(min) || !step(max) {
                        errors.push(plan.error(
                            format!("database.serverless_v2: min_acu {min} / max_acu {max}: Aurora takes 0 to 256 ACUs in steps of 0.5, max at least 1 and not below min"),
                            Some(s.span()),
                        ));
                    }
                }
            }
            if let Some(c) = d
                .instance_class
                .as_ref()
                .filter(|c| c.get_ref() != "db.serverless")
            {
                errors.push(plan.error(
                    format!("database.instance_class: `{}`: an Aurora Serverless v2 writer is \"db.serverless\" (or leave it out)", c.get_ref()),
                    Some(c.span()),
                ));
            }
            if d.multi_az {
                errors.push(plan.error("database.multi_az: Aurora keeps its storage in 3 AZs; add readers instead (multi_az is for engine \"postgres\")", span(&d.engine)));
            }
        }
        other => errors.push(plan.error(
            format!("database.engine: `{other}` is not \"postgres\" or \"aurora-postgresql\""),
            span(&d.engine),
        )),
    }
}

fn check_access(plan: &LoadedPlan, errors: &mut Vec<PlanError>) {
    let f = &plan.file;
    let mut names = std::collections::BTreeSet::new();
    let mut principals = std::collections::BTreeSet::new();
    for spanned in &f.access {
        let a = spanned.get_ref();
        let span = Some(spanned.span());
        let key = format!("access[{}]", a.name);
        match &f.cluster {
            None => errors.push(plan.error(format!("{key}: needs a [cluster]: access entries belong to the cluster"), span.clone())),
            Some(c) if c.authentication_mode == "CONFIG_MAP" => errors.push(plan.error(
                format!("{key}: access entries need cluster.authentication_mode \"API\" or \"API_AND_CONFIG_MAP\", not \"CONFIG_MAP\""),
                span.clone(),
            )),
            Some(_) => {}
        }
        if a.name.is_empty()
            || !a
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errors.push(plan.error(
                format!("{key}.name: use lowercase letters, digits and '-'"),
                span.clone(),
            ));
        }
        if !names.insert(a.name.replace('-', "_")) {
            errors.push(plan.error(format!("{key}: declared twice"), span.clone()));
        }
        let role_arn = a
            .principal_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":role/"));
        if !role_arn.is_some_and(|(account, name)| {
            account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty()
        }) {
            errors.push(plan.error(
                format!("{key}.principal_arn: `{}` is not an IAM role ARN like arn:aws:iam::123456789012:role/platform-viewers (map groups' roles, not users)", a.principal_arn),
                span.clone(),
            ));
        }
        if !principals.insert(a.principal_arn.clone()) {
            errors.push(plan.error(format!("{key}.principal_arn: `{}` has another [[access]] already; EKS allows one entry per principal", a.principal_arn), span.clone()));
        }
        if !super::ACCESS_ROLES.contains(&a.role.as_str()) {
            errors.push(plan.error(
                format!(
                    "{key}.role: `{}` is not one of {}",
                    a.role,
                    super::ACCESS_ROLES.join(", ")
                ),
                span.clone(),
            ));
        }
        if matches!(a.role.as_str(), "developer" | "operator") && a.namespaces.is_empty() {
            errors.push(plan.error(
                format!(
                    "{key}.namespaces: a {} is scoped to its namespaces; list them",
                    a.role
                ),
                span.clone(),
            ));
        }
        for ns in &a.namespaces {
            if ns.is_empty()
                || ns.len() > 63
                || !ns
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*')
            {
                errors.push(plan.error(
                    format!("{key}.namespaces: `{ns}` is not a Kubernetes namespace name"),
                    span.clone(),
                ));
            }
        }
        for g in &a.kubernetes_groups {
            if g.is_empty() || g.starts_with("system:") {
                errors.push(plan.error(format!("{key}.kubernetes_groups: `{g}`: EKS refuses empty names and the system: prefix"), span.clone()));
            }
        }
        if a.cluster_admin && a.role != "platform-admin" {
            errors.push(plan.error(format!("{key}.cluster_admin: only a platform-admin may also hold AmazonEKSClusterAdminPolicy"), span.clone()));
        }
        match (a.role.as_str(), &a.until) {
            ("break-glass", None) => errors.push(plan.error(
                format!("{key}.until: break-glass access is time-bound: set until = \"<RFC 3339 time>\" (like \"2026-12-24T18:00:00Z\")"),
                span.clone(),
            )),
            ("break-glass", Some(t)) if a.expires_at().is_none() => {
                errors.push(plan.error(format!("{key}.until: `{t}` is not an RFC 3339 time like \"2026-12-24T18:00:00Z\""), span.clone()))
            }
            (_, Some(_)) if a.role != "break-glass" => {
                errors.push(plan.error(format!("{key}.until: only break-glass access expires; a {} entry is permanent", a.role), span.clone()))
            }
            _ => {}
        }
    }
}

/// RDS's rule for DB instance and cluster identifiers.
fn valid_db_identifier(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.contains("--")
        && !id.ends_with('-')
}
