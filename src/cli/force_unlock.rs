use clap::Args;

use super::{Cli, EnvArg};

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The lock id the refusal message named.
    pub lock_id: String,
}

pub fn run(cli: &Cli, args: &ForceUnlockArgs) -> anyhow::Result<u8> {
    let holder = crate::ops::force_unlock(&cli.env_options(&args.env), &args.lock_id)?;
    println!("unlocked: the lock held by {holder} is cleared");
    Ok(crate::exit::SUCCESS)
}
