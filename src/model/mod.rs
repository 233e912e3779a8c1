//! The domain model: events, identifiers, profiles, times and channels.

pub mod channel;
mod device;
pub mod event;
pub mod graph;
pub mod identifier;
pub mod journal;
mod json_cut;
pub mod profile;
pub mod read_fields;
pub mod stored;
pub mod time;

pub use channel::derive_channel;
pub use event::{CallType, Event, EventError, LineError};
pub use graph::{Link, LinkRule, Provenance, Violation, ViolationCounts, ViolationReason};
pub use identifier::{Identifier, ParseIdentifierError};
pub use journal::{JournalAction, JournalEntry};
pub use profile::{PinMark, Profile, ProfileId, ProfileIdentifier, TraitEntry};
pub use read_fields::ReadFields;
pub use stored::{EventLink, StoredEvent};
pub use time::Millis;
