//! Queries of several words: matched in any order, across a profile's texts, and checked
//! against a brute-force reference that scores every text with SkimMatcherV2.

use std::sync::Arc;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use super::tests::unpruned;
use super::*;
use crate::model::{Identifier, Profile};

fn person(id: u64, name: &str, company: &str, ids: &[&str]) -> Profile {
    let mut p = Profile::new(ProfileId(id), 1_000 * id as i64);
    for text in ids {
        p.add_identifier(&Identifier::parse(text).unwrap(), 1_000, "web");
    }
    let traits = json!({ "name": name, "company": company });
    p.record_event(1_000 * id as i64, id, traits.as_object().unwrap());
    p
}

fn engine_of(people: &[Profile]) -> SearchEngine {
    SearchEngine::new(Arc::new(SearchIndex::from_profiles("s", people))).with_threads(2)
}

fn small() -> SearchEngine {
    engine_of(&[
        person(
            1,
            "Brant Wiza",
            "Acme",
            &["email:bw@gmail.com", "user_id:u-1"],
        ),
        person(2, "Brant Lowe", "Acme", &["email:bl@yahoo.com"]),
        person(3, "Ola Wiza", "Initech", &["email:ola@gmail.com"]),
        person(4, "Wiz Brandt", "Globex", &["email:wb@proton.me"]),
    ])
}

fn ids(results: &SearchResults) -> Vec<u64> {
    results.hits.iter().map(|h| h.profile.0).collect()
}

#[test]
fn words_match_in_any_order() {
    let mut e = small();
    let in_order = e.search("brant wiza", 10);
    let swapped = e.search("wiza brant", 10);
    // Wiz Brandt holds both words too, fuzzily ("wiza" across both of its words).
    assert_eq!(ids(&swapped), [1, 4]);
    assert_eq!(ids(&in_order), [1, 4]);
    assert_eq!(swapped.hits[0].matched(), "name:Brant Wiza");
    assert_eq!(swapped.hits[0].positions, [0, 1, 2, 3, 4, 6, 7, 8, 9]);
    assert!(swapped.hits[0].also.is_empty());
    assert!(
        in_order.hits[0].score > swapped.hits[0].score,
        "the words in the text's order score the whole query in one text"
    );
}

#[test]
fn words_match_different_texts_of_one_profile() {
    let mut e = small();
    let r = e.search("acme brant", 10);
    assert_eq!(ids(&r), [1, 2], "{:#?}", r.hits);
    let also: Vec<String> = r.hits[0].also.iter().map(MatchedText::matched).collect();
    assert_eq!(r.hits[0].matched(), "name:Brant Wiza");
    assert_eq!(r.hits[0].positions, [0, 1, 2, 3, 4]);
    assert_eq!(also, ["company:Acme"]);
    assert_eq!(r.hits[0].also[0].positions, [0, 1, 2, 3]);
    let r = e.search("gmail wiza", 10);
    assert_eq!(r.matched, 2);
    assert!(
        ids(&r).iter().all(|id| [1, 3].contains(id)),
        "{:#?}",
        r.hits
    );
}

#[test]
fn every_word_must_match() {
    let mut e = small();
    let r = e.search("brant zzz", 10);
    assert_eq!((r.matched, r.hits.len(), r.exact), (0, 0, None));
    assert_eq!(e.search("brant gmail", 10).matched, 1);
}

#[test]
fn repeated_words_and_words_in_one_text_match_that_text() {
    let mut e = small();
    assert_eq!(ids(&e.search("wiza wiza", 10)), ids(&e.search("wiza", 10)));
    let r = e.search("wiza wi", 10);
    assert_eq!(r.matched, e.search("wiza", 10).matched);
}

#[test]
fn a_word_after_an_exact_identifier_still_filters() {
    let mut e = small();
    assert_eq!(e.search("u-1", 10).exact, Some(ProfileId(1)));
    let r = e.search("u-1 wiza", 10);
    assert_eq!((ids(&r), r.exact), (vec![1], None));
    assert_eq!(e.search("u-1 lowe", 10).matched, 0);
}

#[test]
fn a_kind_restricts_every_word() {
    let mut e = small();
    assert_eq!(ids(&e.search("name:wiza brant", 10)), [1, 4]);
    assert_eq!(e.search("email:wiza brant", 10).matched, 0);
    assert_eq!(ids(&e.search("email:gmail ola", 10)), [3]);
}

/// Every profile's score by brute force: SkimMatcherV2 on every text for the whole query
/// (an identifier equal to it earns the exact bonus) and for each word; a profile some word
/// matches none of whose texts is left out. In slot order.
fn reference(index: &SearchIndex, query: &str) -> Vec<(u32, i64)> {
    let text = ParsedQuery::parse(query, index.kinds()).text.to_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, slot) in index.slots.iter().enumerate() {
        let entries = index.slot_entries(slot);
        let best = |pattern: &str, exact: bool| {
            entries
                .iter()
                .filter_map(|e| {
                    let hay = index.text(e);
                    // A matcher per call: a shared one scores by what it scored before.
                    let skim = SkimMatcherV2::default().smart_case();
                    let score = skim.fuzzy_match(&hay, pattern)?;
                    let equal =
                        index.identifier_kind[e.kind as usize] && hay.eq_ignore_ascii_case(pattern);
                    Some(score + if exact && equal { 100_000 } else { 0 })
                })
                .max()
        };
        let whole = best(&text, true);
        let score = match words.len() {
            0 | 1 => whole,
            _ => words
                .iter()
                .map(|w| best(w, false))
                .sum::<Option<i64>>()
                .map(|sum| whole.map_or(sum, |whole| whole.max(sum))),
        };
        if let Some(score) = score {
            out.push((i as u32, score));
        }
    }
    out
}

/// Checks one answer against the brute-force reference and the unpruned ranking.
fn check(engine: &SearchEngine, fresh: &SearchEngine, query: &str, got: &SearchResults) {
    let index = engine.index();
    let expected = reference(index, query);
    let matched = &engine.narrow.as_ref().expect("a completed search").matched;
    let expected_slots: Vec<u32> = expected.iter().map(|(slot, _)| *slot).collect();
    assert_eq!(matched, &expected_slots, "matched profiles of {query:?}");
    assert_eq!(got.matched, expected.len(), "{query:?}");
    let by_profile = |id: ProfileId| {
        let slot = index
            .slot_of_profile(id)
            .expect("a hit is an indexed profile");
        expected
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, score)| *score)
    };
    for hit in &got.hits {
        assert_eq!(
            Some(hit.score),
            by_profile(hit.profile),
            "{query:?}: {hit:#?}"
        );
    }
    let scores: Vec<i64> = got.hits.iter().map(|h| h.score).collect();
    if expected.len() <= 100 {
        // The pool holds every match: the ranking is the reference's.
        let mut best: Vec<i64> = expected.iter().map(|(_, s)| *s).collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.truncate(50);
        assert_eq!(scores, best, "{query:?}");
    } else {
        assert!(scores.is_sorted_by(|a, b| a >= b), "{query:?}: {scores:?}");
    }
    let reference = unpruned(fresh, query, 50);
    assert_eq!(got.hits, reference.hits, "{query:?}");
    assert_eq!(got.exact, reference.exact, "{query:?}");
}

/// People whose names, emails and companies share words and letters, so that words match
/// several texts and several profiles at once.
fn crowd(count: u64, seed: u64) -> Vec<Profile> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let names = [
        "ana", "silva", "brant", "wiza", "lopez", "mueller", "tara", "khan", "zoe", "müller", "lo",
        "bran",
    ];
    let companies = ["Acme", "Brant & Co", "Silva Labs", "Globex", "Zoe's"];
    let domains = ["gmail.com", "acme.io", "web.de", "khan.org"];
    (1..=count)
        .map(|i| {
            let first = names[rng.random_range(0..names.len())];
            let last = names[rng.random_range(0..names.len())];
            let company = companies[rng.random_range(0..companies.len())];
            let domain = domains[rng.random_range(0..domains.len())];
            let email = format!("email:{first}.{last}{}@{domain}", i % 13);
            let anon = format!("anonymous_id:{:08x}", rng.random::<u32>());
            person(
                i,
                &format!("{first} {last}"),
                company,
                &[&email, &anon, &format!("user_id:u-{i}")],
            )
        })
        .collect()
}

#[test]
fn typed_and_deleted_word_by_word_the_answers_equal_the_reference() {
    let people = crowd(3_000, 5);
    let mut engine = engine_of(&people);
    let fresh = engine_of(&people);
    for query in [
        "wiza brant",
        "brant wiza",
        "gmail ana",
        "acme silva lo",
        "ana ana",
        "silva s",
        "lopez zzz",
        "khan khan.org",
        "müller web",
        "u-12 ana",
        "zoe's zoe",
        "ana.silva3@gmail.com",
    ] {
        let mut typed = String::new();
        let mut steps: Vec<String> = Vec::new();
        for c in query.chars() {
            typed.push(c);
            steps.push(typed.clone());
        }
        // Deleting back to the first word widens again.
        while typed.contains(' ') {
            typed.pop();
            steps.push(typed.clone());
        }
        for step in &steps {
            let got = engine.search(step, 50);
            check(&engine, &fresh, step, &got);
        }
        engine.search("", 50);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Random words over a small alphabet, so they match many texts, typed one key at a time.
    #[test]
    fn random_word_queries_equal_the_reference(
        seed in 0u64..1_000,
        words in proptest::collection::vec("[abilnorstwz.]{1,4}", 1..4),
    ) {
        let people = crowd(400, seed);
        let mut engine = engine_of(&people);
        let fresh = engine_of(&people);
        let query = words.join(" ");
        let mut typed = String::new();
        for c in query.chars() {
            typed.push(c);
            let got = engine.search(&typed, 50);
            check(&engine, &fresh, &typed, &got);
        }
    }
}
