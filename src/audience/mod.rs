//! Audiences: named conditions over a unified profile's journey (every event from every
//! device, app and channel it holds) and its traits, defined in `[audiences.NAME]` config
//! sections. Pure: parsing and evaluation do no I/O; the store keeps membership current.
//!
//! The condition language (also documented in `assets/default-config.toml`):
//!
//! ```text
//! condition := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | "(" or ")" | did | trait
//! did       := "did" ["not"] event modifier*
//! event     := "any" | "\"Event Name\"" | CALL ["\"Page or Screen Name\""]
//! modifier  := "on" CHANNEL | "from" SOURCE | "device" TYPE
//!            | "where" PATH test ("," PATH test)*
//!            | "within" DURATION [("after" | "before") REF]
//!            | "after" (REF | "\"DATE\"") | "before" (REF | DURATION "ago" | "\"DATE\"")
//!            | "as" NAME
//! trait     := "trait" KEY test
//! test      := ("=" | "!=" | "<" | ">" | "<=" | ">=") VALUE | "contains" VALUE | "exists"
//! REF       := "it" | NAME
//! ```

mod ast;
pub mod config;
mod error;
mod eval;
mod lexer;
mod parser;
pub mod why;

pub use config::{AudienceConfig, AudienceConfigError, ConfigText};
pub use error::ParseError;
pub use eval::Journey;
pub use why::{EventRef, Reason, TraitRef, Why};

use crate::model::{CallType, Millis};

/// A parsed condition, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expr: ast::Expr,
    dids: usize,
    fingerprint: String,
    kinds: Vec<ast::EventKind>,
    reads_json: bool,
}

impl Condition {
    /// Parses a condition; errors give the byte offset and what was expected.
    pub fn parse(text: &str) -> Result<Condition, ParseError> {
        let parsed = parser::parse(text)?;
        Ok(Condition {
            expr: parsed.expr,
            dids: parsed.dids,
            fingerprint: parsed.fingerprint,
            kinds: parsed.kinds,
            reads_json: parsed.reads_json,
        })
    }

    /// Whether evaluating reads the events' JSON (a `where` test); otherwise only their
    /// stored fields (call, label, time, channel, source, app, device).
    pub fn reads_event_json(&self) -> bool {
        self.reads_json
    }

    /// Whether some clause can match an event of this call type and label. Events no
    /// clause looks at never change the outcome, so callers may leave them out.
    pub fn looks_at(&self, call: CallType, label: &str) -> bool {
        self.kinds
            .iter()
            .any(|kind| eval::kind_matches(kind, call, label))
    }

    /// Evaluates the condition on a profile's journey at `now`: member or not, and why.
    pub fn evaluate(&self, journey: &Journey<'_>, now: Millis) -> Why {
        eval::evaluate(&self.expr, self.dids, journey, now)
    }

    /// The condition's tokens joined by single spaces: equal fingerprints mean equal
    /// conditions (comments and layout aside).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// A named audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub name: String,
    pub description: String,
    pub condition: Condition,
}

/// The enabled audiences, sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudienceSet {
    audiences: Vec<Audience>,
}

impl AudienceSet {
    /// A set of audiences (sorted by name here).
    pub fn new(mut audiences: Vec<Audience>) -> AudienceSet {
        audiences.sort_by(|a, b| a.name.cmp(&b.name));
        AudienceSet { audiences }
    }

    /// The audience with this name.
    pub fn get(&self, name: &str) -> Option<&Audience> {
        self.audiences.iter().find(|a| a.name == name)
    }

    /// Every audience, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Audience> {
        self.audiences.iter()
    }

    /// The audience names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.audiences.iter().map(|a| a.name.as_str()).collect()
    }

    /// Whether some audience can match an event of this call type and label.
    pub fn looks_at(&self, call: CallType, label: &str) -> bool {
        self.audiences
            .iter()
            .any(|a| a.condition.looks_at(call, label))
    }

    /// Whether evaluating some audience reads the events' JSON.
    pub fn reads_event_json(&self) -> bool {
        self.audiences
            .iter()
            .any(|a| a.condition.reads_event_json())
    }

    /// Whether there is no audience.
    pub fn is_empty(&self) -> bool {
        self.audiences.is_empty()
    }

    /// Evaluates every audience on one journey.
    pub fn evaluate(&self, journey: &Journey<'_>, now: Millis) -> Vec<(String, Why)> {
        self.audiences
            .iter()
            .map(|a| (a.name.clone(), a.condition.evaluate(journey, now)))
            .collect()
    }

    /// The audience unknown-name error, listing the configured names.
    pub fn unknown(&self, name: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "unknown audience '{name}' (configured: {}); define it under [audiences.{name}] in the config",
            if self.is_empty() {
                "none".to_string()
            } else {
                self.names().join(", ")
            }
        )
    }
}
