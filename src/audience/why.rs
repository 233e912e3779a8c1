//! Why a profile is (or is not) in an audience: the clauses that decided it, with the
//! events and traits behind each.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::time::format_time;
use crate::model::{Millis, StoredEvent};

/// Most events kept as evidence for one clause (the newest ones).
pub const MAX_EVIDENCE_EVENTS: usize = 5;

/// The outcome of evaluating an audience condition on one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    /// Whether the profile is in the audience.
    pub member: bool,
    /// The clauses that decided the outcome, in the order they were evaluated.
    pub reasons: Vec<Reason>,
    /// The "now" the condition was evaluated at.
    pub evaluated_at: Millis,
    /// The earliest later time at which the outcome may change without new events
    /// (a window start or end); `None` when only new events can change it.
    pub valid_until: Option<Millis>,
}

/// One clause's result and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The clause as written, e.g. `did "Order Completed" after it`.
    pub clause: String,
    /// Whether the clause sits under an odd number of `not`s.
    pub negated: bool,
    /// Whether the clause itself held (before any `not`).
    pub holds: bool,
    /// Matching events, newest first (at most [`MAX_EVIDENCE_EVENTS`]).
    pub events: Vec<EventRef>,
    /// How many events matched in all.
    pub matched: u64,
    /// The trait a trait clause looked at.
    pub traits: Vec<TraitRef>,
}

impl Reason {
    /// Whether the clause counted toward membership (held and not negated, or failed
    /// and negated).
    pub fn satisfied(&self) -> bool {
        self.holds != self.negated
    }
}

/// An event cited as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub message_id: String,
    pub label: String,
    pub time: Millis,
    pub channel: String,
    pub source: String,
    pub device: Option<String>,
}

impl EventRef {
    /// The evidence record of a stored event.
    pub fn of(event: &StoredEvent) -> EventRef {
        EventRef {
            message_id: event.message_id.clone(),
            label: event.label.clone(),
            time: event.time,
            channel: event.channel.clone(),
            source: event.source.clone(),
            device: event.device.clone(),
        }
    }
}

/// A trait cited as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitRef {
    pub key: String,
    /// The value as JSON text; `None` when the profile does not have the trait.
    pub value_json: Option<String>,
    /// Event time at which the value was set.
    pub set_at: Option<Millis>,
}

impl Why {
    /// The explanation as JSON (times as RFC 3339).
    pub fn to_json(&self) -> Value {
        json!({
            "member": self.member,
            "evaluated_at": format_time(self.evaluated_at),
            "valid_until": self.valid_until.map(format_time),
            "reasons": self.reasons.iter().map(Reason::to_json).collect::<Vec<_>>(),
        })
    }

    /// One line per reason, for people: `+` for clauses that counted toward membership,
    /// `-` for those that counted against it.
    pub fn lines(&self) -> Vec<String> {
        self.reasons.iter().map(Reason::line).collect()
    }
}

impl Reason {
    fn to_json(&self) -> Value {
        json!({
            "clause": self.clause,
            "negated": self.negated,
            "holds": self.holds,
            "satisfied": self.satisfied(),
            "matched": self.matched,
            "events": self.events.iter().map(|e| json!({
                "message_id": e.message_id, "label": e.label, "time": format_time(e.time),
                "channel": e.channel, "source": e.source, "device": e.device,
            })).collect::<Vec<_>>(),
            "traits": self.traits.iter().map(|t| json!({
                "key": t.key,
                "value": t.value_json.as_deref().and_then(|v| serde_json::from_str::<Value>(v).ok()),
                "set_at": t.set_at.map(format_time),
            })).collect::<Vec<_>>(),
        })
    }

    fn line(&self) -> String {
        let mark = if self.satisfied() { '+' } else { '-' };
        let not = if self.negated { "not " } else { "" };
        let mut line = format!("{mark} {not}{}: ", self.clause);
        if let Some(t) = self.traits.first() {
            match &t.value_json {
                Some(v) => line.push_str(&format!("{} = {v}", t.key)),
                None => line.push_str(&format!("{} is not set", t.key)),
            }
        } else if self.events.is_empty() {
            line.push_str("no matching event");
        } else {
            let cited: Vec<String> = self
                .events
                .iter()
                .map(|e| {
                    format!(
                        "{} {} on {} ({})",
                        e.label,
                        format_time(e.time),
                        e.channel,
                        e.message_id
                    )
                })
                .collect();
            line.push_str(&cited.join("; "));
            if self.matched > self.events.len() as u64 {
                line.push_str(&format!(
                    " and {} more",
                    self.matched - self.events.len() as u64
                ));
            }
        }
        line
    }
}
