use clap::Args;

use super::{Cli, EnvArg};
use crate::ops::{self, Error};
use crate::outputs;

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// One output, printed whole; all when absent (long ones by size only).
    pub name: Option<String>,
    /// As JSON: an object of every output (`null` when not known), or the one value.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// The one value with no quoting (a list: one item a line), for shell variables.
    #[arg(long, requires = "name")]
    pub raw: bool,
}

/// Reads state only: the outputs the last `up` (or `refresh`) recorded.
pub fn run(cli: &Cli, args: &OutputArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let mut all = ops::outputs(&opts)?;
    let unknown = |names: Vec<String>| Error::UnknownOutputs {
        env: opts.env.clone(),
        names,
    };
    if let Some(name) = &args.name {
        let value = all
            .remove(name)
            .ok_or_else(|| Error::NoSuchOutput(name.clone()))?;
        if value.is_null() {
            return Err(unknown(vec![name.clone()]).into());
        }
        if args.raw {
            println!("{}", outputs::raw(&value));
        } else if args.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("{value}");
        }
        return Ok(crate::exit::SUCCESS);
    }
    if args.json {
        // A versioned document (docs/json-formats.md); one output by name is its value alone.
        let doc = serde_json::json!({ "format_version": 1, "env": opts.env, "outputs": all });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (name, value) in &all {
            println!("{name} = {}", outputs::listed(name, value));
        }
    }
    let missing = outputs::unknown(&all);
    if !missing.is_empty() {
        return Err(unknown(missing).into());
    }
    Ok(crate::exit::SUCCESS)
}
