//! `idgraph why A B`: the chain of events and rules linking two identifiers.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use crate::model::Identifier;
use crate::model::time::format_time;
use crate::query::GraphRead;
use crate::query::why::explain;

use super::Globals;
use super::printable::say;

/// Arguments of `idgraph why`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First identifier (TYPE:VALUE)
    #[arg(value_parser = super::args::identifier)]
    pub a: Identifier,
    /// Second identifier (TYPE:VALUE)
    #[arg(value_parser = super::args::identifier)]
    pub b: Identifier,
    /// Print the chain as JSON
    #[arg(long)]
    pub json: bool,
}

/// Prints why two identifiers share a profile.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let (a, b) = (args.a, args.b);
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let owner_a = space.owner(&a)?;
    let owner_b = space.owner(&b)?;
    let (Some(pa), Some(pb)) = (owner_a, owner_b) else {
        let missing = if owner_a.is_none() { &a } else { &b };
        bail!("no profile holds {missing} in space {}", space.space());
    };
    if pa != pb {
        bail!("{a} and {b} are not linked: {a} is in {pa}, {b} is in {pb}");
    }
    let links = space.links(pa)?;
    let Some(chain) = explain(&links, &a, &b) else {
        bail!(
            "{a} and {b} share profile {pa} but no recorded link connects them (a manual merge without links?)"
        );
    };
    if args.json {
        let steps: Vec<_> = chain.iter().map(|l| json!({
            "from": l.from.to_string(), "to": l.to.to_string(), "rule": l.rule.name(),
            "explanation": l.rule.explain(), "message_id": l.provenance.message_id,
            "source": l.provenance.source, "time": format_time(l.provenance.time), "op": l.provenance.op,
        })).collect();
        println!(
            "{}",
            json!({"profile_id": pa.to_string(), "a": a.to_string(), "b": b.to_string(), "chain": steps})
        );
    } else {
        say(&format!(
            "{a} and {b} share profile {pa} through {} link(s):",
            chain.len()
        ));
        for (i, l) in chain.iter().enumerate() {
            say(&format!("{:>3}. {} -> {}", i + 1, l.from, l.to));
            say(&format!(
                "     rule {}: {}",
                l.rule.name(),
                l.rule.explain()
            ));
            match l.provenance.op {
                Some(op) => say(&format!(
                    "     journal #{op} at {}",
                    format_time(l.provenance.time)
                )),
                None => say(&format!(
                    "     event {} from {} at {}",
                    l.provenance.message_id,
                    l.provenance.source,
                    format_time(l.provenance.time)
                )),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
