use clap::Args;

use super::{Cli, EnvArg};
use crate::ops::{self, Error};

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// One output; all when absent.
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &OutputArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    let mut outputs = ops::outputs(&opts, &prepared)?;
    if let Some(name) = &args.name {
        outputs.retain(|(n, _)| n == name);
        if outputs.is_empty() {
            return Err(Error::NoSuchOutput(name.clone()).into());
        }
    }
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = outputs.into_iter().collect();
        let value = match &args.name {
            Some(n) => map[n].clone(),
            None => serde_json::Value::Object(map),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if let (Some(_), Some((_, v))) = (&args.name, outputs.first()) {
        println!("{}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
    } else {
        for (name, v) in outputs {
            println!("{name} = {v}");
        }
    }
    Ok(crate::exit::SUCCESS)
}
