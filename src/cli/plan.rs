use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, RefreshArg, adoption, render};
use crate::exit;
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub refresh: RefreshArg,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 with no changes, 2 with changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan for `infra up --env ENV FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan the deletion of resources tagged with this env that neither state nor the plan knows.
    #[arg(long)]
    pub prune_orphans: bool,
    #[command(flatten)]
    pub select: super::SelectArgs,
    /// Replace this resource even though nothing forces it (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
}

pub async fn run(cli: &Cli, args: &PlanArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    ops::enforce_policy(&prepared)?;
    let reporter = Arc::new(TerminalReporter::new(args.json));
    let cx = if args.refresh.refresh {
        ops::context(&prepared, reporter.clone()).await?
    } else {
        ops::unchecked_context(&prepared, reporter.clone()).await
    };
    let selection = args.select.selection(&args.replace);
    super::check_selection(&opts, &prepared, &selection, false)?;
    let outcome = ops::plan_selected(
        &opts,
        &prepared,
        &cx,
        args.refresh.refresh,
        args.prune_orphans,
        &selection,
    )
    .await?;
    reporter.clear();
    if args.json {
        let mut json = render::plan_json(&opts.env, &outcome.plan);
        json["policy"] = serde_json::to_value(&prepared.policy)?;
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!(
            "{}",
            adoption::adopted_text(&opts.env, &outcome.plan, false)
        );
        print!("{}", render::plan_text(&opts.env, &outcome.plan));
        print!("{}", crate::policy::render_text(&prepared.policy));
        print!(
            "{}",
            adoption::orphans_text(&opts.env, &outcome.plan, args.prune_orphans)
        );
    }
    if let (Some(path), Some(saved)) = (&args.out, &outcome.saved) {
        std::fs::write(path, serde_json::to_vec_pretty(saved)?)?;
        if !args.json {
            println!(
                "\nSaved the plan to {}; apply exactly it with `{} {}`",
                path.display(),
                cli.rerun("up", &args.env),
                path.display()
            );
        }
    }
    // Adopting changes state, so it counts as a change, though the cloud does not change.
    let changes = !outcome.plan.is_empty() || !outcome.plan.adopted.is_empty();
    Ok(if args.detailed_exitcode && changes {
        exit::CHANGES
    } else {
        exit::SUCCESS
    })
}
