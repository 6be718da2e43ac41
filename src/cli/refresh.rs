use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, command_line};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
}

pub async fn run(cli: &Cli, args: &RefreshArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let cx = ops::context(&prepared, Arc::new(TerminalReporter::new(false))).await?;
    let (found, missing) = ops::refresh_state(
        &opts,
        &prepared,
        &cx,
        &command_line(),
        args.lock.lock_timeout,
    )
    .await?;
    println!(
        "Refreshed {found} resource(s) into state; {missing} in state were not found in the cloud (`infra up` recreates them)."
    );
    Ok(crate::exit::SUCCESS)
}
