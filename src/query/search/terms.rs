//! A query's words and how a profile matches them.
//!
//! A profile matches when every word of the query matches one of its texts, in any order:
//! words may match different texts (a name and an email domain) or the same one. It scores
//! the sum of its words' best scores, or the whole query's best score in one text when that
//! is higher, so a text holding the words in the order typed ranks first. A query of one
//! word is that word alone.

use super::engine::MatchedText;
use super::index::{Entry, SearchIndex, Slot, SlotBags};
use super::score::{EXACT_BONUS, Pattern, folded_bag, head_bag, is_subsequence, start_bag};

/// A query split into the words a profile must all match.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    /// The whole query, scored in one text; for one word, that word.
    pub whole: Pattern,
    /// The words of a query of two or more; empty for one word.
    pub words: Vec<Pattern>,
    /// The union of the words' character bags: a matching profile holds all of it.
    pub bag: u64,
}

/// What a scan found of a profile: that it matches, with its best fast score, or that its
/// score cannot beat the floor it was scanned against (whether it matches is not tested).
pub(crate) enum Found {
    Scored(i32),
    Below,
}

/// A profile as SkimMatcherV2 ranks it (see [`Terms::skim`]).
pub(crate) struct Ranked {
    pub score: i64,
    /// The whole query is exactly one of the profile's identifier values.
    pub exact: bool,
    /// The texts matched, best first.
    pub texts: Vec<MatchedText>,
}

impl Terms {
    /// The terms of a query text, as it is matched (lower-cased, normalised).
    pub fn new(text: &str) -> Terms {
        let whole = Pattern::new(text);
        let words: Vec<Pattern> = match text.split_whitespace().nth(1) {
            Some(_) => text.split_whitespace().map(Pattern::new).collect(),
            None => Vec::new(),
        };
        let bag = match words.as_slice() {
            [] => whole.bag,
            words => words.iter().fold(0, |bag, word| bag | word.bag),
        };
        Terms { whole, words, bag }
    }

    /// The patterns a matching profile matches each: the words, or the one word.
    pub fn required(&self) -> &[Pattern] {
        match self.words.as_slice() {
            [] => std::slice::from_ref(&self.whole),
            words => words,
        }
    }

    /// The highest score any profile can get, exact bonus aside.
    pub fn max_score(&self) -> i32 {
        let words: i32 = self.words.iter().map(Pattern::max_score).sum();
        self.whole.max_score().max(words)
    }

    /// The highest score of a profile with these bags, for the fast scorer and
    /// SkimMatcherV2 alike (see [`Pattern::bound`]), or `None` when its character bag lacks
    /// some word's characters.
    pub fn bound(&self, bags: &SlotBags) -> Option<i32> {
        if bags.bag & self.bag != self.bag {
            return None;
        }
        let whole = (bags.bag & self.whole.bag == self.whole.bag).then(|| bound(&self.whole, bags));
        if self.words.is_empty() {
            return whole;
        }
        let words: i32 = self.words.iter().map(|word| bound(word, bags)).sum();
        Some(whole.map_or(words, |whole| whole.max(words)))
    }

    /// Whether every profile these terms match is one that `earlier` matched: each earlier
    /// word is a subsequence of one of these (typing on, or a space and another word).
    pub fn narrows(&self, earlier: &Terms) -> bool {
        self.whole.case_sensitive == earlier.whole.case_sensitive
            && earlier.required().iter().all(|old| {
                self.required()
                    .iter()
                    .any(|new| is_subsequence(&old.bytes, &new.bytes))
            })
    }

    /// Whether every word matches one of the profile's texts (of `kind`, when given).
    pub fn match_profile(&self, index: &SearchIndex, slot: &Slot, kind: Option<u16>) -> bool {
        let entries = index.slot_entries(slot);
        self.required().iter().all(|pattern| {
            candidates(pattern, entries, kind)
                .any(|(_, entry)| pattern.matches_text(&index.text(entry)))
        })
    }

    /// The profile's best fast score; texts whose bound does not beat `floor` are skipped.
    /// `None` when the profile does not match.
    pub fn fast_score(
        &self,
        index: &SearchIndex,
        slot_index: u32,
        kind: Option<u16>,
        floor: Option<i32>,
    ) -> Option<Found> {
        let entries = index.slot_entries(&index.slots[slot_index as usize]);
        let whole = best_fast(index, entries, &self.whole, kind, true, floor);
        if self.words.is_empty() {
            return whole;
        }
        let bags = &index.bags[slot_index as usize];
        let bounds: i32 = self.words.iter().map(|word| bound(word, bags)).sum();
        let whole = match whole {
            // The text the whole query matched holds every word, and their scores cannot
            // add up to more than its score, or than the floor.
            Some(Found::Scored(score)) if score >= bounds || floor >= Some(bounds) => {
                return whole;
            }
            Some(Found::Scored(score)) => Some(score),
            _ if floor >= Some(bounds) => return Some(Found::Below),
            _ => None,
        };
        // A word's score lifts the profile above `floor` only if it beats `floor` less the
        // most the other words can score; if one cannot, only the whole query's can.
        let mut sum = Some(0);
        for word in &self.words {
            let floor = floor.map(|floor| floor - (bounds - bound(word, bags)));
            match best_fast(index, entries, word, kind, false, floor)? {
                Found::Scored(score) => sum = sum.map(|sum| sum + score),
                Found::Below => sum = None,
            }
        }
        Some(whole.max(sum).map_or(Found::Below, Found::Scored))
    }

    /// The profile's SkimMatcherV2 score and the texts its words matched (their positions
    /// joined per text), or the one text the whole query matched when that scores higher.
    /// `None` when it does not match.
    pub fn skim(&self, index: &SearchIndex, slot: &Slot, kind: Option<u16>) -> Option<Ranked> {
        let entries = index.slot_entries(slot);
        let whole = best_skim(index, entries, &self.whole, kind, true);
        let (score, texts) = if self.words.is_empty() {
            let whole = whole?;
            (whole.score, vec![whole])
        } else {
            let words: Vec<SkimMatch> = self
                .words
                .iter()
                .map(|word| best_skim(index, entries, word, kind, false))
                .collect::<Option<_>>()?;
            let sum = words.iter().map(|m| m.score).sum();
            match whole {
                Some(whole) if whole.score >= sum => (whole.score, vec![whole]),
                _ => (sum, joined_by_text(words)),
            }
        };
        Some(Ranked {
            score,
            exact: texts.iter().any(|m| m.exact),
            texts: texts
                .into_iter()
                .map(|m| {
                    let entry = &entries[m.entry];
                    MatchedText {
                        kind: index.kinds[entry.kind as usize].clone(),
                        text: index.text(entry).to_string(),
                        positions: m.positions,
                    }
                })
                .collect(),
        })
    }
}

/// The highest score of `pattern` in a profile with these bags (see [`Pattern::bound`]; a
/// pattern the fast scorer does not handle gets its highest score).
fn bound(pattern: &Pattern, bags: &SlotBags) -> i32 {
    if pattern.ascii {
        pattern.bound(bags.heads, bags.hard, bags.starts, bags.pairs)
    } else {
        pattern.max_score()
    }
}

/// The texts that may match `pattern` (of `kind`, holding its characters), with their
/// indices among the profile's.
fn candidates<'e>(
    pattern: &Pattern,
    entries: &'e [Entry],
    kind: Option<u16>,
) -> impl Iterator<Item = (usize, &'e Entry)> {
    let bag = folded_bag(pattern.bag);
    entries
        .iter()
        .enumerate()
        .filter(move |(_, e)| e.bag & bag == bag && kind.is_none_or(|k| k == e.kind))
}

/// Whether an identifier value is exactly the queried text.
pub(crate) fn is_exact(hay: &str, text: &str) -> bool {
    hay.len() == text.len() && hay.eq_ignore_ascii_case(text)
}

/// One pattern's best fast score over a profile's texts, as [`Terms::fast_score`]; an
/// identifier equal to the pattern earns [`EXACT_BONUS`] when `exact` is set.
fn best_fast(
    index: &SearchIndex,
    entries: &[Entry],
    pattern: &Pattern,
    kind: Option<u16>,
    exact: bool,
    floor: Option<i32>,
) -> Option<Found> {
    let mut best: Option<i32> = None;
    let mut below = false;
    for (_, entry) in candidates(pattern, entries, kind) {
        let hay = index.text(entry);
        let hay: &str = &hay;
        if pattern.ascii
            && floor.is_some_and(|floor| {
                let heads = head_bag(hay);
                pattern.bound(heads, heads, start_bag(hay), u128::MAX) <= floor
            })
        {
            below = true;
            continue;
        }
        let score = if entry.form.is_ascii() && pattern.ascii {
            pattern.score(hay.as_bytes()).map(|s| {
                if exact
                    && index.identifier_kind[entry.kind as usize]
                    && is_exact(hay, &pattern.text)
                {
                    s + EXACT_BONUS
                } else {
                    s
                }
            })
        } else {
            pattern.skim_score(hay).map(|s| s as i32)
        };
        if let Some(s) = score {
            best = Some(best.map_or(s, |b| b.max(s)));
        }
    }
    match best {
        Some(score) => Some(Found::Scored(score)),
        None if below => Some(Found::Below),
        None => None,
    }
}

/// A pattern's match in one text of a profile.
struct SkimMatch {
    /// Index of the text among the profile's entries.
    entry: usize,
    score: i64,
    positions: Vec<usize>,
    exact: bool,
}

/// One pattern's best SkimMatcherV2 match over a profile's texts (the first of equals); an
/// identifier equal to the pattern earns [`EXACT_BONUS`] when `exact` is set.
fn best_skim(
    index: &SearchIndex,
    entries: &[Entry],
    pattern: &Pattern,
    kind: Option<u16>,
    exact: bool,
) -> Option<SkimMatch> {
    let mut best: Option<SkimMatch> = None;
    for (i, entry) in candidates(pattern, entries, kind) {
        let hay = index.text(entry);
        let hay: &str = &hay;
        let Some((mut score, positions)) = pattern.skim_indices(hay) else {
            continue;
        };
        let exact =
            exact && index.identifier_kind[entry.kind as usize] && is_exact(hay, &pattern.text);
        if exact {
            score += i64::from(EXACT_BONUS);
        }
        if best.as_ref().is_none_or(|b| score > b.score) {
            best = Some(SkimMatch {
                entry: i,
                score,
                positions,
                exact,
            });
        }
    }
    best
}

/// Words' matches joined per text (scores added, positions merged), the best text first,
/// then in the profile's order.
fn joined_by_text(words: Vec<SkimMatch>) -> Vec<SkimMatch> {
    let mut texts: Vec<SkimMatch> = Vec::new();
    for word in words {
        match texts.iter_mut().find(|t| t.entry == word.entry) {
            Some(text) => {
                text.score += word.score;
                text.positions.extend(word.positions);
            }
            None => texts.push(word),
        }
    }
    for text in &mut texts {
        text.positions.sort_unstable();
        text.positions.dedup();
    }
    texts.sort_by(|a, b| b.score.cmp(&a.score).then(a.entry.cmp(&b.entry)));
    texts
}
