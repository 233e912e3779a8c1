//! `idgraph evaluate --truth FILE`: resolution quality against ground truth.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::demo::{ResolvedProfile, Truth, evaluate};
use crate::ingest::reader::open_input;
use crate::query::GraphRead;

use super::Globals;

/// Arguments of `idgraph evaluate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The truth file written by `idgraph generate --truth` (messageId → person)
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Scores the space's profiles against the truth: pairwise precision, recall, F1, over-merged
/// and split people, the worst examples.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let (reader, _) =
        open_input(&args.truth).with_context(|| format!("cannot read {}", args.truth.display()))?;
    let truth = Truth::read_jsonl(BufReader::new(reader))
        .with_context(|| format!("cannot read truth file {}", args.truth.display()))?
        .restrict_to_space(&globals.space);
    let mut profiles = Vec::new();
    let mut failure = None;
    space.for_each_profile(&mut |profile| {
        match space.timeline(profile.id, usize::MAX) {
            Ok(events) => profiles.push(ResolvedProfile {
                profile_id: profile.id.to_string(),
                identifiers: profile.sorted_identifiers(),
                message_ids: events.into_iter().map(|e| e.message_id).collect(),
            }),
            Err(e) => failure = Some(e),
        }
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let report = evaluate(profiles, &truth);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
