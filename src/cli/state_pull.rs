use std::path::PathBuf;

use clap::Args;

use super::{Cli, EnvArg};
use crate::ops::Error;

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Where to write the state (a SQLite file).
    pub file: PathBuf,
}

pub async fn run(cli: &Cli, args: &PullArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let loaded = crate::config::load(&opts.plans_dir, &opts.env).map_err(Error::from)?;
    let (serial, count) = crate::state_transfer::pull(&opts, &loaded, &args.file).await?;
    println!(
        "wrote the state of env {} (serial {serial}, {count} resource(s)) to {}",
        opts.env,
        args.file.display()
    );
    Ok(crate::exit::SUCCESS)
}
