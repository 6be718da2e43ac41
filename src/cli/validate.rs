//! `infra validate`: the plan file checked offline — parse, values, the
//! resource graph and the guardrails. Exit 0 valid, 3 invalid; no cloud, no state.

use clap::Args;

use super::{Cli, EnvArg};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub env: EnvArg,
}

pub fn run(cli: &Cli, args: &ValidateArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    ops::enforce_policy(&prepared)?;
    for w in &prepared.expanded.warnings {
        println!("warning: {w}");
    }
    print!("{}", crate::policy::render_text(&prepared.policy));
    println!(
        "The plan for env {} is valid: {} resources.",
        opts.env,
        prepared.graph.len()
    );
    Ok(crate::exit::SUCCESS)
}
