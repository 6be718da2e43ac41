//! `infra state mv FROM TO`: renames in state and re-tags `infra:address`,
//! journaled like any action.

use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, UsageError, command_line};
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
    let addresses = (args.from.as_str(), args.to.as_str());
    let (row, m) = ops::state_mv(
        &opts,
        &prepared,
        &cx,
        addresses,
        &command,
        args.lock.lock_timeout,
    )
    .await?;
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
