//! `idgraph health`: profile size distribution and suspicious profiles.

use std::process::ExitCode;

use crate::query::health::health;

use super::Globals;

/// Arguments of `idgraph health`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many suspicious profiles to list
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Prints the health report of the space.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_store()?;
    let space = store.space(&globals.space)?;
    let report = health(space.as_ref(), args.top)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "space {}: {} profiles, largest holds {} identifiers",
        report.space, report.profiles, report.largest_profile
    );
    println!("identifiers per profile:");
    let widest = report
        .size_distribution
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(1)
        .max(1);
    for (bucket, n) in &report.size_distribution {
        let bar = "#".repeat(((n * 40).div_ceil(widest)) as usize);
        println!("  {bucket:>7} {n:>9} {bar}");
    }
    if report.suspicious.is_empty() {
        println!("no suspicious profiles");
    } else {
        println!("suspicious profiles (most suspicious first):");
        for s in &report.suspicious {
            println!(
                "  {:<8} score {:>4}  {}  {}",
                s.profile_id.to_string(),
                s.score,
                s.name.as_deref().unwrap_or("-"),
                s.reasons.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
