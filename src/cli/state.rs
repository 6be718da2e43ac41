//! `infra state …`: read and change what state holds. Each subcommand has
//! its own file (`state_list.rs`, …).

use clap::{Args, Subcommand};

use super::{Cli, state_migrate, state_pull, state_push};

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resources state holds: address, kind, id.
    List(super::state_list::ListArgs),
    /// Show one resource as state holds it (never a secret).
    Show(super::state_show::ShowArgs),
    /// Rename a resource in state and re-tag its `infra:address`.
    Mv(super::state_mv::MvArgs),
    /// Forget a resource without deleting it; its identity tags are removed.
    Rm(super::state_rm::RmArgs),
    /// Write the env's current state (local or S3) to a file.
    Pull(state_pull::PullArgs),
    /// Replace the env's state with a file; refuses another lineage or an older serial without --force.
    Push(state_push::PushArgs),
    /// Move the local state file to the S3 backend in one step.
    Migrate(state_migrate::MigrateArgs),
}

pub async fn run(cli: &Cli, args: &StateArgs) -> anyhow::Result<u8> {
    match &args.command {
        StateCommand::List(a) => super::state_list::run(cli, a),
        StateCommand::Show(a) => super::state_show::run(cli, a),
        StateCommand::Mv(a) => super::state_mv::run(cli, a).await,
        StateCommand::Rm(a) => super::state_rm::run(cli, a).await,
        StateCommand::Pull(a) => state_pull::run(cli, a).await,
        StateCommand::Push(a) => state_push::run(cli, a).await,
        StateCommand::Migrate(a) => state_migrate::run(cli, a).await,
    }
}
