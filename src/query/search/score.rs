//! The cheap stages of matching: a character-bag prefilter and a linear-time ASCII scorer
//! that approximates SkimMatcherV2's score (used to pick the candidates the real scorer ranks).

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

/// A bit set of the characters in a text, case-folded: a–z, 0–9, a few separators, and one
/// bit for "anything else". A pattern can only match texts whose bag contains its bag.
pub fn char_bag(text: &str) -> u64 {
    text.bytes().fold(0, |bag, b| bag | byte_bit(b))
}

/// A [`char_bag`] in 32 bits, its upper half laid over its lower half: a text's folded bag
/// still holds the folded bag of every pattern that can match it (it only tells fewer
/// characters apart).
pub fn folded_bag(bag: u64) -> u32 {
    (bag as u32) | ((bag >> 32) as u32)
}

/// The [`char_bag`] of the characters of a text that sit where the scorers give a position
/// bonus (text start, after a separator, camel-case humps). A pattern none of whose
/// characters is in it can only score [`Pattern::headless_bound`].
pub fn head_bag(text: &str) -> u64 {
    bonuses(text)
        .filter(|&(_, bonus)| bonus > 0)
        .fold(0, |bag, (c, _)| bag | char_bit(c))
}

/// The part of the [`head_bag`] where the bonus is the full head bonus: the text start and
/// after hard separators (spaces, slashes, brackets).
pub fn hard_bag(text: &str) -> u64 {
    bonuses(text)
        .filter(|&(_, bonus)| bonus == BONUS_HEAD)
        .fold(0, |bag, (c, _)| bag | char_bit(c))
}

/// The [`char_bag`] of a text's first character: where the scorers double the bonus.
pub fn start_bag(text: &str) -> u64 {
    text.chars().next().map_or(0, char_bit)
}

/// How many characters after the first character of a text a word start still pairs with
/// it in the [`pair_bag`]: a second pattern character further away loses at least its head
/// bonus to the gap, which [`Pattern::pairless_bound`] allows for.
const PAIR_REACH: usize = (BONUS_HEAD - GAP_EXTENSION) as usize;

/// Hashed set of the character pairs (folded like [`char_bag`]) that can start a match
/// scoring above [`Pattern::pairless_bound`]: a character at a bonus position and the one
/// right after it, and the first character with every word start at most [`PAIR_REACH`]
/// characters after it.
pub fn pair_bag(text: &str) -> u128 {
    let mut chars = bonuses(text);
    let Some((first, _)) = chars.next() else {
        return 0;
    };
    let mut bag = 0;
    let mut prev = (first, BONUS_HEAD);
    for (i, (c, bonus)) in (1..).zip(chars) {
        if prev.1 > 0 {
            bag |= pair_bit(char_bit(prev.0), char_bit(c));
        }
        if bonus > 0 && i <= PAIR_REACH {
            bag |= pair_bit(char_bit(first), char_bit(c));
        }
        prev = (c, bonus);
    }
    bag
}

/// Every character of a text with the position bonus the scorers give it. Classes follow
/// SkimMatcherV2: a non-ASCII character counts as a lower-case letter.
fn bonuses(text: &str) -> impl Iterator<Item = (char, i32)> + '_ {
    text.chars().scan(Class::Empty, |prev, c| {
        let cur = if c.is_ascii() {
            class(c as u8)
        } else {
            Class::Lower
        };
        let bonus = in_place_bonus(*prev, cur);
        *prev = cur;
        Some((c, bonus))
    })
}

/// The [`pair_bag`] bit of two characters, given by their [`char_bag`] bits.
fn pair_bit(a: u64, b: u64) -> u128 {
    let key = a.trailing_zeros() * 64 + b.trailing_zeros();
    1 << (key.wrapping_mul(0x9E37_79B9) >> 25)
}

#[inline]
fn char_bit(c: char) -> u64 {
    if c.is_ascii() {
        byte_bit(c as u8)
    } else {
        byte_bit(u8::MAX)
    }
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

/// A SkimMatcherV2 (smart case) for one call: fuzzy-matcher 0.3.7 keeps a matcher's score
/// matrix between calls without clearing it, and a stale cell's consecutive bonus raises a
/// later text's score, so a shared matcher would score a text by what it scored before (and
/// its `use_cache(false)` panics on its own borrow).
fn skim() -> SkimMatcherV2 {
    SkimMatcherV2::default().smart_case()
}

/// A pattern prepared for the fast scorer.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as given (what SkimMatcherV2 matches).
    pub text: String,
    /// The pattern bytes (lower-cased unless case-sensitive).
    pub bytes: Vec<u8>,
    /// Smart case: an upper-case letter in the pattern makes matching case-sensitive.
    pub case_sensitive: bool,
    pub bag: u64,
    /// The [`char_bag`] of the first character.
    pub first: u64,
    /// The [`char_bag`] of every character but the first.
    pub rest: u64,
    /// The [`pair_bag`] bit of the first two characters; none for shorter patterns.
    pub pair: u128,
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
            text: text.to_string(),
            bytes,
            case_sensitive,
            bag: char_bag(text),
            first: text.bytes().next().map_or(0, byte_bit),
            rest: text.bytes().skip(1).fold(0, |bag, b| bag | byte_bit(b)),
            pair: match text.as_bytes() {
                [a, b, ..] => pair_bit(byte_bit(*a), byte_bit(*b)),
                _ => 0,
            },
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

    /// The highest score of a text whose [`head_bag`], [`hard_bag`], [`start_bag`] and
    /// [`pair_bag`] are `heads`, `hard`, `starts` and `pairs` (or of a profile, with the
    /// unions of its texts' bags), for the fast scorer and SkimMatcherV2 alike. The first
    /// character earns the doubled head bonus only at the text start, the full one only after
    /// a hard separator, at most the break bonus elsewhere and nothing off the head bag; see
    /// `run_bound` for the others, and [`Pattern::pairless_bound`] when the first two
    /// characters are no pair of the text.
    pub fn bound(&self, heads: u64, hard: u64, starts: u64, pairs: u128) -> i32 {
        let bound = self.first_char_bound(heads, hard, starts);
        if self.pair != 0 && pairs & self.pair == 0 {
            bound.min(self.pairless_bound())
        } else {
            bound
        }
    }

    fn first_char_bound(&self, heads: u64, hard: u64, starts: u64) -> i32 {
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

    /// The highest score of a pattern of two or more characters when its first two are not
    /// in the text's [`pair_bag`]. The second character then follows the first right away
    /// only when the first has no bonus, and otherwise after a gap, at a bonus position only
    /// when the first is not at the text start or it is more than [`PAIR_REACH`] characters on:
    /// the best is the doubled head bonus for the first and a plain match after a gap for
    /// the second.
    pub fn pairless_bound(&self) -> i32 {
        let n = self.bytes.len() as i32;
        SCORE_MATCH
            + 2 * BONUS_HEAD
            + SCORE_MATCH
            + GAP_START
            + GAP_EXTENSION
            + (n - 2) * (SCORE_MATCH + BONUS_HEAD)
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

    /// Whether a text contains the pattern as a subsequence, as SkimMatcherV2 tests it:
    /// characters ignoring ASCII case unless case-sensitive (an ASCII pattern byte by byte,
    /// which is the same in any text).
    pub fn matches_text(&self, hay: &str) -> bool {
        if self.ascii {
            return self.matches(hay.as_bytes());
        }
        let mut pattern = self.text.chars().peekable();
        for c in hay.chars() {
            let Some(&p) = pattern.peek() else {
                break;
            };
            if c == p || (!self.case_sensitive && c.eq_ignore_ascii_case(&p)) {
                pattern.next();
            }
        }
        pattern.peek().is_none()
    }

    /// SkimMatcherV2's score of the pattern in a text and the matched character positions;
    /// `None` when it does not match (tested first, without a matcher).
    pub fn skim_indices(&self, hay: &str) -> Option<(i64, Vec<usize>)> {
        self.matches_text(hay)
            .then(|| skim().fuzzy_indices(hay, &self.text))
            .flatten()
    }

    /// [`Pattern::skim_indices`] without the positions.
    pub fn skim_score(&self, hay: &str) -> Option<i64> {
        self.matches_text(hay)
            .then(|| skim().fuzzy_match(hay, &self.text))
            .flatten()
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
    fn a_folded_bag_holds_what_its_subsequences_hold_and_still_tells_letters_apart() {
        let text = "Zoë.Ålund-42@web.de";
        let fold = |s: &str| folded_bag(char_bag(s));
        for pattern in ["zoe", "lund42", "ë@", "9", "d-4", "Z.DE"] {
            let inside = is_subsequence(
                pattern.to_lowercase().as_bytes(),
                text.to_lowercase().as_bytes(),
            );
            let folded_fits = fold(text) & fold(pattern) == fold(pattern);
            assert!(!inside || folded_fits, "{pattern} is in {text}");
        }
        assert_ne!(fold(text) & fold("x"), fold("x"), "no x in the text");
        assert_ne!(fold("a"), fold("b"));
        // The upper half lies over the lower: '6' (bit 32) shares 'a's bit.
        assert_eq!(fold("6"), fold("a"));
    }

    #[test]
    fn head_bag_holds_characters_at_bonus_positions() {
        let heads = head_bag("ana.silva@acme.io fooBar");
        assert_eq!(heads, char_bag("asifb"));
        assert_eq!(head_bag("x") & char_bag("x"), char_bag("x"));
    }

    /// The bound of a text's own bags, and the looser one an entry gets without its pairs.
    fn bounds(p: &Pattern, text: &str) -> (i32, i32) {
        let (heads, starts) = (head_bag(text), start_bag(text));
        let bound = p.bound(heads, hard_bag(text), starts, pair_bag(text));
        (bound, p.bound(heads, heads, starts, u128::MAX))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn fast_scores_never_exceed_the_bounds(
            text in "[abcAB1 ._-]{1,12}(x{0,9}[ .][abc]{1,3}){0,2}",
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
                let (bound, coarse) = bounds(&p, &text);
                proptest::prop_assert!(score <= bound, "{} > {}", score, bound);
                proptest::prop_assert!(bound <= coarse);
                proptest::prop_assert!(coarse <= p.max_score());
            }
        }

        #[test]
        fn skim_matches_bytewise_and_never_exceeds_the_bounds(
            text in "[abAB1 ._éÜ-]{1,16}(x{0,9}[ .][ab]{1,3}){0,2}",
            pattern in "[abB1._ -]{1,4}",
        ) {
            let p = Pattern::new(&pattern);
            let score = skim().fuzzy_match(&text, &pattern);
            proptest::prop_assert_eq!(score.is_some(), p.matches(text.as_bytes()));
            if let Some(score) = score {
                let (bound, coarse) = bounds(&p, &text);
                proptest::prop_assert!(score <= i64::from(bound), "{} > {}", score, bound);
                proptest::prop_assert!(bound <= coarse);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn text_matches_as_skim_matches(
            text in "[abAéÉüÜ .]{0,12}",
            pattern in "[abAéÉü .]{1,4}",
        ) {
            let p = Pattern::new(&pattern);
            proptest::prop_assert_eq!(
                p.matches_text(&text),
                skim().fuzzy_match(&text, &pattern).is_some()
            );
        }
    }

    #[test]
    fn pairs_reach_word_starts_near_the_text_start() {
        let p = Pattern::new("ab");
        for gap in 0..2 * PAIR_REACH {
            for sep in [" ", ".", "", "xY"] {
                let text = format!("a{}{sep}b", "x".repeat(gap));
                let (bound, _) = bounds(&p, &text);
                let fast = p.score(text.as_bytes()).unwrap_or_default();
                assert!(fast <= bound, "{text}: {fast} > {bound}");
                let slow = skim().fuzzy_match(&text, "ab").unwrap_or_default();
                assert!(slow <= i64::from(bound), "{text}: {slow} > {bound}");
            }
        }
        let near = format!("a{}.b", "x".repeat(PAIR_REACH - 2));
        let far = format!("a{}.b", "x".repeat(PAIR_REACH - 1));
        assert_ne!(pair_bag(&near) & p.pair, 0);
        assert_eq!(pair_bag(&far) & p.pair, 0);
        assert_eq!(
            p.bound(
                head_bag(&far),
                hard_bag(&far),
                start_bag(&far),
                pair_bag(&far)
            ),
            p.pairless_bound()
        );
        assert_ne!(
            pair_bag("x ab") & p.pair,
            0,
            "a word start and the next character"
        );
        assert_eq!(pair_bag("xab") & p.pair, 0);
        assert_ne!(pair_bag("üb ab") & p.pair, 0, "non-ASCII texts pair too");
    }

    #[test]
    fn subsequence_check() {
        assert!(is_subsequence(b"an", b"ana"));
        assert!(is_subsequence(b"", b"x"));
        assert!(!is_subsequence(b"ab", b"ba"));
    }
}
