//! The `idgraph` command line: parse, set up errors, dispatch.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match idgraph::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version: printed as clap lays them out.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!(
                "idgraph: error: {}",
                idgraph::cli::one_line_usage_error(&error)
            );
            return ExitCode::from(2);
        }
    };
    match idgraph::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("idgraph: error: {}", idgraph::cli::one_line(&error));
            ExitCode::from(1)
        }
    }
}
