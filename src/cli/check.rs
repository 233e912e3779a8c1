//! `idgraph check [--repair]`: verifies every invariant of every space in the store and
//! reports each problem on one line; `--repair` rebuilds the derived records (see
//! [`crate::store::check`] for what is source of truth and what is rebuilt) and checks again.

use std::process::ExitCode;

use serde_json::json;

use crate::store::check::{SpaceCheck, SpaceRepair};
use crate::words::count;

use super::Globals;
use super::printable::say;

/// Arguments of `idgraph check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild the derived records (identifier owners, messageId index, counters, profile
    /// counts and traits, history, audience membership) from the events and the journal,
    /// then check again
    #[arg(long)]
    pub repair: bool,
    /// Print one JSON object instead of lines
    #[arg(long)]
    pub json: bool,
}

/// Checks (and with `--repair` mends) every space; exit 1 while any problem remains.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let names = store.stored_space_names();
    let mut checks = Vec::new();
    for name in &names {
        checks.push(store.space_for_check(name)?.check()?);
    }
    let mut repairs: Vec<SpaceRepair> = Vec::new();
    let mut before: Vec<SpaceCheck> = Vec::new();
    if args.repair && checks.iter().any(|c| !c.is_ok()) {
        for check in &checks {
            if !check.is_ok() {
                repairs.push(store.space_for_check(&check.space)?.repair()?);
            }
        }
        store.flush()?;
        before = std::mem::take(&mut checks);
        for name in &names {
            checks.push(store.space_for_check(name)?.check()?);
        }
    }
    let ok = checks.iter().all(SpaceCheck::is_ok);
    if args.json {
        let mut out = json!({"ok": ok, "spaces": checks});
        if args.repair {
            out["repaired"] = json!(repairs);
            out["before_repair"] = json!(before);
        }
        println!("{out}");
    } else {
        for check in &before {
            print_problems(check, "found");
        }
        for repair in &repairs {
            for action in &repair.actions {
                say(&format!("{}: repaired: {action}", repair.space));
            }
        }
        for check in &checks {
            print_problems(check, "problem");
        }
        let problems: u64 = checks.iter().map(SpaceCheck::problem_count).sum();
        let profiles: u64 = checks.iter().map(|c| c.records.profiles).sum();
        let events: u64 = checks.iter().map(|c| c.records.events).sum();
        let mut summary = format!(
            "checked {}: {}, {}: {}",
            count(checks.len() as u64, "space"),
            count(profiles, "profile"),
            count(events, "event"),
            if problems == 0 {
                "every invariant holds".to_string()
            } else {
                format!(
                    "{}; idgraph check --repair rebuilds the derived records",
                    count(problems, "problem")
                )
            }
        );
        if !repairs.is_empty() {
            let actions: usize = repairs.iter().map(|r| r.actions.len()).sum();
            summary.push_str(&format!(" (after {actions} repair(s))"));
        }
        say(&summary);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_problems(check: &SpaceCheck, label: &str) {
    for problem in &check.problems {
        say(&format!(
            "{}: {label}: {}: {}",
            check.space, problem.code, problem.message
        ));
    }
    if check.unlisted_problems > 0 {
        say(&format!(
            "{}: {label}: ... and {} more",
            check.space, check.unlisted_problems
        ));
    }
}
