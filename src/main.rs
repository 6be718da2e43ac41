use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match infra::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                infra::exit::INVALID_INPUT
            } else {
                infra::exit::SUCCESS
            });
        }
    };
    ExitCode::from(infra::cli::run(cli))
}
