//! The command line: argument parsing, one file per subcommand, and the
//! terminal side of reporting. The only place that prints.

mod adopt;
mod adoption;
mod completions;
mod cost;
mod destroy;
mod drift;
mod force_unlock;
mod graph;
mod import;
mod interrupt;
mod json_view;
mod log_filter;
mod output;
mod plan;
mod refresh;
pub mod render;
mod reporter;
mod show;
mod state;
mod state_list;
mod state_migrate;
mod state_mv;
mod state_pull;
mod state_push;
mod state_rm;
mod state_show;
mod style;
mod up;
mod validate;
mod version;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit;
use crate::ops::{EnvOptions, Error};

#[derive(Debug, Parser)]
#[command(
    name = "infra",
    version,
    about = "Provision an EKS platform on AWS from a plan file"
)]
pub struct Cli {
    /// Folder holding the plan files (`<env>.toml`).
    #[arg(long, global = true, default_value = "plans", value_name = "DIR")]
    pub plans: PathBuf,
    /// State database (default: state/<env>.db).
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Log each AWS call (service, operation, duration, status) and each retry
    /// on stderr; `INFRA_LOG` takes a tracing filter (`INFRA_LOG=infra::aws=debug`).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Plain text even on a terminal (as does a non-empty `NO_COLOR`).
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `up` would change.
    Plan(plan::PlanArgs),
    /// Create or update the env to match its plan.
    Up(up::UpArgs),
    /// Delete everything the env's state holds.
    Destroy(destroy::DestroyArgs),
    /// Report what changed outside infra (exit 0 clean, 2 drift, 1 error).
    Drift(drift::DriftArgs),
    /// Write what is live into state (changes nothing in the cloud).
    Refresh(refresh::RefreshArgs),
    /// Print the env's outputs.
    Output(output::OutputArgs),
    /// Clear a lock row by id (for state where OS locks do not reach).
    ForceUnlock(force_unlock::ForceUnlockArgs),
    /// The env's monthly on-demand cost by tier, now and after the plan.
    Cost(cost::CostArgs),
    /// Draw the env's resources by tier (SVG, DOT or Mermaid).
    Graph(graph::GraphArgs),
    /// Check the plan file offline: values, graph, guardrails (exit 0 or 3).
    Validate(validate::ValidateArgs),
    /// Take over a platform Terraform built: map its state, tag, record.
    Adopt(adopt::AdoptArgs),
    /// Bring one existing resource under an address of the plan.
    Import(import::ImportArgs),
    /// Read and change what state holds (list, show, mv, rm, pull, push, migrate).
    State(state::StateArgs),
    /// Render a plan saved with `infra plan --out FILE`.
    Show(show::ShowArgs),
    /// Print infra's version and the state schema it writes.
    Version,
    /// Print shell completions.
    Completions(completions::CompletionsArgs),
}

/// `--target`, `--exclude`, `--replace` (each repeatable).
#[derive(Debug, Args, Default)]
pub struct SelectArgs {
    /// Only this resource and what it depends on (destroy: and what depends on it).
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Leave this resource out, and what depends on it.
    #[arg(long, value_name = "ADDRESS")]
    pub exclude: Vec<String>,
}

impl SelectArgs {
    pub fn selection(&self, replace: &[String]) -> crate::takeover::Selection {
        crate::takeover::Selection {
            targets: self.target.clone(),
            excludes: self.exclude.clone(),
            replaces: replace.to_vec(),
        }
    }
}

/// Every address of a selection must be known (exit 3 otherwise).
fn check_selection(
    opts: &EnvOptions,
    prepared: &crate::ops::Prepared,
    sel: &crate::takeover::Selection,
    destroy: bool,
) -> anyhow::Result<()> {
    if sel.header().is_empty() {
        return Ok(());
    }
    let state = crate::ops::read_only_state(opts)?;
    let rows = crate::ops::state_map(&state).map_err(Error::from)?;
    sel.check(&prepared.graph, &rows, destroy)
        .map_err(|e| UsageError(e.0))?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The env: picks `<plans>/<env>.toml`.
    #[arg(long, value_name = "NAME")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct RefreshArg {
    /// Read the cloud before diffing; `--refresh=false` trusts state.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct LockTimeoutArg {
    /// How long to wait for another run's lock (`30s`, `5m`); 0 fails at once.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,
}

impl Cli {
    /// `infra [--plans DIR] [--state PATH] <command> --env ENV`, to rerun.
    fn rerun(&self, command: &str, env: &EnvArg) -> String {
        let mut line = String::from("infra");
        if self.plans != std::path::Path::new("plans") {
            line.push_str(&format!(" --plans {}", self.plans.display()));
        }
        if let Some(state) = &self.state {
            line.push_str(&format!(" --state {}", state.display()));
        }
        format!("{line} {command} --env {}", env.env)
    }

    fn env_options(&self, env: &EnvArg) -> EnvOptions {
        EnvOptions {
            plans_dir: self.plans.clone(),
            env: env.env.clone(),
            state_path: self.state.clone(),
        }
    }
}

/// Runs a parsed command and returns its exit code.
pub fn run(cli: Cli) -> u8 {
    style::init(cli.no_color);
    let filter = log_filter::filter(cli.verbose, std::env::var("INFRA_LOG").ok().as_deref());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::builder().parse_lossy(filter))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Plan(args) => plan::run(&cli, args).await,
            Command::Up(args) => up::run(&cli, args).await,
            Command::Destroy(args) => destroy::run(&cli, args).await,
            Command::Drift(args) => drift::run(&cli, args).await,
            Command::Refresh(args) => refresh::run(&cli, args).await,
            Command::Output(args) => output::run(&cli, args),
            Command::ForceUnlock(args) => force_unlock::run(&cli, args),
            Command::Cost(args) => cost::run(&cli, args),
            Command::Graph(args) => graph::run(&cli, args).await,
            Command::Validate(args) => validate::run(&cli, args),
            Command::Adopt(args) => adopt::run(&cli, args).await,
            Command::Import(args) => import::run(&cli, args).await,
            Command::State(args) => state::run(&cli, args).await,
            Command::Show(args) => show::run(args),
            Command::Version => version::run(),
            Command::Completions(args) => completions::run(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => report_error(e),
    }
}

/// Prints an error the way its kind deserves and picks the exit code.
fn report_error(e: anyhow::Error) -> u8 {
    match e.downcast::<Error>() {
        Ok(Error::InvalidPlan(invalid)) => {
            eprintln!("{:?}", miette::Report::new(invalid));
            exit::INVALID_INPUT
        }
        Ok(other) => {
            eprintln!("error: {other}");
            other.exit_code()
        }
        Err(e) => match e.downcast::<UsageError>() {
            Ok(u) => {
                eprintln!("error: {u}");
                exit::INVALID_INPUT
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                exit::FAILURE
            }
        },
    }
}

/// A flag combination that cannot work (no TTY and no `--yes`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Asks on a TTY; without one, `--yes` must have been given. `what`: "to apply".
fn confirm_or_require_yes(yes: bool, what: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !yes && !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "no terminal to confirm on: pass --yes {what} without a prompt"
        ))
        .into());
    }
    Ok(())
}

fn is_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// A plain yes/no question (Ctrl-C here ends the process as usual).
fn ask(question: &str) -> bool {
    use std::io::Write;
    print!("{question}\n  Only 'yes' will be accepted: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok() && line.trim() == "yes"
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}
