//! Store integrity: [`SpaceStore::check`] verifies every invariant between a space's
//! records and reports each problem; [`SpaceStore::repair`] rebuilds what is derived from
//! the source of truth and writes the fixes in one atomic batch.
//!
//! Source of truth (never rewritten, only read):
//! - the events, in bundles (`T`) each filed under a timeline cluster;
//! - the profiles' membership: which identifiers and clusters each profile holds, its pins
//!   and merge count (`P`), which record the outcome of resolution and manual repair;
//! - the journal (`J`), links (`A`) and violations (`V`): history and provenance.
//!
//! Derived, rebuilt by repair:
//! - identifier → owner (`I`) and cluster → profile (`C`), from the profiles' membership;
//! - the messageId lists (`D`), from the events;
//! - each profile's event count, traits (newest wins by event time), first/last seen and
//!   violation count, from the events (and violations) in its clusters;
//! - the per-profile history index (`H`), from the journal;
//! - the counters (`M`): next ids above every id in use, profile and event counts;
//! - audience membership (`X`, `Y`, `Z`), from a fresh evaluation of the profiles and
//!   their events (see [`super::check_audience`] for what is checked).
//!
//! Repair also mends membership when profile records are lost: a profile record that no
//! longer decodes is rebuilt from the identifiers (`I`) and clusters (`C`) pointing at it
//! and the events filed under them; identifiers that events carry but no profile holds join
//! the profile holding the event; an identifier held by two profiles stays with the one its
//! `I` entry names. Unreadable records are removed and listed (a later event, journal or
//! link cannot be recovered from a record that does not decode: restore a backup for
//! those). Of events sharing a messageId only the first found (by cluster, then bundle) is
//! kept; a bundle whose key does not name its smallest seq is filed again under it. Records written by a newer idgraph (a newer format version) are
//! never touched: repair refuses and names the version.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::model::{
    CallType, Event, Identifier, JournalAction, JournalEntry, Link, Profile, ProfileId,
    ProfileIdentifier, Violation, ViolationReason,
};

use super::bundle::PlainEvent;
use super::check_audience::Live;
use super::codec::{CodecError, decode, encode};
use super::event_codec;
use super::ingest::UndoData;
use super::keys::{self, tag};
use super::messages::{self, message_hash};
use super::owners;
use super::space::{Counters, SpaceStore};
use super::{SPACE_TREE_PREFIX, Store};

/// The meta record holding a space's counters.
const COUNTERS: &str = "counters";

/// messageIds per `D` list that repair writes.
const MESSAGES_PER_LIST: usize = 4096;

/// Problems kept per space; more are counted, not listed.
pub const MAX_LISTED_PROBLEMS: usize = 10_000;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The kind of record or invariant: `counters`, `profile`, `identifier`, `cluster`,
    /// `event`, `message`, `violation`, `link`, `journal`, `undo`, `history`, `audience`,
    /// `format`.
    pub code: &'static str,
    /// What is wrong, naming the records involved.
    pub message: String,
}

/// How many records of each kind a space holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    /// Profile records (`P`).
    pub profiles: u64,
    /// Identifier owner entries (`I`).
    pub identifiers: u64,
    /// Events (in the bundles).
    pub events: u64,
    /// Event bundles (`T`).
    pub bundles: u64,
    /// messageId lists (`D`), one per batch.
    pub messages: u64,
    /// Cluster map entries (`C`).
    pub clusters: u64,
    /// Links: those kept with the events that made them, and `A` records (manual merges,
    /// events stored before links moved into them).
    pub links: u64,
    /// Violations (`V`).
    pub violations: u64,
    /// Journal entries (`J`).
    pub journal: u64,
    /// Undo data records (`U`).
    pub undo: u64,
    /// Per-profile history entries (`H`).
    pub history: u64,
    /// Audience records: members (`X`), standings (`Y`) and expiries (`Z`).
    pub audiences: u64,
    /// Records under tags this build does not know (written by other features or a newer
    /// build); counted, not verified.
    pub other: u64,
}

/// The result of checking one space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpaceCheck {
    /// The space checked.
    pub space: String,
    /// How many records of each kind it holds.
    pub records: RecordCounts,
    /// Problems found (at most [`MAX_LISTED_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub unlisted_problems: u64,
}

impl SpaceCheck {
    /// Whether every invariant holds.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.unlisted_problems == 0
    }

    /// Number of problems found.
    pub fn problem_count(&self) -> u64 {
        self.problems.len() as u64 + self.unlisted_problems
    }

    pub(super) fn report(&mut self, code: &'static str, message: String) {
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(Problem { code, message });
        } else {
            self.unlisted_problems += 1;
        }
    }
}

/// What a repair changed in one space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpaceRepair {
    /// The space repaired.
    pub space: String,
    /// One line per change.
    pub actions: Vec<String>,
}

impl Store {
    /// Names of the spaces that hold a tree in the store (config-only spaces left out).
    pub fn stored_space_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok())
            .filter_map(|n| n.strip_prefix(SPACE_TREE_PREFIX))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// Opens a stored space for checking and repair, even when its counters do not decode
    /// (the check reports them, repair rebuilds them). The space is not cached: use it
    /// only for [`SpaceStore::check`] and [`SpaceStore::repair`].
    pub fn space_for_check(&self, name: &str) -> anyhow::Result<SpaceStore> {
        let rules = self
            .config
            .rules_for(name)
            .map_err(|e| anyhow::anyhow!("space {name}: {e}"))?;
        let tree = self.db.open_tree(format!("{SPACE_TREE_PREFIX}{name}"))?;
        super::space::prepare_layout(name, &tree)?;
        Ok(SpaceStore::open_for_check(
            name,
            tree,
            rules,
            self.config.audiences().clone(),
        ))
    }
}

/// A key as text for messages: numeric keys as their numbers, other bytes printable or as
/// `\xNN`.
fn key_text(key: &[u8]) -> String {
    let n = |at: usize| keys::u64_at(key, at).unwrap_or(0);
    match (key.first().copied(), key.len()) {
        (Some(t @ (tag::PROFILE | tag::JOURNAL | tag::UNDO | tag::CLUSTER)), 9) => {
            format!("{}{}", t as char, n(1))
        }
        (Some(tag::HISTORY), 17) => format!("H(p{} #{})", n(1), n(9)),
        (Some(tag::TIMELINE), 17) => format!("T(cluster {} bundle {})", n(1), n(9)),
        (Some(tag::MESSAGE), 9) => format!("D({})", n(1)),
        (Some(tag::VIOLATION), 19) => format!("V(cluster {} seq {})", n(1), n(9)),
        _ => {
            let mut out = String::new();
            for b in key {
                if b.is_ascii_graphic() {
                    out.push(*b as char);
                } else {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

fn owner_from(value: &[u8]) -> Option<u64> {
    (value.len() == 8).then(|| keys::u64_at(value, 0)).flatten()
}

/// What a scan of the graph records (counters, profiles, owners, clusters) found.
#[derive(Default)]
struct Graph {
    counters: Option<Counters>,
    profiles: BTreeMap<u64, Profile>,
    /// Profile keys whose record does not decode.
    lost_profiles: BTreeSet<u64>,
    owners: HashMap<Identifier, u64>,
    cluster_map: BTreeMap<u64, u64>,
    /// Keys of records that do not decode (besides profiles), with the reason.
    unreadable: Vec<(Vec<u8>, String)>,
    /// A record carries a newer format version.
    newer_version: Option<u8>,
    /// The event dictionary record does not decode: compressed events cannot be read.
    dictionary_lost: bool,
    /// Identifiers a sign-out released (recorded as violations): events and links carry
    /// them while no profile need hold them.
    released: HashSet<Identifier>,
}

/// Per-profile facts computed from the events (and violations) in its clusters.
struct Derived {
    events: u64,
    first: Option<i64>,
    last: Option<i64>,
    /// Accumulates the traits of the events (only its `traits` field is used).
    traits: Profile,
}

impl Derived {
    fn new() -> Derived {
        Derived {
            events: 0,
            first: None,
            last: None,
            traits: Profile::new(ProfileId(0), 0),
        }
    }
}

/// What the event scan found.
#[derive(Default)]
struct Events {
    derived: HashMap<u64, Derived>,
    /// (cluster, seq) of every event kept.
    filed: HashSet<(u64, u64)>,
    max_seq: u64,
    count: u64,
    /// Events to remove (second copies of a messageId): cluster, bundle, seq.
    duplicates: Vec<(u64, u64, u64)>,
    /// Bundles (cluster, key seq) to file again: their key does not name their smallest
    /// seq, or they hold a duplicate.
    rewrite: BTreeSet<(u64, u64)>,
    /// The messageId hash of every event kept, with its seq.
    messages: HashMap<u128, u64>,
    /// The `D` lists disagree with the events.
    messages_stale: bool,
    /// Identifiers events carry that no profile holds: the profile holding the event,
    /// first/last event time and source.
    unheld: BTreeMap<Identifier, (u64, i64, i64, String)>,
    /// Event time range and source per identifier, for identifiers repair adds to profiles.
    seen: HashMap<Identifier, (i64, i64, String)>,
}

impl Events {
    /// (cluster, seq) of the duplicate events repair removes.
    fn duplicate_places(&self) -> HashSet<(u64, u64)> {
        self.duplicates.iter().map(|(c, _, s)| (*c, *s)).collect()
    }
}

impl SpaceStore {
    /// Verifies every invariant of the space's records and reports each problem found.
    pub fn check(&self) -> anyhow::Result<SpaceCheck> {
        let _writer = self.lock_writer()?;
        let _gate = self.read_gate();
        let mut out = SpaceCheck {
            space: self.name.clone(),
            ..SpaceCheck::default()
        };
        let graph = self.scan_graph(&mut out.records)?;
        for (key, reason) in &graph.unreadable {
            out.report(
                "format",
                format!("record {} does not decode: {reason}", key_text(key)),
            );
        }
        for id in &graph.lost_profiles {
            out.report("profile", format!("profile p{id}: record does not decode"));
        }
        let cluster_owner = self.check_membership(&graph, &mut out);
        let wanted = HashSet::new();
        let mut events = self.scan_events(&graph, &cluster_owner, &wanted, &mut out)?;
        self.check_messages(&mut events, &mut out)?;
        let derived_violations = self.check_violations(&cluster_owner, &events, &mut out)?;
        self.check_profiles(&graph, &events, &derived_violations, &mut out);
        let skip = events.duplicate_places();
        let live = Live {
            profiles: &graph.profiles,
            lost: &graph.lost_profiles,
            skip: &skip,
        };
        out.records.audiences = self.check_audiences(&live, &mut out)?;
        let maxima = self.check_provenance(&graph, &events.messages, &mut out)?;
        check_counters(&graph, &events, &maxima, &out.records.clone(), &mut out);
        self.count_other_records(&mut out.records)?;
        Ok(out)
    }

    /// Reads the counters, profiles, identifier owners and cluster map.
    fn scan_graph(&self, counts: &mut RecordCounts) -> anyhow::Result<Graph> {
        let mut graph = Graph::default();
        let note = |graph: &mut Graph, key: &[u8], error: CodecError| {
            if let CodecError::Version(v) = error {
                graph.newer_version = Some(v);
            }
            graph.unreadable.push((key.to_vec(), error.to_string()));
        };
        if let Some(bytes) = self.tree.get(keys::meta(COUNTERS))? {
            match decode::<Counters>(&bytes) {
                Ok(c) => graph.counters = Some(c),
                Err(e) => note(&mut graph, &keys::meta(COUNTERS), e),
            }
        }
        let dictionary = keys::meta(event_codec::DICTIONARY_META);
        if let Some(bytes) = self.tree.get(&dictionary)? {
            if let Err(e) = event_codec::read_dictionary(&bytes) {
                graph.dictionary_lost = true;
                note(&mut graph, &dictionary, e);
            }
        }
        for item in self.tree.scan_prefix([tag::PROFILE]) {
            let (key, value) = item?;
            counts.profiles += 1;
            let Some(id) = (key.len() == 9).then(|| keys::u64_at(&key, 1)).flatten() else {
                graph
                    .unreadable
                    .push((key.to_vec(), "malformed profile key".into()));
                continue;
            };
            match decode::<Profile>(&value) {
                Ok(profile) => {
                    graph.profiles.insert(id, profile);
                }
                Err(CodecError::Version(v)) => {
                    graph.newer_version = Some(v);
                    graph
                        .unreadable
                        .push((key.to_vec(), CodecError::Version(v).to_string()));
                }
                Err(_) => {
                    graph.lost_profiles.insert(id);
                }
            }
        }
        for item in owners::scan_buckets(&self.tree) {
            match item? {
                (_, Ok(held)) => {
                    counts.identifiers += held.len() as u64;
                    graph.owners.extend(held);
                }
                (key, Err(reason)) => graph.unreadable.push((key.to_vec(), reason)),
            }
        }
        graph.released = self.released_identifiers()?;
        for item in self.tree.scan_prefix([tag::CLUSTER]) {
            let (key, value) = item?;
            counts.clusters += 1;
            match (
                (key.len() == 9).then(|| keys::u64_at(&key, 1)).flatten(),
                owner_from(&value),
            ) {
                (Some(cluster), Some(owner)) => {
                    graph.cluster_map.insert(cluster, owner);
                }
                _ => graph
                    .unreadable
                    .push((key.to_vec(), "malformed cluster entry".into())),
            }
        }
        Ok(graph)
    }

    /// Identifier and cluster membership; returns cluster → the profile listing it.
    fn check_membership(&self, graph: &Graph, out: &mut SpaceCheck) -> HashMap<u64, u64> {
        let mut cluster_owner: HashMap<u64, u64> = HashMap::new();
        let mut holder: HashMap<&Identifier, u64> = HashMap::new();
        for (id, profile) in &graph.profiles {
            if profile.id.0 != *id {
                out.report(
                    "profile",
                    format!("profile record under p{id} says it is {}", profile.id),
                );
            }
            let mut listed = HashSet::new();
            for held in &profile.identifiers {
                if !listed.insert(&held.id) {
                    out.report("profile", format!("p{id} lists {} twice", held.id));
                    continue;
                }
                if let Some(other) = holder.insert(&held.id, *id) {
                    out.report(
                        "identifier",
                        format!("{} is held by two profiles: p{other} and p{id}", held.id),
                    );
                }
                match graph.owners.get(&held.id) {
                    None => out.report(
                        "identifier",
                        format!("{} is held by p{id} but has no owner entry", held.id),
                    ),
                    Some(owner) if owner != id => out.report(
                        "identifier",
                        format!(
                            "{} is held by p{id} but its owner entry names p{owner}",
                            held.id
                        ),
                    ),
                    Some(_) => {}
                }
            }
            for cluster in &profile.clusters {
                if let Some(other) = cluster_owner.insert(*cluster, *id) {
                    if other == *id {
                        out.report("profile", format!("p{id} lists cluster {cluster} twice"));
                    } else {
                        out.report(
                            "cluster",
                            format!(
                                "cluster {cluster} is listed by two profiles: p{other} and p{id}"
                            ),
                        );
                    }
                }
                let mapped = graph.cluster_map.get(cluster);
                if *cluster != *id && mapped != Some(id) {
                    out.report(
                        "cluster",
                        format!(
                            "cluster {cluster} of p{id} maps to {}",
                            mapped.map_or("nothing".to_string(), |p| format!("p{p}"))
                        ),
                    );
                }
            }
        }
        for (id, owner) in &graph.owners {
            if !graph.profiles.contains_key(owner) {
                out.report(
                    "identifier",
                    format!("{id}: owner entry names p{owner}, which does not exist"),
                );
            } else if holder.get(id) != Some(owner) {
                out.report(
                    "identifier",
                    format!("{id}: owner entry names p{owner}, which does not hold it"),
                );
            }
        }
        for (cluster, owner) in &graph.cluster_map {
            if cluster_owner.get(cluster) != Some(owner) {
                out.report(
                    "cluster",
                    format!("cluster {cluster} maps to p{owner}, which does not list it"),
                );
            }
        }
        cluster_owner
    }

    /// One pass over the events: decodes each, checks its key, its `D` entry and that a
    /// profile holds its identifiers, and folds it into its profile's derived facts.
    /// `wanted` names identifiers whose event time range and source are collected.
    fn scan_events(
        &self,
        graph: &Graph,
        cluster_owner: &HashMap<u64, u64>,
        wanted: &HashSet<Identifier>,
        out: &mut SpaceCheck,
    ) -> anyhow::Result<Events> {
        let mut events = Events::default();
        let mut seqs: HashSet<u64> = HashSet::new();
        let mut holder: HashMap<&Identifier, u64> = HashMap::new();
        for (id, profile) in &graph.profiles {
            for held in &profile.identifiers {
                holder.entry(&held.id).or_insert(*id);
            }
        }
        let mut orphan_clusters: BTreeMap<u64, u64> = BTreeMap::new();
        for item in self.tree.scan_prefix([tag::TIMELINE]) {
            let (key, value) = item?;
            out.records.bundles += 1;
            let Some((cluster, first_seq)) = keys::timeline_entry(&key) else {
                out.report(
                    "event",
                    format!("malformed event bundle key {}", key_text(&key)),
                );
                continue;
            };
            let held = match self.events.decode_bundle(&value) {
                Ok(held) => held,
                Err(e) => {
                    out.report(
                        "event",
                        format!(
                            "event bundle {first_seq} of cluster {cluster} does not decode: {e}"
                        ),
                    );
                    continue;
                }
            };
            let smallest = held.iter().map(|e| e.seq).min();
            if smallest != Some(first_seq) {
                out.report(
                    "event",
                    format!(
                        "event bundle {first_seq} of cluster {cluster} holds seqs from {}",
                        smallest.map_or("none".to_string(), |s| s.to_string())
                    ),
                );
                events.rewrite.insert((cluster, first_seq));
            }
            for stored in held {
                out.records.events += 1;
                out.records.links += stored.links.len() as u64;
                let (seq, time) = (stored.seq, stored.time);
                if !seqs.insert(seq) {
                    out.report("event", format!("seq {seq} is used by two events"));
                }
                match events.messages.entry(message_hash(&stored.message_id)) {
                    Entry::Occupied(first) => {
                        out.report(
                            "event",
                            format!(
                                "messageId {} is stored twice (seq {} and seq {seq}): a duplicate",
                                stored.message_id,
                                first.get()
                            ),
                        );
                        events.duplicates.push((cluster, first_seq, seq));
                        events.rewrite.insert((cluster, first_seq));
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(seq);
                    }
                }
                events.count += 1;
                events.max_seq = events.max_seq.max(seq);
                events.filed.insert((cluster, seq));
                let Some(owner) = cluster_owner.get(&cluster).copied() else {
                    *orphan_clusters.entry(cluster).or_default() += 1;
                    continue;
                };
                for id in &stored.identifiers {
                    if wanted.contains(id) {
                        let entry = events.seen.entry(id.clone()).or_insert((
                            time,
                            time,
                            stored.source.clone(),
                        ));
                        if time < entry.0 {
                            entry.0 = time;
                            entry.2 = stored.source.clone();
                        }
                        entry.1 = entry.1.max(time);
                    }
                    if !holder.contains_key(id) && !graph.released.contains(id) {
                        let entry = events.unheld.entry(id.clone()).or_insert((
                            owner,
                            time,
                            time,
                            stored.source.clone(),
                        ));
                        if entry.0 == owner {
                            entry.1 = entry.1.min(time);
                            entry.2 = entry.2.max(time);
                        }
                    }
                }
                let derived = events.derived.entry(owner).or_insert_with(Derived::new);
                derived.events += 1;
                derived.first = Some(derived.first.map_or(time, |t| t.min(time)));
                derived.last = Some(derived.last.map_or(time, |t| t.max(time)));
                if stored.call == CallType::Identify {
                    let traits = serde_json::from_str(&stored.raw_json)
                        .ok()
                        .and_then(|v| Event::from_json(v).ok())
                        .map(|e| e.profile_traits())
                        .unwrap_or_default();
                    derived.traits.apply_traits(time, seq, &traits);
                }
            }
        }
        for (cluster, n) in orphan_clusters {
            out.report(
                "cluster",
                format!("{n} events are filed under cluster {cluster}, which no profile lists"),
            );
        }
        for (id, (owner, ..)) in &events.unheld {
            out.report(
                "identifier",
                format!("{id} attributed events of p{owner} but no profile holds it"),
            );
        }
        Ok(events)
    }

    /// Identifiers a sign-out released, from the violations that record it.
    fn released_identifiers(&self) -> anyhow::Result<HashSet<Identifier>> {
        let mut released = HashSet::new();
        for item in self.tree.scan_prefix([tag::VIOLATION]) {
            let (_, value) = item?;
            if let Ok(Violation {
                identifier,
                reason: ViolationReason::SignedOut { .. },
                ..
            }) = decode::<Violation>(&value)
            {
                released.insert(identifier);
            }
        }
        Ok(released)
    }

    /// The `D` lists hold exactly the messageIds of the stored events.
    fn check_messages(&self, events: &mut Events, out: &mut SpaceCheck) -> anyhow::Result<()> {
        let mut listed: HashSet<u128> = HashSet::with_capacity(events.messages.len());
        for item in self.tree.scan_prefix([tag::MESSAGE]) {
            let (key, value) = item?;
            out.records.messages += 1;
            match messages::read_record(&value) {
                Ok(hashes) => {
                    let unknown = hashes
                        .iter()
                        .filter(|h| !events.messages.contains_key(h))
                        .count();
                    if unknown > 0 {
                        out.report(
                            "message",
                            format!(
                                "messageId list {} names {unknown} events that are not stored",
                                key_text(&key)
                            ),
                        );
                        events.messages_stale = true;
                    }
                    listed.extend(hashes);
                }
                Err(e) => {
                    out.report(
                        "message",
                        format!("messageId list {} does not decode: {e}", key_text(&key)),
                    );
                    events.messages_stale = true;
                }
            }
        }
        let mut missing: Vec<u64> = events
            .messages
            .iter()
            .filter(|(hash, _)| !listed.contains(*hash))
            .map(|(_, seq)| *seq)
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            let shown: Vec<String> = missing.iter().take(5).map(u64::to_string).collect();
            out.report(
                "message",
                format!(
                    "{} stored events are missing from the messageId lists (seq {})",
                    missing.len(),
                    shown.join(", ")
                ),
            );
            events.messages_stale = true;
        }
        Ok(())
    }

    /// Violations decode and belong to an event in their cluster; returns the count per
    /// profile.
    fn check_violations(
        &self,
        cluster_owner: &HashMap<u64, u64>,
        events: &Events,
        out: &mut SpaceCheck,
    ) -> anyhow::Result<HashMap<u64, u64>> {
        let mut per_profile: HashMap<u64, u64> = HashMap::new();
        for item in self.tree.scan_prefix([tag::VIOLATION]) {
            let (key, value) = item?;
            out.records.violations += 1;
            let (Some(cluster), Some(seq)) = (
                (key.len() == 19).then(|| keys::u64_at(&key, 1)).flatten(),
                keys::u64_at(&key, 9),
            ) else {
                out.report(
                    "violation",
                    format!("malformed violation key {}", key_text(&key)),
                );
                continue;
            };
            if let Err(e) = decode::<Violation>(&value) {
                out.report(
                    "violation",
                    format!("violation of event seq {seq} does not decode: {e}"),
                );
                continue;
            }
            if !events.filed.contains(&(cluster, seq)) {
                out.report(
                    "violation",
                    format!("violation of event seq {seq} in cluster {cluster}: no such event"),
                );
                continue;
            }
            if let Some(owner) = cluster_owner.get(&cluster) {
                *per_profile.entry(*owner).or_default() += 1;
            }
        }
        Ok(per_profile)
    }

    /// Each profile's counts, traits and times equal what its events say.
    fn check_profiles(
        &self,
        graph: &Graph,
        events: &Events,
        violations: &HashMap<u64, u64>,
        out: &mut SpaceCheck,
    ) {
        for (id, profile) in &graph.profiles {
            let empty = Derived::new();
            let derived = events.derived.get(id).unwrap_or(&empty);
            for problem in derived_mismatches(profile, derived, violations.get(id).copied()) {
                out.report("profile", format!("p{id}: {problem}"));
            }
        }
    }

    /// Links, journal, undo data and history decode and reference existing things.
    /// Returns the largest link id, op and profile id referenced.
    fn check_provenance(
        &self,
        graph: &Graph,
        stored: &HashMap<u128, u64>,
        out: &mut SpaceCheck,
    ) -> anyhow::Result<Maxima> {
        let mut maxima = Maxima::default();
        let mut journal: BTreeMap<u64, JournalEntry> = BTreeMap::new();
        for item in self.tree.scan_prefix([tag::JOURNAL]) {
            let (key, value) = item?;
            out.records.journal += 1;
            let Some(op) = (key.len() == 9).then(|| keys::u64_at(&key, 1)).flatten() else {
                out.report(
                    "journal",
                    format!("malformed journal key {}", key_text(&key)),
                );
                continue;
            };
            maxima.op = maxima.op.max(op);
            match decode::<JournalEntry>(&value) {
                Ok(entry) => {
                    if entry.op != op {
                        out.report(
                            "journal",
                            format!("journal entry under #{op} says it is #{}", entry.op),
                        );
                    }
                    journal.insert(op, entry);
                }
                Err(e) => out.report("journal", format!("journal #{op} does not decode: {e}")),
            }
        }
        let mut history: BTreeSet<(u64, u64)> = BTreeSet::new();
        for item in self.tree.scan_prefix([tag::HISTORY]) {
            let (key, _) = item?;
            out.records.history += 1;
            match (
                (key.len() == 17).then(|| keys::u64_at(&key, 1)).flatten(),
                keys::u64_at(&key, 9),
            ) {
                (Some(profile), Some(op)) => {
                    history.insert((profile, op));
                }
                _ => out.report(
                    "history",
                    format!("malformed history key {}", key_text(&key)),
                ),
            }
        }
        let mut undo: BTreeSet<u64> = BTreeSet::new();
        for item in self.tree.scan_prefix([tag::UNDO]) {
            let (key, value) = item?;
            out.records.undo += 1;
            let Some(op) = (key.len() == 9).then(|| keys::u64_at(&key, 1)).flatten() else {
                out.report("undo", format!("malformed undo key {}", key_text(&key)));
                continue;
            };
            if let Err(e) = decode::<UndoData>(&value) {
                out.report("undo", format!("undo data of #{op} does not decode: {e}"));
            }
            if !journal.contains_key(&op) {
                out.report("undo", format!("undo data of #{op} has no journal entry"));
            }
            undo.insert(op);
        }
        for (op, entry) in &journal {
            if !undo.contains(op) {
                out.report("journal", format!("journal #{op} has no undo data"));
            }
            for profile in &entry.profiles {
                maxima.profile = maxima.profile.max(profile.0);
                if !history.contains(&(profile.0, *op)) {
                    out.report(
                        "history",
                        format!("journal #{op} touched {profile} but {profile}'s history lacks it"),
                    );
                }
            }
            if let Some(by) = entry.undone_by {
                let undone_by_it = journal
                    .get(&by)
                    .is_some_and(|e| e.action == JournalAction::Undo { op: *op });
                if !undone_by_it {
                    out.report(
                        "journal",
                        format!("journal #{op} says #{by} undid it, but #{by} is not that undo"),
                    );
                }
            }
            match &entry.action {
                JournalAction::Undo { op: target } => {
                    let marked = journal
                        .get(target)
                        .is_some_and(|e| e.undone_by == Some(*op));
                    if !marked {
                        out.report(
                            "journal",
                            format!("journal #{op} undid #{target}, which does not record it"),
                        );
                    }
                }
                JournalAction::AutoMerge { message_id, .. } => {
                    if !stored.contains_key(&message_hash(message_id)) {
                        out.report(
                            "journal",
                            format!("journal #{op} names event {message_id}, which is not stored"),
                        );
                    }
                }
                JournalAction::Merge { .. } | JournalAction::Split { .. } => {}
            }
        }
        for (profile, op) in &history {
            let listed = journal
                .get(op)
                .is_some_and(|e| e.profiles.contains(&ProfileId(*profile)));
            if !listed {
                out.report(
                    "history",
                    format!("history of p{profile} names #{op}, which does not list p{profile}"),
                );
            }
        }
        for item in self.tree.scan_prefix([tag::ADJACENCY]) {
            let (key, value) = item?;
            out.records.links += 1;
            let link_id = key
                .len()
                .checked_sub(8)
                .and_then(|at| keys::u64_at(&key, at));
            let link = match decode::<Link>(&value) {
                Ok(link) => link,
                Err(e) => {
                    out.report(
                        "link",
                        format!("link {} does not decode: {e}", key_text(&key)),
                    );
                    continue;
                }
            };
            let Some(link_id) = link_id.filter(|n| keys::adjacency(&link.to, *n) == key.as_ref())
            else {
                out.report(
                    "link",
                    format!(
                        "link {} -> {} is filed under another identifier",
                        link.from, link.to
                    ),
                );
                continue;
            };
            maxima.link = maxima.link.max(link_id);
            for end in [&link.from, &link.to] {
                if !graph.owners.contains_key(end) && !graph.released.contains(end) {
                    out.report(
                        "link",
                        format!("link #{link_id} names {end}, which no profile holds"),
                    );
                }
            }
            match link.provenance.op {
                Some(op) if !journal.contains_key(&op) => out.report(
                    "link",
                    format!("link #{link_id} names journal #{op}, which does not exist"),
                ),
                Some(_) => {}
                None => {
                    if !stored.contains_key(&message_hash(&link.provenance.message_id)) {
                        out.report(
                            "link",
                            format!(
                                "link #{link_id} names event {}, which is not stored",
                                link.provenance.message_id
                            ),
                        );
                    }
                }
            }
        }
        Ok(maxima)
    }

    /// Counts records under tags this build does not know.
    fn count_other_records(&self, counts: &mut RecordCounts) -> anyhow::Result<()> {
        const KNOWN: [u8; 14] = [
            tag::META,
            tag::PROFILE,
            tag::OWNERS,
            tag::TIMELINE,
            tag::MESSAGE,
            tag::CLUSTER,
            tag::ADJACENCY,
            tag::VIOLATION,
            tag::JOURNAL,
            tag::UNDO,
            tag::HISTORY,
            tag::AUDIENCE_MEMBER,
            tag::PROFILE_AUDIENCE,
            tag::AUDIENCE_EXPIRY,
        ];
        for first in 0..=u8::MAX {
            if KNOWN.contains(&first) {
                continue;
            }
            counts.other += self.tree.scan_prefix([first]).count() as u64;
        }
        Ok(())
    }
}

/// The largest ids referenced by provenance records.
#[derive(Debug, Default, Clone, Copy)]
struct Maxima {
    link: u64,
    op: u64,
    profile: u64,
}

/// Differences between a stored profile and what its events say.
fn derived_mismatches(
    profile: &Profile,
    derived: &Derived,
    violations: Option<u64>,
) -> Vec<String> {
    let mut out = Vec::new();
    if profile.event_count != derived.events {
        out.push(format!(
            "event count {} but its clusters hold {} events",
            profile.event_count, derived.events
        ));
    }
    if let (Some(first), Some(last)) = (derived.first, derived.last) {
        if profile.created_at != first || profile.last_seen != last {
            out.push(format!(
                "first/last seen {}/{} but its events span {first}/{last}",
                profile.created_at, profile.last_seen
            ));
        }
    }
    if profile.traits != derived.traits.traits {
        let mut keys: BTreeSet<&String> = profile.traits.keys().collect();
        keys.extend(derived.traits.traits.keys());
        let differing: Vec<&str> = keys
            .into_iter()
            .filter(|k| profile.traits.get(*k) != derived.traits.traits.get(*k))
            .map(String::as_str)
            .take(5)
            .collect();
        out.push(format!(
            "traits differ from the newest values of its events (e.g. {})",
            differing.join(", ")
        ));
    }
    let violations = violations.unwrap_or(0);
    if u64::from(profile.violation_count) != violations {
        out.push(format!(
            "violation count {} but {violations} violations are recorded for its events",
            profile.violation_count
        ));
    }
    out
}

fn check_counters(
    graph: &Graph,
    events: &Events,
    maxima: &Maxima,
    records: &RecordCounts,
    out: &mut SpaceCheck,
) {
    let Some(counters) = graph.counters else {
        if records.profiles + records.events > 0 {
            out.report("counters", "the space has records but no counters".into());
        }
        return;
    };
    let max_profile = graph
        .profiles
        .keys()
        .chain(graph.lost_profiles.iter())
        .chain(graph.owners.values())
        .chain(graph.cluster_map.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(maxima.profile);
    let checks = [
        ("next_seq", counters.next_seq, events.max_seq),
        ("next_profile", counters.next_profile, max_profile),
        ("next_link", counters.next_link, maxima.link),
        ("next_op", counters.next_op, maxima.op),
    ];
    for (name, next, max_used) in checks {
        if next <= max_used {
            out.report(
                "counters",
                format!("{name} is {next} but {max_used} is already in use"),
            );
        }
    }
    let profiles = (graph.profiles.len() + graph.lost_profiles.len()) as u64;
    if counters.profiles != profiles {
        out.report(
            "counters",
            format!(
                "profile count is {} but {profiles} profiles are stored",
                counters.profiles
            ),
        );
    }
    let stored_events = events.count + events.duplicates.len() as u64;
    if counters.events != stored_events {
        out.report(
            "counters",
            format!(
                "event count is {} but {stored_events} events are stored",
                counters.events
            ),
        );
    }
}

impl SpaceStore {
    /// Rebuilds the derived records (see the module documentation for what is source of
    /// truth and what is rebuilt) and writes every fix in one atomic batch. Returns the
    /// changes made; run [`SpaceStore::check`] afterwards to confirm.
    pub fn repair(&self) -> anyhow::Result<SpaceRepair> {
        let mut counters_guard = self.lock_writer()?;
        let mut counts = RecordCounts::default();
        let mut graph = self.scan_graph(&mut counts)?;
        if let Some(version) = graph.newer_version.or(self.newer_record_version()?) {
            anyhow::bail!(
                "space {}: records were written by a newer idgraph (format version {version}); repair with that version, or back up with it and restore",
                self.name
            );
        }
        if graph.dictionary_lost {
            anyhow::bail!(
                "space {}: the event dictionary does not decode, so compressed events cannot be read; restore a backup",
                self.name
            );
        }
        let mut repair = SpaceRepair {
            space: self.name.clone(),
            actions: Vec::new(),
        };
        let mut batch = sled::Batch::default();
        for (key, reason) in &graph.unreadable {
            batch.remove(key.as_slice());
            repair.actions.push(format!(
                "removed unreadable record {} ({reason})",
                key_text(key)
            ));
        }
        let event_clusters = self.event_clusters(&mut batch, &mut repair)?;
        let mut changed: BTreeSet<u64> = BTreeSet::new();
        let wanted = mend_membership(&mut graph, &event_clusters, &mut changed, &mut repair);
        let cluster_owner: HashMap<u64, u64> = graph
            .profiles
            .iter()
            .flat_map(|(id, p)| p.clusters.iter().map(move |c| (*c, *id)))
            .collect();
        let mut scratch = SpaceCheck::default();
        let mut events = self.scan_events(&graph, &cluster_owner, &wanted, &mut scratch)?;
        self.check_messages(&mut events, &mut scratch)?;
        self.refile_bundles(&events, &mut batch, &mut repair)?;
        self.rebuild_messages(&events, &mut batch, &mut repair)?;
        for (id, (owner, first, last, source)) in &events.unheld {
            if let Some(profile) = graph.profiles.get_mut(owner) {
                profile.identifiers.push(ProfileIdentifier {
                    id: id.clone(),
                    first_seen: *first,
                    last_seen: *last,
                    source: source.clone(),
                    pins: Vec::new(),
                });
                changed.insert(*owner);
                repair.actions.push(format!(
                    "added {id} to p{owner}, whose events it attributed"
                ));
            }
        }
        for (id, profile) in graph.profiles.iter_mut() {
            for held in &mut profile.identifiers {
                if let Some((first, last, source)) = events.seen.get(&held.id) {
                    if held.source == REPAIR_SOURCE {
                        held.first_seen = *first;
                        held.last_seen = *last;
                        held.source = source.clone();
                        changed.insert(*id);
                    }
                }
            }
        }
        let violations = self.violation_fixes(&cluster_owner, &events, &mut batch, &mut repair)?;
        for (id, profile) in graph.profiles.iter_mut() {
            let empty = Derived::new();
            let derived = events.derived.get(id).unwrap_or(&empty);
            let problems = derived_mismatches(profile, derived, violations.get(id).copied());
            if problems.is_empty() {
                continue;
            }
            profile.event_count = derived.events;
            if let (Some(first), Some(last)) = (derived.first, derived.last) {
                profile.created_at = first;
                profile.last_seen = last;
            }
            profile.traits = derived.traits.traits.clone();
            profile.violation_count =
                u32::try_from(violations.get(id).copied().unwrap_or(0)).unwrap_or(u32::MAX);
            changed.insert(*id);
            repair.actions.push(format!(
                "recomputed p{id} from its events: {}",
                problems.join("; ")
            ));
        }
        for id in &changed {
            if let Some(profile) = graph.profiles.get(id) {
                batch.insert(keys::profile(profile.id), encode(profile));
            }
        }
        let skip = events.duplicate_places();
        let live = Live {
            profiles: &graph.profiles,
            lost: &graph.lost_profiles,
            skip: &skip,
        };
        self.repair_audiences(&live, &mut batch, &mut repair)?;
        self.rebuild_indexes(&graph, &mut batch, &mut repair)?;
        let maxima = self.rebuild_history(&mut batch, &mut repair)?;
        let next = rebuilt_counters(&graph, &events, &maxima, *counters_guard);
        if graph.counters != Some(next) {
            repair.actions.push(format!(
                "counters set to next_seq {} next_profile {} next_link {} next_op {}, {} profiles, {} events",
                next.next_seq, next.next_profile, next.next_link, next.next_op, next.profiles, next.events
            ));
        }
        if !repair.actions.is_empty() {
            SpaceStore::put_counters(&mut batch, &next);
            {
                let _gate = self.write_gate();
                self.tree.apply_batch(batch)?;
            }
            self.tree.flush()?;
            self.forget_messages();
            self.relevant.forget();
            *counters_guard = next;
        }
        Ok(repair)
    }

    /// The format version of a record written by a newer build, if any record is.
    fn newer_record_version(&self) -> anyhow::Result<Option<u8>> {
        for record_tag in [
            tag::PROFILE,
            tag::TIMELINE,
            tag::ADJACENCY,
            tag::VIOLATION,
            tag::JOURNAL,
            tag::UNDO,
        ] {
            for item in self.tree.scan_prefix([record_tag]) {
                let (_, value) = item?;
                let newest = if record_tag == tag::TIMELINE {
                    super::event_codec::COMPRESSED
                } else {
                    super::FORMAT_VERSION
                };
                if let Some(&version) = value.first().filter(|v| **v > newest) {
                    return Ok(Some(version));
                }
            }
        }
        Ok(None)
    }

    /// The clusters that hold events; unreadable or malformed events are removed.
    fn event_clusters(
        &self,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<BTreeSet<u64>> {
        let mut clusters = BTreeSet::new();
        for item in self.tree.scan_prefix([tag::TIMELINE]) {
            let (key, value) = item?;
            let readable = self.events.decode_bundle(&value).is_ok();
            match keys::timeline_entry(&key) {
                Some((cluster, _)) if readable => {
                    clusters.insert(cluster);
                }
                _ => {
                    batch.remove(key.as_ref());
                    repair.actions.push(format!(
                        "removed unreadable event bundle {}",
                        key_text(&key)
                    ));
                }
            }
        }
        Ok(clusters)
    }

    /// Files again the bundles the scan found misfiled or holding a duplicate: under their
    /// smallest seq, without the duplicates (whose violations go with them).
    fn refile_bundles(
        &self,
        events: &Events,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<()> {
        let duplicates: HashSet<(u64, u64)> = events.duplicate_places();
        let mut refiled = Vec::new();
        for (cluster, first_seq) in &events.rewrite {
            let key = keys::timeline(*cluster, *first_seq);
            let Some(value) = self.tree.get(&key)? else {
                continue;
            };
            let kept: Vec<PlainEvent> = self
                .events
                .decode_bundle(&value)?
                .iter()
                .filter(|e| !duplicates.contains(&(*cluster, e.seq)))
                .map(PlainEvent::of)
                .collect();
            batch.remove(key);
            refiled.push((*cluster, kept));
        }
        for (cluster, seq) in &duplicates {
            let mut prefix = keys::violation_prefix(*cluster);
            prefix.extend_from_slice(&seq.to_be_bytes());
            for item in self.tree.scan_prefix(prefix) {
                let (vkey, _) = item?;
                batch.remove(vkey);
            }
            repair.actions.push(format!(
                "removed duplicate event seq {seq} (its messageId is stored as another event)"
            ));
        }
        for (cluster, kept) in refiled {
            repair.actions.push(format!(
                "filed the {} events of a bundle of cluster {cluster} again",
                kept.len()
            ));
            self.put_bundles(batch, cluster, kept);
        }
        Ok(())
    }

    /// Writes the `D` lists again from the events kept, when they disagree.
    fn rebuild_messages(
        &self,
        events: &Events,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<()> {
        if !events.messages_stale {
            return Ok(());
        }
        for item in self.tree.scan_prefix([tag::MESSAGE]) {
            let (key, _) = item?;
            batch.remove(key);
        }
        let mut by_seq: Vec<(u64, u128)> = events
            .messages
            .iter()
            .map(|(hash, seq)| (*seq, *hash))
            .collect();
        by_seq.sort_unstable();
        for chunk in by_seq.chunks(MESSAGES_PER_LIST) {
            let hashes: Vec<u128> = chunk.iter().map(|(_, hash)| *hash).collect();
            messages::put_batch(batch, chunk[0].0, &hashes);
        }
        repair.actions.push(format!(
            "rebuilt the messageId lists of {} events",
            by_seq.len()
        ));
        Ok(())
    }

    /// Removes violations of events that do not exist; returns the count per profile.
    fn violation_fixes(
        &self,
        cluster_owner: &HashMap<u64, u64>,
        events: &Events,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<HashMap<u64, u64>> {
        let duplicates = events.duplicate_places();
        let mut per_profile: HashMap<u64, u64> = HashMap::new();
        for item in self.tree.scan_prefix([tag::VIOLATION]) {
            let (key, value) = item?;
            let place = (key.len() == 19)
                .then(|| keys::u64_at(&key, 1).zip(keys::u64_at(&key, 9)))
                .flatten();
            let readable = decode::<Violation>(&value).is_ok();
            match place {
                // Removed with their duplicate event.
                Some(place) if duplicates.contains(&place) => {}
                Some(place) if readable && events.filed.contains(&place) => {
                    if let Some(owner) = cluster_owner.get(&place.0) {
                        *per_profile.entry(*owner).or_default() += 1;
                    }
                }
                _ => {
                    batch.remove(key.as_ref());
                    repair.actions.push(format!(
                        "removed violation {}: unreadable or its event does not exist",
                        key_text(&key)
                    ));
                }
            }
        }
        Ok(per_profile)
    }

    /// Rewrites `I` and `C` from the profiles' membership.
    fn rebuild_indexes(
        &self,
        graph: &Graph,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<()> {
        let mut owners: HashMap<&Identifier, u64> = HashMap::new();
        let mut clusters: BTreeMap<u64, u64> = BTreeMap::new();
        for (id, profile) in &graph.profiles {
            for held in &profile.identifiers {
                owners.insert(&held.id, *id);
            }
            for cluster in &profile.clusters {
                if cluster != id {
                    clusters.insert(*cluster, *id);
                }
            }
        }
        let mut changed: Vec<&Identifier> = Vec::new();
        for (id, owner) in &owners {
            if graph.owners.get(*id) != Some(owner) {
                changed.push(id);
                repair
                    .actions
                    .push(format!("owner of {id} set to p{owner}"));
            }
        }
        for id in graph.owners.keys() {
            if !owners.contains_key(id) {
                changed.push(id);
                repair
                    .actions
                    .push(format!("removed owner entry of {id}: no profile holds it"));
            }
        }
        self.put_rebuilt_owners(batch, &owners, changed);
        for (cluster, owner) in &clusters {
            if graph.cluster_map.get(cluster) != Some(owner) {
                batch.insert(keys::cluster(*cluster), &owner.to_be_bytes()[..]);
                repair
                    .actions
                    .push(format!("cluster {cluster} mapped to p{owner}"));
            }
        }
        for cluster in graph.cluster_map.keys() {
            if !clusters.contains_key(cluster) {
                batch.remove(keys::cluster(*cluster));
                repair.actions.push(format!(
                    "removed cluster entry {cluster}: no profile lists it"
                ));
            }
        }
        Ok(())
    }

    /// Rewrites `H` from the journal, gives journal entries without undo data an empty one,
    /// and drops undo data without an entry. Returns the largest ids in use.
    fn rebuild_history(
        &self,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<Maxima> {
        let mut maxima = Maxima::default();
        let mut expected: BTreeSet<(u64, u64)> = BTreeSet::new();
        let mut ops: BTreeSet<u64> = BTreeSet::new();
        for item in self.tree.scan_prefix([tag::JOURNAL]) {
            let (key, value) = item?;
            let entry = decode::<JournalEntry>(&value).ok();
            let Some((op, entry)) = keys::u64_at(&key, 1)
                .zip(entry)
                .filter(|(op, e)| key.len() == 9 && e.op == *op)
            else {
                batch.remove(key.as_ref());
                repair.actions.push(format!(
                    "removed unreadable journal record {}",
                    key_text(&key)
                ));
                continue;
            };
            maxima.op = maxima.op.max(op);
            ops.insert(op);
            for profile in &entry.profiles {
                maxima.profile = maxima.profile.max(profile.0);
                expected.insert((profile.0, op));
            }
        }
        for item in self.tree.scan_prefix([tag::HISTORY]) {
            let (key, _) = item?;
            let place = keys::u64_at(&key, 1).zip(keys::u64_at(&key, 9));
            match place {
                Some(place) if key.len() == 17 && expected.remove(&place) => {}
                _ => {
                    batch.remove(key.as_ref());
                    repair
                        .actions
                        .push(format!("removed history entry {}", key_text(&key)));
                }
            }
        }
        for (profile, op) in expected {
            batch.insert(keys::history(ProfileId(profile), op), &[][..]);
            repair
                .actions
                .push(format!("history of p{profile} now lists #{op}"));
        }
        for item in self.tree.scan_prefix([tag::UNDO]) {
            let (key, value) = item?;
            let op = keys::u64_at(&key, 1);
            let readable = decode::<UndoData>(&value).is_ok();
            match op {
                Some(op) if key.len() == 9 && readable && ops.contains(&op) => {
                    ops.remove(&op);
                }
                _ => {
                    batch.remove(key.as_ref());
                    repair.actions.push(format!(
                        "removed undo data {}: no journal entry",
                        key_text(&key)
                    ));
                }
            }
        }
        for op in ops {
            batch.insert(keys::undo(op), encode(&UndoData::None));
            repair.actions.push(format!(
                "journal #{op} had no undo data: it can no longer be undone"
            ));
        }
        for item in self.tree.scan_prefix([tag::ADJACENCY]) {
            let (key, value) = item?;
            let link_id = key
                .len()
                .checked_sub(8)
                .and_then(|at| keys::u64_at(&key, at));
            let filed = decode::<Link>(&value)
                .ok()
                .zip(link_id)
                .is_some_and(|(link, n)| keys::adjacency(&link.to, n) == key.as_ref());
            match link_id {
                Some(n) if filed => maxima.link = maxima.link.max(n),
                _ => {
                    batch.remove(key.as_ref());
                    repair
                        .actions
                        .push(format!("removed unreadable link record {}", key_text(&key)));
                }
            }
        }
        Ok(maxima)
    }
}

/// The source recorded for identifiers repair adds before their events are seen.
const REPAIR_SOURCE: &str = "idgraph check --repair";

/// Mends membership in memory: rebuilds lost profiles from the `I` and `C` entries naming
/// them and the clusters holding their events, gives each cluster and identifier one
/// profile. Returns the identifiers whose event times repair must look up.
fn mend_membership(
    graph: &mut Graph,
    event_clusters: &BTreeSet<u64>,
    changed: &mut BTreeSet<u64>,
    repair: &mut SpaceRepair,
) -> HashSet<Identifier> {
    let mut wanted = HashSet::new();
    // Profiles that must exist: lost records, owners named by I or C entries.
    let mut missing: BTreeSet<u64> = graph.lost_profiles.clone();
    missing.extend(graph.owners.values().copied());
    missing.extend(graph.cluster_map.values().copied());
    let listed: HashSet<u64> = graph
        .profiles
        .values()
        .flat_map(|p| p.clusters.iter().copied())
        .collect();
    for cluster in event_clusters {
        if !listed.contains(cluster) {
            missing.insert(graph.cluster_map.get(cluster).copied().unwrap_or(*cluster));
        }
    }
    missing.retain(|id| !graph.profiles.contains_key(id));
    for id in missing {
        let mut profile = Profile::new(ProfileId(id), 0);
        profile.clusters = vec![id];
        for (cluster, owner) in &graph.cluster_map {
            if *owner == id && *cluster != id && !listed.contains(cluster) {
                profile.clusters.push(*cluster);
            }
        }
        graph.profiles.insert(id, profile);
        changed.insert(id);
        repair.actions.push(format!(
            "rebuilt lost profile p{id} from its identifiers, clusters and events"
        ));
    }
    // Each cluster in one profile: the one C names, else the profile of that id, else the
    // lowest id.
    let mut claims: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (id, profile) in &graph.profiles {
        for cluster in &profile.clusters {
            claims.entry(*cluster).or_default().push(*id);
        }
    }
    for (cluster, mut holders) in claims {
        holders.dedup();
        let keep = graph
            .cluster_map
            .get(&cluster)
            .filter(|p| holders.contains(p))
            .copied()
            .or_else(|| holders.contains(&cluster).then_some(cluster))
            .unwrap_or(holders[0]);
        for id in holders {
            let Some(profile) = graph.profiles.get_mut(&id) else {
                continue;
            };
            let before = profile.clusters.len();
            let mut seen = HashSet::new();
            profile
                .clusters
                .retain(|c| (*c != cluster || id == keep) && seen.insert(*c));
            if profile.clusters.len() != before {
                changed.insert(id);
                repair.actions.push(format!(
                    "cluster {cluster} left p{id} (it belongs to p{keep})"
                ));
            }
        }
    }
    // Each identifier in one profile: the one its owner entry names, else the lowest id.
    let mut holders: BTreeMap<Identifier, Vec<u64>> = BTreeMap::new();
    for (id, profile) in &graph.profiles {
        for held in &profile.identifiers {
            holders.entry(held.id.clone()).or_default().push(*id);
        }
    }
    for (identifier, ids) in &holders {
        let keep = graph
            .owners
            .get(identifier)
            .filter(|p| ids.contains(p))
            .copied()
            .unwrap_or(ids[0]);
        for id in ids {
            let Some(profile) = graph.profiles.get_mut(id) else {
                continue;
            };
            let before = profile.identifiers.len();
            let mut kept_once = false;
            profile.identifiers.retain(|h| {
                if h.id != *identifier {
                    return true;
                }
                let keep_this = *id == keep && !kept_once;
                kept_once |= keep_this;
                keep_this
            });
            if profile.identifiers.len() != before {
                changed.insert(*id);
                repair
                    .actions
                    .push(format!("{identifier} left p{id} (it belongs to p{keep})"));
            }
        }
    }
    // Identifiers whose owner entry names a profile that does not hold them join it.
    for (identifier, owner) in &graph.owners {
        if holders.contains_key(identifier) {
            continue;
        }
        let Some(profile) = graph.profiles.get_mut(owner) else {
            continue;
        };
        profile.identifiers.push(ProfileIdentifier {
            id: identifier.clone(),
            first_seen: profile.created_at,
            last_seen: profile.last_seen,
            source: REPAIR_SOURCE.to_string(),
            pins: Vec::new(),
        });
        wanted.insert(identifier.clone());
        changed.insert(*owner);
        repair.actions.push(format!(
            "{identifier} added to p{owner}, which its owner entry names"
        ));
    }
    graph.lost_profiles.clear();
    wanted
}

/// Counters that cover every id in use and count what is stored.
fn rebuilt_counters(
    graph: &Graph,
    events: &Events,
    maxima: &Maxima,
    current: Counters,
) -> Counters {
    let stored = graph.counters.unwrap_or(current);
    let max_profile = graph
        .profiles
        .keys()
        .copied()
        .max()
        .unwrap_or(0)
        .max(maxima.profile);
    Counters {
        next_seq: stored.next_seq.max(events.max_seq + 1),
        next_profile: stored.next_profile.max(max_profile + 1),
        next_link: stored.next_link.max(maxima.link + 1),
        next_op: stored.next_op.max(maxima.op + 1),
        profiles: graph.profiles.len() as u64,
        events: events.count,
    }
}
