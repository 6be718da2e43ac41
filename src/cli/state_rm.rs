//! `infra state rm ADDRESS`: forgets without deleting.

use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, command_line};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub env: EnvArg,
    pub address: String,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
}

pub async fn run(cli: &Cli, args: &RmArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let reporter = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, reporter.clone()).await?;
    let command = command_line();
    let (row, tagged) = ops::state_rm(
        &opts,
        &prepared,
        &cx,
        &args.address,
        &command,
        args.lock.lock_timeout,
    )
    .await?;
    reporter.clear();
    println!(
        "Removed {} ({} {}) from state. The resource still exists; infra no longer manages it.",
        row.address, row.kind, row.id
    );
    if tagged {
        println!(
            "Its infra identity tags were removed, so infra will neither adopt it again nor report it as an orphan."
        );
    } else {
        println!(
            "A {} carries no tags: infra finds it by its natural key, so while the plan file still declares it the next `up` takes it back.",
            row.kind
        );
    }
    if prepared.graph.get(&row.address).is_some() {
        println!(
            "note: the plan file still declares {}; the next `up` creates a new one unless you remove it from the plan file",
            row.address
        );
    }
    Ok(crate::exit::SUCCESS)
}
