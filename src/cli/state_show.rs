//! `infra state show ADDRESS [--json]`: one row, secrets never shown.

use clap::Args;
use serde_json::json;

use super::{Cli, EnvArg, UsageError};
use crate::ops::Error;

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub env: EnvArg,
    pub address: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &ShowArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let state = crate::ops::read_only_state(&opts)?;
    let Some(row) = state.resource(&args.address).map_err(Error::from)? else {
        return Err(UsageError(format!(
            "{} is not in state for env {}; `infra state list --env {}` lists what is",
            args.address, opts.env, opts.env
        ))
        .into());
    };
    let props = crate::takeover::redact(&row.props);
    if args.json {
        let v = json!({ "format_version": 1, "env": opts.env, "address": row.address, "kind": row.kind, "id": row.id, "protect": row.protect, "props": props, "outputs": row.outputs, "deps": row.deps });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(crate::exit::SUCCESS);
    }
    println!("# {} ({})", row.address, row.kind);
    println!("id = {}", row.id);
    if row.protect {
        println!("protect = true");
    }
    for (k, v) in &props {
        println!("{k} = {v}");
    }
    if !row.outputs.is_empty() {
        println!("\n# outputs");
        for (k, v) in &row.outputs {
            println!("{k} = {v}");
        }
    }
    if !row.deps.is_empty() {
        println!("\n# depends on: {}", row.deps.join(", "));
    }
    Ok(crate::exit::SUCCESS)
}
