use std::path::PathBuf;

use clap::Args;

use super::{Cli, EnvArg, command_line};
use crate::ops::Error;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The local state to move (default: the env's local file, state/<env>.db or --state).
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
}

pub async fn run(cli: &Cli, args: &MigrateArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let loaded = crate::config::load(&opts.plans_dir, &opts.env).map_err(Error::from)?;
    let (url, moved, count) =
        crate::state_transfer::migrate(&opts, &loaded, args.from.as_deref(), &command_line())
            .await?;
    println!(
        "moved the state of env {} ({count} resource(s)) to {url}; the local file is kept as {}",
        opts.env,
        moved.display()
    );
    Ok(crate::exit::SUCCESS)
}
