//! JSON-lines input: files or stdin, gzip detected by its magic bytes, parsed on a worker
//! thread in chunks. Every bad line is reported with its number; the rest still goes in.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::thread;

use crossbeam_channel::{Receiver, bounded};
use flate2::read::MultiGzDecoder;

use crate::model::{Event, ReadFields};

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

/// Longest line accepted, in bytes (1 MiB; Segment's own limit per message is 32 KB).
/// Longer lines are rejected with their size, without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

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

/// Parses one line into an event, reading of its JSON what `fields` names.
pub fn parse_line(bytes: &[u8], fields: &ReadFields) -> Result<Event, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid UTF-8: {e}"))?;
    Event::from_line(text, fields).map_err(|e| e.to_string())
}

/// Reads one line (up to and including `\n`) into `buffer`, keeping at most
/// [`MAX_LINE_BYTES`] + 1 bytes of it. Returns the bytes consumed and whether the line was
/// longer than the limit (its content is then dropped).
fn read_line_bounded(reader: &mut dyn BufRead, buffer: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, too_long));
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buffer.len() + take > MAX_LINE_BYTES + 1 {
                too_long = true;
                buffer.clear();
            } else {
                buffer.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, too_long));
        }
    }
}

/// Reads and parses lines on a worker thread, sending chunks of parsed lines. Blank lines
/// are skipped; a read error ends the stream with an error item on the line it happened.
/// `progress` is called with the number of raw bytes consumed so far.
pub fn parse_in_background(
    mut reader: Box<dyn BufRead + Send>,
    fields: ReadFields,
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
            match read_line_bounded(&mut reader, &mut buffer) {
                Ok((0, _)) => break,
                Ok((n, too_long)) => {
                    line_no += 1;
                    consumed += n as u64;
                    let trimmed = buffer.trim_ascii();
                    if too_long {
                        chunk.push((
                            line_no,
                            Err(format!(
                                "line is {n} bytes; the limit is {MAX_LINE_BYTES} bytes"
                            )),
                        ));
                    } else if !trimmed.is_empty() {
                        chunk.push((line_no, parse_line(trimmed, &fields)));
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
        parse_in_background(reader, ReadFields::default(), |_| {})
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
    fn over_long_lines_are_rejected_and_the_next_line_still_read() {
        let mut text = vec![b'{'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\n{\"type\":\"page\",\"userId\":\"u1\"}\n");
        let lines = collect(Box::new(io::BufReader::with_capacity(
            4096,
            io::Cursor::new(text),
        )));
        assert_eq!(lines.len(), 2);
        let err = lines[0].1.as_ref().unwrap_err();
        assert!(err.contains("the limit is 1048576 bytes"), "{err}");
        assert!(lines[1].1.is_ok());
    }

    #[test]
    fn names_invalid_utf8_and_deep_nesting() {
        assert!(
            parse_line(
                b"{\"type\":\"page\",\"userId\":\"\xff\"}",
                &ReadFields::default()
            )
            .unwrap_err()
            .starts_with("not valid UTF-8")
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_line(deep.as_bytes(), &ReadFields::default()).unwrap_err(),
            "invalid JSON: nested deeper than 128 levels"
        );
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
