//! The append-only journal of merges, splits and undos.

use serde::{Deserialize, Serialize};

use super::identifier::Identifier;
use super::profile::ProfileId;
use super::time::Millis;

/// What a journal entry did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalAction {
    /// Resolution merged profiles because an event carried identifiers of both.
    AutoMerge {
        survivor: ProfileId,
        absorbed: Vec<ProfileId>,
        message_id: String,
    },
    /// A person merged two profiles.
    Merge {
        survivor: ProfileId,
        absorbed: ProfileId,
        /// Rules the merge broke and were overridden with --force.
        overrides: Vec<String>,
    },
    /// A person moved identifiers (and the events only they explain) into a new profile.
    Split {
        from: ProfileId,
        into: ProfileId,
        identifiers: Vec<Identifier>,
        moved_events: u64,
    },
    /// A person reverted an earlier entry.
    Undo { op: u64 },
}

/// One journal entry: who, when, why, what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub op: u64,
    pub at: Millis,
    /// OS user (or `idgraph` for automatic merges).
    pub user: String,
    pub reason: String,
    pub action: JournalAction,
    /// Profiles this entry touched (for each profile's History).
    pub profiles: Vec<ProfileId>,
    /// Set when a later entry undid this one.
    pub undone_by: Option<u64>,
}

impl JournalEntry {
    /// A one-line description, e.g. `merge p3 <- p9`.
    pub fn summary(&self) -> String {
        match &self.action {
            JournalAction::AutoMerge {
                survivor,
                absorbed,
                message_id,
            } => {
                let absorbed: Vec<String> = absorbed.iter().map(ToString::to_string).collect();
                format!(
                    "auto-merge {survivor} <- {} (event {message_id})",
                    absorbed.join(", ")
                )
            }
            JournalAction::Merge {
                survivor,
                absorbed,
                overrides,
            } => {
                if overrides.is_empty() {
                    format!("merge {survivor} <- {absorbed}")
                } else {
                    format!(
                        "forced merge {survivor} <- {absorbed} (overrode: {})",
                        overrides.join("; ")
                    )
                }
            }
            JournalAction::Split {
                from,
                into,
                identifiers,
                moved_events,
            } => {
                let ids: Vec<String> = identifiers.iter().map(ToString::to_string).collect();
                format!(
                    "split {from} -> {into}: {} ({} moved)",
                    ids.join(", "),
                    crate::words::count(*moved_events, "event")
                )
            }
            JournalAction::Undo { op } => format!("undo #{op}"),
        }
    }

    /// Whether this entry can be undone (merges and splits not yet undone).
    pub fn undoable(&self) -> bool {
        self.undone_by.is_none() && !matches!(self.action, JournalAction::Undo { .. })
    }
}
