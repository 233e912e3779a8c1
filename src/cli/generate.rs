//! `idgraph generate`: realistic, messy demo events with ground truth.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::demo::{Settings, TroubleRates, demo_sources_in, sources_toml, write_files};
use crate::words::count;

use super::Globals;

/// Arguments of `idgraph generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people to generate
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub people: u64,
    /// Random seed: the same seed and options give byte-identical files
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Use the settings of the bundled demo data set (assets/demo/): 200 light users, seed 2025
    #[arg(long, conflicts_with_all = ["people", "seed", "trouble_rate", "anonymous_rate", "activity", "duplicate_rate", "late_rate"])]
    pub demo: bool,
    /// Events file, Segment-spec JSON lines (gzip when it ends in .gz)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Truth file: the true person of every messageId, JSON lines (.gz ok)
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Rate of every trouble case: shared browser and iPad, shared team e-mail (per unit),
    /// junk ids, e-mail variants and changes (per person) [default: 0.005 to 0.03 each]
    #[arg(long, value_name = "RATE", value_parser = trouble_rate)]
    pub trouble_rate: Option<f64>,
    /// Share of people who never sign up [default: 0.3]
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub anonymous_rate: Option<f64>,
    /// Scale sessions and campaigns per person (1 = default, 0.5 = half as active)
    #[arg(long, value_name = "X", value_parser = activity)]
    pub activity: Option<f64>,
    /// Share of events delivered twice [default: 0.005]
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub duplicate_rate: Option<f64>,
    /// Share of events arriving late, out of order [default: 0.01]
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub late_rate: Option<f64>,
    /// Put the companion recipes apps in a second space, "recipes"
    #[arg(long)]
    pub second_space: bool,
    /// Also write the demo sources as [sources.NAME] config tables to this file
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
    /// Print the generation statistics as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// The generator settings these options ask for.
    pub fn settings(&self) -> Settings {
        if self.demo {
            return Settings {
                second_space: self.second_space,
                ..Settings::demo()
            };
        }
        let defaults = Settings::new(self.people, self.seed);
        Settings {
            second_space: self.second_space,
            activity: self.activity.unwrap_or(defaults.activity),
            anonymous_only: self.anonymous_rate.unwrap_or(defaults.anonymous_only),
            duplicate_rate: self.duplicate_rate.unwrap_or(defaults.duplicate_rate),
            late_rate: self.late_rate.unwrap_or(defaults.late_rate),
            trouble: self
                .trouble_rate
                .map_or_else(TroubleRates::default, TroubleRates::uniform),
            ..defaults
        }
    }
}

/// Generates the files and prints a one-line summary to stderr.
pub fn run(args: Args, _globals: &Globals) -> anyhow::Result<ExitCode> {
    let settings = args.settings();
    if let Some(path) = &args.sources {
        std::fs::write(path, sources_toml(&demo_sources_in(args.second_space)))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(settings.people);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} people, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let mut progress = |people: u64| {
        if let Some(bar) = &bar {
            bar.set_position(people);
        }
    };
    let summary = write_files(settings, &args.out, args.truth.as_deref(), &mut progress)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stats = &summary.stats;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "idgraph: generated {} ({} with duplicates) of {} people into {} ({} bytes) in {:.1}s ({:.0} events/s)",
        count(stats.events as u64, "event"),
        count(stats.deliveries as u64, "line"),
        stats.people,
        args.out.display(),
        summary.bytes,
        seconds,
        stats.deliveries as f64 / seconds.max(1e-9),
    );
    if args.json {
        println!("{}", serde_json::to_string(stats)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn probability(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

fn activity(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!("'{text}' is not a number between 0 and 100")),
    }
}

/// The three two-person trouble cases share one draw per unit, so each can take a third.
fn trouble_rate(text: &str) -> Result<f64, String> {
    let value = probability(text)?;
    if value <= 1.0 / 3.0 {
        Ok(value)
    } else {
        Err(format!("{value} is above the maximum trouble rate of 0.33"))
    }
}
