//! Ranking profiles against a query.
//!
//! Stages, cheapest first: a per-profile and per-text character-bag test, a linear-time
//! ASCII scorer (also the subsequence test), a bounded heap keeping the best few hundred
//! profiles, and finally SkimMatcherV2 on those alone, which gives the ranked score and the
//! matched character positions. While the user types, a query that extends the previous
//! one only re-scans the profiles the previous one matched. Scans use every core.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::model::{Millis, ProfileId};

use super::ParsedQuery;
use super::index::{SearchIndex, Slot};
use super::score::{EXACT_BONUS, Pattern, is_subsequence};

/// Profiles scanned per thread between cancellation checks and snapshots.
const ROUND: usize = 16_384;
/// Below this many candidates one thread is faster than several.
const PARALLEL_MIN: usize = 16_384;
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
    pattern: Pattern,
    matched: Vec<u32>,
}

/// A search engine over one index; keeps the previous query's matches for narrowing.
pub struct SearchEngine {
    index: Arc<SearchIndex>,
    matcher: SkimMatcherV2,
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

struct Partial {
    matched: Vec<u32>,
    top: BinaryHeap<Reverse<(i32, Reverse<u32>)>>,
}

impl SearchEngine {
    /// An engine over `index`, using every available core.
    pub fn new(index: Arc<SearchIndex>) -> SearchEngine {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        SearchEngine {
            index,
            matcher: SkimMatcherV2::default().smart_case(),
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
        let kind = parsed
            .kind
            .as_deref()
            .and_then(|k| index.kinds().iter().position(|x| x == k))
            .map(|k| k as u16);
        if parsed.text.is_empty() {
            return Some(self.recent(query, kind, limit));
        }
        // Identifiers are stored normalised: an email typed with capitals still matches.
        let text = if parsed.text.contains('@') || parsed.kind.as_deref() == Some("email") {
            parsed.text.to_lowercase()
        } else {
            parsed.text.clone()
        };
        let pattern = Pattern::new(&text);
        let pool = (limit * 2).max(100);
        let ceiling = pattern.max_score();
        let exact = index.exact_slots(&text, kind);
        let reuse = self.narrow.take().filter(|n| {
            n.kind == kind
                && n.pattern.case_sensitive == pattern.case_sensitive
                && is_subsequence(&n.pattern.bytes, &pattern.bytes)
        });
        let candidates: Candidates = match &reuse {
            Some(n) => Candidates::List(&n.matched),
            None => Candidates::All(index.slots.len()),
        };
        let start = Instant::now();
        let mut last_snapshot = start;
        let mut total = Partial {
            matched: Vec::new(),
            top: BinaryHeap::new(),
        };
        let threads = if candidates.len() < PARALLEL_MIN {
            1
        } else {
            self.threads
        };
        let round = ROUND * threads;
        let mut offset = 0;
        let mut final_ranking: Option<SearchResults> = None;
        while offset < candidates.len() {
            if cancelled() {
                return None;
            }
            let end = (offset + round).min(candidates.len());
            let parts = self.scan_round(
                &index,
                &candidates,
                offset..end,
                threads,
                &pattern,
                &text,
                kind,
                pool,
            );
            for part in parts {
                total.matched.extend(part.matched);
                if final_ranking.is_none() {
                    for item in part.top {
                        push_bounded(&mut total.top, item.0, pool);
                    }
                }
            }
            offset = end;
            if final_ranking.is_none()
                && offset < candidates.len()
                && saturated(&total.top, pool, ceiling)
            {
                // Every pool slot holds the best score any text can reach, and later
                // profiles lose ties: the ranking is final. Send it now; the rest of the
                // scan only completes the match count and the list the next keystroke narrows.
                let mut early = self.rank(&index, query, &text, kind, &total, &exact, limit);
                early.matched = total.matched.len();
                snapshot(early.clone());
                final_ranking = Some(early);
                continue;
            }
            let now = Instant::now();
            if final_ranking.is_none()
                && offset < candidates.len()
                && now - start >= SNAPSHOT_AFTER
                && now - last_snapshot >= SNAPSHOT_AFTER
            {
                last_snapshot = now;
                let mut partial = self.rank(&index, query, &text, kind, &total, &exact, limit);
                partial.complete = false;
                snapshot(partial);
            }
        }
        let results = match final_ranking {
            Some(mut r) => {
                r.matched = total.matched.len();
                r
            }
            None => self.rank(&index, query, &text, kind, &total, &exact, limit),
        };
        self.narrow = Some(Narrow {
            kind,
            pattern,
            matched: total.matched,
        });
        Some(results)
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_round(
        &self,
        index: &SearchIndex,
        candidates: &Candidates<'_>,
        range: std::ops::Range<usize>,
        threads: usize,
        pattern: &Pattern,
        text: &str,
        kind: Option<u16>,
        pool: usize,
    ) -> Vec<Partial> {
        let matcher = &self.matcher;
        let scan = |r: std::ops::Range<usize>| -> Partial {
            let mut part = Partial {
                matched: Vec::new(),
                top: BinaryHeap::new(),
            };
            for i in r {
                let slot_index = candidates.get(i);
                let slot = &index.slots[slot_index as usize];
                if let Some(score) = best_fast_score(index, slot, pattern, text, kind, matcher) {
                    part.matched.push(slot_index);
                    push_bounded(&mut part.top, (score, Reverse(slot_index)), pool);
                }
            }
            part
        };
        if threads <= 1 {
            return vec![scan(range)];
        }
        let chunk = range.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let lo = range.start + t * chunk;
                    let hi = (lo + chunk).min(range.end);
                    let scan = &scan;
                    s.spawn(move || scan(lo.min(hi)..hi))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("search scan thread panicked"))
                .collect()
        })
    }

    /// Re-scores the candidate pool with SkimMatcherV2 and keeps the best `limit`.
    #[allow(clippy::too_many_arguments)]
    fn rank(
        &self,
        index: &SearchIndex,
        query: &str,
        text: &str,
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
                self.best_hit(index, slot, text, kind)
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
        text: &str,
        kind: Option<u16>,
    ) -> Option<SearchHit> {
        let mut best: Option<(i64, usize, Vec<usize>, bool)> = None;
        for (i, entry) in index.slot_entries(slot).iter().enumerate() {
            if kind.is_some_and(|k| k != entry.kind) {
                continue;
            }
            let hay = index.text(entry);
            let Some((mut score, positions)) = self.matcher.fuzzy_indices(hay, text) else {
                continue;
            };
            let exact = index.identifier_kind[entry.kind as usize] && is_exact(hay, text);
            if exact {
                score += i64::from(EXACT_BONUS);
            }
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, i, positions, exact));
            }
        }
        let (score, i, positions, exact) = best?;
        let entry = &index.slot_entries(slot)[i];
        Some(SearchHit {
            profile: slot.id,
            score,
            kind: index.kinds[entry.kind as usize].clone(),
            text: index.text(entry).to_string(),
            positions,
            exact,
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
                    .find(|e| {
                        kind.is_none_or(|k| k == e.kind) && index.identifier_kind[e.kind as usize]
                    })
                    .or(entries.first());
                SearchHit {
                    profile: slot.id,
                    score: 0,
                    kind: shown
                        .map(|e| index.kinds[e.kind as usize].clone())
                        .unwrap_or_default(),
                    text: shown.map(|e| index.text(e).to_string()).unwrap_or_default(),
                    positions: Vec::new(),
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

fn is_exact(hay: &str, text: &str) -> bool {
    hay == text || (hay.len() == text.len() && hay.eq_ignore_ascii_case(text) && text.contains('@'))
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

fn best_fast_score(
    index: &SearchIndex,
    slot: &Slot,
    pattern: &Pattern,
    text: &str,
    kind: Option<u16>,
    matcher: &SkimMatcherV2,
) -> Option<i32> {
    if slot.bag & pattern.bag != pattern.bag {
        return None;
    }
    let mut best: Option<i32> = None;
    for entry in index.slot_entries(slot) {
        if entry.bag & pattern.bag != pattern.bag || kind.is_some_and(|k| k != entry.kind) {
            continue;
        }
        let hay = index.text(entry);
        let score = if entry.ascii && pattern.ascii {
            pattern.score(hay.as_bytes()).map(|s| {
                if index.identifier_kind[entry.kind as usize] && is_exact(hay, text) {
                    s + EXACT_BONUS
                } else {
                    s
                }
            })
        } else {
            matcher.fuzzy_match(hay, text).map(|s| s as i32)
        };
        if let Some(s) = score {
            best = Some(best.map_or(s, |b| b.max(s)));
        }
    }
    best
}

/// Whether the pool is full of scores no later profile can beat.
fn saturated(top: &BinaryHeap<Reverse<(i32, Reverse<u32>)>>, pool: usize, ceiling: i32) -> bool {
    top.len() >= pool && top.peek().is_some_and(|min| min.0.0 >= ceiling)
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

    #[inline]
    fn get(&self, i: usize) -> u32 {
        match self {
            Candidates::All(_) => i as u32,
            Candidates::List(l) => l[i],
        }
    }
}

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
}
