//! Notes left beside a space's search index file by writes made while no explorer keeps the
//! file current (the command line's merge, split, undo and ingest, and the HTTP server):
//! which profiles changed, from which state of the space to which. The next `explore` or
//! `search` reads the file saved at an earlier state, re-indexes the profiles the notes list
//! since, and saves it current again, instead of indexing the whole space.
//!
//! Notes are one JSON line per command or server run:
//! `{"from":STAMP,"to":STAMP,"profiles":[ID,...]}`. A write the notes miss (`check
//! --repair`, a process cut short before it noted) breaks the chain, and the next start
//! indexes the space anew.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::ProfileId;
use crate::query::GraphRead;
use crate::query::changes::ChangedProfiles;

use super::cache::{IndexCache, remove_if_there};

/// Notes past this size are dropped (the next start indexes the space anew): catching up
/// with that many profiles would cost about what indexing them all does.
const MAX_NOTES_BYTES: u64 = 8 << 20;

/// At most this many profiles are gathered for one note (about [`MAX_NOTES_BYTES`] written
/// out); past it the writer gives up noting, for the same reason.
const MAX_GATHERED_PROFILES: usize = 1_000_000;

/// Groups a server writes between two readings of the change feed: at most 500 events
/// each, 32 of them list far fewer profiles than the feed keeps (100,000).
const MARKS_PER_GATHER: usize = 32;

/// The latest states a process's writes left that are remembered: an explorer running
/// beside a server saves the index file at one of them (when the user quits, say) while the
/// server still writes; a few seconds of writes at full speed.
const RECENT_STATES: usize = 1024;

/// Gathers what a process's writes to a space change, and notes it beside the space's index
/// file: [`IndexKeeper::before`] the first write, [`IndexKeeper::gather`] (or, for a
/// server's small groups, [`IndexKeeper::mark`]) after each, [`IndexKeeper::note`] once done
/// (a server notes when it stops). The note leads from the
/// state the file is saved at: the one before the writes, when the file was current then
/// (or its notes led there), or one the writes left, when an explorer beside a server saved
/// the file meanwhile. Otherwise nothing is noted, and notes that lead nowhere are removed:
/// the next start builds the index whatever this process would note.
pub struct IndexKeeper {
    gathered: Option<Gathered>,
}

/// What a process's writes to a space changed so far.
struct Gathered {
    /// The space's index file, with the state of the space before the writes.
    cache: IndexCache,
    /// The stamp the file had before the writes, when it or its notes led to that state.
    led_from: Option<u64>,
    /// The state the writes left last, and the change feed's version then.
    to: u64,
    version: u64,
    /// The profiles the writes changed; `None` when no note could lead from the file's
    /// state before the writes, or once they are lost (the feed could not list a write's
    /// changes, or too many to be worth noting).
    profiles: Option<BTreeSet<u64>>,
    /// The latest states the writes left (stamp, feed version), oldest first.
    recent: VecDeque<(u64, u64)>,
    /// [`IndexKeeper::mark`] calls since the last gathering.
    marks: usize,
}

impl IndexKeeper {
    /// Notes the space's state before the process writes to it.
    pub fn before<R: GraphRead + ?Sized>(read: &R) -> IndexKeeper {
        let gathered = read.index_cache_after(u64::MAX).map(|(cache, changes)| {
            let saved = cache.file_stamp();
            let led = saved.is_some_and(|saved| file_leads_to(&cache, saved));
            Gathered {
                led_from: saved.filter(|_| led),
                to: cache.stamp(),
                version: changes.version,
                profiles: led.then(BTreeSet::new),
                recent: VecDeque::new(),
                marks: 0,
                cache,
            }
        });
        IndexKeeper { gathered }
    }

    /// After a write: gathers the profiles changed since the last call (or since
    /// [`IndexKeeper::before`]), by this process's writes of any kind.
    pub fn gather<R: GraphRead + ?Sized>(&mut self, read: &R) {
        let Some(gathered) = &mut self.gathered else {
            return;
        };
        // Once the profiles are lost, only the states matter: the feed need not list them.
        let since = match gathered.profiles {
            Some(_) => gathered.version,
            None => u64::MAX,
        };
        let Some((after, changes)) = read.index_cache_after(since) else {
            return;
        };
        gathered.to = after.stamp();
        gathered.version = changes.version;
        gathered.remember(gathered.to, gathered.version);
        let profiles = match (gathered.profiles.take(), changes.profiles) {
            (Some(mut profiles), ChangedProfiles::Listed { changed, removed }) => {
                profiles.extend(changed.into_iter().chain(removed).map(|id| id.0));
                Some(profiles).filter(|p| p.len() <= MAX_GATHERED_PROFILES)
            }
            _ => None,
        };
        gathered.profiles = profiles;
    }

    /// After one of many small writes (a server's groups): remembers the state it left, and
    /// gathers every [`MARKS_PER_GATHER`] calls, the feed keeping the changes meanwhile.
    /// Reading the feed costs the writer 0.3-0.5 ms after a group (its memory is cold by
    /// then), 2-3% of the group; the state alone, a few microseconds.
    pub fn mark<R: GraphRead + ?Sized>(&mut self, read: &R) {
        let Some(gathered) = &mut self.gathered else {
            return;
        };
        gathered.marks += 1;
        if gathered.marks < MARKS_PER_GATHER {
            if let Some((after, changes)) = read.index_cache_after(u64::MAX) {
                gathered.remember(after.stamp(), changes.version);
            }
            return;
        }
        gathered.marks = 0;
        self.gather(read);
    }

    /// Gathers what the last writes changed, then appends it to the notes (a line), from
    /// the state the file is saved at, or removes notes that lead nowhere. On an error
    /// nothing is lost: the next start indexes the space anew.
    pub fn note<R: GraphRead + ?Sized>(mut self, read: &R) -> io::Result<()> {
        self.gather(read);
        let Some(gathered) = self.gathered else {
            return Ok(());
        };
        let notes = gathered.cache.notes_path();
        match gathered.note_from_the_file(read) {
            Noting::Current => Ok(()),
            Noting::Nowhere => remove_if_there(&notes),
            Noting::Note(note) => {
                if std::fs::metadata(&notes).is_ok_and(|m| m.len() > MAX_NOTES_BYTES) {
                    return remove_if_there(&notes);
                }
                append_line(&notes, &note)
            }
        }
    }
}

/// What the notes need once the writes are done.
enum Noting {
    /// The file holds the space as it is (or nothing changed).
    Current,
    /// The note that leads from the file's state to the space's.
    Note(Note),
    /// No note can lead from the file to the space: the next start builds the index.
    Nowhere,
}

impl Gathered {
    /// Remembers a state the writes left.
    fn remember(&mut self, stamp: u64, version: u64) {
        if self.recent.len() == RECENT_STATES {
            self.recent.pop_front();
        }
        self.recent.push_back((stamp, version));
    }

    fn note_from_the_file<R: GraphRead + ?Sized>(self, read: &R) -> Noting {
        let saved = self.cache.file_stamp();
        if saved == Some(self.to) {
            return Noting::Current;
        }
        if let (Some(saved), Some(led_from), Some(profiles)) = (saved, self.led_from, self.profiles)
            && saved == led_from
        {
            if self.cache.stamp() == self.to {
                return Noting::Current;
            }
            return Noting::Note(Note {
                from: self.cache.stamp(),
                to: self.to,
                profiles: profiles.into_iter().collect(),
            });
        }
        // Saved meanwhile by an explorer beside the server, at a state the writes left:
        // the change feed lists what changed since.
        let Some(&(from, version)) = self.recent.iter().find(|(stamp, _)| saved == Some(*stamp))
        else {
            return Noting::Nowhere;
        };
        match read.index_cache_after(version) {
            Some((after, changes)) => match changes.profiles {
                ChangedProfiles::Listed { changed, removed } => Noting::Note(Note {
                    from,
                    to: after.stamp(),
                    profiles: changed.into_iter().chain(removed).map(|id| id.0).collect(),
                }),
                ChangedProfiles::Unknown => Noting::Nowhere,
            },
            None => Noting::Nowhere,
        }
    }
}

/// Whether the file, saved at the state `saved`, is current or the notes beside it lead
/// from it to the space's state now.
fn file_leads_to(cache: &IndexCache, saved: u64) -> bool {
    saved == cache.stamp()
        || changes_between(&read_notes(&cache.notes_path()), saved, cache.stamp()).is_some()
}

fn append_line(path: &Path, note: &Note) -> io::Result<()> {
    let mut line = serde_json::to_string(note).map_err(io::Error::other)?;
    line.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    // The ids are of the owner's customers: the owner's alone, like the store.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(line.as_bytes())
}

/// One write's note: the space's stamps before and after it, and the profiles it changed.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Note {
    from: u64,
    to: u64,
    profiles: Vec<u64>,
}

/// The notes in order, up to the first line that does not read (a write cut short).
pub(super) fn read_notes(path: &Path) -> Vec<Note> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map_while(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The profiles the notes list from state `from` to state `to`, following the notes that
/// chain from one to the next (others are of states the file never had); `None` when they
/// do not lead there.
pub(super) fn changes_between(notes: &[Note], from: u64, to: u64) -> Option<Vec<ProfileId>> {
    let mut at = from;
    let mut profiles = Vec::new();
    for note in notes.iter().filter(|note| note.from != note.to) {
        if note.from == at {
            profiles.extend(note.profiles.iter().map(|id| ProfileId(*id)));
            at = note.to;
        }
    }
    profiles.sort_unstable();
    profiles.dedup();
    (at == to).then_some(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_count_only_when_they_chain_from_the_file_to_the_space() {
        let note = |from, to, profiles: &[u64]| Note {
            from,
            to,
            profiles: profiles.to_vec(),
        };
        let ids = |ids: &[u64]| Some(ids.iter().map(|id| ProfileId(*id)).collect::<Vec<_>>());
        let notes = [note(1, 2, &[5, 3]), note(7, 8, &[9]), note(2, 4, &[3, 1])];
        assert_eq!(
            changes_between(&notes, 1, 4),
            ids(&[1, 3, 5]),
            "7 -> 8 is another line"
        );
        assert_eq!(changes_between(&notes, 2, 4), ids(&[1, 3]));
        assert_eq!(
            changes_between(&notes, 1, 2),
            None,
            "past the space's state"
        );
        assert_eq!(changes_between(&notes, 1, 9), None, "a write went unnoted");
        assert_eq!(
            changes_between(&notes, 3, 4),
            None,
            "the file's state is not there"
        );
    }

    #[test]
    fn notes_read_up_to_a_line_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.changes");
        std::fs::write(
            &path,
            "{\"from\":1,\"to\":2,\"profiles\":[3]}\n{\"from\":2,\"to\"",
        )
        .unwrap();
        let notes = read_notes(&path);
        assert_eq!(notes.len(), 1);
        assert_eq!(
            (notes[0].from, notes[0].to, notes[0].profiles.as_slice()),
            (1, 2, &[3][..])
        );
        assert!(read_notes(&dir.path().join("none")).is_empty());
    }
}
