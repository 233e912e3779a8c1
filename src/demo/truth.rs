//! Ground truth: the true person behind every messageId, which events deterministic rules
//! cannot link together, and the recall ceiling that follows from it.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::config::DEFAULT_SPACE;

/// Why some events of a person cannot be linked to the rest of that person's events by
/// shared identifiers, whatever the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlinkable {
    /// A person who never signed up browsed on more than one device.
    NeverSignedUp,
    /// Anonymous browsing on a device the person never logged in on.
    DeviceNeverLoggedIn,
    /// An event whose only ids are junk (`"undefined"`, `"null"`, `"[object Object]"`).
    JunkIdsOnly,
    /// A support ticket written from a team mailbox several colleagues share: the mailbox
    /// is blocked as an identifier (it would merge the colleagues), and nothing else on the
    /// ticket is the writer's.
    SharedMailboxOnly,
}

impl Unlinkable {
    /// The snake_case name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Unlinkable::NeverSignedUp => "never_signed_up",
            Unlinkable::DeviceNeverLoggedIn => "device_never_logged_in",
            Unlinkable::JunkIdsOnly => "junk_ids_only",
            Unlinkable::SharedMailboxOnly => "shared_mailbox_only",
        }
    }
}

/// The ceiling reason for events of a person that went to another space.
pub const OTHER_SPACE: &str = "other_space";

/// One line of the truth file: `{"messageId":"…","person":"…"}`, plus `space` when not the
/// default space and `fragment`/`unlinkable` for events cut off from the rest of the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TruthRecord {
    pub message_id: String,
    /// The true person.
    pub person: String,
    /// The space the event's source feeds (absent: the default space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// Events sharing a fragment are linkable to each other but not to the rest of the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<String>,
    /// Why the fragment is cut off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlinkable: Option<Unlinkable>,
}

/// Why a truth file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("truth line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("cannot read truth: {0}")]
    Read(#[from] std::io::Error),
}

/// The truth of a data set, indexed by messageId.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    people: Vec<String>,
    groups: Vec<GroupInfo>,
    events: HashMap<String, Entry>,
}

/// Where one event belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub person: u32,
    /// The linkable group: events of one group can be linked by shared identifiers.
    pub group: u32,
    /// Dense position of the event in the truth (0..len).
    pub index: u32,
}

/// A linkable group: a person's events in one space that share a fragment (or none).
#[derive(Clone, Debug)]
struct GroupInfo {
    person: u32,
    space: String,
    fragment: Option<String>,
    unlinkable: Option<Unlinkable>,
}

impl Truth {
    /// Indexes truth records; a messageId listed twice must name the same person.
    pub fn from_records<I: IntoIterator<Item = TruthRecord>>(
        records: I,
    ) -> Result<Truth, TruthError> {
        let mut builder = Builder::default();
        for (i, record) in records.into_iter().enumerate() {
            builder.add(record).map_err(|message| TruthError::Line {
                line: i as u64 + 1,
                message,
            })?;
        }
        Ok(builder.truth)
    }

    /// Reads a truth file (JSON lines; blank lines are skipped).
    pub fn read_jsonl<R: BufRead>(reader: R) -> Result<Truth, TruthError> {
        let mut builder = Builder::default();
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let fail = |message: String| TruthError::Line {
                line: i as u64 + 1,
                message,
            };
            let record: TruthRecord =
                serde_json::from_str(&line).map_err(|e| fail(e.to_string()))?;
            builder.add(record).map_err(fail)?;
        }
        Ok(builder.truth)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The true person of an event.
    pub fn person_of(&self, message_id: &str) -> Option<&str> {
        self.events
            .get(message_id)
            .map(|e| self.people[e.person as usize].as_str())
    }

    /// Only the events of one space (evaluate one space's profiles against this).
    pub fn restrict_to_space(&self, space: &str) -> Truth {
        let mut kept: Vec<(&String, Entry)> = self
            .events
            .iter()
            .filter(|(_, e)| self.groups[e.group as usize].space == space)
            .map(|(id, e)| (id, *e))
            .collect();
        kept.sort_by_key(|(_, e)| e.index);
        Truth {
            people: self.people.clone(),
            groups: self.groups.clone(),
            events: kept
                .into_iter()
                .enumerate()
                .map(|(i, (id, e))| {
                    let index = i as u32;
                    (id.clone(), Entry { index, ..e })
                })
                .collect(),
        }
    }

    pub(crate) fn entry(&self, message_id: &str) -> Option<Entry> {
        self.events.get(message_id).copied()
    }

    pub(crate) fn person_name(&self, person: u32) -> &str {
        &self.people[person as usize]
    }

    pub(crate) fn person_count(&self) -> usize {
        self.people.len()
    }

    /// Number of linkable groups (see [`Entry::group`]).
    pub(crate) fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The person a linkable group belongs to.
    pub(crate) fn group_person(&self, group: u32) -> u32 {
        self.groups[group as usize].person
    }

    /// Events per person index (people without events in this truth have 0).
    pub(crate) fn events_per_person(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.people.len()];
        for entry in self.events.values() {
            counts[entry.person as usize] += 1;
        }
        counts
    }

    /// The best pairwise recall deterministic rules can reach: events of a person can only
    /// end up together when shared identifiers link them, i.e. within one group.
    pub fn recall_ceiling(&self) -> RecallCeiling {
        let mut group_sizes = vec![0u64; self.groups.len()];
        for entry in self.events.values() {
            group_sizes[entry.group as usize] += 1;
        }
        let person_sizes = self.events_per_person();
        let mut groups_of: Vec<Vec<u32>> = vec![Vec::new(); self.people.len()];
        for (g, size) in group_sizes.iter().enumerate() {
            if *size > 0 {
                groups_of[self.groups[g].person as usize].push(g as u32);
            }
        }
        let linkable: u64 = group_sizes.iter().map(|&s| pairs(s)).sum();
        let all: u64 = person_sizes.iter().map(|&s| pairs(s)).sum();
        let mut ceiling = RecallCeiling {
            recall: ratio(linkable, all),
            people: person_sizes.iter().filter(|&&n| n > 0).count() as u64,
            ..RecallCeiling::default()
        };
        for groups in groups_of.iter().filter(|g| g.len() > 1) {
            ceiling.unrecoverable_people += 1;
            // The person's main body: the largest group without a fragment.
            let main = groups
                .iter()
                .copied()
                .filter(|&g| self.groups[g as usize].fragment.is_none())
                .max_by_key(|&g| (group_sizes[g as usize], std::cmp::Reverse(g)));
            let mut reasons: Vec<&'static str> = Vec::new();
            for &g in groups.iter().filter(|&&g| Some(g) != main) {
                let info = &self.groups[g as usize];
                let reason = match info.unlinkable {
                    Some(reason) => reason.as_str(),
                    None => OTHER_SPACE,
                };
                let count = ceiling.by_reason.entry(reason.to_string()).or_default();
                count.events += group_sizes[g as usize];
                ceiling.unrecoverable_events += group_sizes[g as usize];
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                    count.people += 1;
                }
            }
        }
        ceiling
    }
}

/// The recall deterministic rules can reach at best, and why not more.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecallCeiling {
    /// Best reachable pairwise recall.
    pub recall: f64,
    /// People with events.
    pub people: u64,
    /// People whose events fall apart into several unlinkable groups.
    pub unrecoverable_people: u64,
    /// Events outside their person's main group.
    pub unrecoverable_events: u64,
    /// Per reason (`never_signed_up`, `device_never_logged_in`, `junk_ids_only`,
    /// `other_space`): people affected and events cut off.
    pub by_reason: BTreeMap<String, ReasonCount>,
}

/// People and events affected by one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub people: u64,
    pub events: u64,
}

/// Number of unordered pairs among `n` items.
pub(crate) fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// `part / whole`, 1 when there is nothing to measure.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

#[derive(Default)]
struct Builder {
    truth: Truth,
    person_index: HashMap<String, u32>,
    group_index: HashMap<(u32, String, Option<String>), u32>,
}

impl Builder {
    fn add(&mut self, record: TruthRecord) -> Result<(), String> {
        let people = &mut self.truth.people;
        let person = *self
            .person_index
            .entry(record.person.clone())
            .or_insert_with(|| {
                people.push(record.person.clone());
                (people.len() - 1) as u32
            });
        let space = record.space.unwrap_or_else(|| DEFAULT_SPACE.to_string());
        let key = (person, space, record.fragment);
        let groups = &mut self.truth.groups;
        let group = match self.group_index.get(&key) {
            Some(&g) => g,
            None => {
                groups.push(GroupInfo {
                    person,
                    space: key.1.clone(),
                    fragment: key.2.clone(),
                    unlinkable: record.unlinkable,
                });
                let g = (groups.len() - 1) as u32;
                self.group_index.insert(key, g);
                g
            }
        };
        match self.truth.events.get(&record.message_id) {
            Some(existing) if existing.person != person => Err(format!(
                "messageId {} belongs to both {} and {}",
                record.message_id, self.truth.people[existing.person as usize], record.person
            )),
            Some(_) => Ok(()),
            None => {
                let index = self.truth.events.len() as u32;
                self.truth.events.insert(
                    record.message_id,
                    Entry {
                        person,
                        group,
                        index,
                    },
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        id: &str,
        person: &str,
        space: Option<&str>,
        fragment: Option<(&str, Unlinkable)>,
    ) -> TruthRecord {
        TruthRecord {
            message_id: id.into(),
            person: person.into(),
            space: space.map(Into::into),
            fragment: fragment.map(|f| f.0.into()),
            unlinkable: fragment.map(|f| f.1),
        }
    }

    #[test]
    fn ceiling_counts_pairs_inside_groups_only() {
        // a: 3 linked events + 1 on a never-logged-in device; b: 2 in default + 2 in recipes.
        let truth = Truth::from_records([
            rec("1", "a", None, None),
            rec("2", "a", None, None),
            rec("3", "a", None, None),
            rec(
                "4",
                "a",
                None,
                Some(("a/f1", Unlinkable::DeviceNeverLoggedIn)),
            ),
            rec("5", "b", None, None),
            rec("6", "b", None, None),
            rec("7", "b", Some("recipes"), None),
            rec("8", "b", Some("recipes"), None),
            rec("9", "c", None, None),
        ])
        .unwrap();
        let ceiling = truth.recall_ceiling();
        // linkable pairs: 3 + 0 + 1 + 1 = 5; all pairs: 6 + 6 + 0 = 12.
        assert!((ceiling.recall - 5.0 / 12.0).abs() < 1e-12);
        assert_eq!(ceiling.people, 3);
        assert_eq!(ceiling.unrecoverable_people, 2);
        assert_eq!(ceiling.unrecoverable_events, 3);
        assert_eq!(
            ceiling.by_reason["device_never_logged_in"],
            ReasonCount {
                people: 1,
                events: 1
            }
        );
        assert_eq!(
            ceiling.by_reason[OTHER_SPACE],
            ReasonCount {
                people: 1,
                events: 2
            }
        );
        let recipes = truth.restrict_to_space("recipes");
        assert_eq!(recipes.len(), 2);
        assert_eq!(recipes.recall_ceiling().recall, 1.0);
    }

    #[test]
    fn reads_jsonl_and_rejects_conflicts() {
        let text =
            "{\"messageId\":\"m1\",\"person\":\"p\"}\n\n{\"messageId\":\"m1\",\"person\":\"p\"}\n";
        let truth = Truth::read_jsonl(text.as_bytes()).unwrap();
        assert_eq!(truth.len(), 1);
        assert_eq!(truth.person_of("m1"), Some("p"));
        let bad =
            "{\"messageId\":\"m1\",\"person\":\"p\"}\n{\"messageId\":\"m1\",\"person\":\"q\"}\n";
        let err = Truth::read_jsonl(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("truth line 2:"), "{err}");
        assert!(Truth::read_jsonl("nope\n".as_bytes()).is_err());
    }
}
