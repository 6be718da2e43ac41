//! `infra import --env ENV ADDRESS ID`: one existing resource under an
//! address of the plan: tagged with infra's identity, read, recorded.

use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, UsageError, command_line};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The plan's address for it (`subnet.app_a`).
    pub address: String,
    /// Its id in AWS (`subnet-0abc…`, a role name, a cluster name, `cluster:nodegroup`).
    pub id: String,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
}

pub async fn run(cli: &Cli, args: &ImportArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let Some(d) = prepared.graph.get(&args.address) else {
        return Err(UsageError(format!(
            "the plan for env {} has no resource {}; import needs the address the plan gives it",
            opts.env, args.address
        ))
        .into());
    };
    let existing = crate::ops::read_only_state(&opts)?;
    if let Some(row) = existing.resource(&args.address).map_err(Error::from)? {
        return Err(UsageError(format!(
            "{} is already in state (id {}); `infra state rm` it first to import another",
            args.address, row.id
        ))
        .into());
    }
    drop(existing);
    let kind = d.kind.clone();
    let reporter = Arc::new(TerminalReporter::new(false));
    let cx = ops::context(&prepared, reporter.clone()).await?;
    let row = ops::import(
        &opts,
        &prepared,
        &cx,
        &args.address,
        &args.id,
        &command_line(),
        args.lock.lock_timeout,
    )
    .await?;
    reporter.clear();
    println!(
        "Imported {} ({kind} {}). Run `infra plan --env {}` to see how it differs from the plan file.",
        row.address, row.id, opts.env
    );
    Ok(crate::exit::SUCCESS)
}
