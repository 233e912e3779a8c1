//! `idgraph ingest FILE...`: Segment-spec JSON lines into the store.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::ingest::reader::{open_input, parse_in_background};
use crate::ingest::{SourcedEvent, route_event};
use crate::model::event::check_time_bounds;
use crate::model::time::now;
use crate::query::search::IndexKeeper;
use crate::store::Store;
use crate::words::count;

use super::Globals;
use super::printable::printable;
use super::search::keep_notes;

/// Arguments of `idgraph ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files of Segment-spec events, one JSON object per line ('-' = stdin; gzip is detected)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Treat every event as coming from this configured source (its space and channel)
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Print a JSON summary object on stdout
    #[arg(long)]
    pub json: bool,
}

/// The summary of an ingest run.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub merges: u64,
    pub seconds: f64,
    pub events_per_second: f64,
}

/// Most rejected lines printed before the rest are only counted.
const MAX_PRINTED_ERRORS: u64 = 1000;

/// Reads every file, resolves and stores its events; reports each bad line with its number.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.source {
        if globals.config.source_by_name(name).is_none() {
            anyhow::bail!("unknown source '{name}': add [sources.{name}] to the config");
        }
    }
    let store = globals.open_store()?;
    let summary = ingest_paths(&store, globals, args.source.as_deref(), &args.files, true)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        eprintln!(
            "ingested {} from {} in {:.2}s ({:.0} events/s): {} skipped, {} rejected, {}",
            count(summary.stored, "event"),
            count(summary.lines, "line"),
            summary.seconds,
            summary.events_per_second,
            count(summary.duplicates, "duplicate"),
            summary.rejected,
            count(summary.merges, "merge")
        );
    }
    Ok(if summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Ingests files into an open store and flushes it; bad lines are reported on stderr when
/// `report_lines` (else only counted).
pub fn ingest_paths(
    store: &Store,
    globals: &Globals,
    source: Option<&str>,
    paths: &[PathBuf],
    report_lines: bool,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut keepers: BTreeMap<String, IndexKeeper> = BTreeMap::new();
    for path in paths {
        ingest_file(
            store,
            &mut keepers,
            globals,
            source,
            path,
            report_lines,
            &mut summary,
        )?;
        summary.files += 1;
    }
    store.flush()?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.stored as f64 / summary.seconds.max(1e-9);
    for (space, keeper) in keepers {
        keep_notes(keeper, store.space(&space)?.as_ref());
    }
    if report_lines && summary.rejected > MAX_PRINTED_ERRORS {
        eprintln!(
            "idgraph: ... and {} more rejected lines",
            summary.rejected - MAX_PRINTED_ERRORS
        );
    }
    Ok(summary)
}

/// Ingests one file; `keepers` gathers, for each space it writes to, what the writes
/// changed for the space's search index file (see [`IndexKeeper`]).
fn ingest_file(
    store: &Store,
    keepers: &mut BTreeMap<String, IndexKeeper>,
    globals: &Globals,
    source: Option<&str>,
    path: &std::path::Path,
    report_lines: bool,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let (reader, size) = open_input(path).with_context(|| format!("cannot read {name}"))?;
    let bar = progress_bar(size, &name);
    let progress = bar.clone();
    let chunks = parse_in_background(reader, globals.config.read_fields(), move |bytes| {
        progress.set_position(bytes)
    });
    let mut report = |line: u64, message: &str| {
        summary.rejected += 1;
        if report_lines && summary.rejected <= MAX_PRINTED_ERRORS {
            let text = format!("idgraph: {name}:{line}: {message}");
            bar.suspend(|| eprintln!("{}", printable(&text)));
        }
    };
    let lines_before = summary.lines;
    for chunk in chunks {
        let received = now();
        let mut by_space: BTreeMap<String, (Vec<u64>, Vec<SourcedEvent>)> = BTreeMap::new();
        for (line, parsed) in chunk {
            summary.lines += 1;
            let mut event = match parsed {
                Ok(event) => event,
                Err(message) => {
                    report(line, &message);
                    continue;
                }
            };
            if event.time().is_none() {
                event.set_received_at(received);
            }
            if let Err(error) = check_time_bounds(&event, received) {
                report(line, &error.to_string());
                continue;
            }
            let routing = route_event(&event, &globals.config, &globals.space, source, None);
            let group = by_space.entry(routing.space).or_default();
            group.0.push(line);
            group.1.push(SourcedEvent {
                event,
                source: routing.source,
                channel: routing.channel,
            });
        }
        for (space, (lines, events)) in by_space {
            let into = store.space(&space)?;
            let keeper = match keepers.entry(space) {
                Entry::Vacant(first) => first.insert(IndexKeeper::before(into.as_ref())),
                Entry::Occupied(known) => known.into_mut(),
            };
            let outcome = into.ingest_pipelined(events, received)?;
            keeper.gather(into.as_ref());
            summary.stored += outcome.stored as u64;
            summary.duplicates += outcome.duplicates as u64;
            summary.merges += outcome.merges as u64;
            for (index, message) in &outcome.unresolvable {
                report(lines[*index], message);
            }
        }
    }
    bar.finish_and_clear();
    if report_lines && summary.lines == lines_before {
        eprintln!(
            "{}",
            printable(&format!("idgraph: warning: {name} holds no events"))
        );
    }
    Ok(())
}

fn progress_bar(size: Option<u64>, name: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(name.to_string());
    bar
}
