//! `idgraph backup FILE` and `idgraph restore FILE`: a portable, versioned JSON-lines copy of
//! every space (events in ingest order and the journal; see [`crate::store::backup`]),
//! gzip-compressed when FILE ends in `.gz`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::words::count;

use super::Globals;
use super::printable::printable;

/// Arguments of `idgraph backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (gzip-compressed when it ends in .gz); readable by you only
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Arguments of `idgraph restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by idgraph backup (.gz is decompressed)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Creates a file readable and writable by the owner only.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes the backup to a temporary file beside FILE, syncs it, then renames it into place,
/// so FILE is either the previous content or the whole new backup.
pub fn backup(args: BackupArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let name = args.file.display().to_string();
    let mut partial = args.file.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = create_private(&partial).with_context(|| format!("cannot write {name}"))?;
    let written = (|| -> anyhow::Result<_> {
        let header = if is_gzip(&args.file) {
            let mut out = GzEncoder::new(BufWriter::new(file), Compression::default());
            let header = store.backup(&mut out)?;
            out.finish()?
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            header
        } else {
            let mut out = BufWriter::new(file);
            let header = store.backup(&mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            header
        };
        std::fs::rename(&partial, &args.file)?;
        Ok(header)
    })();
    let header = match written {
        Ok(header) => header,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.context(format!("cannot write {name}")));
        }
    };
    let events: u64 = header.spaces.iter().map(|s| s.events).sum();
    let journal: u64 = header.spaces.iter().map(|s| s.journal).sum();
    eprintln!(
        "{}",
        printable(&format!(
            "backed up {}, {}, {} to {name}",
            count(header.spaces.len() as u64, "space"),
            count(events, "event"),
            count(journal, "journal entry")
        ))
    );
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds an empty store from a backup; exit 1 when anything could not be restored.
pub fn restore(args: RestoreArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let file = File::open(&args.file).with_context(|| format!("cannot read {name}"))?;
    let mut input: Box<dyn BufRead> = if is_gzip(&args.file) {
        Box::new(BufReader::new(MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Box::new(BufReader::new(file))
    };
    let store = globals.open_store()?;
    let summary = store
        .restore(&mut input)
        .with_context(|| format!("cannot restore {name}"))?;
    for error in &summary.errors {
        eprintln!("{}", printable(&format!("idgraph: {name}: {error}")));
    }
    eprintln!(
        "restored {}, re-applied {}, {} from {name}{}",
        count(summary.events, "event"),
        count(summary.manual_ops, "manual operation"),
        count(summary.journal, "journal entry"),
        if summary.errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", count(summary.errors.len() as u64, "problem"))
        }
    );
    std::io::stderr().flush()?;
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
