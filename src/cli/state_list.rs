//! `infra state list [--kind K] [--json]`.

use clap::Args;

use super::{Cli, EnvArg};
use crate::ops::Error;
use crate::takeover::Listed;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Only resources of this kind (`Subnet`).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &ListArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let state = crate::ops::read_only_state(&opts)?;
    let rows: Vec<Listed> = state
        .resources()
        .map_err(Error::from)?
        .into_iter()
        .filter(|r| args.kind.as_ref().is_none_or(|k| &r.kind == k))
        .map(|r| Listed {
            address: r.address,
            kind: r.kind,
            id: r.id,
        })
        .collect();
    if args.json {
        let v = serde_json::json!({ "format_version": 1, "env": opts.env, "resources": rows });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let w = rows.iter().map(|r| r.address.len()).max().unwrap_or(0);
        let k = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0);
        for r in &rows {
            println!("{:w$}  {:k$}  {}", r.address, r.kind, r.id);
        }
    }
    Ok(crate::exit::SUCCESS)
}
