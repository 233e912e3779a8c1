//! The `idgraph` command line: parse, set up errors, dispatch.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = idgraph::cli::Cli::parse();
    match idgraph::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("idgraph: error: {}", idgraph::cli::one_line(&error));
            ExitCode::from(1)
        }
    }
}
