//! Graph health: which profiles look like bad merges, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::config::Rules;
use crate::model::identifier::USER_ID;
use crate::model::{Identifier, JournalAction, Profile, ProfileId, Violation, ViolationReason};
use crate::query::GraphRead;
use crate::words;

/// Something suspicious about one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// It holds several user ids: known people merged into one profile.
    UserIdsHeld { count: usize },
    /// A person merged it past the rules (journal op `op`, not undone).
    ForcedMerge { op: u64 },
    /// Far more identifiers of one type than profiles usually hold: `usual` is what nine in
    /// ten of the space's profiles holding that type stay within.
    Outsized {
        kind: String,
        count: usize,
        usual: usize,
    },
    /// It holds a value the current rules call junk.
    JunkHeld {
        identifier: Identifier,
        rule: String,
    },
    /// Other user ids arrived on its events and the limit refused them: a device or another
    /// identifier shared by several known people, whose events may be mixed here.
    UserIdsRefused { count: usize },
    /// Some of its identifiers arrived on events with another user id and were dropped there
    /// (the user id limit): a device or address shared with another known person, whose
    /// events around it may be mixed with this profile's.
    SharedWithKnown { identifiers: usize, events: usize },
    /// The other side of [`Finding::SharedWithKnown`]: it holds identifiers that arrived
    /// on these profiles' events with another user id (and were dropped there), so some of
    /// its anonymous events may be theirs.
    HoldsSharedIdentifiers { with: Vec<ProfileId> },
    /// Identifiers were dropped from its events for other reasons (limits, merge caps,
    /// pinned splits).
    Violations { count: usize },
    /// Junk values arrived on its events and were blocked.
    JunkBlocked { count: usize },
}

/// How much a finding calls for a look; Health ranks profiles by their most severe
/// finding first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The rules held and nothing else stands out: junk values were blocked.
    Routine,
    /// May be a bad merge: outsized for its identifier types, junk held, identifiers of
    /// other people refused.
    Suspect,
    /// Known people in one profile: several user ids held, or a merge forced past the rules.
    Serious,
}

impl Severity {
    /// A word for it: `serious`, `suspect`, `routine`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Serious => "serious",
            Severity::Suspect => "suspect",
            Severity::Routine => "routine",
        }
    }
}

impl Finding {
    /// How severe the finding is.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::UserIdsHeld { .. } | Finding::ForcedMerge { .. } => Severity::Serious,
            Finding::Outsized { .. }
            | Finding::JunkHeld { .. }
            | Finding::UserIdsRefused { .. }
            | Finding::SharedWithKnown { .. }
            | Finding::HoldsSharedIdentifiers { .. }
            | Finding::Violations { .. } => Severity::Suspect,
            Finding::JunkBlocked { .. } => Severity::Routine,
        }
    }
}

impl Finding {
    /// The finding for scripts: its `kind`, its numbers and values, and its `text` as the
    /// report words it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let mut value = match self {
            Finding::UserIdsHeld { count } => json!({"kind": "user_ids_held", "count": count}),
            Finding::ForcedMerge { op } => json!({"kind": "forced_merge", "op": op}),
            Finding::Outsized { kind, count, usual } => json!({
                "kind": "outsized", "identifier_type": kind, "count": count, "usual": usual,
            }),
            Finding::JunkHeld { identifier, rule } => json!({
                "kind": "junk_held", "identifier": identifier.to_string(), "rule": rule,
            }),
            Finding::UserIdsRefused { count } => {
                json!({"kind": "user_ids_refused", "count": count})
            }
            Finding::SharedWithKnown {
                identifiers,
                events,
            } => json!({
                "kind": "shared_with_known", "identifiers": identifiers, "events": events,
            }),
            Finding::HoldsSharedIdentifiers { with } => json!({
                "kind": "holds_shared_identifiers",
                "with": with.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            Finding::Violations { count } => json!({"kind": "violations", "count": count}),
            Finding::JunkBlocked { count } => json!({"kind": "junk_blocked", "count": count}),
        };
        value["text"] = json!(self.to_string());
        value
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::UserIdsHeld { count } => {
                write!(f, "holds {}", words::count(*count as u64, "user_id"))
            }
            Finding::ForcedMerge { op } => write!(f, "forced merge #{op}"),
            Finding::Outsized { kind, count, usual } => {
                write!(
                    f,
                    "{} (9 in 10 profiles hold at most {usual})",
                    words::count(*count as u64, kind)
                )
            }
            Finding::JunkHeld { identifier, rule } => write!(f, "holds junk {identifier} ({rule})"),
            Finding::UserIdsRefused { count } => {
                write!(
                    f,
                    "{} refused",
                    words::count(*count as u64, "other user_id")
                )
            }
            Finding::SharedWithKnown {
                identifiers,
                events,
            } => write!(
                f,
                "shares {} with another user_id ({})",
                words::count(*identifiers as u64, "identifier"),
                words::count(*events as u64, "event")
            ),
            Finding::HoldsSharedIdentifiers { with } => {
                let shown: Vec<String> = with.iter().take(3).map(ToString::to_string).collect();
                let more = if with.len() > 3 { ", …" } else { "" };
                write!(
                    f,
                    "holds identifiers that came with another user_id ({}{more})",
                    shown.join(", ")
                )
            }
            Finding::Violations { count } => {
                write!(f, "{}", words::count(*count as u64, "violation"))
            }
            Finding::JunkBlocked { count } => {
                write!(f, "{} blocked", words::count(*count as u64, "junk value"))
            }
        }
    }
}

/// A profile Health lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthItem {
    pub profile: ProfileId,
    pub name: Option<String>,
    pub identifiers: usize,
    pub events: u64,
    /// Its most severe finding's severity.
    pub severity: Severity,
    /// Higher is more suspicious: a profile with a more severe finding always scores
    /// higher than one whose findings are all milder, however many they are.
    pub score: u64,
    pub findings: Vec<Finding>,
}

/// A junk value the rules blocked, over the whole space: which client sends it is what an
/// engineer fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunkValue {
    pub identifier: Identifier,
    /// The rule that blocked it.
    pub rule: String,
    /// How many times it was blocked.
    pub times: u64,
    /// How many profiles' events carried it.
    pub profiles: usize,
    /// The sources that sent it.
    pub sources: BTreeSet<String>,
}

/// The health of a space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    pub profiles: u64,
    /// Median identifiers per profile.
    pub typical_identifiers: usize,
    /// Profiles by identifier count: (`1`, `2-3`, `4-7`, `8-15`, `16+`) and how many.
    pub distribution: Vec<(String, u64)>,
    /// The profiles with findings, most suspicious first: the suspicious ones, then the
    /// routine ones (cut to the scan's limit).
    pub items: Vec<HealthItem>,
    /// How many profiles are suspicious (serious or suspect), listed or not.
    pub suspicious: usize,
    /// How many profiles have routine findings only, listed or not.
    pub routine: usize,
    /// The junk values blocked most often, most often first.
    pub junk: Vec<JunkValue>,
}

impl HealthReport {
    /// The listed profiles that are suspicious (serious or suspect).
    pub fn suspicious_items(&self) -> &[HealthItem] {
        let end = self
            .items
            .iter()
            .position(|item| item.severity == Severity::Routine)
            .unwrap_or(self.items.len());
        &self.items[..end]
    }
}

/// How many junk values the report names.
const JUNK_SHOWN: usize = 10;

struct Summary {
    id: ProfileId,
    name: Option<String>,
    identifiers: usize,
    events: u64,
    user_ids: BTreeSet<String>,
    /// Identifiers held per type, by index into the scan's type names.
    per_kind: Vec<(u16, u32)>,
    junk: Vec<(Identifier, String)>,
}

/// Identifier type names seen by a scan, each with the counts profiles hold.
#[derive(Default)]
struct KindCounts {
    names: Vec<String>,
    index: BTreeMap<String, u16>,
    counts: Vec<Vec<u32>>,
}

impl KindCounts {
    /// Notes a profile's identifiers and returns its counts per type.
    fn note(&mut self, p: &Profile) -> Vec<(u16, u32)> {
        let mut per_kind: Vec<(u16, u32)> = Vec::new();
        for i in &p.identifiers {
            let kind = match self.index.get(&i.id.kind) {
                Some(&k) => k,
                None => {
                    let k = self.names.len() as u16;
                    self.names.push(i.id.kind.clone());
                    self.index.insert(i.id.kind.clone(), k);
                    self.counts.push(Vec::new());
                    k
                }
            };
            match per_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => per_kind.push((kind, 1)),
            }
        }
        for &(kind, n) in &per_kind {
            self.counts[kind as usize].push(n);
        }
        per_kind
    }

    /// Per type, the count nine in ten of the profiles holding it stay within.
    fn usual(mut self) -> (Vec<String>, Vec<usize>) {
        let usual = self
            .counts
            .iter_mut()
            .map(|counts| {
                let at = (counts.len() - 1) * 9 / 10;
                *counts.select_nth_unstable(at).1 as usize
            })
            .collect();
        (self.names, usual)
    }
}

/// More than this many of a type, for a type that profiles usually hold `usual` of, is
/// outsized: twice the usual and two more, so a person with a few devices or addresses
/// more than most is not flagged.
fn outsized_above(usual: usize) -> usize {
    2 * usual + 2
}

/// How far a health scan is: it reads every profile, then every profile's violations, so
/// `done` counts up to twice the profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    pub done: u64,
    pub total: u64,
}

impl ScanProgress {
    /// Whole percent done.
    pub fn percent(self) -> u64 {
        (self.done * 100)
            .checked_div(self.total)
            .unwrap_or(0)
            .min(100)
    }
}

/// Scans every profile (and its violations) and keeps the `limit` most suspicious.
/// `step` is told the progress every few hundred profiles; returning true abandons the scan
/// (`Ok(None)`).
pub fn scan_health<R: GraphRead + ?Sized>(
    read: &R,
    rules: Option<&Rules>,
    limit: usize,
    step: &mut dyn FnMut(ScanProgress) -> bool,
) -> anyhow::Result<Option<HealthReport>> {
    let expected = read.profile_count()?;
    let mut summaries = Vec::new();
    let mut kinds = KindCounts::default();
    // Which profile each timeline cluster belongs to, for the violations filed under it.
    let mut by_cluster: FxHashMap<u64, u32> = FxHashMap::default();
    let mut stopped = false;
    read.for_each_profile(&mut |p| {
        let read_so_far = summaries.len() as u64;
        let progress = ScanProgress {
            done: read_so_far.min(expected),
            total: 2 * expected,
        };
        if read_so_far % 512 == 511 && step(progress) {
            stopped = true;
            return false;
        }
        for &cluster in &p.clusters {
            by_cluster.insert(cluster, summaries.len() as u32);
        }
        summaries.push(summarize(p, rules, &mut kinds));
        true
    })?;
    if stopped {
        return Ok(None);
    }
    let (kind_names, usual) = kinds.usual();
    let mut counts: Vec<usize> = summaries.iter().map(|s| s.identifiers).collect();
    counts.sort_unstable();
    let typical = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let mut distribution = vec![0u64; 5];
    for &c in &counts {
        let bucket = match c {
            0..=1 => 0,
            2..=3 => 1,
            4..=7 => 2,
            8..=15 => 3,
            _ => 4,
        };
        distribution[bucket] += 1;
    }
    // Merges forced past the rules and not undone, by the profile that survived them.
    let mut forced: BTreeMap<ProfileId, Vec<u64>> = BTreeMap::new();
    for entry in read.journal()? {
        if let JournalAction::Merge {
            survivor,
            overrides,
            ..
        } = &entry.action
            && !overrides.is_empty()
            && entry.undone_by.is_none()
        {
            forced.entry(*survivor).or_default().push(entry.op);
        }
    }
    // Every violation in one pass over the store (clusters in order), tallied by profile.
    let profiles = summaries.len() as u64;
    let last_cluster = by_cluster.keys().copied().max().unwrap_or(0).max(1);
    let mut tallies: FxHashMap<u32, ViolationTally> = FxHashMap::default();
    let mut junk = JunkTally::default();
    let mut seen = 0u64;
    read.for_each_violation(&mut |cluster, v| {
        seen += 1;
        let progress = ScanProgress {
            done: profiles + profiles * cluster.min(last_cluster) / last_cluster,
            total: 2 * profiles,
        };
        if seen % 1024 == 1023 && step(progress) {
            stopped = true;
            return false;
        }
        if let Some(&at) = by_cluster.get(&cluster) {
            let held = &summaries[at as usize].user_ids;
            tallies.entry(at).or_default().note(&v, held);
            junk.note(at, &v);
        }
        true
    })?;
    if stopped {
        return Ok(None);
    }
    // The other side of each shared identifier: the profile holding it now.
    let mut lent: Vec<(u32, ProfileId)> = Vec::new();
    for (&at, tally) in &tallies {
        let refusing = summaries[at as usize].id;
        for id in &tally.shared {
            if let Some(holder) = read.owner(id)?
                && holder != refusing
                && let Ok(h) = summaries.binary_search_by_key(&holder, |s| s.id)
            {
                lent.push((h as u32, refusing));
            }
        }
    }
    for (holder, refusing) in lent {
        tallies.entry(holder).or_default().lent_to.insert(refusing);
    }
    let none = ViolationTally::default();
    let mut items = Vec::new();
    for (i, s) in summaries.into_iter().enumerate() {
        let tally = tallies.get(&(i as u32)).unwrap_or(&none);
        let forced = forced.get(&s.id).map_or(&[][..], Vec::as_slice);
        let outsized = outsized(&s, &kind_names, &usual);
        if let Some(item) = judge(s, tally, forced, outsized) {
            items.push(item);
        }
    }
    items.sort_by(|a, b| b.score.cmp(&a.score).then(a.profile.cmp(&b.profile)));
    let routine = items
        .iter()
        .filter(|item| item.severity == Severity::Routine)
        .count();
    let suspicious = items.len() - routine;
    items.truncate(limit);
    let labels = ["1", "2-3", "4-7", "8-15", "16+"];
    Ok(Some(HealthReport {
        profiles: counts.len() as u64,
        typical_identifiers: typical,
        distribution: labels
            .iter()
            .map(|l| l.to_string())
            .zip(distribution)
            .collect(),
        items,
        suspicious,
        routine,
        junk: junk.most_blocked(JUNK_SHOWN),
    }))
}

/// Junk values blocked across the space, tallied as the scan reads the violations.
#[derive(Default)]
struct JunkTally {
    values: BTreeMap<(Identifier, String), (JunkValue, FxHashSet<u32>)>,
}

impl JunkTally {
    /// Notes a violation of the profile at `profile` in the scan.
    fn note(&mut self, profile: u32, v: &Violation) {
        let ViolationReason::Blocked { rule } = &v.reason else {
            return;
        };
        let (value, profiles) = self
            .values
            .entry((v.identifier.clone(), rule.clone()))
            .or_insert_with(|| {
                let value = JunkValue {
                    identifier: v.identifier.clone(),
                    rule: rule.clone(),
                    times: 0,
                    profiles: 0,
                    sources: BTreeSet::new(),
                };
                (value, FxHashSet::default())
            });
        value.times += 1;
        profiles.insert(profile);
        if !value.sources.contains(&v.provenance.source) {
            value.sources.insert(v.provenance.source.clone());
        }
    }

    fn most_blocked(self, n: usize) -> Vec<JunkValue> {
        let mut values: Vec<JunkValue> = self
            .values
            .into_values()
            .map(|(value, profiles)| JunkValue {
                profiles: profiles.len(),
                ..value
            })
            .collect();
        values.sort_by(|a, b| {
            b.times
                .cmp(&a.times)
                .then_with(|| a.identifier.cmp(&b.identifier))
        });
        values.truncate(n);
        values
    }
}

/// What one profile's violations say about it, tallied as the scan reads them.
#[derive(Debug, Default)]
struct ViolationTally {
    /// Other user ids the limit refused.
    refused: BTreeSet<String>,
    /// Identifiers dropped because they came with another user id.
    shared: BTreeSet<Identifier>,
    /// The events that brought those.
    shared_events: BTreeSet<String>,
    /// Profiles whose events brought identifiers this one holds with another user id.
    lent_to: BTreeSet<ProfileId>,
    /// Other identifiers dropped (limits, merge caps, pinned splits).
    other: usize,
    /// Junk values blocked.
    blocked: usize,
}

impl ViolationTally {
    /// Notes a violation of a profile holding the user ids `held`.
    fn note(&mut self, v: &Violation, held: &BTreeSet<String>) {
        if !v.reason.is_problem() {
            if matches!(v.reason, ViolationReason::Blocked { .. }) {
                self.blocked += 1;
            }
            return;
        }
        match &v.reason {
            _ if v.identifier.kind == USER_ID => {
                if !held.contains(&v.identifier.value) {
                    self.refused.insert(v.identifier.value.clone());
                }
            }
            ViolationReason::Limit {
                identifier_type, ..
            } if identifier_type == USER_ID => {
                self.shared.insert(v.identifier.clone());
                self.shared_events.insert(v.provenance.message_id.clone());
            }
            _ => self.other += 1,
        }
    }
}

fn summarize(p: &Profile, rules: Option<&Rules>, kinds: &mut KindCounts) -> Summary {
    let user_ids = p
        .identifiers
        .iter()
        .filter(|i| i.id.kind == USER_ID)
        .map(|i| i.id.value.clone())
        .collect();
    let junk = rules
        .map(|r| {
            p.identifiers
                .iter()
                .filter_map(|i| {
                    r.blocked_by(&i.id.kind, &i.id.value)
                        .map(|rule| (i.id.clone(), rule))
                })
                .collect()
        })
        .unwrap_or_default();
    Summary {
        id: p.id,
        name: p.display_name(),
        identifiers: p.identifiers.len(),
        events: p.event_count,
        user_ids,
        per_kind: kinds.note(p),
        junk,
    }
}

/// The types a profile holds far more of than usual, each with the points it adds.
fn outsized(s: &Summary, kind_names: &[String], usual: &[usize]) -> Vec<(Finding, u64)> {
    s.per_kind
        .iter()
        .filter_map(|&(kind, n)| {
            let (count, usual) = (n as usize, usual[kind as usize]);
            let above = count
                .checked_sub(outsized_above(usual))
                .filter(|&a| a > 0)?;
            let finding = Finding::Outsized {
                kind: kind_names[kind as usize].clone(),
                count,
                usual,
            };
            Some((finding, 10 + above as u64))
        })
        .collect()
}

/// Points where each severity's scores start: a finding of one severity outranks any sum
/// of milder ones.
const BAND: u64 = 1_000;

fn judge(
    s: Summary,
    tally: &ViolationTally,
    forced: &[u64],
    outsized: Vec<(Finding, u64)>,
) -> Option<HealthItem> {
    // Each finding with the points it adds within its severity.
    let mut found: Vec<(Finding, u64)> = Vec::new();
    let held = s.user_ids.len();
    if held > 1 {
        found.push((Finding::UserIdsHeld { count: held }, 30 * (held - 1) as u64));
    }
    found.extend(forced.iter().map(|&op| (Finding::ForcedMerge { op }, 30)));
    found.extend(outsized);
    for (identifier, rule) in s.junk {
        found.push((Finding::JunkHeld { identifier, rule }, 20));
    }
    if !tally.refused.is_empty() {
        let count = tally.refused.len();
        found.push((Finding::UserIdsRefused { count }, 15 * count as u64));
    }
    if !tally.shared.is_empty() {
        let events = tally.shared_events.len();
        let finding = Finding::SharedWithKnown {
            identifiers: tally.shared.len(),
            events,
        };
        found.push((finding, 10 + 5 * (events as u64).min(50)));
    }
    if !tally.lent_to.is_empty() {
        let with: Vec<ProfileId> = tally.lent_to.iter().copied().collect();
        let points = 10 + 5 * (with.len() as u64).min(50);
        found.push((Finding::HoldsSharedIdentifiers { with }, points));
    }
    if tally.other > 0 {
        found.push((
            Finding::Violations { count: tally.other },
            (tally.other as u64).min(50) * 3,
        ));
    }
    if tally.blocked > 0 {
        found.push((
            Finding::JunkBlocked {
                count: tally.blocked,
            },
            (tally.blocked as u64).min(50),
        ));
    }
    let severity = found.iter().map(|(f, _)| f.severity()).max()?;
    let points: u64 = found.iter().map(|(_, points)| points).sum();
    Some(HealthItem {
        profile: s.id,
        name: s.name,
        identifiers: s.identifiers,
        events: s.events,
        severity,
        score: severity as u64 * BAND + points.min(BAND - 1),
        findings: found.into_iter().map(|(f, _)| f).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Provenance, ViolationReason};

    fn summary(id: u64, identifiers: usize) -> Summary {
        Summary {
            id: ProfileId(id),
            name: None,
            identifiers,
            events: 1,
            user_ids: BTreeSet::from(["u1".to_string()]),
            per_kind: Vec::new(),
            junk: Vec::new(),
        }
    }

    fn violation(id: &str, reason: ViolationReason) -> Violation {
        Violation {
            identifier: Identifier::parse(id).unwrap(),
            reason,
            provenance: Provenance {
                message_id: "m".into(),
                source: "web".into(),
                time: 0,
                op: None,
            },
        }
    }

    /// Judges a profile on its violations, tallied as a scan would.
    fn judged(
        s: Summary,
        violations: &[Violation],
        forced: &[u64],
        outsized: Vec<(Finding, u64)>,
    ) -> Option<HealthItem> {
        let mut tally = ViolationTally::default();
        for v in violations {
            tally.note(v, &s.user_ids);
        }
        judge(s, &tally, forced, outsized)
    }

    fn blocked(id: &str, source: &str) -> Violation {
        let mut v = violation(
            id,
            ViolationReason::Blocked {
                rule: "junk".into(),
            },
        );
        v.provenance.source = source.into();
        v
    }

    #[test]
    fn healthy_profiles_are_not_listed() {
        assert!(judged(summary(1, 3), &[], &[], Vec::new()).is_none());
        let signed_out = ViolationReason::SignedOut {
            event: "Signed Out".into(),
        };
        let released = [
            violation("anonymous_id:a1", signed_out.clone()),
            violation("ios.id:D1", signed_out),
        ];
        assert!(
            judged(summary(1, 3), &released, &[], Vec::new()).is_none(),
            "a sign-out is routine"
        );
    }

    fn user_id_limit() -> ViolationReason {
        ViolationReason::Limit {
            identifier_type: "user_id".into(),
            max: 1,
            window: "ever".into(),
        }
    }

    /// Per type, what nine in ten profiles holding it stay within; only a count well past
    /// that is outsized, so a person with a device or two more than most is not flagged.
    #[test]
    fn outsized_is_measured_per_type_against_what_profiles_usually_hold() {
        let mut kinds = KindCounts::default();
        let profile = |id: u64, ids: &[&str]| {
            let mut p = Profile::new(ProfileId(id), 0);
            for text in ids {
                p.add_identifier(&Identifier::parse(text).unwrap(), 0, "web");
            }
            p
        };
        let mut summaries = Vec::new();
        for id in 0..20u64 {
            let p = profile(id, &[&format!("user_id:u{id}"), &format!("ios.id:d{id}")]);
            summaries.push(summarize(&p, None, &mut kinds));
        }
        let few_more = profile(
            20,
            &[
                "user_id:u20",
                "ios.id:a",
                "ios.id:b",
                "ios.id:c",
                "ios.id:d",
            ],
        );
        summaries.push(summarize(&few_more, None, &mut kinds));
        let devices: Vec<String> = (0..9).map(|i| format!("ios.id:x{i}")).collect();
        let mut hub: Vec<&str> = devices.iter().map(String::as_str).collect();
        hub.push("user_id:u21");
        summaries.push(summarize(&profile(21, &hub), None, &mut kinds));
        let (names, usual) = kinds.usual();
        let found: Vec<Vec<(Finding, u64)>> = summaries
            .iter()
            .map(|s| outsized(s, &names, &usual))
            .collect();
        assert!(found[..21].iter().all(Vec::is_empty), "{found:?}");
        assert_eq!(
            found[21],
            vec![(
                Finding::Outsized {
                    kind: "ios.id".into(),
                    count: 9,
                    usual: 1
                },
                15
            )]
        );
        assert_eq!(
            found[21][0].0.to_string(),
            "9 ios.ids (9 in 10 profiles hold at most 1)"
        );
        let item = judged(summaries.remove(21), &[], &[], found[21].clone()).unwrap();
        assert_eq!(item.severity, Severity::Suspect);
    }

    #[test]
    fn refused_user_ids_and_dropped_identifiers_are_suspect_junk_blocked_routine() {
        let v = [
            violation("user_id:u2", user_id_limit()),
            violation("user_id:u3", user_id_limit()),
            violation("user_id:u3", user_id_limit()),
        ];
        let mut v = v.to_vec();
        for (id, event) in [
            ("ios.id:D1", "e1"),
            ("anonymous_id:a1", "e1"),
            ("ios.id:D1", "e2"),
        ] {
            let mut dropped = violation(id, user_id_limit());
            dropped.provenance.message_id = event.into();
            v.push(dropped);
        }
        let cap = ViolationReason::MergeCap {
            detail: "100 merges".into(),
        };
        v.push(violation("email:x@y.z", cap));
        let shared = judged(summary(2, 3), &v, &[], Vec::new()).unwrap();
        assert_eq!(
            shared.findings,
            vec![
                Finding::UserIdsRefused { count: 2 },
                Finding::SharedWithKnown {
                    identifiers: 2,
                    events: 2
                },
                Finding::Violations { count: 1 }
            ]
        );
        assert_eq!(shared.severity, Severity::Suspect);
        assert_eq!(
            shared
                .findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "2 other user_ids refused",
                "shares 2 identifiers with another user_id (2 events)",
                "1 violation"
            ]
        );
        let junk = [blocked("email:test@test.com", "web")];
        let j = judged(summary(3, 2), &junk, &[], Vec::new()).unwrap();
        assert_eq!(j.findings, vec![Finding::JunkBlocked { count: 1 }]);
        assert_eq!(j.severity, Severity::Routine);
        assert!(shared.score > j.score, "blocked junk is the rules at work");
    }

    /// A shared iPad's many refusals rank below a profile holding two people's user ids
    /// after a forced merge, and each reads for what it is: held, refused, forced.
    #[test]
    fn user_ids_held_and_forced_merges_outrank_refusals() {
        let ipad: Vec<Violation> = (0..24)
            .map(|i| violation(&format!("user_id:kid{}", i % 3), user_id_limit()))
            .collect();
        let shared = judged(summary(1, 4), &ipad, &[], Vec::new()).unwrap();
        let mut two = summary(2, 4);
        two.user_ids.insert("u2".into());
        let merged = judged(two, &[], &[7], Vec::new()).unwrap();
        assert_eq!(
            merged.findings,
            vec![
                Finding::UserIdsHeld { count: 2 },
                Finding::ForcedMerge { op: 7 }
            ]
        );
        assert!(merged.score > shared.score, "{merged:?} {shared:?}");
        let text: Vec<String> = merged.findings.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["holds 2 user_ids", "forced merge #7"]);
        let forced_only = judged(summary(3, 4), &[], &[9], Vec::new()).unwrap();
        assert!(forced_only.score > shared.score);
    }

    /// The holder's side of a shared device names the profiles whose events brought its
    /// identifiers, a few of them, and ranks with the refusing side.
    #[test]
    fn holding_identifiers_another_known_person_used_is_suspect() {
        let tally = ViolationTally {
            lent_to: (2..=6).map(ProfileId).collect(),
            ..Default::default()
        };
        let item = judge(summary(1, 3), &tally, &[], Vec::new()).unwrap();
        assert_eq!(item.severity, Severity::Suspect);
        assert_eq!(
            item.findings[0].to_string(),
            "holds identifiers that came with another user_id (p2, p3, p4, …)"
        );
        assert_eq!(
            item.findings[0].to_json()["with"],
            serde_json::json!(["p2", "p3", "p4", "p5", "p6"])
        );
    }

    #[test]
    fn junk_values_are_tallied_over_the_space_by_times_profiles_and_sources() {
        let mut tally = JunkTally::default();
        for v in [
            blocked("user_id:null", "web"),
            blocked("user_id:null", "web"),
            blocked("email:test@test.com", "crm"),
        ] {
            tally.note(0, &v);
        }
        tally.note(1, &blocked("user_id:null", "ios"));
        let junk = tally.most_blocked(1);
        assert_eq!(
            junk,
            vec![JunkValue {
                identifier: Identifier::parse("user_id:null").unwrap(),
                rule: "junk".into(),
                times: 3,
                profiles: 2,
                sources: BTreeSet::from(["ios".to_string(), "web".to_string()]),
            }]
        );
    }
}
