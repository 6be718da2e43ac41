use std::path::PathBuf;

use clap::Args;

use super::{Cli, EnvArg, command_line};
use crate::ops::Error;

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The state file to make current.
    pub file: PathBuf,
    /// Push a state of another lineage or an older serial.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(cli: &Cli, args: &PushArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let loaded = crate::config::load(&opts.plans_dir, &opts.env).map_err(Error::from)?;
    let to = crate::state_transfer::push(&opts, &loaded, &args.file, args.force, &command_line())
        .await?;
    println!(
        "pushed {} as the state of env {} to {to}",
        args.file.display(),
        opts.env
    );
    Ok(crate::exit::SUCCESS)
}
