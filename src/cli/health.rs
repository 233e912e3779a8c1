//! `idgraph health`: profile size distribution and suspicious profiles.

use std::process::ExitCode;

use serde_json::json;

use crate::model::identifier::clip;
use crate::query::GraphRead;
use crate::query::health::{Finding, HealthReport, scan_health};
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
    let store = globals.open_existing_store_for_browsing()?;
    let space = globals.existing_space(&store)?;
    let Some(report) = scan_health(space.as_ref(), Some(space.rules()), args.top, &mut |_| {
        false
    })?
    else {
        anyhow::bail!("the health scan was interrupted");
    };
    if args.json {
        let items: Vec<_> = report
            .suspicious_items()
            .iter()
            .map(|item| {
                json!({
                    "profile_id": item.profile.to_string(), "name": item.name,
                    "severity": item.severity.label(), "score": item.score,
                    "identifiers": item.identifiers, "events": item.events,
                    "findings": item.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let junk: Vec<_> = report
            .junk
            .iter()
            .map(|j| {
                json!({
                    "identifier": j.identifier.to_string(), "rule": j.rule, "times": j.times,
                    "profiles": j.profiles, "sources": j.sources,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "space": space.space(), "profiles": report.profiles,
                "typical_identifiers": report.typical_identifiers,
                "size_distribution": report.distribution, "suspicious": items,
                "suspicious_profiles": report.suspicious, "routine_profiles": report.routine,
                "junk_blocked": junk,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_text(space.space(), &report);
    Ok(ExitCode::SUCCESS)
}

/// How much of a blocking rule the text report quotes (patterns can be long).
const RULE_SHOWN: usize = 40;

fn print_text(space: &str, report: &HealthReport) {
    println!(
        "space {space}: {}, typically {} each",
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
    let listed = report.suspicious_items();
    if listed.is_empty() {
        println!("no suspicious profiles");
    } else {
        if report.suspicious > listed.len() {
            println!(
                "suspicious profiles: {} (the {} most suspicious below; --top N shows more):",
                report.suspicious,
                listed.len()
            );
        } else {
            println!(
                "suspicious profiles: {} (most suspicious first):",
                report.suspicious
            );
        }
        for item in listed {
            let findings: Vec<String> = item.findings.iter().map(ToString::to_string).collect();
            println!(
                "  {:<8} {:<7}  {}  {}",
                item.profile.to_string(),
                item.severity.label(),
                item.name.as_deref().unwrap_or("-"),
                findings.join(", ")
            );
        }
    }
    if report.routine > 0 {
        println!(
            "{} where the rules held: junk values blocked on their events",
            count(report.routine as u64, "more profile"),
        );
    }
    if !report.junk.is_empty() {
        println!("junk values blocked most often:");
        for j in &report.junk {
            let sources: Vec<&str> = j.sources.iter().map(String::as_str).collect();
            println!(
                "  {}  {} in {} from {} ({})",
                j.identifier,
                count(j.times, "time"),
                count(j.profiles as u64, "profile"),
                sources.join(", "),
                clip(&j.rule, RULE_SHOWN)
            );
        }
    }
}
