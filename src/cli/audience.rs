//! `idgraph audience [NAME]`: audiences with member counts, the members of one (JSON lines
//! for a sending tool), or why one profile is or is not in it.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use serde_json::json;

use crate::model::Millis;
use crate::model::time::{format_time, now as wall_clock, parse_time_str};
use crate::query::export::export_line;
use crate::query::{AudienceRead, GraphRead};
use crate::store::SpaceStore;
use crate::words::{count, plural};

use super::Globals;

/// Arguments of `idgraph audience`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audience whose members to list [default: list every audience with its member count]
    pub name: Option<String>,
    /// List every audience with its member count
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
    /// Explain why one profile (TYPE:VALUE or p12) is or is not in the audience
    #[arg(long, value_name = "PROFILE", requires = "name")]
    pub explain: Option<String>,
    /// Evaluate as of this time instead of now (RFC 3339, e.g. 2025-03-01T12:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<Millis>,
    /// Print JSON lines: members with identifiers, traits and why
    #[arg(long)]
    pub json: bool,
}

fn parse_now(text: &str) -> Result<Millis, String> {
    parse_time_str(text).ok_or_else(|| {
        format!("'{text}' is not a time: expected RFC 3339, e.g. 2025-03-01T12:00:00Z")
    })
}

/// Lists audiences, members or one profile's standing.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let audiences = globals.config.audiences();
    if let Some(name) = args.name.as_deref().filter(|n| audiences.get(n).is_none()) {
        return Err(audiences.unknown(name));
    }
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let now = match args.now {
        Some(at) => at,
        None => {
            let at = wall_clock();
            space.refresh_audiences(at)?;
            at
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = match (&args.name, &args.explain) {
        (Some(name), Some(reference)) => explain(&mut out, &space, name, reference, now, args.json),
        (Some(name), None) => members(&mut out, &space, name, now, args.json),
        (None, _) => summaries(&mut out, &space, now, args.json),
    };
    match written.and_then(|()| Ok(out.flush()?)) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

fn summaries(
    out: &mut impl Write,
    space: &SpaceStore,
    now: Millis,
    json: bool,
) -> anyhow::Result<()> {
    let summaries = space.audience_summaries(now)?;
    if !json && summaries.is_empty() {
        writeln!(
            out,
            "no audiences configured (add [audiences.NAME] to the config)"
        )?;
    }
    for s in summaries {
        if json {
            let line = json!({
                "space": space.space(), "audience": s.name, "description": s.description,
                "members": s.members, "as_of": format_time(now),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<24} {:>8} {:<7}  {}",
                s.name,
                s.members,
                plural(s.members as u64, "member"),
                s.description
            )?;
        }
    }
    Ok(())
}

fn members(
    out: &mut impl Write,
    space: &SpaceStore,
    name: &str,
    now: Millis,
    json: bool,
) -> anyhow::Result<()> {
    let members = space.audience_members(name, now)?;
    if !json {
        writeln!(
            out,
            "{name}: {} in space {} as of {}",
            count(members.len() as u64, "member"),
            space.space(),
            format_time(now)
        )?;
    }
    for member in members {
        let Some(profile) = space.profile(member.profile)? else {
            continue;
        };
        if json {
            let mut line = export_line(space.space(), &profile);
            line["audience"] = json!(name);
            line["why"] = member.why.to_json();
            writeln!(out, "{line}")?;
        } else {
            let ids: Vec<String> = profile
                .sorted_identifiers()
                .iter()
                .map(ToString::to_string)
                .collect();
            let person = profile.display_name().unwrap_or_else(|| "-".to_string());
            writeln!(
                out,
                "{:<8} {:<24} {}",
                profile.id.to_string(),
                person,
                ids.join(", ")
            )?;
        }
    }
    Ok(())
}

fn explain(
    out: &mut impl Write,
    space: &SpaceStore,
    name: &str,
    reference: &str,
    now: Millis,
    json: bool,
) -> anyhow::Result<()> {
    let profile = space.find_profile(reference)?;
    let why = space.audience_standing(name, profile.id, now)?;
    if json {
        let line = json!({
            "space": space.space(), "audience": name, "profile_id": profile.id.to_string(),
            "why": why.to_json(),
        });
        writeln!(out, "{line}")?;
        return Ok(());
    }
    let verdict = if why.member { "is in" } else { "is not in" };
    writeln!(
        out,
        "{} {verdict} {name} as of {}",
        profile.id,
        format_time(now)
    )?;
    for line in why.lines() {
        writeln!(out, "  {line}")?;
    }
    if let Some(until) = why.valid_until {
        writeln!(
            out,
            "  (may change at {} as time windows move)",
            format_time(until)
        )?;
    }
    Ok(())
}
