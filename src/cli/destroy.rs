use std::sync::Arc;

use clap::Args;

use super::interrupt::{Answer, Interrupts};
use super::reporter::TerminalReporter;
use super::{
    Cli, EnvArg, LockTimeoutArg, RefreshArg, command_line, confirm_or_require_yes, render,
};
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
    #[command(flatten)]
    pub lock: LockTimeoutArg,
    #[command(flatten)]
    pub select: super::SelectArgs,
}

pub async fn run(cli: &Cli, args: &DestroyArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let selection = args.select.selection(&[]);
    super::check_selection(&opts, &prepared, &selection, true)?;
    confirm_or_require_yes(args.yes, "to destroy")?;
    let interrupts = Interrupts::install();
    let terminal = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, interrupts.tracking(terminal.clone())).await?;
    let run = RunOptions {
        parallelism: args.parallelism as usize,
        prune_orphans: false,
        keep_out_of_band: args.keep_out_of_band,
        do_refresh: args.refresh.refresh,
        interrupt: interrupts.drain_receiver(),
        command: command_line(),
        saved_plan: None,
        lock_timeout: args.lock.lock_timeout,
        selection,
    };
    let env = opts.env.clone();
    let yes = args.yes;
    let mut confirm = |plan: &crate::diff::Plan| {
        terminal.clear();
        print!("{}", render::plan_text(&env, plan));
        let what = if plan.selection.is_empty() {
            "every resource".to_string()
        } else {
            format!("the {} selected resource(s)", plan.actions.len())
        };
        if !yes && interrupts.ask(&format!("\nDestroy {what} of env {env}?")) != Answer::Yes {
            return false;
        }
        interrupts.start_applying()
    };
    let result = tokio::select! {
        r = ops::destroy(&opts, &prepared, &cx, run, &mut confirm) => Some(r),
        _ = interrupts.cancelled() => None,
    };
    terminal.clear();
    if interrupts.was_cancelled() {
        ops::finish_abandoned(terminal.as_ref()).await;
        eprintln!(
            "{}: cancelled before any change; nothing was done.",
            interrupts.signal_name()
        );
        return Ok(interrupts.exit_code());
    }
    let Some(result) = result else {
        return Ok(interrupts.exit_code());
    };
    let outcome = result?;
    match outcome.report {
        None if outcome.plan.is_empty() => {
            println!("Nothing to destroy: state for env {} is empty.", opts.env);
            Ok(exit::SUCCESS)
        }
        None => {
            println!("Destroy cancelled: nothing was deleted.");
            Ok(exit::FAILURE)
        }
        Some(report) => Ok(render::apply_summary(
            "Destroy",
            &report,
            &cli.rerun("destroy", &args.env),
            interrupts.exit_code(),
        )),
    }
}
