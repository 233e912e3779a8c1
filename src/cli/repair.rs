//! `idgraph merge`, `split` and `undo`: manual repair, journaled with user and reason.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::model::time::format_time;
use crate::model::{Identifier, JournalAction, JournalEntry};
use crate::query::{GraphRead, GraphRepair};
use crate::words::count;

use super::Globals;
use super::printable::say;
use super::search::noting_for_index;

/// Arguments of `idgraph merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// A profile: an identifier (TYPE:VALUE) or profile id (p12)
    #[arg(value_parser = super::args::profile_reference)]
    pub a: String,
    /// The other profile
    #[arg(value_parser = super::args::profile_reference)]
    pub b: String,
    /// Why (recorded in the journal)
    #[arg(long, required_unless_present = "dry_run", value_parser = super::args::not_blank)]
    pub reason: Option<String>,
    /// Show the merged result and any rule it would break, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Merge even if limits or pinned splits would be broken (the override is journaled)
    #[arg(long)]
    pub force: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `idgraph split`.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// Identifiers (TYPE:VALUE) to move out into a new profile; all must share one profile
    #[arg(required = true, value_parser = super::args::identifier)]
    pub identifiers: Vec<Identifier>,
    /// Why (recorded in the journal)
    #[arg(long, required_unless_present = "dry_run", value_parser = super::args::not_blank)]
    pub reason: Option<String>,
    /// Show which identifiers and events would move, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `idgraph undo`.
#[derive(Debug, clap::Args)]
pub struct UndoArgs {
    /// The journal entry to revert [default: the latest manual merge or split not yet undone]
    pub op: Option<u64>,
    /// Why (recorded in the journal) [default: "undo of #OP"]
    #[arg(long, value_parser = super::args::not_blank)]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

fn print_entry(entry: &JournalEntry, json: bool) {
    if json {
        println!("{}", entry_json(entry));
    } else {
        say(&format!("#{} {}", entry.op, entry.summary()));
    }
}

/// A journal entry as JSON.
pub fn entry_json(entry: &JournalEntry) -> serde_json::Value {
    json!({
        "op": entry.op, "at": format_time(entry.at), "user": entry.user, "reason": entry.reason,
        "summary": entry.summary(), "action": entry.action,
        "profiles": entry.profiles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "undone_by": entry.undone_by,
    })
}

/// Merges two profiles (or previews the merge).
pub fn merge(args: MergeArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let a = space.find_profile(&args.a)?.id;
    let b = space.find_profile(&args.b)?.id;
    if args.dry_run {
        let preview = space.preview_merge(a, b)?;
        let conflicts: Vec<String> = preview.conflicts.iter().map(ToString::to_string).collect();
        if args.json {
            println!(
                "{}",
                json!({
                    "survivor": preview.survivor.to_string(), "absorbed": preview.absorbed.to_string(),
                    "identifiers": preview.result.sorted_identifiers(), "traits": preview.result.trait_map(),
                    "event_count": preview.result.event_count, "conflicts": conflicts,
                })
            );
        } else {
            say(&format!(
                "merge preview: {} survives, {} is absorbed",
                preview.survivor, preview.absorbed
            ));
            say(&format!(
                "result: {}, {}",
                count(preview.result.identifiers.len() as u64, "identifier"),
                count(preview.result.event_count, "event")
            ));
            for id in preview.result.sorted_identifiers() {
                say(&format!("  {id}"));
            }
            if conflicts.is_empty() {
                say("no rule is broken");
            } else {
                say(&format!(
                    "would break (needs --force): {}",
                    conflicts.join("; ")
                ));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let reason = args.reason.unwrap_or_default();
    let outcome = noting_for_index(space.as_ref(), || space.merge(a, b, &reason, args.force))?;
    store.flush()?;
    print_entry(&outcome.entry, args.json);
    Ok(ExitCode::SUCCESS)
}

/// Splits identifiers out of their profile (or previews the split).
pub fn split(args: SplitArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let ids = args.identifiers;
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let mut owner = None;
    for id in &ids {
        let held = space
            .owner(id)?
            .with_context(|| format!("no profile holds {id} in space {}", space.space()))?;
        match owner {
            Some(o) if o != held => bail!(
                "{} and {id} are in different profiles ({o} and {held})",
                ids[0]
            ),
            _ => owner = Some(held),
        }
    }
    let from = owner.context("no identifiers given")?;
    if args.dry_run {
        let preview = space.preview_split(from, &ids)?;
        if args.json {
            println!(
                "{}",
                json!({
                    "from": from.to_string(), "moving": preview.moving, "staying": preview.staying,
                    "moving_events": preview.moving_events.iter().map(|e| json!({"message_id": e.message_id, "label": e.label, "time": format_time(e.time)})).collect::<Vec<_>>(),
                    "staying_events": preview.staying_events,
                })
            );
        } else {
            say(&format!(
                "split preview of {from}: {} to move, {} to stay",
                count(preview.moving.len() as u64, "identifier"),
                preview.staying.len()
            ));
            for id in &preview.moving {
                say(&format!("  moves: {id}"));
            }
            say(&format!(
                "{} to move, {} to stay",
                count(preview.moving_events.len() as u64, "event"),
                preview.staying_events
            ));
            for e in preview.moving_events.iter().take(20) {
                say(&format!("  {}  {}", format_time(e.time), e.label));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let reason = args.reason.unwrap_or_default();
    let outcome = noting_for_index(space.as_ref(), || space.split(from, &ids, &reason))?;
    store.flush()?;
    print_entry(&outcome.entry, args.json);
    Ok(ExitCode::SUCCESS)
}

/// Reverts a journal entry.
pub fn undo(args: UndoArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let op = match args.op {
        Some(op) => op,
        None => {
            let journal = space.journal()?;
            let manual = |e: &&JournalEntry| {
                matches!(
                    e.action,
                    JournalAction::Merge { .. } | JournalAction::Split { .. }
                )
            };
            match journal.iter().rev().filter(manual).find(|e| e.undoable()) {
                Some(entry) => entry.op,
                None if journal.iter().any(|e| manual(&e)) => {
                    bail!("nothing to undo: every manual merge and split is undone already")
                }
                None => bail!("nothing to undo: no manual merge or split in the journal"),
            }
        }
    };
    let reason = args.reason.unwrap_or_else(|| format!("undo of #{op}"));
    let outcome = noting_for_index(space.as_ref(), || space.undo(op, &reason))?;
    store.flush()?;
    print_entry(&outcome.entry, args.json);
    Ok(ExitCode::SUCCESS)
}
