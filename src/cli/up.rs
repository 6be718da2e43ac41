use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::interrupt::{Answer, Interrupts};
use super::reporter::TerminalReporter;
use super::{
    Cli, EnvArg, LockTimeoutArg, RefreshArg, adoption, command_line, confirm_or_require_yes, render,
};
use crate::exit;
use crate::ops::{self, Error, RunOptions};

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// A plan saved by `infra plan --out FILE`: apply exactly it.
    pub plan_file: Option<PathBuf>,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Most actions in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[command(flatten)]
    pub refresh: RefreshArg,
    /// Delete resources tagged with this env that state does not know.
    #[arg(long)]
    pub prune_orphans: bool,
    /// Apply a plan whose monthly cost is over `[cost] budget_monthly_usd`
    /// (on a terminal, infra asks instead).
    #[arg(long)]
    pub allow_over_budget: bool,
    /// Seconds a NAT gateway may take to become available or go away.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub nat_timeout: u64,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
    #[command(flatten)]
    pub select: super::SelectArgs,
    /// Replace this resource even though nothing forces it (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
}

pub async fn run(cli: &Cli, args: &UpArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    ops::enforce_policy(&prepared)?;
    let selection = args.select.selection(&args.replace);
    super::check_selection(&opts, &prepared, &selection, false)?;
    confirm_or_require_yes(args.yes, "to apply")?;
    let interrupts = Interrupts::install();
    let terminal = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, interrupts.tracking(terminal.clone()))
        .await?
        .with_nat_timeout(std::time::Duration::from_secs(args.nat_timeout));
    let run = RunOptions {
        parallelism: args.parallelism as usize,
        prune_orphans: args.prune_orphans,
        keep_out_of_band: false,
        do_refresh: args.refresh.refresh,
        interrupt: interrupts.drain_receiver(),
        command: command_line(),
        saved_plan: args.plan_file.clone(),
        lock_timeout: args.lock.lock_timeout,
        selection,
    };
    let env = opts.env.clone();
    let yes = args.yes;
    let findings = crate::policy::render_text(&prepared.policy);
    let allow_over_budget = args.allow_over_budget;
    let over_budget = std::cell::Cell::new(None);
    let mut confirm = |plan: &crate::diff::Plan| {
        terminal.clear();
        print!("{}", adoption::adopted_text(&env, plan, true));
        print!("{}", render::plan_text(&env, plan));
        print!("{findings}");
        if let Some(over) = plan
            .cost
            .as_ref()
            .and_then(|c| c.over_budget_by_usd)
            .filter(|_| !allow_over_budget)
        {
            let over = crate::cost::fmt_usd(over);
            if !super::is_tty() {
                over_budget.set(Some(over));
                return false;
            }
            if interrupts.ask(&format!(
                "\nThis plan is over the env's monthly budget by {over}. Apply it anyway?"
            )) != Answer::Yes
            {
                return false;
            }
        }
        if !yes && interrupts.ask("\nDo you want to perform these actions?") != Answer::Yes {
            return false;
        }
        interrupts.start_applying()
    };
    // A signal before anything changes (lock wait, refresh, prompt) cancels.
    let result = tokio::select! {
        r = ops::up(&opts, &prepared, &cx, run, &mut confirm) => Some(r),
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
    if let Some(over) = over_budget.take() {
        eprintln!(
            "error: the plan is over the env's monthly budget by {over}; pass --allow-over-budget to apply it without a terminal, or raise [cost] budget_monthly_usd"
        );
        return Ok(exit::INVALID_INPUT);
    }
    print!(
        "{}",
        adoption::orphans_text(&opts.env, &outcome.plan, args.prune_orphans)
    );
    match outcome.report {
        None if outcome.plan.is_empty() => {
            print!("{}", adoption::adopted_text(&opts.env, &outcome.plan, true));
            println!("No changes. env {} matches its plan.", opts.env);
            Ok(exit::SUCCESS)
        }
        None => {
            println!("Apply cancelled: nothing was changed.");
            Ok(exit::FAILURE)
        }
        Some(report) => Ok(render::apply_summary(
            "Apply",
            &report,
            &cli.rerun("up", &args.env),
            interrupts.exit_code(),
        )),
    }
}
