use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{ask, command_line, confirm_or_require_yes, interrupt_channel, render, Cli, EnvArg, RefreshArg};
use crate::aws::Timeouts;
use crate::exit;
use crate::ops::{self, Error, RunOptions};

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Destroy without asking.
    #[arg(long)]
    pub yes: bool,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[command(flatten)]
    pub refresh: RefreshArg,
    /// Do not delete what controllers made in the env's network first.
    #[arg(long)]
    pub keep_out_of_band: bool,
}

pub async fn run(cli: &Cli, args: &DestroyArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    confirm_or_require_yes(args.yes)?;
    let reporter = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, reporter.clone(), Timeouts::default()).await;
    let run = RunOptions {
        parallelism: args.parallelism as usize,
        prune_orphans: false,
        keep_out_of_band: args.keep_out_of_band,
        do_refresh: args.refresh.refresh,
        interrupt: interrupt_channel(),
        command: command_line(),
        saved_plan: None,
    };
    let env = opts.env.clone();
    let yes = args.yes;
    let printer = reporter.clone();
    let mut confirm = move |plan: &crate::diff::Plan| {
        printer.clear();
        print!("{}", render::plan_text(&env, plan));
        yes || ask(&format!("\nDestroy every resource of env {env}?"))
    };
    let outcome = ops::destroy(&opts, &prepared, &cx, run, &mut confirm).await?;
    reporter.clear();
    match outcome.report {
        None if outcome.plan.is_empty() => {
            println!("Nothing to destroy: state for env {} is empty.", opts.env);
            Ok(exit::SUCCESS)
        }
        None => {
            println!("Destroy cancelled.");
            Ok(exit::SUCCESS)
        }
        Some(report) => Ok(render::apply_summary("Destroy", &report)),
    }
}
