//! The search index: every searchable text of every profile, packed for fast scans.

use std::collections::HashMap;

use crate::model::identifier::{EMAIL, normalize_value};
use crate::model::profile::value_text;
use crate::model::{Identifier, Millis, Profile, ProfileId};
use crate::query::GraphRead;
use crate::query::changes::ChangedProfiles;

use super::packed::{Text, UUID_TEXT_LEN, pack_uuid, unpack_uuid};
use super::score::{char_bag, folded_bag, hard_bag, head_bag, pair_bag, start_bag};

/// The profiles a stretch of the change feed lists, read from `read`: those still there,
/// and the ids of those removed or gone since; `None` when the feed could not list them.
fn read_listed<R: GraphRead + ?Sized>(
    read: &R,
    profiles: ChangedProfiles,
) -> anyhow::Result<Option<(Vec<Profile>, Vec<ProfileId>)>> {
    let ChangedProfiles::Listed { changed, removed } = profiles else {
        return Ok(None);
    };
    let mut found = Vec::with_capacity(changed.len());
    let mut gone = removed;
    for id in changed {
        match read.profile(id)? {
            Some(profile) => found.push(profile),
            None => gone.push(id),
        }
    }
    Ok(Some((found, gone)))
}

/// Longest text indexed per entry (longer values are cut on a character boundary).
const MAX_ENTRY_BYTES: usize = 255;

/// Traits indexed besides the display name and the identifiers.
const INDEXED_TRAITS: [&str; 3] = ["username", "company", "title"];

/// A trait as people search it: text as is, an object by its `name` (Segment's `company`
/// trait is `{"name", "id", "industry", ...}`), any other value as JSON.
fn trait_label(profile: &Profile, key: &str) -> Option<String> {
    match profile.trait_value(key)? {
        serde_json::Value::Object(object) => object
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        value => Some(value_text(value)),
    }
}

/// How an entry's text is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Form {
    /// ASCII text in the arena.
    Ascii = 0,
    /// Other UTF-8 text in the arena.
    Unicode = 1,
    /// A UUID spelled in lower case, its 16 bytes in [`SearchIndex::uuids`].
    UuidLower = 2,
    /// A UUID spelled in upper case, its 16 bytes in [`SearchIndex::uuids`].
    UuidUpper = 3,
}

impl Form {
    /// The form a byte of the index file names.
    pub fn from_byte(byte: u8) -> Option<Form> {
        [Form::Ascii, Form::Unicode, Form::UuidLower, Form::UuidUpper]
            .into_iter()
            .find(|form| *form as u8 == byte)
    }

    /// Whether the text is pure ASCII (the fast scorer handles only those; SkimMatcherV2
    /// scores the others).
    pub fn is_ascii(self) -> bool {
        self != Form::Unicode
    }

    /// Whether the text is kept as a UUID's bytes.
    pub fn is_uuid(self) -> bool {
        matches!(self, Form::UuidLower | Form::UuidUpper)
    }
}

/// The text of an entry, kept in `arena` or `uuids`.
fn entry_text<'a>(arena: &'a str, uuids: &'a [[u8; 16]], entry: &Entry) -> Text<'a> {
    let start = entry.start as usize;
    if entry.form.is_uuid() {
        uuids.get(start).map_or(Text::Kept(""), |packed| {
            Text::Uuid(unpack_uuid(packed, entry.form == Form::UuidUpper))
        })
    } else {
        Text::Kept(
            arena
                .get(start..start + entry.len as usize)
                .unwrap_or_default(),
        )
    }
}

/// One searchable text of one profile: 12 bytes, for millions of them. Its word-start bag
/// is worked out from the text when a search needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Offset of the text in the arena, or its place in the UUIDs.
    pub start: u32,
    /// Length of the text in bytes.
    pub len: u8,
    /// How the text is kept.
    pub form: Form,
    /// Index into [`SearchIndex::kinds`].
    pub kind: u16,
    /// Characters present, folded (see [`folded_bag`]).
    pub bag: u32,
}

/// One profile in the index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub id: ProfileId,
    pub last_seen: Millis,
    /// First entry of the profile.
    pub first: u32,
    pub identifiers: u32,
    /// Number of entries.
    pub count: u16,
    /// Whether the first entry is the display name.
    pub named: bool,
}

/// The character bags of one profile, apart from its [`Slot`] so that the scans testing
/// them read little memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotBags {
    /// Union of the entries' char bags.
    pub bag: u64,
    /// Union of the entries' word-start bags.
    pub heads: u64,
    /// Union of the entries' [`hard_bag`]s.
    pub hard: u64,
    /// Union of the entries' first characters (see [`start_bag`]).
    pub starts: u64,
    /// Union of the entries' [`pair_bag`]s.
    pub pairs: u128,
}

impl SlotBags {
    /// The bags of a profile with no texts.
    pub(super) const EMPTY: SlotBags = SlotBags {
        bag: 0,
        heads: 0,
        hard: 0,
        starts: 0,
        pairs: 0,
    };
}

/// An index patched with the changes of a stretch of the change feed, and which profiles
/// it re-indexed and dropped.
pub struct Patched {
    pub index: SearchIndex,
    pub changed: Vec<ProfileId>,
    pub removed: Vec<ProfileId>,
}

/// An immutable snapshot of a space's searchable texts.
#[derive(Debug, Default, Clone)]
pub struct SearchIndex {
    pub(crate) space: String,
    pub(crate) arena: String,
    /// The identifier values that are UUIDs, as 16 bytes each (see [`Form`]).
    pub(crate) uuids: Vec<[u8; 16]>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) slots: Vec<Slot>,
    /// The bags of every slot, in slot order.
    pub(crate) bags: Vec<SlotBags>,
    pub(crate) kinds: Vec<String>,
    /// Kinds that are identifier types (exact matches count for those only).
    pub(crate) identifier_kind: Vec<bool>,
    /// (hash of the lower-cased value, entry) for every identifier entry, sorted: finds
    /// exact identifier values without a scan (texts are compared, so a hash shared by two
    /// values costs a comparison, never a wrong answer).
    pub(crate) exact: Vec<(u32, u32)>,
}

impl SearchIndex {
    /// Builds the index of every profile of the store's space.
    pub fn build<R: GraphRead + ?Sized>(read: &R) -> anyhow::Result<SearchIndex> {
        let expected = read.profile_count()?;
        let mut builder = IndexBuilder::sized(read.space(), expected as usize);
        read.for_each_profile(&mut |profile| {
            builder.add(profile);
            true
        })?;
        Ok(builder.finish())
    }

    /// Builds the index from profiles in memory (tests, benchmarks).
    pub fn from_profiles<'a>(
        space: &str,
        profiles: impl IntoIterator<Item = &'a Profile>,
    ) -> SearchIndex {
        let mut builder = IndexBuilder::new(space);
        for profile in profiles {
            builder.add(profile);
        }
        builder.finish()
    }

    /// This index with the profiles a stretch of the change feed lists read again from
    /// `read` (one listed as changed that is gone by now counts as removed); `None` when the
    /// feed could not list them ([`ChangedProfiles::Unknown`]).
    pub fn patched_from<R: GraphRead + ?Sized>(
        &self,
        read: &R,
        profiles: ChangedProfiles,
    ) -> anyhow::Result<Option<Patched>> {
        Ok(read_listed(read, profiles)?.map(|(found, gone)| Patched {
            index: self.patched(&found, &gone),
            changed: found.iter().map(|p| p.id).collect(),
            removed: gone,
        }))
    }

    /// [`SearchIndex::patched_from`], taking this index (see [`SearchIndex::into_patched`]).
    pub fn into_patched_from<R: GraphRead + ?Sized>(
        self,
        read: &R,
        profiles: ChangedProfiles,
    ) -> anyhow::Result<Option<SearchIndex>> {
        Ok(read_listed(read, profiles)?.map(|(found, gone)| self.into_patched(&found, &gone)))
    }

    /// Whether every offset and reference holds, so no lookup can fail: texts on character
    /// boundaries inside the arena, known kinds, slots in profile order over their entries,
    /// exact values sorted and pointing at entries.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.kinds.len() != self.identifier_kind.len() || self.bags.len() != self.slots.len() {
            return Err("parts of different lengths".into());
        }
        for e in &self.entries {
            let (start, end) = (e.start as usize, e.start as usize + e.len as usize);
            let inside = if e.form.is_uuid() {
                start < self.uuids.len() && e.len as usize == UUID_TEXT_LEN
            } else {
                end <= self.arena.len()
                    && self.arena.is_char_boundary(start)
                    && self.arena.is_char_boundary(end)
            };
            if !inside || usize::from(e.kind) >= self.kinds.len() {
                return Err("an entry outside the texts".into());
            }
        }
        let mut previous: Option<&Slot> = None;
        for slot in &self.slots {
            if slot.first as usize + slot.count as usize > self.entries.len()
                || previous.is_some_and(|p| p.id >= slot.id || p.first > slot.first)
            {
                return Err("profiles out of order".into());
            }
            previous = Some(slot);
        }
        if self.exact.windows(2).any(|w| w[0] > w[1])
            || self
                .exact
                .iter()
                .any(|&(_, entry)| entry as usize >= self.entries.len())
        {
            return Err("exact values out of order".into());
        }
        Ok(())
    }

    /// The space the index was built from.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// Number of profiles indexed.
    pub fn profile_count(&self) -> usize {
        self.slots.len()
    }

    /// Number of searchable texts.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The identifier types and other fields indexed (`name`, `email`, ...).
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    pub(crate) fn text(&self, entry: &Entry) -> Text<'_> {
        entry_text(&self.arena, &self.uuids, entry)
    }

    pub(crate) fn slot_entries(&self, slot: &Slot) -> &[Entry] {
        &self.entries[slot.first as usize..slot.first as usize + slot.count as usize]
    }

    /// Slots holding an identifier whose value is exactly `text` (emails case-insensitively),
    /// optionally of one kind.
    pub(crate) fn exact_slots(&self, text: &str, kind: Option<u16>) -> Vec<u32> {
        let key = exact_hash(text);
        let start = self.exact.partition_point(|(h, _)| *h < key);
        let mut out = Vec::new();
        for &(h, entry) in &self.exact[start..] {
            if h != key {
                break;
            }
            let e = &self.entries[entry as usize];
            let hay = self.text(e);
            let hay: &str = &hay;
            let same = hay == text || (text.contains('@') && hay.eq_ignore_ascii_case(text));
            if same && kind.is_none_or(|k| k == e.kind) {
                let slot = self.slot_of(entry);
                if !out.contains(&slot) {
                    out.push(slot);
                }
            }
        }
        out
    }

    /// The slot of a profile (slots are in profile id order, as the store lists profiles
    /// and [`SearchIndex::patched`] keeps them).
    pub(crate) fn slot_of_profile(&self, id: ProfileId) -> Option<u32> {
        self.slots
            .binary_search_by_key(&id, |slot| slot.id)
            .ok()
            .map(|i| i as u32)
    }

    /// The slot holding an entry.
    fn slot_of(&self, entry: u32) -> u32 {
        self.slots.partition_point(|slot| slot.first <= entry) as u32 - 1
    }

    /// The profile's display name (names are kept as text, never packed).
    pub(crate) fn name_of(&self, slot: &Slot) -> Option<&str> {
        match self.text(
            self.entries
                .get(slot.first as usize)
                .filter(|_| slot.named)?,
        ) {
            Text::Kept(name) => Some(name),
            Text::Uuid(_) => None,
        }
    }

    /// Bytes the index's contents take in memory (not the room reserved past them, which
    /// is not resident until written).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.arena.len()
            + self.uuids.len() * size_of::<[u8; 16]>()
            + self.entries.len() * size_of::<Entry>()
            + self.slots.len() * size_of::<Slot>()
            + self.bags.len() * size_of::<SlotBags>()
            + self.exact.len() * size_of::<(u32, u32)>()
    }
}

/// Profiles a sized build reads before it reserves room for the rest (see
/// [`IndexBuilder::sized`]).
const SAMPLE_PROFILES: usize = 4_096;

/// Builds a [`SearchIndex`] one profile at a time.
#[derive(Debug)]
pub struct IndexBuilder {
    space: String,
    arena: String,
    uuids: Vec<[u8; 16]>,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    bags: Vec<SlotBags>,
    kinds: Vec<String>,
    identifier_kind: Vec<bool>,
    kind_ids: HashMap<String, u16>,
    /// Profiles expected, when known: room for them is reserved up front.
    expected: Option<usize>,
    full: bool,
}

impl IndexBuilder {
    /// An empty builder for a space.
    pub fn new(space: &str) -> IndexBuilder {
        IndexBuilder {
            space: space.to_string(),
            arena: String::new(),
            uuids: Vec::new(),
            entries: Vec::new(),
            slots: Vec::new(),
            bags: Vec::new(),
            kinds: Vec::new(),
            identifier_kind: Vec::new(),
            kind_ids: HashMap::new(),
            expected: None,
            full: false,
        }
    }

    /// A builder for about `profiles` profiles. Growing a vector by doubling holds the old
    /// and the new copy at once (a build of 1M profiles would peak about 300 MB above the
    /// finished index), so this one reserves the profiles' room at once and, after the first
    /// [`SAMPLE_PROFILES`], the room their texts will take at the rate seen so far.
    pub fn sized(space: &str, profiles: usize) -> IndexBuilder {
        let mut builder = IndexBuilder::new(space);
        builder.slots.reserve_exact(profiles);
        builder.bags.reserve_exact(profiles);
        builder.expected = Some(profiles);
        builder
    }

    /// Reserves the texts' room once the sample is read (with a tenth to spare).
    fn reserve_for_the_rest(&mut self) {
        let Some(expected) = self.expected.take() else {
            return;
        };
        let (read, rest) = (
            self.slots.len().max(1),
            expected.saturating_sub(self.slots.len()),
        );
        let for_the_rest = |sampled: usize| rest * sampled * 11 / (10 * read) + 1;
        let entries = for_the_rest(self.entries.len());
        let bytes = for_the_rest(self.arena.len());
        let uuids = for_the_rest(self.uuids.len());
        self.entries.reserve_exact(entries);
        self.arena.reserve_exact(bytes);
        self.uuids.reserve_exact(uuids);
    }

    /// Adds a profile's name, identifiers and key traits.
    pub fn add(&mut self, profile: &Profile) {
        let first = self.entries.len() as u32;
        let named = profile
            .display_name()
            .is_some_and(|display| self.push("name", false, &display).is_some());
        for held in &profile.identifiers {
            self.push(&held.id.kind, true, &held.id.value);
        }
        for key in INDEXED_TRAITS {
            if let Some(value) = trait_label(profile, key) {
                self.push(key, false, &value);
            }
        }
        // An email the profile holds only as a trait (a role mailbox the rules refuse as an
        // identifier, say) is still how support looks the customer up.
        if let Some(email) = profile
            .trait_text(EMAIL)
            .map(|e| normalize_value(EMAIL, &e))
            && !profile.has(&Identifier::new(EMAIL, email.as_str()))
        {
            self.push(EMAIL, true, &email);
        }
        self.finish_slot(
            profile.id,
            first,
            named,
            profile.identifiers.len() as u32,
            profile.last_seen,
        );
    }

    /// An empty builder for another index's space, with its kinds (and their numbers).
    pub(super) fn with_kinds_of(index: &SearchIndex) -> IndexBuilder {
        let mut builder = IndexBuilder::new(&index.space);
        builder.kinds = index.kinds.clone();
        builder.identifier_kind = index.identifier_kind.clone();
        builder.kind_ids = index
            .kinds
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u16))
            .collect();
        builder
    }

    /// Whether an entry added so far is an identifier value.
    fn is_identifier(&self, entry: u32) -> bool {
        self.identifier_kind[self.entries[entry as usize].kind as usize]
    }

    /// The text of an entry added so far.
    fn text(&self, entry: u32) -> Text<'_> {
        entry_text(&self.arena, &self.uuids, &self.entries[entry as usize])
    }

    fn finish_slot(
        &mut self,
        id: ProfileId,
        first: u32,
        named: bool,
        identifiers: u32,
        last_seen: Millis,
    ) {
        let count = (self.entries.len() as u32 - first).min(u32::from(u16::MAX)) as u16;
        self.entries.truncate(first as usize + count as usize);
        let mut bags = SlotBags::EMPTY;
        for entry in &self.entries[first as usize..] {
            let text = &*entry_text(&self.arena, &self.uuids, entry);
            bags.bag |= char_bag(text);
            bags.heads |= head_bag(text);
            bags.hard |= hard_bag(text);
            bags.starts |= start_bag(text);
            bags.pairs |= pair_bag(text);
        }
        self.slots.push(Slot {
            id,
            last_seen,
            first,
            identifiers,
            count,
            named,
        });
        self.bags.push(bags);
        if self.slots.len() == SAMPLE_PROFILES {
            self.reserve_for_the_rest();
        }
    }

    fn push(&mut self, kind: &str, identifier: bool, text: &str) -> Option<u32> {
        let text = cut(text.trim(), MAX_ENTRY_BYTES);
        if text.is_empty() {
            return None;
        }
        let kind = match self.kind_ids.get(kind) {
            Some(&k) => k,
            None => {
                let k = self.kinds.len() as u16;
                self.kinds.push(kind.to_string());
                self.identifier_kind.push(identifier);
                self.kind_ids.insert(kind.to_string(), k);
                k
            }
        };
        if self.full
            || self.arena.len() + text.len() > u32::MAX as usize
            || self.uuids.len() >= u32::MAX as usize
        {
            self.full = true;
            return None;
        }
        let index = self.entries.len() as u32;
        let bag = folded_bag(char_bag(text));
        let len = text.len() as u8;
        // Identifier values only: a name that happens to be a UUID stays text.
        let (start, form) = match pack_uuid(text).filter(|_| identifier) {
            Some((packed, upper)) => {
                self.uuids.push(packed);
                let form = if upper {
                    Form::UuidUpper
                } else {
                    Form::UuidLower
                };
                (self.uuids.len() as u32 - 1, form)
            }
            None => {
                let start = self.arena.len() as u32;
                self.arena.push_str(text);
                let form = if text.is_ascii() {
                    Form::Ascii
                } else {
                    Form::Unicode
                };
                (start, form)
            }
        };
        let entry = Entry {
            start,
            len,
            form,
            kind,
            bag,
        };
        self.entries.push(entry);
        Some(index)
    }

    /// The finished index.
    pub fn finish(self) -> SearchIndex {
        let identifiers = (0..self.entries.len() as u32).filter(|&entry| self.is_identifier(entry));
        // Room for all at once: growing by doubling would hold two copies (about 70 MB at
        // 1M profiles).
        let mut exact = Vec::with_capacity(identifiers.clone().count());
        exact.extend(identifiers.map(|entry| (exact_hash(&self.text(entry)), entry)));
        exact.sort_unstable();
        self.into_index(exact)
    }

    /// The finished index, with its exact values (sorted) already worked out.
    fn into_index(mut self, exact: Vec<(u32, u32)>) -> SearchIndex {
        self.arena.shrink_to_fit();
        self.uuids.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.slots.shrink_to_fit();
        self.bags.shrink_to_fit();
        SearchIndex {
            exact,
            space: self.space,
            arena: self.arena,
            uuids: self.uuids,
            entries: self.entries,
            slots: self.slots,
            bags: self.bags,
            kinds: self.kinds,
            identifier_kind: self.identifier_kind,
        }
    }
}

/// 32-bit FNV-1a of the ASCII-lower-cased text.
fn exact_hash(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    })
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identifier;
    use serde_json::json;

    pub(crate) fn person(id: u64, name: &str, ids: &[&str]) -> Profile {
        let mut p = Profile::new(ProfileId(id), 1_000 * id as i64);
        for text in ids {
            p.add_identifier(&Identifier::parse(text).unwrap(), 1_000, "web");
        }
        let traits = json!({ "name": name });
        p.record_event(1_000 * id as i64, id, traits.as_object().unwrap());
        p
    }

    #[test]
    fn indexes_names_identifiers_and_traits() {
        let a = person(1, "Ana Silva", &["email:ana@acme.io", "user_id:u1"]);
        let index = SearchIndex::from_profiles("default", [&a]);
        assert_eq!(index.profile_count(), 1);
        assert_eq!(index.entry_count(), 3);
        assert_eq!(index.kinds(), ["name", "email", "user_id"]);
        assert_eq!(index.name_of(&index.slots[0]), Some("Ana Silva"));
    }

    #[test]
    fn a_company_object_is_indexed_by_its_name() {
        let mut p = person(1, "Ana Silva", &["email:ana@acme.io"]);
        let traits =
            json!({"company": {"name": "Becker Group", "industry": "Retail"}, "title": "CTO"});
        p.record_event(5_000, 2, traits.as_object().unwrap());
        let index = SearchIndex::from_profiles("default", [&p]);
        let texts: Vec<String> = index
            .slot_entries(&index.slots[0])
            .iter()
            .map(|e| index.text(e).to_string())
            .collect();
        assert_eq!(texts, ["Ana Silva", "ana@acme.io", "Becker Group", "CTO"]);
    }

    #[test]
    fn patching_replaces_and_drops_profiles() {
        let a = person(1, "Ana Silva", &["email:ana@acme.io"]);
        let b = person(2, "Bo Chen", &["email:bo@acme.io"]);
        let c = person(3, "Cy Diaz", &["email:cy@acme.io"]);
        let index = SearchIndex::from_profiles("default", [&a, &b, &c]);
        let mut a2 = a.clone();
        a2.add_identifier(&Identifier::new("phone", "+100"), 5, "web");
        let d = person(4, "Di Eve", &["email:di@acme.io"]);
        let patched = index.patched(&[a2, d], &[ProfileId(2)]);
        let ids: Vec<u64> = patched.slots.iter().map(|s| s.id.0).collect();
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(patched.slot_entries(&patched.slots[0]).len(), 3);
        assert_eq!(patched.name_of(&patched.slots[1]), Some("Cy Diaz"));
    }

    #[test]
    fn a_sized_build_keeps_every_text_and_exact_value() {
        let count = 2 * SAMPLE_PROFILES as u64 + 3;
        let profiles: Vec<Profile> = (1..=count)
            .map(|i| {
                let email = format!("email:p{i}@example.com");
                let user = format!("user_id:u{i}");
                person(i, &format!("Person {i}"), &[&email, &user])
            })
            .collect();
        // Fewer expected than come: the room reserved runs out and the vectors grow.
        let mut builder = IndexBuilder::sized("default", count as usize / 2);
        for p in &profiles {
            builder.add(p);
        }
        let index = builder.finish();
        assert_eq!(index.profile_count(), count as usize);
        for i in [1, SAMPLE_PROFILES as u64, SAMPLE_PROFILES as u64 + 1, count] {
            let slot = &index.slots[i as usize - 1];
            assert_eq!(slot.id, ProfileId(i));
            assert_eq!(index.name_of(slot), Some(format!("Person {i}").as_str()));
            let texts: Vec<String> = index
                .slot_entries(slot)
                .iter()
                .map(|e| index.text(e).to_string())
                .collect();
            assert_eq!(texts[1..], [format!("p{i}@example.com"), format!("u{i}")]);
            let found = index.exact_slots(&format!("P{i}@Example.com"), None);
            assert_eq!(found, [i as u32 - 1], "exact email of profile {i}");
            assert_eq!(index.exact_slots(&format!("u{i}"), None), [i as u32 - 1]);
        }
    }

    #[test]
    fn a_nameless_profile_shows_no_name_after_patching() {
        let mut a = Profile::new(ProfileId(1), 0);
        a.add_identifier(&Identifier::parse("email:a@x.io").unwrap(), 0, "web");
        let b = person(2, "Bo Chen", &["email:bo@acme.io"]);
        let index = SearchIndex::from_profiles("default", [&a, &b]);
        let patched = index.patched(&[], &[]);
        assert_eq!(patched.name_of(&patched.slots[0]), None);
        assert_eq!(patched.name_of(&patched.slots[1]), Some("Bo Chen"));
    }

    /// What a search can read of an index, independent of where its texts lie: per profile
    /// its facts, bags and texts, and the profiles each identifier value finds exactly.
    fn readable(index: &SearchIndex) -> Vec<String> {
        index.check().unwrap();
        index
            .slots
            .iter()
            .zip(&index.bags)
            .map(|(slot, bags)| {
                let texts: Vec<String> = index
                    .slot_entries(slot)
                    .iter()
                    .map(|e| {
                        let exact: Vec<u64> = index
                            .exact_slots(&index.text(e), Some(e.kind))
                            .into_iter()
                            .map(|s| index.slots[s as usize].id.0)
                            .collect();
                        format!(
                            "{}:{} {:x} {} {exact:?}",
                            index.kinds[e.kind as usize],
                            &*index.text(e),
                            e.bag,
                            e.form.is_ascii()
                        )
                    })
                    .collect();
                format!(
                    "{} {} {} {:?} {:x} {:x} {:x} {:x} {:x} {texts:?}",
                    slot.id,
                    slot.last_seen,
                    slot.identifiers,
                    index.name_of(slot),
                    bags.bag,
                    bags.heads,
                    bags.hard,
                    bags.starts,
                    bags.pairs
                )
            })
            .collect()
    }

    fn random_person(id: u64, variant: u8) -> Profile {
        let names = ["Ana Silva", "Bo Chen", "Zoë Ålund", ""];
        let mut ids = vec![format!("email:p{}@x.io", id % 7)];
        if variant % 2 == 0 {
            ids.push(format!("user_id:u{id}-{variant}"));
        }
        if variant % 3 == 0 {
            ids.push(format!("anonymous_id:{variant}-{id}"));
        }
        // UUIDs, which the index keeps as 16 bytes, between texts it keeps as text.
        if variant % 2 == 1 {
            ids.push(format!(
                "anonymous_id:{id:08x}-1b3d-4c5e-8f70-a1b2c3d4e5f{variant}"
            ));
        }
        if variant >= 4 {
            ids.push(format!("ios.id:{id:08X}-C36C-495A-93FC-0C247A3E6E5F"));
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut p = person(id, names[usize::from(variant) % names.len()], &ids);
        if names[usize::from(variant) % names.len()].is_empty() {
            p.traits.clear();
        }
        p
    }

    proptest::proptest! {
        #[test]
        fn a_patched_index_reads_as_one_built_anew(
            start in proptest::collection::btree_map(1..60u64, 0..6u8, 0..40),
            changes in proptest::collection::btree_map(
                1..70u64,
                proptest::option::of(0..6u8),
                0..12,
            ),
        ) {
            let before: Vec<Profile> = start.iter().map(|(&id, &v)| random_person(id, v)).collect();
            let index = SearchIndex::from_profiles("default", &before);
            let mut after = start.clone();
            let mut changed = Vec::new();
            let mut removed = Vec::new();
            for (&id, change) in &changes {
                match change {
                    Some(v) => {
                        after.insert(id, *v);
                        changed.push(random_person(id, *v));
                    }
                    None => {
                        after.remove(&id);
                        removed.push(ProfileId(id));
                    }
                }
            }
            let rebuilt: Vec<Profile> =
                after.iter().map(|(&id, &v)| random_person(id, v)).collect();
            let expected = SearchIndex::from_profiles("default", &rebuilt);
            let patched = index.patched(&changed, &removed);
            proptest::prop_assert_eq!(readable(&patched), readable(&expected));
            // Patching what a patch made keeps it so, and a patch taking the index makes
            // the same.
            let again = patched.patched(&changed[..changed.len() / 2], &[]);
            proptest::prop_assert_eq!(readable(&again), readable(&expected));
            let taken = index.into_patched(&changed, &removed);
            proptest::prop_assert_eq!(readable(&taken), readable(&expected));
        }
    }

    #[test]
    fn cuts_long_values_on_char_boundaries() {
        let long = "é".repeat(200);
        assert!(cut(&long, 255).len() <= 255);
        assert!(cut(&long, 255).chars().all(|c| c == 'é'));
    }
}
