//! Fuzzy search over every profile of a space: names, emails, phones, user ids, anonymous
//! ids, device ids and a few key traits. A query of several words finds the profiles that
//! match each word in one of their texts, in any order.
//!
//! [`SearchIndex`] is a compact, immutable snapshot built from
//! [`GraphRead::for_each_profile`](crate::query::GraphRead::for_each_profile).
//! [`SearchEngine`] ranks profiles against a query (SkimMatcherV2 scores, a cheap
//! prefilter first, incremental narrowing while the user types, both cores).
//! [`SearchWorker`] runs the engine on its own thread with cancellation.

mod cache;
mod engine;
mod index;
mod notes;
mod packed;
mod patch;
mod score;
mod terms;
mod worker;

pub use cache::{IndexCache, load_or_build};
pub use engine::{MatchedText, SearchEngine, SearchHit, SearchResults};
pub use index::{IndexBuilder, Patched, SearchIndex};
pub use notes::IndexKeeper;
pub use worker::{SearchUpdate, SearchWorker};

/// How many ranked hits the explorer asks for.
pub const DEFAULT_LIMIT: usize = 50;

/// A query split into an optional identifier type and the text to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    /// `email` in `email:ana@x.io`, when the text before the first colon is an indexed type.
    pub kind: Option<String>,
    /// The text to match, trimmed.
    pub text: String,
}

impl ParsedQuery {
    /// Splits `type:value` when `type` is one of `kinds`; otherwise the whole query is text,
    /// its runs of spaces made one (`Brant  Wiza` finds `Brant Wiza`).
    pub fn parse(query: &str, kinds: &[String]) -> ParsedQuery {
        let trimmed = query.trim();
        if let Some((kind, value)) = trimmed.split_once(':') {
            let kind = kind.trim();
            if kinds.iter().any(|k| k == kind) {
                return ParsedQuery {
                    kind: Some(kind.to_string()),
                    text: value.trim().to_string(),
                };
            }
        }
        ParsedQuery {
            kind: None,
            text: trimmed.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_known_types_only() {
        let kinds = vec!["email".to_string(), "user_id".to_string()];
        assert_eq!(
            ParsedQuery::parse(" email:Ana@x.io ", &kinds),
            ParsedQuery {
                kind: Some("email".into()),
                text: "Ana@x.io".into()
            }
        );
        assert_eq!(ParsedQuery::parse("a:b:c", &kinds).kind, None);
        assert_eq!(ParsedQuery::parse("a:b:c", &kinds).text, "a:b:c");
        assert_eq!(
            ParsedQuery::parse(" Brant \t Wiza ", &kinds).text,
            "Brant Wiza"
        );
    }
}
