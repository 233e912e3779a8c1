//! Writing a generated data set: events as JSON lines (gzip when the path ends in `.gz`)
//! and the truth file, one record per distinct messageId.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use super::generator::Generator;
use super::settings::Settings;
use super::stats::GenerationStats;

/// What a run wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub stats: GenerationStats,
    /// Size of the events file on disk (compressed, for `.gz`).
    pub bytes: u64,
}

/// Drains `generator` into `events` (one JSON object per line) and, when given, `truth`
/// (one [`crate::demo::TruthRecord`] per line, duplicates once). `progress` is called with
/// the number of people done whenever it grows.
pub fn write_dataset(
    generator: &mut Generator,
    events: &mut dyn Write,
    mut truth: Option<&mut dyn Write>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let mut people = 0;
    while let Some(delivery) = generator.next() {
        events.write_all(delivery.json.as_bytes())?;
        events.write_all(b"\n")?;
        if let (Some(out), Some(record)) = (truth.as_deref_mut(), &delivery.truth) {
            serde_json::to_writer(&mut *out, record)?;
            out.write_all(b"\n")?;
        }
        if generator.people_done() != people {
            people = generator.people_done();
            progress(people);
        }
    }
    Ok(())
}

/// Generates a data set into files: `events` (gzip when it ends in `.gz`) and optionally
/// `truth` (likewise).
pub fn write_files(
    settings: Settings,
    events: &Path,
    truth: Option<&Path>,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<Summary> {
    let mut generator = Generator::new(settings)?;
    let mut events_out = Output::create(events)?;
    let mut truth_out = truth.map(Output::create).transpose()?;
    write_dataset(
        &mut generator,
        &mut events_out,
        truth_out.as_mut().map(|t| t as &mut dyn Write),
        progress,
    )
    .with_context(|| format!("cannot write {}", events.display()))?;
    events_out.finish()?;
    if let Some(out) = truth_out {
        out.finish()?;
    }
    let bytes = std::fs::metadata(events)
        .with_context(|| format!("cannot read {}", events.display()))?
        .len();
    Ok(Summary {
        stats: generator.stats(),
        bytes,
    })
}

/// A buffered output file, gzip-compressed when its name ends in `.gz`.
enum Output {
    Plain(BufWriter<File>, String),
    Gzip(GzEncoder<BufWriter<File>>, String),
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Output> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = BufWriter::with_capacity(1 << 20, file);
        let name = path.display().to_string();
        Ok(if name.ends_with(".gz") {
            Output::Gzip(GzEncoder::new(writer, Compression::fast()), name)
        } else {
            Output::Plain(writer, name)
        })
    }

    /// Flushes everything (and writes the gzip trailer).
    fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Plain(mut writer, name) => writer
                .flush()
                .with_context(|| format!("cannot write {name}")),
            Output::Gzip(encoder, name) => encoder
                .finish()
                .and_then(|mut writer| writer.flush())
                .with_context(|| format!("cannot write {name}")),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Plain(w, _) => w.write(buf),
            Output::Gzip(w, _) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Plain(w, _) => w.write_all(buf),
            Output::Gzip(w, _) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Plain(w, _) => w.flush(),
            Output::Gzip(w, _) => w.flush(),
        }
    }
}
