//! The search index kept between runs: a file next to the store, used while the space is
//! as it was when the index was built (same write stamp), rebuilt otherwise.
//!
//! The file is a header (magic, format, stamp) and the index's arrays written field by
//! field in little-endian order, then an xxh3 checksum of all of it. A file that is
//! truncated, corrupt, of another format or for another state of the space is ignored.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::model::ProfileId;
use crate::query::GraphRead;
use crate::query::changes::ChangedProfiles;

use super::index::{Entry, Form, SearchIndex, Slot, SlotBags};
use super::notes::{changes_between, read_notes};

/// The file's first bytes.
const MAGIC: &[u8; 16] = b"idgraph-search\0\0";

/// Bumped whenever the index's layout or what it indexes changes (a test pins the bytes
/// saved for fixed profiles to it, so a change that forgets to bump it fails).
const FORMAT: u32 = 3;

/// Held while a file is saved.
static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The files this process is writing aside now.
static WRITING_ASIDE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A file listed in [`WRITING_ASIDE`] while this lives.
struct WritingAside(PathBuf);

impl WritingAside {
    fn start(aside: PathBuf) -> WritingAside {
        writing_aside().push(aside.clone());
        WritingAside(aside)
    }
}

impl Drop for WritingAside {
    fn drop(&mut self) {
        writing_aside().retain(|path| *path != self.0);
    }
}

fn writing_aside() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    WRITING_ASIDE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a space's search index is kept between runs, and the state of the space it must
/// have been built at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCache {
    path: PathBuf,
    stamp: u64,
}

impl IndexCache {
    /// The cache at `path` for the space as its write stamp `stamp` says it is now.
    pub fn new(path: PathBuf, stamp: u64) -> IndexCache {
        IndexCache { path, stamp }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index saved for this state of the space, if there is one and it reads back whole.
    /// What a save cut short left aside (the process ended while writing) is removed.
    pub fn load(&self) -> Option<SearchIndex> {
        self.read_file(&mut |stamp| stamp == self.stamp)
    }

    /// The index saved for an earlier state of the space, brought up to this one with the
    /// profiles that writes outside the explorer noted as changed since (see [`IndexKeeper`](super::IndexKeeper)):
    /// `None` when the notes do not lead from the file's state to this one.
    fn catch_up<R: GraphRead + ?Sized>(&self, read: &R) -> anyhow::Result<Option<SearchIndex>> {
        let notes = read_notes(&self.notes_path());
        if notes.is_empty() {
            return Ok(None);
        }
        let mut changed = None;
        let index = self.read_file(&mut |stamp| {
            changed = changes_between(&notes, stamp, self.stamp);
            changed.is_some()
        });
        let (Some(index), Some(changed)) = (index, changed) else {
            return Ok(None);
        };
        let count = changed.len();
        let listed = ChangedProfiles::Listed {
            changed,
            removed: Vec::new(),
        };
        let patched = index.into_patched_from(read, listed)?;
        tracing::debug!(
            profiles = count,
            "search index file caught up with the writes noted beside it"
        );
        Ok(patched)
    }

    /// The stamp in the file's header: the state of the space the file was saved for, if
    /// there is a file of this format (its body is not checked).
    pub(super) fn file_stamp(&self) -> Option<u64> {
        self.reader(8 << 10)?.stamp().ok()
    }

    /// A reader of the file with a buffer of `buffer` bytes, if there is a file.
    fn reader(&self, buffer: usize) -> Option<Reader<BufReader<File>>> {
        let file = File::open(&self.path).ok()?;
        let file_bytes = file.metadata().ok()?.len();
        Some(Reader::new(
            BufReader::with_capacity(buffer, file),
            file_bytes,
        ))
    }

    /// The stamp of the space's state this cache is for.
    pub(super) fn stamp(&self) -> u64 {
        self.stamp
    }

    /// Reads the file when `wanted` takes the stamp it was saved under (what a save cut
    /// short left aside is removed first).
    fn read_file(&self, wanted: &mut dyn FnMut(u64) -> bool) -> Option<SearchIndex> {
        self.remove_abandoned_save();
        match self.reader(1 << 20)?.index(wanted) {
            Ok(index) => Some(index),
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "search index file not used");
                None
            }
        }
    }

    /// Removes the file a save writes aside, unless a save of this process is writing it
    /// now (another process cannot be: it would hold the store).
    fn remove_abandoned_save(&self) {
        let aside = self.aside();
        let writing = writing_aside();
        if !writing.contains(&aside) {
            let _ = std::fs::remove_file(aside);
        }
    }

    /// Where a save writes the file before renaming it.
    fn aside(&self) -> PathBuf {
        self.path.with_extension("partial")
    }

    /// Where writes made while no explorer keeps the file note the profiles they changed
    /// (see [`IndexKeeper`](super::IndexKeeper)).
    pub(super) fn notes_path(&self) -> PathBuf {
        self.path.with_extension("changes")
    }

    /// Saves `index` (built from the space in this cache's state), replacing any older file
    /// at once (written aside, then renamed). A save that fails leaves no file aside; one
    /// that succeeds drops the notes of earlier writes (see [`IndexKeeper`](super::IndexKeeper)).
    pub fn save(&self, index: &SearchIndex) -> io::Result<()> {
        // One save at a time: two (a space opened twice in a row) would share the file
        // written aside. Another process cannot be saving: it would hold the store.
        let _one_at_a_time = SAVING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let aside = WritingAside::start(self.aside());
        let saved = self.write_aside(index, &aside.0);
        if saved.is_ok() {
            // Notes of writes before this state lead nowhere now (left, they are skipped).
            let _ = remove_if_there(&self.notes_path());
        } else {
            let _ = std::fs::remove_file(&aside.0);
        }
        saved
    }

    /// Writes the file aside, then renames it over the cache's file.
    fn write_aside(&self, index: &SearchIndex, aside: &Path) -> io::Result<()> {
        // It holds names, emails and phones: the owner's alone, like the store.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(aside)?;
        let mut writer = Writer::new(BufWriter::with_capacity(1 << 20, file));
        writer.index(index, self.stamp)?;
        let sum = writer.hash.digest();
        let mut out = writer.out;
        out.write_all(&sum.to_le_bytes())?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(aside, &self.path)
    }
}

/// The space's search index: read back from its file when the space is as it was when the
/// file was saved, built from the profiles otherwise (`building` is called first, so a
/// caller can say it may take a while). With a built index comes the cache to save it in
/// ([`IndexCache::save`]) once the caller has used it.
pub fn load_or_build<R: GraphRead + ?Sized>(
    read: &R,
    building: &mut dyn FnMut(),
) -> anyhow::Result<(SearchIndex, Option<IndexCache>)> {
    // The stamp is read before the profiles: what is written meanwhile changes the space's
    // stamp, so an index that may have missed it is never taken for current.
    let cache = read.index_cache();
    if let Some(cache) = &cache {
        if let Some(index) = cache.load() {
            return Ok((index, None));
        }
        // Saved again by the caller, the file is current for the next start.
        if let Some(index) = cache.catch_up(read)? {
            return Ok((index, Some(cache.clone())));
        }
    }
    building();
    Ok((SearchIndex::build(read)?, cache))
}

pub(super) fn remove_if_there(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes fields little-endian, hashing every byte.
struct Writer<W: Write> {
    out: W,
    hash: Xxh3,
}

impl<W: Write> Writer<W> {
    fn new(out: W) -> Writer<W> {
        Writer {
            out,
            hash: Xxh3::new(),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    fn len(&mut self, n: usize) -> io::Result<()> {
        self.bytes(&(n as u64).to_le_bytes())
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        self.len(text.len())?;
        self.bytes(text.as_bytes())
    }

    fn index(&mut self, index: &SearchIndex, stamp: u64) -> io::Result<()> {
        self.bytes(MAGIC)?;
        self.bytes(&FORMAT.to_le_bytes())?;
        self.bytes(&stamp.to_le_bytes())?;
        self.text(index.space())?;
        self.len(index.kinds.len())?;
        for (kind, identifier) in index.kinds.iter().zip(&index.identifier_kind) {
            self.text(kind)?;
            self.bytes(&[u8::from(*identifier)])?;
        }
        self.text(&index.arena)?;
        self.len(index.uuids.len())?;
        for uuid in &index.uuids {
            self.bytes(uuid)?;
        }
        self.len(index.entries.len())?;
        for e in &index.entries {
            let mut record = [0u8; ENTRY_BYTES];
            record[0..4].copy_from_slice(&e.start.to_le_bytes());
            record[4] = e.len;
            record[5] = e.form as u8;
            record[6..8].copy_from_slice(&e.kind.to_le_bytes());
            record[8..12].copy_from_slice(&e.bag.to_le_bytes());
            self.bytes(&record)?;
        }
        self.len(index.slots.len())?;
        for (s, b) in index.slots.iter().zip(&index.bags) {
            let mut record = [0u8; SLOT_BYTES];
            record[0..8].copy_from_slice(&s.id.0.to_le_bytes());
            record[8..16].copy_from_slice(&s.last_seen.to_le_bytes());
            record[16..20].copy_from_slice(&s.first.to_le_bytes());
            record[20..24].copy_from_slice(&s.identifiers.to_le_bytes());
            record[24..26].copy_from_slice(&s.count.to_le_bytes());
            record[26] = u8::from(s.named);
            record[27..35].copy_from_slice(&b.bag.to_le_bytes());
            record[35..43].copy_from_slice(&b.heads.to_le_bytes());
            record[43..51].copy_from_slice(&b.hard.to_le_bytes());
            record[51..59].copy_from_slice(&b.starts.to_le_bytes());
            record[59..75].copy_from_slice(&b.pairs.to_le_bytes());
            self.bytes(&record)?;
        }
        self.len(index.exact.len())?;
        for (hash, entry) in &index.exact {
            let mut record = [0u8; 8];
            record[0..4].copy_from_slice(&hash.to_le_bytes());
            record[4..8].copy_from_slice(&entry.to_le_bytes());
            self.bytes(&record)?;
        }
        Ok(())
    }
}

const ENTRY_BYTES: usize = 12;
const SLOT_BYTES: usize = 75;

/// Reads what [`Writer`] wrote, hashing every byte.
struct Reader<R: Read> {
    input: R,
    hash: Xxh3,
    /// The file's size: no count may claim more than it holds.
    file_bytes: u64,
}

/// The spare room a part of `n` items read from the file gets: catching the index up with
/// the writes noted beside it then patches each part in its own memory instead of copying
/// it (see [`SearchIndex::into_patched`]). Memory never written is not resident, so the
/// room costs nothing until a patch uses it.
fn patch_room(n: usize) -> usize {
    n / 32
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: Read> Reader<R> {
    fn new(input: R, file_bytes: u64) -> Reader<R> {
        Reader {
            input,
            hash: Xxh3::new(),
            file_bytes,
        }
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut bytes = [0u8; N];
        self.input.read_exact(&mut bytes)?;
        self.hash.update(&bytes);
        Ok(bytes)
    }

    /// A count of items of `item_bytes` each, believed only if that many fit in the file.
    fn count(&mut self, item_bytes: u64) -> io::Result<usize> {
        let n = u64::from_le_bytes(self.array()?);
        if n.saturating_mul(item_bytes) > self.file_bytes {
            return Err(invalid("count larger than the file"));
        }
        Ok(n as usize)
    }

    fn text(&mut self) -> io::Result<String> {
        self.text_with_room(|_| 0)
    }

    /// A text, with room for `spare` more bytes.
    fn text_with_room(&mut self, spare: fn(usize) -> usize) -> io::Result<String> {
        let len = self.count(1)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(len + spare(len))
            .map_err(|_| invalid("text too long"))?;
        // Read in place: the text is the largest part, and nothing may grow past its size.
        bytes.resize(len, 0);
        self.input.read_exact(&mut bytes)?;
        self.hash.update(&bytes);
        String::from_utf8(bytes).map_err(|_| invalid("text is not UTF-8"))
    }

    /// Room for `n` items, and for the few more a patch adds (see [`patch_room`]).
    fn reserve<T>(n: usize) -> io::Result<Vec<T>> {
        let mut items = Vec::new();
        items
            .try_reserve_exact(n + patch_room(n))
            .map_err(|_| invalid("count too large"))?;
        Ok(items)
    }

    /// The header: the stamp of the space's state the index was saved for.
    fn stamp(&mut self) -> io::Result<u64> {
        if &self.array::<16>()? != MAGIC {
            return Err(invalid("not a search index file"));
        }
        if u32::from_le_bytes(self.array()?) != FORMAT {
            return Err(invalid("written by another format"));
        }
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// The index, when `wanted` takes the stamp it was saved under.
    fn index(&mut self, wanted: &mut dyn FnMut(u64) -> bool) -> io::Result<SearchIndex> {
        if !wanted(self.stamp()?) {
            return Err(invalid("built before the space last changed"));
        }
        let space = self.text()?;
        let kind_count = self.count(9)?;
        let mut kinds = Vec::new();
        let mut identifier_kind = Vec::new();
        for _ in 0..kind_count.min(u16::MAX as usize + 1) {
            kinds.push(self.text()?);
            identifier_kind.push(self.array::<1>()?[0] != 0);
        }
        let arena = self.text_with_room(patch_room)?;
        let count = self.count(16)?;
        let mut uuids = Self::reserve::<[u8; 16]>(count)?;
        for _ in 0..count {
            uuids.push(self.array::<16>()?);
        }
        let count = self.count(ENTRY_BYTES as u64)?;
        let mut entries = Self::reserve::<Entry>(count)?;
        for _ in 0..count {
            let r = self.array::<ENTRY_BYTES>()?;
            entries.push(Entry {
                start: u32::from_le_bytes(r[0..4].try_into().unwrap_or_default()),
                len: r[4],
                form: Form::from_byte(r[5]).ok_or_else(|| invalid("unknown text form"))?,
                kind: u16::from_le_bytes([r[6], r[7]]),
                bag: u32::from_le_bytes(r[8..12].try_into().unwrap_or_default()),
            });
        }
        let count = self.count(SLOT_BYTES as u64)?;
        let mut slots = Self::reserve::<Slot>(count)?;
        let mut bags = Self::reserve::<SlotBags>(count)?;
        for _ in 0..count {
            let r = self.array::<SLOT_BYTES>()?;
            let u64_at =
                |at: usize| u64::from_le_bytes(r[at..at + 8].try_into().unwrap_or_default());
            slots.push(Slot {
                id: ProfileId(u64_at(0)),
                last_seen: u64_at(8) as i64,
                first: u32::from_le_bytes(r[16..20].try_into().unwrap_or_default()),
                identifiers: u32::from_le_bytes(r[20..24].try_into().unwrap_or_default()),
                count: u16::from_le_bytes([r[24], r[25]]),
                named: r[26] != 0,
            });
            bags.push(SlotBags {
                bag: u64_at(27),
                heads: u64_at(35),
                hard: u64_at(43),
                starts: u64_at(51),
                pairs: u128::from_le_bytes(r[59..75].try_into().unwrap_or_default()),
            });
        }
        let count = self.count(8)?;
        let mut exact = Self::reserve::<(u32, u32)>(count)?;
        for _ in 0..count {
            let r = self.array::<8>()?;
            exact.push((
                u32::from_le_bytes([r[0], r[1], r[2], r[3]]),
                u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            ));
        }
        let sum = self.hash.digest();
        let mut stored = [0u8; 8];
        self.input.read_exact(&mut stored)?;
        if u64::from_le_bytes(stored) != sum {
            return Err(invalid("checksum mismatch"));
        }
        let index = SearchIndex {
            space,
            arena,
            uuids,
            entries,
            slots,
            bags,
            kinds,
            identifier_kind,
            exact,
        };
        index.check().map_err(|what| invalid(&what))?;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identifier, Profile};

    fn profiles() -> Vec<Profile> {
        let people = [
            ("Ana Silva", "ana.silva@example.io", "u-1"),
            ("Nadia Okafor", "nadia@okafor.ng", "u-2"),
            ("Zoë Ærø", "zoe@ærø.dk", "u-3"),
        ];
        people
            .iter()
            .enumerate()
            .map(|(i, (name, email, user))| {
                let mut p = Profile::new(ProfileId(i as u64 + 1), i as i64);
                p.add_identifier(&Identifier::new("email", *email), 0, "web");
                p.add_identifier(&Identifier::new("user_id", *user), 0, "web");
                let device = format!("{i:08X}-C36C-495A-93FC-0C247A3E6E5F");
                p.add_identifier(&Identifier::new("ios.id", device), 0, "ios");
                let traits = serde_json::json!({ "name": name });
                p.apply_traits(0, 0, traits.as_object().unwrap());
                p
            })
            .collect()
    }

    fn saved(dir: &Path) -> (IndexCache, SearchIndex) {
        let index = SearchIndex::from_profiles("default", &profiles());
        let cache = IndexCache::new(dir.join("idgraph-search-x.idx"), 42);
        cache.save(&index).unwrap();
        (cache, index)
    }

    #[test]
    fn an_index_reads_back_as_it_was_saved_for_the_same_stamp_only() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, index) = saved(dir.path());
        let back = cache.load().expect("read back");
        assert_eq!(format!("{back:?}"), format!("{index:?}"));
        let mut engine = super::super::SearchEngine::new(std::sync::Arc::new(back));
        let hits = engine.search("okafor nadia", 5).hits;
        assert_eq!(hits.first().map(|h| h.profile), Some(ProfileId(2)));
        // A UUID, kept as 16 bytes, is found and shown as it came.
        let device = "00000001-C36C-495A-93FC-0C247A3E6E5F";
        for query in ["00000001-c36c", device, &format!("ios.id:{device}")] {
            let hits = engine.search(query, 5).hits;
            let first = hits.first().map(|h| (h.profile, h.text.as_str()));
            assert_eq!(first, Some((ProfileId(2), device)), "{query}");
        }
        assert!(!dir.path().join("idgraph-search-x.partial").exists());
        let later = IndexCache::new(cache.path().to_path_buf(), 43);
        assert!(later.load().is_none(), "the space changed since");
    }

    #[test]
    fn an_index_read_back_is_caught_up_in_its_own_memory() {
        let person = |i: u64, name: &str| {
            let mut p = Profile::new(ProfileId(i), i as i64);
            p.add_identifier(&Identifier::new("email", format!("p{i}@x.io")), 0, "web");
            let device = format!("{i:08X}-C36C-495A-93FC-0C247A3E6E5F");
            p.add_identifier(&Identifier::new("ios.id", device), 0, "ios");
            let traits = serde_json::json!({ "name": name });
            p.apply_traits(0, 0, traits.as_object().unwrap());
            p
        };
        let before: Vec<Profile> = (1..=320).map(|i| person(i, "Ana Silva")).collect();
        let dir = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(dir.path().join("idgraph-search-x.idx"), 1);
        cache
            .save(&SearchIndex::from_profiles("default", &before))
            .unwrap();
        let back = cache.load().expect("read back");
        let places = |index: &SearchIndex| {
            (
                index.arena.as_ptr() as usize,
                index.uuids.as_ptr() as usize,
                index.entries.as_ptr() as usize,
                index.slots.as_ptr() as usize,
                index.bags.as_ptr() as usize,
                index.exact.as_ptr() as usize,
            )
        };
        let read_at = places(&back);
        // A longer name in the middle (later runs move towards the end), one profile gone
        // (those after it move back), and new profiles at the end.
        let changed = [person(7, "Anastasia Silva-Okafor"), person(400, "Bo Chen")];
        let patched = back.into_patched(&changed, &[ProfileId(200)]);
        assert_eq!(places(&patched), read_at, "patched where it was read");
        let mut after = before;
        after[6] = changed[0].clone();
        after.retain(|p| p.id != ProfileId(200));
        after.push(changed[1].clone());
        let anew = SearchIndex::from_profiles("default", &after);
        assert_eq!(format!("{patched:?}"), format!("{anew:?}"));
    }

    #[test]
    fn a_failed_save_leaves_no_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::from_profiles("default", &profiles());
        // A directory where the file goes: writing aside works, the rename cannot.
        std::fs::create_dir(dir.path().join("idgraph-search-x.idx")).unwrap();
        let cache = IndexCache::new(dir.path().join("idgraph-search-x.idx"), 42);
        assert!(cache.save(&index).is_err());
        assert!(!dir.path().join("idgraph-search-x.partial").exists());
        assert!(cache.load().is_none());
    }

    #[test]
    fn reading_removes_what_a_save_cut_short_left_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, _) = saved(dir.path());
        let aside = dir.path().join("idgraph-search-x.partial");
        std::fs::write(&aside, b"half an index").unwrap();
        assert!(cache.load().is_some());
        assert!(!aside.exists());
    }

    /// What the file holds for fixed profiles (every kind of text the index takes), pinned
    /// to [`FORMAT`]: files saved by earlier builds are read back only while it holds.
    #[test]
    fn the_format_is_bumped_whenever_what_the_file_holds_changes() {
        let mut people = profiles();
        let mut heavy = Profile::new(ProfileId(9), 0);
        for (kind, value) in [
            ("user_id", "42"),
            ("anonymous_id", "8d1c-77"),
            ("anonymous_id", "9f8c2e4a-1b3d-4c5e-8f70-a1b2c3d4e5f6"),
            ("phone", "+1 (226) 378-5428"),
            ("ios.id", "IDFV-1"),
            ("ios.id", "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"),
        ] {
            heavy.add_identifier(&Identifier::new(kind, value), 0, "ios");
        }
        let traits = serde_json::json!({"first_name": "Brant", "last_name": "Wiza",
            "email": "Brant@Acme.io", "username": "bwiza", "title": "CTO",
            "company": {"name": "Acme", "id": "c1"}});
        heavy.apply_traits(0, 0, traits.as_object().unwrap());
        people.push(heavy);
        let dir = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(dir.path().join("i.idx"), 7);
        cache
            .save(&SearchIndex::from_profiles("default", &people))
            .unwrap();
        let digest = xxhash_rust::xxh3::xxh3_64(&std::fs::read(cache.path()).unwrap());
        assert_eq!(
            (FORMAT, digest),
            (3, 0x3aea_e423_5be1_f0f3),
            "what the index file holds changed: bump FORMAT, then pin the new pair here"
        );
    }

    #[test]
    fn a_damaged_file_is_ignored_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, _) = saved(dir.path());
        let whole = std::fs::read(cache.path()).unwrap();
        let damaged = [
            whole[..whole.len() / 2].to_vec(),
            whole[..whole.len() - 1].to_vec(),
            {
                let mut flipped = whole.clone();
                let at = whole.len() / 2;
                flipped[at] ^= 0x40;
                flipped
            },
            b"not an index at all".to_vec(),
            Vec::new(),
        ];
        for bytes in damaged {
            std::fs::write(cache.path(), &bytes).unwrap();
            assert!(cache.load().is_none(), "{} bytes", bytes.len());
        }
    }

    /// A count larger than the file could hold is refused before anything is reserved.
    #[test]
    fn a_count_larger_than_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(dir.path().join("i.idx"), 5);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&5u64.to_le_bytes());
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        bytes.extend_from_slice(b"default");
        std::fs::write(cache.path(), &bytes).unwrap();
        let file = File::open(cache.path()).unwrap();
        let mut reader = Reader::new(BufReader::new(file), bytes.len() as u64);
        let error = reader.index(&mut |stamp| stamp == 5).unwrap_err();
        assert_eq!(error.to_string(), "count larger than the file");
    }

    /// A file whose checksum holds but whose offsets do not (written by a buggy build, say)
    /// is refused by the check rather than sliced out of bounds later.
    #[test]
    fn offsets_outside_the_texts_are_refused() {
        let mut index = SearchIndex::from_profiles("default", &profiles());
        index.check().unwrap();
        let arena = index.arena.len() as u32;
        index.entries[0].start = arena;
        assert!(index.check().is_err());
        let mut index = SearchIndex::from_profiles("default", &profiles());
        let uuids = index.uuids.len() as u32;
        let packed = index.entries.iter_mut().find(|e| e.form.is_uuid()).unwrap();
        packed.start = uuids;
        assert!(index.check().is_err());
        let mut index = SearchIndex::from_profiles("default", &profiles());
        index.slots.swap(0, 1);
        assert!(index.check().is_err());
        let dir = tempfile::tempdir().unwrap();
        let mut bad = SearchIndex::from_profiles("default", &profiles());
        bad.entries[1].kind = 99;
        let cache = IndexCache::new(dir.path().join("i.idx"), 1);
        cache.save(&bad).unwrap();
        assert!(cache.load().is_none());
    }
}
