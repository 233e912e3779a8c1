//! `idgraph health`: profile size distribution and suspicious profiles.

use std::process::ExitCode;

use serde_json::json;

use crate::query::GraphRead;
use crate::query::health::scan_health;
use crate::words::count;

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
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let Some(report) = scan_health(space.as_ref(), Some(space.rules()), args.top, &mut || false)?
    else {
        anyhow::bail!("the health scan was interrupted");
    };
    if args.json {
        let items: Vec<_> = report
            .items
            .iter()
            .map(|item| {
                json!({
                    "profile_id": item.profile.to_string(), "name": item.name,
                    "severity": item.severity.label(), "score": item.score,
                    "identifiers": item.identifiers, "events": item.events,
                    "findings": item.findings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "space": space.space(), "profiles": report.profiles,
                "typical_identifiers": report.typical_identifiers,
                "size_distribution": report.distribution, "suspicious": items,
                "suspicious_profiles": report.suspicious,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "space {}: {}, typically {} each",
        space.space(),
        count(report.profiles, "profile"),
        count(report.typical_identifiers as u64, "identifier")
    );
    println!("identifiers per profile:");
    let widest = report
        .distribution
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(1)
        .max(1);
    for (bucket, n) in &report.distribution {
        let bar = "#".repeat((n * 40).div_ceil(widest) as usize);
        println!("  {bucket:>5} {n:>9} {bar}");
    }
    if report.items.is_empty() {
        println!("no suspicious profiles");
    } else {
        if report.suspicious > report.items.len() {
            println!(
                "suspicious profiles: {} (the {} most suspicious below; --top N shows more):",
                report.suspicious,
                report.items.len()
            );
        } else {
            println!(
                "suspicious profiles: {} (most suspicious first):",
                report.suspicious
            );
        }
        for item in &report.items {
            let findings: Vec<String> = item.findings.iter().map(ToString::to_string).collect();
            println!(
                "  {:<8} score {:>4}  {}  {}",
                item.profile.to_string(),
                item.score,
                item.name.as_deref().unwrap_or("-"),
                findings.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
