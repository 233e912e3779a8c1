//! The parsed form of a condition.

use crate::model::{CallType, Millis};

pub use super::lexer::Op;

/// A boolean expression over a unified profile's events and traits.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// Every term holds. Terms are evaluated left to right; a `did` that names its event
    /// (`as NAME`, or referred to by `it`) binds it for the terms after it.
    And(Vec<Expr>),
    /// At least one term holds.
    Or(Vec<Expr>),
    /// The term does not hold.
    Not(Box<Expr>),
    /// An event happened.
    Did(Box<Did>),
    /// A trait test.
    Trait(TraitTest),
}

/// `did EVENT MODIFIERS`: some event of the profile matches the pattern and every time rule.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Did {
    /// Index of this clause within its condition (caches and binding slots use it).
    pub id: usize,
    pub pattern: EventPattern,
    pub times: Vec<TimeRule>,
    /// The binding slot this clause fills for the terms after it, when any term refers to it.
    pub binds: Option<usize>,
    /// The clause as written (tokens joined by single spaces), for explanations.
    pub text: String,
}

/// Which events a `did` clause looks at, independent of time.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct EventPattern {
    pub kind: EventKind,
    /// `on CHANNEL` (case-insensitive).
    pub channel: Option<String>,
    /// `from SOURCE` (the source or `context.app.name`, case-insensitive).
    pub source: Option<String>,
    /// `device TYPE` (`context.device.type`, case-insensitive).
    pub device: Option<String>,
    /// `where PATH TEST, ...` on the event's JSON.
    pub fields: Vec<FieldTest>,
}

/// The event kind a `did` clause matches.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) enum EventKind {
    /// `any`: every event.
    #[default]
    Any,
    /// `track`, `page`, ...: every call of that type.
    Call(CallType),
    /// `"Name"` (a track event) or `page "Name"` / `screen "Name"`.
    Named { call: CallType, name: String },
}

/// A test on a value inside the event JSON, e.g. `properties.total > 100`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldTest {
    /// Dotted path from the event's root object.
    pub path: Vec<String>,
    pub test: Test,
}

/// A trait test, e.g. `trait plan = "pro"`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TraitTest {
    /// The trait key as written (a dotted key reaches into object values).
    pub key: String,
    pub test: Test,
    /// The clause as written, for explanations.
    pub text: String,
}

/// A comparison of a JSON value with a literal.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test {
    Compare(Op, Literal),
    Contains(Literal),
    Exists,
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// A time rule of a `did` clause. Windows relative to now are `[now - d, now]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeRule {
    /// `within D`: in the last D (not in the future).
    Within(Millis),
    /// `before D ago`: earlier than now - D.
    OlderThan(Millis),
    /// `after "DATE"`: strictly later than a fixed time.
    AfterTime(Millis),
    /// `before "DATE"`: strictly earlier than a fixed time.
    BeforeTime(Millis),
    /// `after NAME`: later than the named event (ties broken by ingest order).
    After(usize),
    /// `before NAME`: earlier than the named event.
    Before(usize),
    /// `within D after NAME`: later than the named event, by at most D.
    WithinAfter(Millis, usize),
    /// `within D before NAME`: earlier than the named event, by at most D.
    WithinBefore(Millis, usize),
}
