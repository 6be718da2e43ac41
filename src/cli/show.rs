//! `infra show FILE [--json]`: a plan saved by `plan --out`, rendered.

use std::path::PathBuf;

use clap::Args;

use super::{UsageError, render};
use crate::ops::SavedPlan;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `infra plan --env ENV --out FILE`.
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ShowArgs) -> anyhow::Result<u8> {
    let path = args.file.display();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| UsageError(format!("{path}: cannot read: {e}")))?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{path}: not a plan saved by `infra plan --out` ({e})"
        ))
    })?;
    if args.json {
        let mut json = render::plan_json(&saved.env, &saved.plan);
        json["state_serial"] = saved.state_serial.into();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "Saved plan for env {} (state serial {}):\n",
            saved.env, saved.state_serial
        );
        print!("{}", render::plan_text(&saved.env, &saved.plan));
    }
    Ok(crate::exit::SUCCESS)
}
