//! `idgraph show TYPE:VALUE`: one profile, for people or (`--json`) for scripts.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde_json::json;

use crate::model::time::format_time;
use crate::query::GraphRead;
use crate::query::export::export_line;
use crate::words::count;

use super::Globals;
use super::printable::say;

/// Arguments of `idgraph show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An identifier (TYPE:VALUE, e.g. email:ana@example.com) or a profile id (p12)
    #[arg(value_parser = super::args::profile_reference)]
    pub reference: String,
    /// Print JSON (the export fields plus identifier details and recent events)
    #[arg(long)]
    pub json: bool,
    /// How many recent events to show
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

/// Prints the profile holding the identifier.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let profile = space.find_profile(&args.reference)?;
    let events = space.timeline(profile.id, args.events)?;
    let violations = space.violations(profile.id)?;
    if args.json {
        let mut out = export_line(space.space(), &profile);
        out["name"] = json!(profile.display_name());
        out["first_seen"] = json!(format_time(profile.created_at));
        out["last_seen"] = json!(format_time(profile.last_seen));
        out["merge_count"] = json!(profile.merge_count);
        out["identifier_details"] =
            json!(profile.identifiers.iter().map(|h| json!({
            "type": h.id.kind, "value": h.id.value, "first_seen": format_time(h.first_seen),
            "last_seen": format_time(h.last_seen), "source": h.source,
        })).collect::<Vec<_>>());
        out["recent_events"] = json!(events.iter().map(|e| json!({
            "message_id": e.message_id, "type": e.call, "label": e.label, "time": format_time(e.time),
            "channel": e.channel, "source": e.source, "device": e.device,
        })).collect::<Vec<_>>());
        out["violations"] =
            json!(violations.iter().map(|v| json!({
            "identifier": v.identifier.to_string(), "reason": v.reason.to_string(),
            "message_id": v.provenance.message_id, "time": format_time(v.provenance.time),
        })).collect::<Vec<_>>());
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let name = profile.display_name().unwrap_or_else(|| "(no name)".into());
    say(&format!(
        "{} {name}  space {}  {}  first {}  last {}",
        profile.id,
        space.space(),
        count(profile.event_count, "event"),
        format_time(profile.created_at),
        format_time(profile.last_seen)
    ));
    let mut by_type: BTreeMap<&str, Vec<&crate::model::ProfileIdentifier>> = BTreeMap::new();
    for held in &profile.identifiers {
        by_type.entry(&held.id.kind).or_default().push(held);
    }
    say("identifiers:");
    for (kind, held) in by_type {
        for h in held {
            say(&format!(
                "  {kind:<16} {:<40} first {}  last {}  via {}",
                h.id.value,
                format_time(h.first_seen),
                format_time(h.last_seen),
                h.source
            ));
        }
    }
    let traits = profile.trait_map();
    if !traits.is_empty() {
        say("traits:");
        for (key, value) in traits {
            say(&format!("  {key:<16} {value}"));
        }
    }
    if !events.is_empty() {
        say("recent events:");
        for e in &events {
            say(&format!(
                "  {}  {:<10} {:<28} {}",
                format_time(e.time),
                e.channel,
                e.label,
                e.device.as_deref().unwrap_or("")
            ));
        }
    }
    if !violations.is_empty() {
        say("violations:");
        for v in &violations {
            say(&format!(
                "  {:<40} {}  (event {})",
                v.identifier.to_string(),
                v.reason,
                v.provenance.message_id
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
