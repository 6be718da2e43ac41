//! `infra cost`: the env's monthly on-demand estimate by tier, now (state)
//! and after its plan file is applied. Reads no cloud.

use std::collections::BTreeMap;

use clap::Args;

use super::{Cli, EnvArg};
use crate::cost::{Date, LineChange, fmt_usd};
use crate::drift::tier;
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct CostArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the breakdown as JSON.
    #[arg(long)]
    pub json: bool,
    /// Price as on this day (YYYY-MM-DD; default today): a Kubernetes
    /// version past EKS standard support costs more from its end date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub on: Option<Date>,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).ok_or_else(|| format!("`{s}` is not a date like 2026-12-03"))
}

fn amount(l: &LineChange) -> f64 {
    l.after.as_ref().and_then(|a| a.monthly_usd).unwrap_or(0.0)
}

pub fn run(cli: &Cli, args: &CostArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let change = ops::cost(&opts, &prepared, args.on.unwrap_or_else(Date::today))?;
    let mut by_tier: BTreeMap<&str, Vec<&LineChange>> = BTreeMap::new();
    for l in &change.lines {
        by_tier.entry(tier(&l.kind)).or_default().push(l);
    }
    if args.json {
        let tiers: serde_json::Map<String, serde_json::Value> = by_tier
            .iter()
            .map(|(t, lines)| (t.to_string(), serde_json::json!({ "monthly_usd": lines.iter().map(|l| amount(l)).sum::<f64>(), "lines": lines })))
            .collect();
        let report = serde_json::json!({ "format_version": 1, "env": opts.env, "region": prepared.loaded.file.region.get_ref(), "cost": change, "tiers": tiers });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(crate::exit::SUCCESS);
    }
    println!(
        "env {} ({}), monthly on-demand estimate by tier:\n",
        opts.env,
        prepared.loaded.file.region.get_ref()
    );
    for (t, lines) in &by_tier {
        println!("{t}: {}", fmt_usd(lines.iter().map(|l| amount(l)).sum()));
        for l in lines {
            let detail = l
                .after
                .as_ref()
                .or(l.before.as_ref())
                .map(|s| s.detail.as_str())
                .unwrap_or_default();
            let now = match &l.after {
                Some(a) => a
                    .monthly_usd
                    .map(fmt_usd)
                    .unwrap_or_else(|| "no price".into()),
                None => "removed by the plan".into(),
            };
            println!("  {:<44} {:>10}  {detail}", l.address, now);
        }
    }
    println!();
    print!(
        "{}",
        crate::cost::render_text(&change)
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!();
    Ok(crate::exit::SUCCESS)
}
