use clap::Args;

use super::{Cli, EnvArg, ask, confirm_or_require_yes};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The lock id the refusal message named.
    pub lock_id: String,
    /// Unlock without asking.
    #[arg(long)]
    pub yes: bool,
    /// Clear the lock even while its holder still runs on this host.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cli: &Cli, args: &ForceUnlockArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let (holder, alive) = ops::lock_status(&opts, &args.lock_id)?;
    if alive && !args.force {
        return Err(Error::LiveHolder {
            holder: Box::new(holder),
        }
        .into());
    }
    confirm_or_require_yes(args.yes, "to unlock")?;
    if !args.yes {
        let state = if alive {
            "STILL RUNNING"
        } else {
            "no longer running here"
        };
        println!("Lock {} is held by {holder} ({state}).", args.lock_id);
        println!(
            "Clearing it lets another run write this env's state while that one may still change it."
        );
        if !ask("\nClear this lock?") {
            println!("Unlock cancelled: the lock is kept.");
            return Ok(crate::exit::FAILURE);
        }
    }
    let holder = ops::force_unlock(&opts, &args.lock_id)?;
    println!("unlocked: the lock held by {holder} is cleared");
    if alive {
        eprintln!(
            "warning: that process still runs; while it holds the state's OS lock, other runs stay refused until it exits"
        );
    }
    Ok(crate::exit::SUCCESS)
}
