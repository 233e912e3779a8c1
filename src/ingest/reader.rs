//! JSON-lines input: files or stdin, gzip detected by its magic bytes, parsed on a worker
//! thread in chunks. Every bad line is reported with its number; the rest still goes in.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::thread;

use crossbeam_channel::{Receiver, bounded};
use flate2::read::MultiGzDecoder;

use crate::model::Event;

/// A line that could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// One parsed line: the event or why it was rejected.
pub type ParsedLine = (u64, Result<Event, String>);

/// Lines parsed per chunk sent to the consumer.
pub const CHUNK_LINES: usize = 4096;

/// Opens a path (`-` = stdin) as a buffered reader, decompressing gzip transparently.
/// Returns the reader and the input size in bytes when known.
pub fn open_input(path: &Path) -> io::Result<(Box<dyn BufRead + Send>, Option<u64>)> {
    let (raw, size): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(path)?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let mut buffered = BufReader::with_capacity(1 << 20, raw);
    let is_gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    if is_gzip {
        Ok((
            Box::new(BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(buffered),
            )),
            size,
        ))
    } else {
        Ok((Box::new(buffered), size))
    }
}

/// Parses one line into an event.
pub fn parse_line(bytes: &[u8]) -> Result<Event, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        format!(
            "invalid JSON: {}",
            text.split(" at line").next().unwrap_or(&text)
        )
    })?;
    Event::from_json(value).map_err(|e| e.to_string())
}

/// Reads and parses lines on a worker thread, sending chunks of parsed lines. Blank lines
/// are skipped; a read error ends the stream with an error item on the line it happened.
/// `progress` is called with the number of raw bytes consumed so far.
pub fn parse_in_background(
    mut reader: Box<dyn BufRead + Send>,
    progress: impl Fn(u64) + Send + 'static,
) -> Receiver<Vec<ParsedLine>> {
    let (sender, receiver) = bounded::<Vec<ParsedLine>>(8);
    thread::spawn(move || {
        let mut line_no = 0_u64;
        let mut consumed = 0_u64;
        let mut buffer = Vec::with_capacity(4096);
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    line_no += 1;
                    consumed += n as u64;
                    let trimmed = buffer.trim_ascii();
                    if !trimmed.is_empty() {
                        chunk.push((line_no, parse_line(trimmed)));
                    }
                }
                Err(e) => {
                    chunk.push((line_no + 1, Err(format!("read error: {e}"))));
                    break;
                }
            }
            if chunk.len() >= CHUNK_LINES {
                progress(consumed);
                if sender.send(std::mem::take(&mut chunk)).is_err() {
                    return;
                }
            }
        }
        progress(consumed);
        if !chunk.is_empty() {
            let _ = sender.send(chunk);
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(reader: Box<dyn BufRead + Send>) -> Vec<ParsedLine> {
        parse_in_background(reader, |_| {})
            .iter()
            .flatten()
            .collect()
    }

    #[test]
    fn reports_bad_lines_and_keeps_the_rest() {
        let text = b"{\"type\":\"page\",\"userId\":\"u1\"}\n\nnot json\n{\"type\":\"track\"}\n\xff\xfe\n{\"type\":\"page\",\"anonymousId\":\"a\"}";
        let lines = collect(Box::new(io::Cursor::new(text.to_vec())));
        let numbers: Vec<u64> = lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 3, 4, 5, 6]);
        assert!(lines[0].1.is_ok());
        assert!(lines[1].1.as_ref().unwrap_err().starts_with("invalid JSON"));
        assert!(
            lines[2]
                .1
                .as_ref()
                .unwrap_err()
                .contains("neither userId nor anonymousId")
        );
        assert!(lines[3].1.is_err());
        assert!(lines[4].1.is_ok());
    }

    #[test]
    fn reads_gzip_by_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.data");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        writeln!(gz, "{{\"type\":\"page\",\"userId\":\"u1\"}}").unwrap();
        gz.finish().unwrap();
        let (reader, size) = open_input(&path).unwrap();
        assert!(size.unwrap() > 0);
        let lines = collect(reader);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].1.is_ok());
    }
}
