//! `infra graph`: a picture of the env's resources by tier with their
//! dependencies; with `--plan`, each coloured by what the plan does to it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, RefreshArg};
use crate::diff::Op;
use crate::drift::tier;
use crate::ops::{self, Error};
use crate::picture::{self, Action, Node, Picture};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Svg,
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub env: EnvArg,
    #[arg(long, value_enum, default_value_t = Format::Svg)]
    pub format: Format,
    /// Colour each resource by the plan's action (reads the cloud unless --refresh=false).
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub refresh: RefreshArg,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(cli: &Cli, args: &GraphArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let graph = &prepared.graph;
    let mut nodes: Vec<Node> = graph
        .resources()
        .iter()
        .map(|d| Node {
            address: d.address.clone(),
            kind: d.kind.clone(),
            tier: tier(&d.kind).into(),
            action: None,
        })
        .collect();
    let mut edges: Vec<(String, String)> = graph
        .resources()
        .iter()
        .flat_map(|d| {
            graph
                .dependencies(&d.address)
                .into_iter()
                .map(move |dep| (d.address.clone(), dep))
        })
        .collect();
    if args.plan {
        let reporter = Arc::new(TerminalReporter::new(true));
        let cx = ops::context(&prepared, reporter.clone()).await?;
        let outcome = ops::plan(&opts, &prepared, &cx, args.refresh.refresh, false).await?;
        reporter.clear();
        for n in &mut nodes {
            n.action = Some(Action::NoChange);
        }
        let known: BTreeSet<String> = nodes.iter().map(|n| n.address.clone()).collect();
        for a in &outcome.plan.actions {
            let action = match a.op {
                Op::Create => Action::Create,
                Op::Update => Action::Update,
                Op::Replace => Action::Replace,
                Op::Delete => Action::Delete,
            };
            if known.contains(&a.address) {
                if let Some(n) = nodes.iter_mut().find(|n| n.address == a.address) {
                    n.action = Some(action);
                }
            } else {
                nodes.push(Node {
                    address: a.address.clone(),
                    kind: a.kind.clone(),
                    tier: tier(&a.kind).into(),
                    action: Some(action),
                });
                edges.extend(a.state_deps.iter().map(|d| (a.address.clone(), d.clone())));
            }
        }
    }
    let picture = Picture { nodes, edges };
    let text = match args.format {
        Format::Svg => picture::svg(&picture),
        Format::Dot => picture::dot(&picture),
        Format::Mermaid => picture::mermaid(&picture),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)?,
        None => print!("{text}"),
    }
    Ok(crate::exit::SUCCESS)
}
