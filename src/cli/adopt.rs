//! `infra adopt --env ENV --from-terraform FILE.tfstate [--dry-run] [--json]`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::reporter::TerminalReporter;
use super::{Cli, EnvArg, LockTimeoutArg, ask, command_line, confirm_or_require_yes};
use crate::ops::{self, Error};
use crate::takeover::adopt::{self, Mapped, Verdict};

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Terraform's state (version 4 JSON: `terraform state pull > FILE`). Read only.
    #[arg(long, value_name = "FILE")]
    pub from_terraform: PathBuf,
    /// Print the mapping; tag nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
    /// Tag and record without asking.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockTimeoutArg,
}

pub async fn run(cli: &Cli, args: &AdoptArgs) -> anyhow::Result<u8> {
    let opts = cli.env_options(&args.env);
    let prepared = ops::prepare(&opts).map_err(Error::from)?;
    if !args.dry_run {
        confirm_or_require_yes(args.yes, "to tag and record")?;
    }
    let reporter = Arc::new(TerminalReporter::new(args.json));
    let cx = ops::context(&prepared, reporter.clone()).await?;
    let yes = args.yes;
    let json = args.json;
    let printer = reporter.clone();
    let mut confirm = |mapped: &[Mapped]| {
        printer.clear();
        let tags: Vec<&Mapped> = mapped
            .iter()
            .filter(|m| !crate::takeover::found_by_natural_key(&m.kind))
            .collect();
        if !json {
            println!(
                "infra will add its identity tags (infra:env, infra:address) to {} resource(s); nothing else changes in the cloud, and the Terraform state is not written:\n",
                tags.len()
            );
            for m in &tags {
                println!(
                    "  ~ {} ({} {}) tag infra:address={}",
                    m.terraform, m.kind, m.id, m.address
                );
            }
            println!();
        }
        yes || ask("Do you want to tag and record these resources?")
    };
    let command = command_line();
    let adopt = ops::AdoptOptions {
        from: &args.from_terraform,
        dry_run: args.dry_run,
        command: &command,
        lock_timeout: args.lock.lock_timeout,
    };
    let outcome = ops::adopt(&opts, &prepared, &cx, &adopt, &mut confirm).await?;
    reporter.clear();
    let count = |v: Verdict| outcome.rows.iter().filter(|r| r.verdict == v).count();
    if args.json {
        let v = serde_json::json!({
            "format_version": 1,
            "env": opts.env,
            "dry_run": outcome.dry_run,
            "mapping": outcome.rows,
            "tagged": outcome.tagged,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", adopt::table(&outcome.rows));
        println!(
            "\n{} adopted, {} adopted with differences, {} not mapped, {} refused.",
            count(Verdict::Adopted),
            count(Verdict::AdoptedWithDifferences),
            count(Verdict::NotMapped),
            count(Verdict::Refused)
        );
        if outcome.dry_run {
            println!(
                "Dry run: nothing was tagged or written. The fields that differ from the plan file are read from the cloud once adopted."
            );
        } else {
            println!(
                "Tagged {} resource(s) and wrote their state rows. `infra plan --env {}` shows how the platform differs from the plan file.",
                outcome.tagged.len(),
                opts.env
            );
        }
    }
    Ok(crate::exit::SUCCESS)
}
