//! `infra state mv FROM TO`: renames in state and re-tags `infra:address`,
//! journaled like any action.

use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, UsageError, command_line};
use crate::diff::Move;
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct MvArgs {
    #[command(flatten)]
    pub env: EnvArg,
    pub from: String,
    pub to: String,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
}

pub async fn run(cli: &Cli, args: &MvArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    if !args.to.contains('.')
        || args.to.starts_with('.')
        || args.to.ends_with('.')
        || args.to.contains(char::is_whitespace)
    {
        return Err(UsageError(format!(
            "`{}` is not an address: an address is `<kind>.<name>` (like `subnet.app_a`)",
            args.to
        ))
        .into());
    }
    let reporter = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, reporter.clone()).await?;
    let command = command_line();
    let mut writer = ops::open_for_write(
        &opts,
        &prepared.loaded,
        &command,
        reporter.as_ref(),
        args.lock.lock_timeout,
    )
    .await?;
    // Under the lock (or the S3 lease), given back whatever the outcome.
    let moved: anyhow::Result<_> = async {
        let state = &mut writer.state;
        let Some(row) = state.resource(&args.from).map_err(Error::from)? else {
            return Err(UsageError(format!(
                "{} is not in state for env {}; nothing was moved",
                args.from, opts.env
            ))
            .into());
        };
        if state.resource(&args.to).map_err(Error::from)?.is_some() {
            return Err(UsageError(format!(
                "{} is already in state; nothing was moved (`infra state rm` it first)",
                args.to
            ))
            .into());
        }
        let run_id = state.begin_run(&command).map_err(Error::from)?;
        let m = Move {
            from: args.from.clone(),
            to: args.to.clone(),
            kind: row.kind.clone(),
            id: row.id.clone(),
        };
        let result = crate::takeover::perform_move(&cx, state, &run_id, &m).await;
        state
            .finish_run(
                &run_id,
                if result.is_ok() { "ok" } else { "error" },
                &format!("moved {} to {}", m.from, m.to),
            )
            .map_err(Error::from)?;
        result?;
        Ok((row, m))
    }
    .await;
    writer.finish(Ok(())).await?;
    let (row, m) = moved?;
    reporter.clear();
    let tag = if crate::takeover::found_by_natural_key(&row.kind) {
        "(a kind without tags: found by its natural key)"
    } else {
        "and its infra:address tag"
    };
    println!(
        "Moved {} to {} ({} {}): renamed in state {tag}.",
        m.from, m.to, row.kind, row.id
    );
    if prepared.graph.get(&m.to).is_none() {
        println!(
            "note: the plan file has no {}; the next `up` deletes it unless you add it (or move it back)",
            m.to
        );
    }
    Ok(crate::exit::SUCCESS)
}
