use std::collections::BTreeMap;
use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg};
use crate::drift::{Finding, tier};
use crate::exit;
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Write the report as JSON (for CI artifacts).
    #[arg(long)]
    pub json: bool,
}

fn show(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(none)".into())
}

pub async fn run(cli: &Cli, args: &DriftArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let reporter = Arc::new(TerminalReporter::new(true));
    let cx = ops::context(&prepared, reporter).await?;
    let findings = ops::drift(&opts, &prepared, &cx).await?;
    let drifted = findings.iter().any(Finding::is_drift);
    if args.json {
        let report = serde_json::json!({
            "format_version": 1,
            "env": opts.env,
            "drift": drifted,
            "findings": findings.iter().map(|f| {
                let mut v = serde_json::to_value(f).expect("json");
                v["tier"] = serde_json::json!(tier(f.kind()));
                v
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut by_tier: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in &findings {
            by_tier.entry(tier(f.kind())).or_default().push(f);
        }
        for (t, list) in by_tier {
            println!("{t}:");
            for f in list {
                match f {
                    Finding::Changed {
                        address,
                        id,
                        fields,
                        ..
                    } => {
                        println!("  ~ {address} ({id}) changed outside infra");
                        for d in fields {
                            println!(
                                "      {}: {} -> {}",
                                d.field,
                                show(&d.applied),
                                show(&d.live)
                            );
                        }
                    }
                    Finding::Deleted { address, id, .. } => {
                        println!("  - {address} ({id}) deleted outside infra")
                    }
                    Finding::PlanDiffers {
                        address, fields, ..
                    } => {
                        println!(
                            "  * {address}: the plan file now differs ({}); not drift, `infra plan` shows it",
                            fields.join(", ")
                        )
                    }
                    Finding::Access {
                        principal_arn,
                        address,
                        why,
                        ..
                    } => println!(
                        "  ! {principal_arn}{}: {why}",
                        address
                            .as_ref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default()
                    ),
                    Finding::Unrecorded { address, id, .. } => {
                        println!(
                            "  + {address} ({id}) exists but state does not know it; `infra up --env {}` adopts it, creating nothing",
                            opts.env
                        )
                    }
                    Finding::AddedByHand {
                        parent, what, id, ..
                    } => {
                        println!(
                            "  + {parent}: {what} ({id}) added outside infra, not in the plan; `infra up` removes it"
                        )
                    }
                    Finding::DefaultEgress {
                        parent, what, id, ..
                    } => {
                        println!(
                            "  + {parent}: AWS's default {what} ({id}) was never revoked (its create was cut short, or it was put back by hand); the plan declares no such rule, `infra up` revokes it"
                        )
                    }
                    Finding::Orphan { kind, id, address } => println!(
                        "  ? {kind} {id}{} is tagged with env {} but not in state (orphan)",
                        address
                            .as_ref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default(),
                        opts.env
                    ),
                }
            }
        }
        let n = findings.iter().filter(|f| f.is_drift()).count();
        let orphans = if findings.iter().any(|f| matches!(f, Finding::Orphan { .. })) {
            " (orphans need --prune-orphans)"
        } else {
            ""
        };
        if drifted {
            println!(
                "\nDrift: {n} finding(s) in env {}. `infra up --env {}` puts it back{orphans}.",
                opts.env, opts.env
            );
        } else {
            println!("No drift: env {} matches what infra applied.", opts.env);
        }
    }
    Ok(if drifted {
        exit::CHANGES
    } else {
        exit::SUCCESS
    })
}
