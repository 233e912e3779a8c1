//! Ranking profiles against a query (every word of it matched by one of a profile's texts,
//! see [`Terms`]).
//!
//! Stages, cheapest first: a per-profile and per-text character-bag test, a linear-time
//! ASCII scorer (also the subsequence test), a bounded heap keeping the best few hundred
//! profiles, and finally SkimMatcherV2 on those alone, which gives the ranked score and the
//! matched character positions. Profiles are scanned in groups by the best score their
//! character bags (word starts, and the character pairs a high-scoring match starts with)
//! allow (see [`Terms::bound`]), highest first, so the ranking usually ends long before
//! the scan, which then only counts matches; profiles the ranking passes over as unable to
//! enter the pool are tested for a match after it too. When the first candidates alone fill
//! the pool with the highest score any text can get, the ranking ends before that split.
//! While the user types, a query whose every earlier word is part of one of its words (typing
//! on, or a space and another word) only re-scans the profiles the previous one matched.
//! Scans use every core.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::identifier::{EMAIL, PHONE, looks_like_phone, normalize_phone};
use crate::model::{Millis, ProfileId};

use super::ParsedQuery;
use super::index::{SearchIndex, Slot};
use super::score::EXACT_BONUS;
use super::terms::{Found, Terms};

/// Profiles scanned per thread between cancellation checks and snapshots.
const ROUND: usize = 16_384;
/// The first round of each group while ranking: small, so that a pool that fills with
/// scores the rest of the group cannot beat ends the ranking early; rounds then double.
const FIRST_ROUND: usize = 2_048;
/// How many candidates, in slot order, the early ranking looks at (see
/// [`SearchEngine::early_ranking`]).
const EARLY_SCAN: usize = 16_384;
/// Below this many candidates one thread is faster than several.
const PARALLEL_MIN: usize = 4_096;
/// A scan running longer than this sends partial results.
const SNAPSHOT_AFTER: Duration = Duration::from_millis(40);

/// One ranked profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub profile: ProfileId,
    /// SkimMatcherV2 score (exact identifier matches get a large bonus).
    pub score: i64,
    /// What matched: an identifier type (`email`, `user_id`, ...), `name` or a trait key.
    pub kind: String,
    /// The matched text.
    pub text: String,
    /// Matched character positions in `text` (character indices).
    pub positions: Vec<usize>,
    /// The profile's other texts that words of the query matched, best first (`gmail wiza`
    /// matches an email and a name); empty when one text holds the match.
    pub also: Vec<MatchedText>,
    /// The text is exactly the queried identifier value.
    pub exact: bool,
    /// The profile's display name.
    pub name: Option<String>,
    /// Number of identifiers the profile holds.
    pub identifiers: u32,
    pub last_seen: Millis,
}

impl SearchHit {
    /// `kind:text`, e.g. `email:ana@acme.io`.
    pub fn matched(&self) -> String {
        format!("{}:{}", self.kind, self.text)
    }
}

/// One more text of a profile that a query matched (see [`SearchHit::also`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedText {
    /// An identifier type, `name` or a trait key.
    pub kind: String,
    pub text: String,
    /// Matched character positions in `text` (character indices).
    pub positions: Vec<usize>,
}

impl MatchedText {
    /// `kind:text`, e.g. `name:Brant Wiza`.
    pub fn matched(&self) -> String {
        format!("{}:{}", self.kind, self.text)
    }
}

/// The ranked answer to one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    pub query: String,
    pub hits: Vec<SearchHit>,
    /// How many profiles match in all (not only the ranked ones).
    pub matched: usize,
    /// False for a partial snapshot of a scan still running.
    pub complete: bool,
    /// The one profile holding exactly the queried identifier value, if any.
    pub exact: Option<ProfileId>,
}

/// The profiles a completed query matched, reused when the next query extends it.
#[derive(Debug)]
struct Narrow {
    kind: Option<u16>,
    terms: Terms,
    matched: Vec<u32>,
}

/// A search engine over one index; keeps the previous query's matches for narrowing.
pub struct SearchEngine {
    index: Arc<SearchIndex>,
    narrow: Option<Narrow>,
    threads: usize,
}

impl std::fmt::Debug for SearchEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchEngine")
            .field("profiles", &self.index.profile_count())
            .field("threads", &self.threads)
            .finish()
    }
}

/// What a scan found so far.
#[derive(Default)]
struct Partial {
    /// Profiles that match, in slot order.
    matched: Vec<u32>,
    /// The pool: the best (fast score, slot) seen.
    top: BinaryHeap<Reverse<(i32, Reverse<u32>)>>,
    /// Profiles passed over while ranking, which could not enter the pool; whether they
    /// match is tested once the ranking is sent.
    passed: Vec<u32>,
}

impl SearchEngine {
    /// An engine over `index`, using every available core.
    pub fn new(index: Arc<SearchIndex>) -> SearchEngine {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        SearchEngine {
            index,
            narrow: None,
            threads,
        }
    }

    /// Limits the number of scanning threads (at least one).
    pub fn with_threads(mut self, threads: usize) -> SearchEngine {
        self.threads = threads.max(1);
        self
    }

    /// The index searched.
    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// Ranks the best `limit` profiles for `query`.
    pub fn search(&mut self, query: &str, limit: usize) -> SearchResults {
        self.search_with(query, limit, &|| false, &mut |_| {})
            .expect("a search that is never cancelled completes")
    }

    /// Ranks the best `limit` profiles for `query`; `cancelled` is polled between rounds
    /// (returns `None` once it says so) and `snapshot` receives partial results of long scans.
    pub fn search_with(
        &mut self,
        query: &str,
        limit: usize,
        cancelled: &(dyn Fn() -> bool + Sync),
        snapshot: &mut dyn FnMut(SearchResults),
    ) -> Option<SearchResults> {
        let index = Arc::clone(&self.index);
        let parsed = ParsedQuery::parse(query, index.kinds());
        let kind_index = |name: &str| {
            index
                .kinds()
                .iter()
                .position(|x| x == name)
                .map(|k| k as u16)
        };
        if parsed.text.is_empty() {
            return Some(self.recent(query, parsed.kind.as_deref().and_then(kind_index), limit));
        }
        // Identifiers are stored normalised: an email typed with capitals still matches,
        // and so does a phone number typed with spaces, dashes or brackets.
        let phone = looks_like_phone(&parsed.text);
        let typed = if parsed.text.contains('@') || parsed.kind.as_deref() == Some(EMAIL) {
            parsed.text.to_lowercase()
        } else if phone || parsed.kind.as_deref() == Some(PHONE) {
            normalize_phone(&parsed.text)
        } else {
            parsed.text.clone()
        };
        // A number typed with phone formatting (`(272) 393-9734`) is a phone number: other
        // ids that hold its digits here and there are noise.
        let kind = match parsed.kind.as_deref() {
            None if phone && typed != parsed.text => kind_index(PHONE),
            named => named.and_then(kind_index),
        };
        // Matching ignores case: people type names, emails and ids in any case. An exact
        // value is looked up as typed (ids may differ by case), and found in any case.
        let text = typed.to_lowercase();
        let terms = Terms::new(&text);
        let pool = (limit * 2).max(100);
        let exact = index.exact_slots(&typed, kind);
        let reuse = self
            .narrow
            .take()
            .filter(|n| n.kind == kind && terms.narrows(&n.terms));
        let candidates: Candidates = match &reuse {
            Some(n) => Candidates::List(&n.matched),
            None => Candidates::All(index.slots.len()),
        };
        let first = Scan {
            terms: &terms,
            kind,
            pool,
            rank: true,
            floor: None,
        };
        let early = self
            .early_pool(&index, &candidates, &first)
            .map(|top| self.send_final(&index, query, &terms, kind, &top, &exact, limit, snapshot));
        // Profiles go in groups by the best score their word starts allow, highest first:
        // once the pool beats a group's bound, the rest of the scan only counts matches.
        let split = split_by_bound(&index, &candidates, &terms, self.threads);
        let groups: Vec<(i32, Candidates<'_>)> = split
            .iter()
            .map(|(bound, list)| (*bound, Candidates::List(list)))
            .collect();
        let start = Instant::now();
        let mut last_snapshot = start;
        let mut total = Partial::default();
        let mut matched_by_group: Vec<Vec<u32>> = Vec::with_capacity(groups.len());
        let mut final_ranking = early;
        for (bound, candidates) in &groups {
            let mut round = FIRST_ROUND;
            let mut offset = 0;
            while offset < candidates.len() {
                if cancelled() {
                    return None;
                }
                if final_ranking.is_some() {
                    round = ROUND * self.threads;
                }
                let mut end = (offset + round).min(candidates.len());
                round = (round * 2).min(ROUND * self.threads);
                if final_ranking.is_none() {
                    let reach = reach(&total.top, pool, *bound, candidates);
                    if reach <= offset {
                        // No profile left in this group (nor in the next ones, whose bounds
                        // are lower) can enter the pool: the ranking is final. Send it now;
                        // the rest of the scan only completes the match count and the list
                        // the next keystroke narrows.
                        final_ranking = Some(self.send_final(
                            &index, query, &terms, kind, &total, &exact, limit, snapshot,
                        ));
                    } else {
                        end = end.min(reach);
                        let now = Instant::now();
                        if now - start >= SNAPSHOT_AFTER && now - last_snapshot >= SNAPSHOT_AFTER {
                            last_snapshot = now;
                            let partial =
                                self.rank(&index, query, &terms, kind, &total, &exact, limit);
                            snapshot(SearchResults {
                                complete: false,
                                ..partial
                            });
                        }
                    }
                }
                let scan = Scan {
                    terms: &terms,
                    kind,
                    pool,
                    rank: final_ranking.is_none(),
                    floor: floor(&total.top, pool).map(|min| min - 1),
                };
                let threads = if end - offset < PARALLEL_MIN {
                    1
                } else {
                    self.threads
                };
                for part in self.scan_round(&index, candidates, offset..end, threads, &scan) {
                    total.matched.extend(part.matched);
                    total.passed.extend(part.passed);
                    for item in part.top {
                        push_bounded(&mut total.top, item.0, pool);
                    }
                }
                offset = end;
            }
            matched_by_group.push(std::mem::take(&mut total.matched));
        }
        total.matched = merge_sorted(matched_by_group);
        if !total.passed.is_empty() {
            if final_ranking.is_none() {
                final_ranking = Some(
                    self.send_final(&index, query, &terms, kind, &total, &exact, limit, snapshot),
                );
            }
            let passed = self.matching(&index, &terms, kind, &mut total.passed, cancelled)?;
            total.matched = merge_sorted(vec![std::mem::take(&mut total.matched), passed]);
        }
        let results = match final_ranking {
            Some(mut r) => {
                r.matched = total.matched.len();
                r
            }
            None => self.rank(&index, query, &terms, kind, &total, &exact, limit),
        };
        self.narrow = Some(Narrow {
            kind,
            terms,
            matched: total.matched,
        });
        Some(with_profile_id(&index, &text, kind, results, limit))
    }

    /// The profiles of `slots` (sorted here) that match, in slot order; `None` once
    /// cancelled.
    fn matching(
        &self,
        index: &SearchIndex,
        terms: &Terms,
        kind: Option<u16>,
        slots: &mut [u32],
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Option<Vec<u32>> {
        slots.sort_unstable();
        let candidates = Candidates::List(slots);
        let scan = Scan {
            terms,
            kind,
            pool: 0,
            rank: false,
            floor: None,
        };
        let mut matched = Vec::new();
        let round = ROUND * self.threads;
        for offset in (0..slots.len()).step_by(round) {
            if cancelled() {
                return None;
            }
            let end = (offset + round).min(slots.len());
            let threads = if end - offset < PARALLEL_MIN {
                1
            } else {
                self.threads
            };
            for part in self.scan_round(index, &candidates, offset..end, threads, &scan) {
                matched.extend(part.matched);
            }
        }
        Some(matched)
    }

    /// Ranks what the scan found so far, sends it as the final ranking and returns it.
    #[allow(clippy::too_many_arguments)]
    fn send_final(
        &self,
        index: &SearchIndex,
        query: &str,
        terms: &Terms,
        kind: Option<u16>,
        total: &Partial,
        exact: &[u32],
        limit: usize,
        snapshot: &mut dyn FnMut(SearchResults),
    ) -> SearchResults {
        let ranked = self.rank(index, query, terms, kind, total, exact, limit);
        snapshot(ranked.clone());
        ranked
    }

    /// The pool when the first candidates alone fill it with the highest score any text can
    /// get, found without the bound split: no other candidate can beat them, and later ones
    /// lose every tie. Common one- and two-character queries end here.
    fn early_pool(
        &self,
        index: &SearchIndex,
        candidates: &Candidates<'_>,
        scan: &Scan<'_>,
    ) -> Option<Partial> {
        let terms = scan.terms;
        let top = terms.max_score();
        let mut part = Partial::default();
        for i in 0..candidates.len().min(EARLY_SCAN) {
            let slot_index = candidates.get(i);
            if terms.bound(&index.bags[slot_index as usize]) != Some(top) {
                continue;
            }
            // Only the highest score counts here: texts that cannot reach it are skipped.
            match terms.fast_score(index, slot_index, scan.kind, Some(top - 1)) {
                Some(Found::Scored(score)) => {
                    part.matched.push(slot_index);
                    push_bounded(&mut part.top, (score, Reverse(slot_index)), scan.pool);
                    if floor(&part.top, scan.pool) == Some(top) {
                        return Some(part);
                    }
                }
                Some(Found::Below) | None => {}
            }
        }
        None
    }

    fn scan_round(
        &self,
        index: &SearchIndex,
        candidates: &Candidates<'_>,
        range: std::ops::Range<usize>,
        threads: usize,
        scan: &Scan<'_>,
    ) -> Vec<Partial> {
        let run = |r: std::ops::Range<usize>| -> Partial {
            let mut part = Partial::default();
            for i in r {
                let slot_index = candidates.get(i);
                if !scan.rank {
                    let slot = &index.slots[slot_index as usize];
                    if scan.terms.match_profile(index, slot, scan.kind) {
                        part.matched.push(slot_index);
                    }
                    continue;
                }
                // Texts that cannot beat the lowest pool score are skipped; a profile with
                // no other is set aside, to be tested for a match once the ranking is sent.
                let floor = floor(&part.top, scan.pool).max(scan.floor);
                match scan.terms.fast_score(index, slot_index, scan.kind, floor) {
                    Some(Found::Scored(score)) => {
                        part.matched.push(slot_index);
                        push_bounded(&mut part.top, (score, Reverse(slot_index)), scan.pool);
                    }
                    Some(Found::Below) => part.passed.push(slot_index),
                    None => {}
                }
            }
            part
        };
        in_parallel(range, threads, run)
    }

    /// Re-scores the candidate pool with SkimMatcherV2 and keeps the best `limit`.
    #[allow(clippy::too_many_arguments)]
    fn rank(
        &self,
        index: &SearchIndex,
        query: &str,
        terms: &Terms,
        kind: Option<u16>,
        total: &Partial,
        exact: &[u32],
        limit: usize,
    ) -> SearchResults {
        let mut pool: Vec<u32> = total
            .top
            .iter()
            .map(|Reverse((_, Reverse(slot)))| *slot)
            .collect();
        for s in exact {
            if !pool.contains(s) {
                pool.push(*s);
            }
        }
        let mut hits: Vec<SearchHit> = pool
            .iter()
            .filter_map(|slot_index| {
                let slot = &index.slots[*slot_index as usize];
                self.best_hit(index, slot, terms, kind)
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| kind_rank(&a.kind).cmp(&kind_rank(&b.kind)))
                .then_with(|| a.profile.cmp(&b.profile))
        });
        let exact_profiles: Vec<ProfileId> =
            hits.iter().filter(|h| h.exact).map(|h| h.profile).collect();
        hits.truncate(limit);
        SearchResults {
            query: query.to_string(),
            hits,
            matched: total.matched.len(),
            complete: true,
            exact: (exact_profiles.len() == 1).then(|| exact_profiles[0]),
        }
    }

    fn best_hit(
        &self,
        index: &SearchIndex,
        slot: &Slot,
        terms: &Terms,
        kind: Option<u16>,
    ) -> Option<SearchHit> {
        let ranked = terms.skim(index, slot, kind)?;
        let mut texts = ranked.texts.into_iter();
        let best = texts.next()?;
        Some(SearchHit {
            profile: slot.id,
            score: ranked.score,
            kind: best.kind,
            text: best.text,
            positions: best.positions,
            also: texts.collect(),
            exact: ranked.exact,
            name: index.name_of(slot).map(str::to_string),
            identifiers: slot.identifiers,
            last_seen: slot.last_seen,
        })
    }

    /// The empty query: the most recently seen profiles.
    fn recent(&mut self, query: &str, kind: Option<u16>, limit: usize) -> SearchResults {
        self.narrow = None;
        let index = &self.index;
        let mut top: BinaryHeap<Reverse<(Millis, Reverse<u32>)>> = BinaryHeap::new();
        for (i, slot) in index.slots.iter().enumerate() {
            if let Some(k) = kind
                && !index.slot_entries(slot).iter().any(|e| e.kind == k)
            {
                continue;
            }
            top.push(Reverse((slot.last_seen, Reverse(i as u32))));
            if top.len() > limit {
                top.pop();
            }
        }
        let mut picked: Vec<(Millis, u32)> = top
            .into_iter()
            .map(|Reverse((t, Reverse(i)))| (t, i))
            .collect();
        picked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits = picked
            .into_iter()
            .map(|(_, i)| {
                let slot = &index.slots[i as usize];
                let entries = index.slot_entries(slot);
                let shown = entries
                    .iter()
                    .filter(|e| {
                        kind.is_none_or(|k| k == e.kind) && index.identifier_kind[e.kind as usize]
                    })
                    .min_by_key(|e| recognisable_rank(&index.kinds[e.kind as usize]))
                    .or(entries.first());
                SearchHit {
                    profile: slot.id,
                    score: 0,
                    kind: shown
                        .map(|e| index.kinds[e.kind as usize].clone())
                        .unwrap_or_default(),
                    text: shown.map(|e| index.text(e).to_string()).unwrap_or_default(),
                    positions: Vec::new(),
                    also: Vec::new(),
                    exact: false,
                    name: index.name_of(slot).map(str::to_string),
                    identifiers: slot.identifiers,
                    last_seen: slot.last_seen,
                }
            })
            .collect();
        SearchResults {
            query: query.to_string(),
            hits,
            matched: index.slots.len(),
            complete: true,
            exact: None,
        }
    }
}

/// The results with the profile a query names by its id (`p12`) first, as the exact hit.
fn with_profile_id(
    index: &SearchIndex,
    text: &str,
    kind: Option<u16>,
    mut results: SearchResults,
    limit: usize,
) -> SearchResults {
    let slot = match (kind, text.parse::<ProfileId>()) {
        (None, Ok(id)) => index.slot_of_profile(id),
        _ => None,
    };
    let Some(slot) = slot.map(|s| &index.slots[s as usize]) else {
        return results;
    };
    results.hits.retain(|hit| hit.profile != slot.id);
    results.hits.insert(
        0,
        SearchHit {
            profile: slot.id,
            score: i64::from(EXACT_BONUS),
            kind: "profile".to_string(),
            text: slot.id.to_string(),
            positions: (0..text.chars().count()).collect(),
            also: Vec::new(),
            exact: true,
            name: index.name_of(slot).map(str::to_string),
            identifiers: slot.identifiers,
            last_seen: slot.last_seen,
        },
    );
    results.hits.truncate(limit);
    results.exact = Some(slot.id);
    results
}

/// Ranks field kinds for ties: identifiers people type first.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "user_id" => 0,
        "email" => 1,
        "phone" => 2,
        "name" => 3,
        "anonymous_id" => 5,
        _ => 4,
    }
}

/// Identifier types a person recognises, best first: a profile listed without a query shows
/// its email, else its user id, else its phone, else its first identifier.
fn recognisable_rank(kind: &str) -> usize {
    ["email", "user_id", "phone"]
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(3)
}

/// What one query scans for.
struct Scan<'a> {
    terms: &'a Terms,
    kind: Option<u16>,
    pool: usize,
    /// False once the ranking is final: only matches are counted.
    rank: bool,
    /// The highest score that cannot enter the pool as the round starts (one below its
    /// lowest score, which a profile before it in slot order would beat on a tie).
    floor: Option<i32>,
}

/// The candidates whose character bags hold every word's, in groups of equal
/// [`Terms::bound`], highest bound first, each in slot order, sorted out on `threads` threads.
fn split_by_bound(
    index: &SearchIndex,
    candidates: &Candidates<'_>,
    terms: &Terms,
    threads: usize,
) -> Vec<(i32, Vec<u32>)> {
    let threads = if candidates.len() < PARALLEL_MIN {
        1
    } else {
        threads
    };
    let parts = in_parallel(0..candidates.len(), threads, |range| {
        let mut groups: Vec<(i32, Vec<u32>)> = Vec::new();
        for i in range {
            let slot_index = candidates.get(i);
            if let Some(bound) = terms.bound(&index.bags[slot_index as usize]) {
                add_to_group(&mut groups, bound, [slot_index]);
            }
        }
        groups
    });
    let mut groups = Vec::new();
    for (bound, list) in parts.into_iter().flatten() {
        add_to_group(&mut groups, bound, list);
    }
    groups.sort_by_key(|(bound, _)| Reverse(*bound));
    groups
}

/// Appends `slots` to the group of `bound`, starting it if needed.
fn add_to_group(
    groups: &mut Vec<(i32, Vec<u32>)>,
    bound: i32,
    slots: impl IntoIterator<Item = u32>,
) {
    match groups.iter_mut().find(|(b, _)| *b == bound) {
        Some((_, list)) => list.extend(slots),
        None => groups.push((bound, slots.into_iter().collect())),
    }
}

/// The lowest score of a full pool.
fn floor(top: &BinaryHeap<Reverse<(i32, Reverse<u32>)>>, pool: usize) -> Option<i32> {
    top.peek()
        .filter(|_| top.len() >= pool)
        .map(|Reverse((score, _))| *score)
}

/// How many of a group's candidates (in slot order, each scoring at most `bound`) can
/// still enter the pool: all while it has room or its lowest score is below the bound,
/// none once it is above, and those before its lowest entry's slot (which win the tie) when
/// it equals the bound.
fn reach(
    top: &BinaryHeap<Reverse<(i32, Reverse<u32>)>>,
    pool: usize,
    bound: i32,
    candidates: &Candidates<'_>,
) -> usize {
    match top.peek() {
        Some(Reverse((score, Reverse(slot)))) if top.len() >= pool => match score.cmp(&bound) {
            std::cmp::Ordering::Greater => 0,
            std::cmp::Ordering::Equal => candidates.before(*slot),
            std::cmp::Ordering::Less => candidates.len(),
        },
        _ => candidates.len(),
    }
}

/// Runs `run` on `threads` consecutive parts of `range` at once; results in range order.
fn in_parallel<T: Send>(
    range: std::ops::Range<usize>,
    threads: usize,
    run: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    if threads <= 1 {
        return vec![run(range)];
    }
    let chunk = range.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let lo = (range.start + t * chunk).min(range.end);
                let hi = (lo + chunk).min(range.end);
                let run = &run;
                s.spawn(move || run(lo..hi))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("search scan thread panicked"))
            .collect()
    })
}

/// Merges ascending lists into one ascending list.
fn merge_sorted(lists: Vec<Vec<u32>>) -> Vec<u32> {
    lists.into_iter().fold(Vec::new(), |merged, list| {
        if merged.is_empty() {
            return list;
        }
        let mut out = Vec::with_capacity(merged.len() + list.len());
        let (mut a, mut b) = (merged.into_iter().peekable(), list.into_iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            if x <= y {
                out.extend(a.next());
            } else {
                out.extend(b.next());
            }
        }
        out.extend(a);
        out.extend(b);
        out
    })
}

fn push_bounded(
    heap: &mut BinaryHeap<Reverse<(i32, Reverse<u32>)>>,
    item: (i32, Reverse<u32>),
    cap: usize,
) {
    if heap.len() < cap {
        heap.push(Reverse(item));
    } else if heap.peek().is_some_and(|min| item > min.0) {
        heap.pop();
        heap.push(Reverse(item));
    }
}

enum Candidates<'a> {
    All(usize),
    List(&'a [u32]),
}

impl Candidates<'_> {
    fn len(&self) -> usize {
        match self {
            Candidates::All(n) => *n,
            Candidates::List(l) => l.len(),
        }
    }

    /// How many candidates come before `slot`.
    fn before(&self, slot: u32) -> usize {
        match self {
            Candidates::All(n) => (slot as usize).min(*n),
            Candidates::List(l) => l.partition_point(|&s| s < slot),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u32 {
        match self {
            Candidates::All(_) => i as u32,
            Candidates::List(l) => l[i],
        }
    }
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod words_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identifier, Profile};
    use serde_json::json;

    fn person(id: u64, name: &str, ids: &[&str]) -> Profile {
        let mut p = Profile::new(ProfileId(id), 1_000 * id as i64);
        for text in ids {
            p.add_identifier(&Identifier::parse(text).unwrap(), 1_000, "web");
        }
        p.record_event(
            1_000 * id as i64,
            id,
            json!({ "name": name }).as_object().unwrap(),
        );
        p
    }

    fn engine() -> SearchEngine {
        let people = [
            person(
                1,
                "Ana Silva",
                &[
                    "email:ana.silva@acme.io",
                    "user_id:u-1001",
                    "phone:+34612345678",
                ],
            ),
            person(2, "Banana Joe", &["email:joe@fruit.io", "user_id:u-1002"]),
            person(3, "Jürgen Groß", &["email:jg@beispiel.de", "user_id:42"]),
            person(
                4,
                "Anaïs Nin",
                &["email:anais@lit.fr", "anonymous_id:anon-ana-7"],
            ),
            person(5, "Bob", &["user_id:420", "anonymous_id:3f2a-77"]),
        ];
        SearchEngine::new(Arc::new(SearchIndex::from_profiles("default", &people))).with_threads(2)
    }

    #[test]
    fn ranks_word_start_matches_first_with_positions() {
        let mut e = engine();
        let r = e.search("ana", 10);
        assert!(r.complete);
        assert_eq!(r.hits[0].profile, ProfileId(1), "{:#?}", r.hits);
        assert_eq!(r.hits[0].positions, vec![0, 1, 2]);
        let ids: Vec<u64> = r.hits.iter().map(|h| h.profile.0).collect();
        assert!(ids.contains(&2) && ids.contains(&4), "{ids:?}");
        assert!(!ids.contains(&5));
        assert_eq!(r.matched, 3);
    }

    #[test]
    fn shows_which_field_matched() {
        let mut e = engine();
        let r = e.search("fruit", 10);
        assert_eq!(r.hits.len(), 1);
        assert_eq!(r.hits[0].matched(), "email:joe@fruit.io");
        assert_eq!(r.hits[0].name.as_deref(), Some("Banana Joe"));
    }

    #[test]
    fn phone_numbers_match_however_they_are_typed() {
        let mut e = engine();
        for typed in [
            "612-345-678",
            "+34 612 34 56 78",
            "(612) 345 678",
            "phone:+34 612 345 678",
        ] {
            let r = e.search(typed, 10);
            assert_eq!(
                r.hits.first().map(|h| h.profile),
                Some(ProfileId(1)),
                "{typed}"
            );
            assert_eq!(r.hits[0].matched(), "phone:+34612345678", "{typed}");
        }
        assert_eq!(e.search("+34 612 345 678", 10).exact, Some(ProfileId(1)));
    }

    #[test]
    fn a_formatted_phone_number_matches_phones_only() {
        let people = [
            person(1, "Ana", &["phone:+12723939734"]),
            person(2, "Bo", &["ios.push_token:2f7a2b3c9d3e9f7a3b4c"]),
        ];
        let index = SearchIndex::from_profiles("default", &people);
        let mut e = SearchEngine::new(Arc::new(index)).with_threads(1);
        let ids = |r: SearchResults| r.hits.iter().map(|h| h.profile.0).collect::<Vec<_>>();
        assert_eq!(ids(e.search("(272) 393-9734", 10)), [1]);
        assert_eq!(
            ids(e.search("2723939734", 10)),
            [1, 2],
            "bare digits match any field"
        );
    }

    #[test]
    fn matching_ignores_case() {
        let mut e = engine();
        assert_eq!(e.search("ANA SILVA", 10).hits[0].profile, ProfileId(1));
        let r = e.search("Ana.Silva", 10);
        assert_eq!(r.hits[0].matched(), "email:ana.silva@acme.io");
        let r = e.search("U-1001", 10);
        assert_eq!((r.exact, r.hits[0].exact), (Some(ProfileId(1)), true));
    }

    #[test]
    fn a_profile_id_finds_that_profile_first() {
        let mut e = engine();
        let r = e.search("p4", 10);
        assert_eq!(r.exact, Some(ProfileId(4)));
        assert_eq!(r.hits[0].matched(), "profile:p4");
        assert_eq!(r.hits[0].name.as_deref(), Some("Anaïs Nin"));
        assert_eq!(e.search("p99", 10).exact, None, "no such profile");
    }

    #[test]
    fn an_email_held_only_as_a_trait_is_found() {
        let mut team = person(6, "Desk", &["user_id:u-6"]);
        let traits = serde_json::json!({"email": "Team@Shop.io"});
        team.record_event(9_000, 2, traits.as_object().unwrap());
        let index = SearchIndex::from_profiles("default", [&team]);
        let mut e = SearchEngine::new(Arc::new(index)).with_threads(1);
        let r = e.search("team@shop.io", 10);
        assert_eq!(r.exact, Some(ProfileId(6)));
        assert_eq!(r.hits[0].matched(), "email:team@shop.io");
    }

    #[test]
    fn exact_identifier_values_jump() {
        let mut e = engine();
        let r = e.search("42", 10);
        assert_eq!(r.exact, Some(ProfileId(3)));
        assert_eq!(r.hits[0].profile, ProfileId(3));
        assert!(r.hits[0].exact);
        let r = e.search("user_id:420", 10);
        assert_eq!(r.exact, Some(ProfileId(5)));
        assert_eq!(r.hits.len(), 1);
        let r = e.search("email:ANA.SILVA@ACME.IO", 10);
        assert_eq!(r.exact, Some(ProfileId(1)));
    }

    #[test]
    fn narrowing_gives_the_same_answer_as_a_fresh_scan() {
        let mut e = engine();
        for q in ["a", "an", "ana", "ana.", "ana.s"] {
            let narrowed = e.search(q, 10);
            let fresh = engine().search(q, 10);
            assert_eq!(narrowed, fresh, "query {q}");
        }
        let widened = e.search("an", 10);
        assert_eq!(widened, engine().search("an", 10));
    }

    #[test]
    fn non_ascii_names_match() {
        let mut e = engine();
        let r = e.search("groß", 10);
        assert_eq!(r.hits[0].profile, ProfileId(3));
        let r = e.search("anaïs", 10);
        assert_eq!(r.hits[0].profile, ProfileId(4));
    }

    #[test]
    fn empty_query_lists_recent_profiles() {
        let mut e = engine();
        let r = e.search("", 3);
        let ids: Vec<u64> = r.hits.iter().map(|h| h.profile.0).collect();
        assert_eq!(ids, vec![5, 4, 3]);
    }

    #[test]
    fn recent_profiles_show_their_most_recognisable_identifier() {
        let both = person(
            1,
            "Ana",
            &["anonymous_id:a-1", "user_id:u1", "email:ana@x.io"],
        );
        let no_email = person(2, "Bo", &["anonymous_id:a-2", "phone:+100", "user_id:u2"]);
        let anonymous = person(3, "", &["anonymous_id:a-3", "android.id:d3"]);
        let mut e = SearchEngine::new(Arc::new(SearchIndex::from_profiles(
            "default",
            [&both, &no_email, &anonymous],
        )));
        let shown: Vec<(String, String)> = e
            .search("", 3)
            .hits
            .into_iter()
            .map(|h| (h.kind, h.text))
            .collect();
        let expected = [
            ("anonymous_id", "a-3"),
            ("user_id", "u2"),
            ("email", "ana@x.io"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        assert_eq!(shown, expected);
    }

    #[test]
    fn cancelled_scans_return_nothing() {
        let mut e = engine();
        assert!(e.search_with("ana", 10, &|| true, &mut |_| {}).is_none());
        assert_eq!(e.search("ana", 10).matched, 3);
    }

    #[test]
    fn parallel_scan_of_many_profiles_keeps_top_k() {
        let people: Vec<Profile> = (1..=40_000)
            .map(|i| {
                person(
                    i,
                    &format!("Person {i}"),
                    &[&format!("email:p{i}@example.org")],
                )
            })
            .collect();
        let mut e =
            SearchEngine::new(Arc::new(SearchIndex::from_profiles("s", &people))).with_threads(2);
        let r = e.search("p3999", 5);
        assert_eq!(r.hits[0].profile, ProfileId(3999));
        assert!(r.matched >= 5);
        assert_eq!(r.hits.len(), 5);
        // "p" saturates the pool early: ranking is final, counts still complete, exact found.
        let mut early = Vec::new();
        let r = e
            .search_with("p", 5, &|| false, &mut |s| early.push(s))
            .unwrap();
        assert!(
            early.iter().any(|s| s.complete),
            "an early final ranking is sent"
        );
        assert_eq!(r.matched, 40_000);
        assert_eq!(r.hits[0].profile, ProfileId(1));
        let r = e.search("p39999@example.org", 5);
        assert_eq!(r.exact, Some(ProfileId(39_999)));
    }

    /// The ranking without any pruning: every profile's best fast score, the pool by
    /// (score, slot), re-ranked by SkimMatcherV2.
    pub(super) fn unpruned(engine: &SearchEngine, query: &str, limit: usize) -> SearchResults {
        let index = Arc::clone(&engine.index);
        let text = ParsedQuery::parse(query, index.kinds()).text.to_lowercase();
        let terms = Terms::new(&text);
        let pool = (limit * 2).max(100);
        let mut total = Partial::default();
        for i in 0..index.slots.len() as u32 {
            match terms.fast_score(&index, i, None, None) {
                Some(Found::Scored(score)) => {
                    total.matched.push(i);
                    push_bounded(&mut total.top, (score, Reverse(i)), pool);
                }
                Some(Found::Below) => unreachable!("no floor, every match is scored"),
                None => {}
            }
        }
        let exact = index.exact_slots(&text, None);
        engine.rank(&index, query, &terms, None, &total, &exact, limit)
    }

    #[test]
    fn pruned_and_narrowed_rankings_equal_the_unpruned_ranking() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let words = [
            "lopez", "mueller", "ana", "silva", "lo", "mu", "tara", "khan", "zoe", "müller",
            "jürgen", "Ölsen", "lu.o",
        ];
        let domains = ["gmail.com", "outlook.com", "acme.io", "web.de"];
        let people: Vec<Profile> = (1..=20_000u64)
            .map(|i| {
                let first = words[rng.random_range(0..words.len())];
                let last = words[rng.random_range(0..words.len())];
                let domain = domains[rng.random_range(0..domains.len())];
                let email = format!("email:{first}.{last}{}@{domain}", i % 97);
                let anon = format!(
                    "anonymous_id:{:08x}-{:04x}",
                    rng.random::<u32>(),
                    rng.random::<u16>()
                );
                let user = format!("user_id:u-{i}");
                person(i, &format!("{first} {last}"), &[&email, &anon, &user])
            })
            .collect();
        let index = Arc::new(SearchIndex::from_profiles("s", &people));
        let mut engine = SearchEngine::new(Arc::clone(&index)).with_threads(2);
        for word in [
            "lopez12", "mueller", "4fa3", "u-1999", "zoe.k", "ak", "outl", "o.l", "lsen", "jürg",
            "mül",
        ] {
            let mut typed = String::new();
            for c in word.chars() {
                typed.push(c);
                let got = engine.search(&typed, 50);
                let reference = unpruned(&SearchEngine::new(Arc::clone(&index)), &typed, 50);
                assert_eq!(got.hits, reference.hits, "query {typed}");
                assert_eq!(got.matched, reference.matched, "query {typed}");
                assert_eq!(got.exact, reference.exact, "query {typed}");
            }
            engine.search("", 50);
        }
    }
}
