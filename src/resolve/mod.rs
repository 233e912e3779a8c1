//! Pure identity resolution: an event and a read-only view of the graph in, a plan out.
//! No I/O happens here; the store implements [`GraphView`] and applies the [`Plan`].

mod decide;
mod extract;
mod limits;
mod manual;
#[cfg(test)]
mod scenarios;
mod working;

pub use decide::decide;
pub use extract::{Extraction, extract_identifiers};
pub use limits::union_conflict;
pub use manual::{MergePreview, preview_merge};
pub use working::{Attribution, WorkingGraph};

use crate::config::Rules;
use crate::model::identifier::{ANONYMOUS_ID, USER_ID};
use crate::model::{Event, Identifier, LinkRule, Millis, Profile, ProfileId, ViolationReason};

/// What resolution needs to read from the identity graph of one space.
pub trait GraphView {
    /// The profile currently holding an identifier.
    fn profile_of(&self, id: &Identifier) -> Option<ProfileId>;
    /// A profile by id.
    fn profile(&self, id: ProfileId) -> Option<&Profile>;
    /// Whether an event with this messageId is already stored in the space.
    fn message_seen(&self, message_id: &str) -> bool;
}

/// The facts about an event that resolution uses besides its identifiers.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    /// Event time (for windowed limits and provenance).
    pub time: Millis,
    /// Whether the event is an alias call whose previousId was extracted (links get the alias rule).
    pub alias: bool,
    /// The event's name when it is a sign-out (see [`Rules::is_sign_out`]).
    pub sign_out: Option<&'a str>,
}

impl<'a> EventFacts<'a> {
    /// The facts of an event under a space's rules; `now` stands in for a missing time.
    pub fn of(event: &'a Event, rules: &Rules, now: Millis) -> EventFacts<'a> {
        let sign_out = match (&event.call, &event.event_name) {
            (crate::model::CallType::Track, Some(name)) if rules.is_sign_out(name) => {
                Some(name.as_str())
            }
            _ => None,
        };
        EventFacts {
            time: event.time().unwrap_or(now),
            alias: event.call == crate::model::CallType::Alias && rules.alias_merges,
            sign_out,
        }
    }
}

/// The outcome of resolving one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The messageId is already stored in this space: nothing to do.
    Duplicate,
    /// No usable identifier is left (all were blocked): the event cannot be attributed.
    Unresolvable {
        violations: Vec<(Identifier, ViolationReason)>,
    },
    /// Attribute the event as planned.
    Apply(Plan),
}

/// How to apply one event to the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The profile receiving the event; `None` creates a new profile.
    pub target: Option<ProfileId>,
    /// Profiles merged into the target (the target is the oldest of them).
    pub absorb: Vec<ProfileId>,
    /// The event's identifiers that end up in the target profile.
    pub identifiers: Vec<Identifier>,
    /// Those of them that no profile held before.
    pub new_identifiers: Vec<Identifier>,
    /// New links between identifiers, with the rule that made each.
    pub links: Vec<(Identifier, Identifier, LinkRule)>,
    /// Identifiers dropped, with the reason.
    pub violations: Vec<(Identifier, ViolationReason)>,
    /// Identifiers the target holds no longer after this event (a sign-out releases the
    /// device's ids); each is also among the violations.
    pub released: Vec<Identifier>,
}

/// Resolves one event against the graph: duplicate check, extraction, decision.
pub fn resolve(event: &Event, rules: &Rules, graph: &impl GraphView, now: Millis) -> Decision {
    if graph.message_seen(&event.message_id) {
        return Decision::Duplicate;
    }
    let extraction =
        extract_identifiers(event, rules, |previous| previous_id_type(graph, previous));
    decide(extraction, EventFacts::of(event, rules, now), rules, graph)
}

/// The type of an alias's previousId: `user_id` when a profile holds it as one, else
/// `anonymous_id`.
pub fn previous_id_type(graph: &impl GraphView, previous: &str) -> &'static str {
    if graph
        .profile_of(&Identifier::new(USER_ID, previous))
        .is_some()
    {
        USER_ID
    } else {
        ANONYMOUS_ID
    }
}
