//! The cheap stages of matching: a character-bag prefilter and a linear-time ASCII scorer
//! that approximates SkimMatcherV2's score (used to pick the candidates the real scorer ranks).

/// A bit set of the characters in a text, case-folded: a–z, 0–9, a few separators, and one
/// bit for "anything else". A pattern can only match texts whose bag contains its bag.
pub fn char_bag(text: &str) -> u64 {
    text.bytes().fold(0, |bag, b| bag | byte_bit(b))
}

/// The [`char_bag`] of the characters of an ASCII text that sit where the scorer gives a
/// position bonus (text start, after a separator, camel-case humps). A pattern none of whose
/// characters is in it can only score [`Pattern::headless_bound`].
pub fn head_bag(text: &str) -> u64 {
    let mut prev = Class::Empty;
    let mut bag = 0;
    for b in text.bytes() {
        let cur = class(b);
        if in_place_bonus(prev, cur) > 0 {
            bag |= byte_bit(b);
        }
        prev = cur;
    }
    bag
}

/// The part of the [`head_bag`] where the bonus is the full head bonus: the text start and
/// after hard separators (spaces, slashes, brackets).
pub fn hard_bag(text: &str) -> u64 {
    let mut prev = Class::Empty;
    let mut bag = 0;
    for b in text.bytes() {
        let cur = class(b);
        if in_place_bonus(prev, cur) == BONUS_HEAD {
            bag |= byte_bit(b);
        }
        prev = cur;
    }
    bag
}

/// The [`char_bag`] of an ASCII text's first character: where the scorer doubles the bonus.
pub fn start_bag(text: &str) -> u64 {
    text.bytes().next().map_or(0, byte_bit)
}

#[inline]
fn byte_bit(b: u8) -> u64 {
    let bit = match b {
        b'a'..=b'z' => b - b'a',
        b'A'..=b'Z' => b - b'A',
        b'0'..=b'9' => 26 + b - b'0',
        b'@' => 36,
        b'.' => 37,
        b'-' => 38,
        b'_' => 39,
        b'+' => 40,
        b' ' => 41,
        0..=127 => 42,
        _ => 43,
    };
    1 << bit
}

// SkimMatcherV2's default score configuration.
const SCORE_MATCH: i32 = 16;
const GAP_START: i32 = -3;
const GAP_EXTENSION: i32 = -1;
const BONUS_HEAD: i32 = 8;
const BONUS_BREAK: i32 = 7;
const BONUS_CAMEL: i32 = 6;
const BONUS_CONSECUTIVE: i32 = 4;
const PENALTY_CASE_MISMATCH: i32 = -2;
/// Added to exact (whole-text) matches so they always rank first.
pub const EXACT_BONUS: i32 = 100_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Empty,
    HardSep,
    SoftSep,
    Number,
    Upper,
    Lower,
}

#[inline]
fn class(b: u8) -> Class {
    match b {
        b' ' | b'/' | b'\\' | b'|' | b'(' | b')' | b'[' | b']' | b'{' | b'}' => Class::HardSep,
        b'!'..=b'\'' | b'*'..=b'.' | b':'..=b'@' | b'^'..=b'`' | b'~' => Class::SoftSep,
        b'0'..=b'9' => Class::Number,
        b'A'..=b'Z' => Class::Upper,
        _ => Class::Lower,
    }
}

#[inline]
fn in_place_bonus(prev: Class, cur: Class) -> i32 {
    match (prev, cur) {
        (Class::Empty, _) | (Class::HardSep, _) => BONUS_HEAD,
        (Class::SoftSep, _) => BONUS_BREAK,
        (Class::Lower, Class::Upper) | (Class::Number, Class::Upper) => BONUS_CAMEL,
        _ => 0,
    }
}

/// A pattern prepared for the fast scorer.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern bytes (lower-cased unless case-sensitive).
    pub bytes: Vec<u8>,
    /// Smart case: an upper-case letter in the pattern makes matching case-sensitive.
    pub case_sensitive: bool,
    pub bag: u64,
    /// The [`char_bag`] of the first character.
    pub first: u64,
    /// The [`char_bag`] of every character but the first.
    pub rest: u64,
    /// Whether the pattern holds a hard separator, after which a consecutive match earns the
    /// full head bonus.
    pub hard_sep: bool,
    pub ascii: bool,
}

impl Pattern {
    /// Prepares a pattern with smart case.
    pub fn new(text: &str) -> Pattern {
        let case_sensitive = text.bytes().any(|b| b.is_ascii_uppercase());
        let bytes = if case_sensitive {
            text.as_bytes().to_vec()
        } else {
            text.as_bytes().to_ascii_lowercase()
        };
        Pattern {
            bytes,
            case_sensitive,
            bag: char_bag(text),
            first: text.bytes().next().map_or(0, byte_bit),
            rest: text.bytes().skip(1).fold(0, |bag, b| bag | byte_bit(b)),
            hard_sep: text.bytes().any(|b| class(b) == Class::HardSep),
            ascii: text.is_ascii(),
        }
    }

    #[inline]
    fn eq(&self, hay: u8, pat: u8) -> bool {
        if self.case_sensitive {
            hay == pat
        } else {
            hay.to_ascii_lowercase() == pat
        }
    }

    /// The highest score any text can get (a whole-word prefix match), exact bonus aside.
    pub fn max_score(&self) -> i32 {
        match self.bytes.len() {
            0 => 0,
            n => SCORE_MATCH + 2 * BONUS_HEAD + (n as i32 - 1) * (SCORE_MATCH + BONUS_HEAD),
        }
    }

    /// The highest score of a text in which no pattern character sits at a bonus position
    /// (see [`head_bag`]): every character scores a plain match, and only runs earn the
    /// consecutive bonus.
    pub fn headless_bound(&self) -> i32 {
        match self.bytes.len() {
            0 => 0,
            n => n as i32 * SCORE_MATCH + (n as i32 - 1) * BONUS_CONSECUTIVE,
        }
    }

    /// The highest score of an ASCII text whose [`head_bag`], [`hard_bag`] and [`start_bag`]
    /// are `heads`, `hard` and `starts` (or of a profile, with the unions of its texts' bags).
    /// The first character earns the doubled head bonus only at the text start, the full one
    /// only after a hard separator, at most the break bonus elsewhere and nothing off the
    /// head bag; see `run_bound` for the others.
    pub fn bound(&self, heads: u64, hard: u64, starts: u64) -> i32 {
        let n = self.bytes.len() as i32;
        if starts & self.first != 0 {
            self.max_score()
        } else if hard & self.first != 0 || (self.hard_sep && heads & self.first != 0) {
            self.max_score() - BONUS_HEAD
        } else if heads & self.first != 0 {
            self.run_bound(SCORE_MATCH + BONUS_BREAK)
        } else if heads & self.rest == 0 {
            self.headless_bound()
        } else if self.hard_sep {
            SCORE_MATCH + (n - 1) * (SCORE_MATCH + BONUS_HEAD)
        } else {
            self.run_bound(SCORE_MATCH)
        }
    }

    /// The highest score when the first character scores `first` at most and the pattern
    /// has no hard separator. A character matched right after the previous one then earns at
    /// most the break bonus (its run's bonus, or the break after a soft separator); one
    /// after a gap pays at least the gap start and may earn the full head bonus, which the
    /// rest of its run keeps. Further gaps only cost, so the best is either one run or a
    /// gap before the second character.
    fn run_bound(&self, first: i32) -> i32 {
        let n = self.bytes.len() as i32;
        if n < 2 {
            return first;
        }
        let one_run = (n - 1) * (SCORE_MATCH + BONUS_BREAK);
        let gap_after_first = SCORE_MATCH
            + BONUS_HEAD
            + GAP_START
            + GAP_EXTENSION
            + (n - 2) * (SCORE_MATCH + BONUS_HEAD);
        first + one_run.max(gap_after_first)
    }

    /// Whether an ASCII text contains the pattern as a subsequence (the scorer's match test,
    /// without the score).
    pub fn matches(&self, hay: &[u8]) -> bool {
        if self.bytes.is_empty() {
            return true;
        }
        let mut pi = 0;
        for &h in hay {
            if self.eq(h, self.bytes[pi]) {
                pi += 1;
                if pi == self.bytes.len() {
                    return true;
                }
            }
        }
        false
    }

    /// Scores an ASCII text in linear time: the leftmost match end, tightened backwards to
    /// the shortest window, scored with Skim's bonuses. `None` when the pattern is not a
    /// subsequence of the text.
    pub fn score(&self, hay: &[u8]) -> Option<i32> {
        let pat = &self.bytes;
        if pat.is_empty() {
            return Some(0);
        }
        if pat.len() > hay.len() {
            return None;
        }
        // Forward: the first position where the whole pattern has been seen.
        let mut pi = 0;
        let mut end = usize::MAX;
        for (j, &h) in hay.iter().enumerate() {
            if self.eq(h, pat[pi]) {
                pi += 1;
                if pi == pat.len() {
                    end = j;
                    break;
                }
            }
        }
        if end == usize::MAX {
            return None;
        }
        // Backward: the latest start that still matches, giving the tightest window.
        let mut pi = pat.len();
        let mut start = end;
        for j in (0..=end).rev() {
            if self.eq(hay[j], pat[pi - 1]) {
                pi -= 1;
                if pi == 0 {
                    start = j;
                    break;
                }
            }
        }
        // Score the window greedily from its start.
        let mut score = 0;
        let mut pi = 0;
        let mut prev_matched = false;
        let mut consecutive_bonus = 0;
        let mut in_gap = false;
        let mut prev_class = if start == 0 {
            Class::Empty
        } else {
            class(hay[start - 1])
        };
        for (j, &h) in hay.iter().enumerate().take(end + 1).skip(start) {
            let cur_class = class(h);
            let bonus = in_place_bonus(prev_class, cur_class);
            if pi < pat.len() && self.eq(h, pat[pi]) {
                let mut s = SCORE_MATCH;
                if !self.case_sensitive && h != pat[pi] {
                    s += PENALTY_CASE_MISMATCH;
                }
                if prev_matched {
                    consecutive_bonus = consecutive_bonus.max(bonus).max(BONUS_CONSECUTIVE);
                    s += consecutive_bonus;
                } else {
                    consecutive_bonus = bonus;
                    s += if pi == 0 && j == 0 { bonus * 2 } else { bonus };
                }
                score += s;
                pi += 1;
                prev_matched = true;
                in_gap = false;
            } else {
                score += if in_gap {
                    GAP_EXTENSION
                } else {
                    GAP_START + GAP_EXTENSION
                };
                in_gap = true;
                prev_matched = false;
            }
            prev_class = cur_class;
        }
        Some(score)
    }
}

/// Whether `small` is a subsequence of `big` (both already normalised the same way).
pub fn is_subsequence(small: &[u8], big: &[u8]) -> bool {
    let mut it = big.iter();
    small.iter().all(|c| it.any(|b| b == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bag_rejects_missing_characters() {
        let text = char_bag("ana@acme.io");
        assert_eq!(char_bag("ANA") & !text, 0);
        assert_ne!(char_bag("z") & !text, 0);
        assert_ne!(char_bag("é") & !text, 0);
    }

    #[test]
    fn scores_only_subsequences() {
        let p = Pattern::new("ana");
        assert!(p.score(b"ana@acme.io").is_some());
        assert!(p.score(b"a-n-a").is_some());
        assert!(p.score(b"nana").is_some());
        assert!(p.score(b"an").is_none());
        assert!(p.score(b"bob").is_none());
    }

    #[test]
    fn prefers_consecutive_matches_at_word_starts() {
        let p = Pattern::new("ana");
        let head = p.score(b"ana.silva@acme.io").unwrap();
        let inner = p.score(b"banana@acme.io").unwrap();
        let spread = p.score(b"a-n-a@acme.io").unwrap();
        assert!(head > inner, "{head} {inner}");
        assert!(head > spread, "{head} {spread}");
    }

    #[test]
    fn smart_case() {
        assert!(Pattern::new("Ana").score(b"ana").is_none());
        assert!(Pattern::new("ana").score(b"ANA").is_some());
    }

    #[test]
    fn head_bag_holds_characters_at_bonus_positions() {
        let heads = head_bag("ana.silva@acme.io fooBar");
        assert_eq!(heads, char_bag("asifb"));
        assert_eq!(head_bag("x") & char_bag("x"), char_bag("x"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn headless_texts_never_score_above_the_bound(
            text in "[abcAB1 ._-]{1,24}",
            pattern in "[abcB1._ -]{1,5}",
        ) {
            let p = Pattern::new(&pattern);
            let score = p.score(text.as_bytes());
            proptest::prop_assert_eq!(score.is_some(), p.matches(text.as_bytes()));
            if head_bag(&text) & p.bag == 0
                && let Some(score) = score
            {
                proptest::prop_assert!(score <= p.headless_bound(), "{} > {}", score, p.headless_bound());
            }
            if let Some(score) = score {
                let bound = p.bound(head_bag(&text), hard_bag(&text), start_bag(&text));
                proptest::prop_assert!(score <= bound, "{} > {}", score, bound);
                let coarse = p.bound(head_bag(&text), head_bag(&text), start_bag(&text));
                proptest::prop_assert!(bound <= coarse);
            }
            if let Some(score) = score {
                proptest::prop_assert!(score <= p.max_score());
            }
        }
    }

    #[test]
    fn subsequence_check() {
        assert!(is_subsequence(b"an", b"ana"));
        assert!(is_subsequence(b"", b"x"));
        assert!(!is_subsequence(b"ab", b"ba"));
    }
}
