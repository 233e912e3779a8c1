//! `idgraph search QUERY...`: the explorer's fuzzy search, top matches as JSON lines (or a
//! table).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use indicatif::ProgressBar;
use serde_json::json;

use crate::model::{Identifier, Profile};
use crate::query::GraphRead;
use crate::query::search::{IndexKeeper, MatchedText, SearchEngine, SearchHit, load_or_build};
use crate::words::count;

use super::printable::printable;

/// Arguments of `idgraph search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for: part of a name, email, phone or id; `TYPE:VALUE` for an exact identifier
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// How many matches to print
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print a table (profile, name, what matched, score) instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

impl Args {
    /// The query words joined by spaces.
    pub fn query_text(&self) -> String {
        self.query.join(" ")
    }
}

/// Searches the space behind `read` and prints the best `limit` matches to `out`, as JSON
/// lines (`{"profile_id","score","matched","also_matched","exact","name","identifiers"}`;
/// `also_matched` lists other texts the query's words matched, an exact identifier has no
/// score) or as a table. A `TYPE:VALUE` query held by a profile prints
/// that profile alone. Returns the number of matches printed.
pub fn run_search(
    read: &dyn GraphRead,
    query: &str,
    limit: usize,
    table: bool,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let mut keep = None;
    let hits = match exact_owner(read, query)? {
        Some(hit) => vec![hit],
        None => {
            let mut spinner = None;
            let (index, cache) = load_or_build(read, &mut || spinner = building_spinner(read))?;
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
            let index = Arc::new(index);
            keep = cache.map(|cache| (cache, Arc::clone(&index)));
            SearchEngine::new(index).search(query, limit).hits
        }
    };
    for hit in &hits {
        let profile = read.profile(hit.profile)?;
        if table {
            let name = hit.name.as_deref().unwrap_or("(no name)");
            let score = if hit.exact {
                "exact".to_string()
            } else {
                format!("score {}", hit.score)
            };
            writeln!(
                out,
                "{}\t{}\t{}\t{score}",
                hit.profile,
                printable(name),
                printable(&matched(hit).join(" + ")),
            )?;
        } else {
            writeln!(out, "{}", hit_json(hit, profile.as_ref()))?;
        }
    }
    out.flush()?;
    if let Some((cache, index)) = keep
        && let Err(error) = cache.save(&index)
    {
        // A failure only costs the next search a build; say so once, on stderr.
        eprintln!(
            "idgraph: cannot keep the search index at {}: {error} (the next search builds it again)",
            cache.path().display()
        );
    }
    Ok(hits.len())
}

/// Runs `write`, a change to the space behind `read`, noting what it changed for the
/// space's search index file (see [`IndexKeeper`]).
pub fn noting_for_index<T>(
    read: &dyn GraphRead,
    write: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let keeper = IndexKeeper::before(read);
    let written = write()?;
    keep_notes(keeper, read);
    Ok(written)
}

/// [`IndexKeeper::note`]; a failure is said once on stderr (it only costs the next start a
/// build of the index).
pub fn keep_notes(keeper: IndexKeeper, read: &dyn GraphRead) {
    if let Err(error) = keeper.note(read) {
        eprintln!(
            "idgraph: cannot note this change for the search index of space {}: {error} (the next search builds it again)",
            read.space()
        );
    }
}

/// On a terminal, a spinner saying the index is being built (the first search after the
/// space changed reads every profile; the next ones reuse the index).
fn building_spinner(read: &dyn GraphRead) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "building the search index of {} (the next searches reuse it)",
        count(read.profile_count().unwrap_or(0), "profile")
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(spinner)
}

/// The profile holding `TYPE:VALUE` exactly, looked up directly in the store.
fn exact_owner(read: &dyn GraphRead, query: &str) -> anyhow::Result<Option<SearchHit>> {
    let Ok(id) = Identifier::parse(query) else {
        return Ok(None);
    };
    let Some(owner) = read.owner(&id)? else {
        return Ok(None);
    };
    let Some(profile) = read.profile(owner)? else {
        return Ok(None);
    };
    Ok(Some(SearchHit {
        profile: owner,
        score: i64::MAX,
        kind: id.kind.clone(),
        positions: (0..id.value.chars().count()).collect(),
        also: Vec::new(),
        text: id.value,
        exact: true,
        name: profile.display_name(),
        identifiers: profile.identifiers.len() as u32,
        last_seen: profile.last_seen,
    }))
}

/// Every text the query matched, as `kind:text`, the best first.
fn matched(hit: &SearchHit) -> Vec<String> {
    std::iter::once(hit.matched())
        .chain(hit.also.iter().map(MatchedText::matched))
        .collect()
}

fn hit_json(hit: &SearchHit, profile: Option<&Profile>) -> serde_json::Value {
    let identifiers = profile.map(Profile::sorted_identifiers).unwrap_or_default();
    let matched = matched(hit);
    json!({
        "profile_id": hit.profile.to_string(),
        "score": (!hit.exact).then_some(hit.score),
        "matched": matched[0],
        "also_matched": matched[1..],
        "exact": hit.exact,
        "name": hit.name,
        "identifiers": identifiers,
    })
}
