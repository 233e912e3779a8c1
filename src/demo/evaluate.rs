//! Scoring resolved profiles against the truth: pairwise precision, recall and F1 over
//! events (from contingency counts, never by enumerating pairs), over-merged and split
//! people with the worst examples of each, and the recall ceiling deterministic rules allow.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::truth::{RecallCeiling, Truth, pairs, ratio};
use crate::model::Identifier;
use crate::model::identifier::{EMAIL, USER_ID};

/// How many worst examples a report keeps.
const WORST: usize = 5;
/// How many identifiers an example shows.
const SHOWN_IDENTIFIERS: usize = 10;
/// How many people of an over-merge, or profiles of a split, an example shows.
const SHOWN_PARTS: usize = 10;

/// A profile as a resolver produced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedProfile {
    pub profile_id: String,
    pub identifiers: Vec<Identifier>,
    /// The messageIds of the events attributed to the profile.
    pub message_ids: Vec<String>,
}

/// How well resolved profiles match the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvaluationReport {
    /// Events in the truth.
    pub events: u64,
    /// People with events in the truth.
    pub people: u64,
    /// Profiles holding at least one event of the truth.
    pub profiles: u64,
    /// Truth events found in no profile (scored as profiles of their own).
    pub missing_events: u64,
    /// Profile events the truth does not know (ignored).
    pub unknown_events: u64,
    /// Truth events found more than once (only the first place counts).
    pub repeated_events: u64,
    /// Share of event pairs put in one profile that belong to one person.
    pub precision: f64,
    /// Share of event pairs of one person that were put in one profile.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Pairs of events sharing a profile.
    pub predicted_pairs: u64,
    /// Pairs of events sharing a person.
    pub true_pairs: u64,
    /// Pairs sharing both.
    pub correct_pairs: u64,
    /// People sharing a profile with someone else.
    pub over_merged_people: u64,
    /// Profiles holding events of more than one person.
    pub over_merged_profiles: u64,
    /// People whose events are spread over several profiles.
    pub split_people: u64,
    /// The over-merges with the most wrong pairs.
    pub worst_over_merges: Vec<OverMerge>,
    /// The splits with the most missed pairs.
    pub worst_splits: Vec<Split>,
    /// People with events that shared identifiers link (one linkable group of the truth)
    /// spread over several profiles: splits better rules could avoid.
    pub avoidable_split_people: u64,
    /// Pairs of linkable events put in different profiles: what keeps recall below the
    /// ceiling.
    pub avoidable_missed_pairs: u64,
    /// The avoidable splits with the most missed pairs (events of one linkable group).
    pub worst_avoidable_splits: Vec<Split>,
    /// The best recall deterministic rules can reach on this truth, and why not more.
    pub ceiling: RecallCeiling,
}

/// A profile holding several people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OverMerge {
    pub profile_id: String,
    pub events: u64,
    /// Pairs of events of different people in the profile.
    pub wrong_pairs: u64,
    /// The people in it, most events first (at most ten).
    pub people: Vec<PersonShare>,
    pub people_count: usize,
    /// The profile's identifiers (user ids and e-mails first; at most ten).
    pub identifiers: Vec<Identifier>,
    pub identifier_count: usize,
}

/// How many events of one person a profile holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonShare {
    pub person: String,
    pub events: u64,
}

/// A person spread over several profiles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Split {
    pub person: String,
    /// The person's events found in profiles.
    pub events: u64,
    /// Pairs of the person's events that ended up in different profiles.
    pub missed_pairs: u64,
    /// The profiles, most events first (at most ten).
    pub parts: Vec<SplitPart>,
    pub profile_count: usize,
}

/// One profile holding part of a split person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitPart {
    pub profile_id: String,
    /// Events of the person in this profile.
    pub events: u64,
    /// The profile's identifiers (user ids and e-mails first; at most ten).
    pub identifiers: Vec<Identifier>,
    pub identifier_count: usize,
}

struct ProfileSummary {
    id: String,
    identifiers: Vec<Identifier>,
    identifier_count: usize,
}

/// Scores `profiles` against `truth`. Memory grows with the truth and the number of
/// profiles, never with the number of event pairs.
pub fn evaluate<I>(profiles: I, truth: &Truth) -> EvaluationReport
where
    I: IntoIterator<Item = ResolvedProfile>,
{
    let mut seen = vec![false; truth.len()];
    let mut over_merged = vec![false; truth.person_count()];
    let mut parts_of: Vec<Vec<(u32, u64)>> = vec![Vec::new(); truth.person_count()];
    let mut summaries: Vec<ProfileSummary> = Vec::new();
    let mut worst_over: Vec<OverMerge> = Vec::new();
    let mut counts: HashMap<u32, u64> = HashMap::new();
    let mut parts_of_group: Vec<Vec<(u32, u64)>> = vec![Vec::new(); truth.group_count()];
    let mut group_counts: HashMap<u32, u64> = HashMap::new();
    let mut report = EvaluationReport::empty(truth);

    for profile in profiles {
        counts.clear();
        group_counts.clear();
        for id in &profile.message_ids {
            match truth.entry(id) {
                None => report.unknown_events += 1,
                Some(entry) if seen[entry.index as usize] => report.repeated_events += 1,
                Some(entry) => {
                    seen[entry.index as usize] = true;
                    *counts.entry(entry.person).or_default() += 1;
                    *group_counts.entry(entry.group).or_default() += 1;
                }
            }
        }
        if counts.is_empty() {
            continue;
        }
        let mut people: Vec<(u32, u64)> = counts.iter().map(|(&p, &n)| (p, n)).collect();
        people.sort_unstable_by_key(|&(p, n)| (std::cmp::Reverse(n), p));
        let events: u64 = people.iter().map(|&(_, n)| n).sum();
        let same_person: u64 = people.iter().map(|&(_, n)| pairs(n)).sum();
        report.profiles += 1;
        report.predicted_pairs += pairs(events);
        report.correct_pairs += same_person;
        let index = summaries.len() as u32;
        for &(person, n) in &people {
            parts_of[person as usize].push((index, n));
        }
        for (&group, &n) in &group_counts {
            parts_of_group[group as usize].push((index, n));
        }
        let (identifiers, identifier_count) = shown(&profile.identifiers);
        if people.len() > 1 {
            report.over_merged_profiles += 1;
            for &(person, _) in &people {
                over_merged[person as usize] = true;
            }
            worst_over.push(OverMerge {
                profile_id: profile.profile_id.clone(),
                events,
                wrong_pairs: pairs(events) - same_person,
                people_count: people.len(),
                people: people
                    .iter()
                    .take(SHOWN_PARTS)
                    .map(|&(p, n)| PersonShare {
                        person: truth.person_name(p).to_string(),
                        events: n,
                    })
                    .collect(),
                identifiers: identifiers.clone(),
                identifier_count,
            });
            keep_worst(&mut worst_over, |o| (o.wrong_pairs, o.profile_id.clone()));
        }
        summaries.push(ProfileSummary {
            id: profile.profile_id,
            identifiers,
            identifier_count,
        });
    }

    report.missing_events = seen.iter().filter(|&&s| !s).count() as u64;
    report.true_pairs = truth.events_per_person().iter().map(|&n| pairs(n)).sum();
    report.over_merged_people = over_merged.iter().filter(|&&o| o).count() as u64;
    let mut worst_splits: Vec<Split> = Vec::new();
    for (person, parts) in parts_of.iter().enumerate() {
        if parts.len() < 2 {
            continue;
        }
        report.split_people += 1;
        worst_splits.push(split(truth.person_name(person as u32), parts, &summaries));
        keep_worst(&mut worst_splits, |s| (s.missed_pairs, s.person.clone()));
    }
    let mut worst_avoidable: Vec<Split> = Vec::new();
    let mut avoidable_people = vec![false; truth.person_count()];
    for (group, parts) in parts_of_group.iter().enumerate() {
        if parts.len() < 2 {
            continue;
        }
        let person = truth.group_person(group as u32);
        avoidable_people[person as usize] = true;
        let example = split(truth.person_name(person), parts, &summaries);
        report.avoidable_missed_pairs += example.missed_pairs;
        worst_avoidable.push(example);
        keep_worst(&mut worst_avoidable, |s| (s.missed_pairs, s.person.clone()));
    }
    report.avoidable_split_people = avoidable_people.iter().filter(|&&a| a).count() as u64;
    report.precision = ratio(report.correct_pairs, report.predicted_pairs);
    report.recall = ratio(report.correct_pairs, report.true_pairs);
    report.f1 = if report.precision + report.recall == 0.0 {
        0.0
    } else {
        2.0 * report.precision * report.recall / (report.precision + report.recall)
    };
    finish_worst(&mut worst_over, |o| (o.wrong_pairs, o.profile_id.clone()));
    finish_worst(&mut worst_splits, |s| (s.missed_pairs, s.person.clone()));
    finish_worst(&mut worst_avoidable, |s| (s.missed_pairs, s.person.clone()));
    report.worst_over_merges = worst_over;
    report.worst_splits = worst_splits;
    report.worst_avoidable_splits = worst_avoidable;
    report
}

/// A split example: events of `person` spread over profiles as `parts` (profile index,
/// events there).
fn split(person: &str, parts: &[(u32, u64)], summaries: &[ProfileSummary]) -> Split {
    let events: u64 = parts.iter().map(|&(_, n)| n).sum();
    let together: u64 = parts.iter().map(|&(_, n)| pairs(n)).sum();
    let mut ordered = parts.to_vec();
    ordered.sort_by_key(|&(profile, n)| (std::cmp::Reverse(n), profile));
    Split {
        person: person.to_string(),
        events,
        missed_pairs: pairs(events) - together,
        profile_count: ordered.len(),
        parts: ordered
            .iter()
            .take(SHOWN_PARTS)
            .map(|&(profile, n)| {
                let summary = &summaries[profile as usize];
                SplitPart {
                    profile_id: summary.id.clone(),
                    events: n,
                    identifiers: summary.identifiers.clone(),
                    identifier_count: summary.identifier_count,
                }
            })
            .collect(),
    }
}

impl EvaluationReport {
    fn empty(truth: &Truth) -> EvaluationReport {
        let ceiling = truth.recall_ceiling();
        EvaluationReport {
            events: truth.len() as u64,
            people: ceiling.people,
            profiles: 0,
            missing_events: 0,
            unknown_events: 0,
            repeated_events: 0,
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
            predicted_pairs: 0,
            true_pairs: 0,
            correct_pairs: 0,
            over_merged_people: 0,
            over_merged_profiles: 0,
            split_people: 0,
            worst_over_merges: Vec::new(),
            worst_splits: Vec::new(),
            avoidable_split_people: 0,
            avoidable_missed_pairs: 0,
            worst_avoidable_splits: Vec::new(),
            ceiling,
        }
    }
}

/// The identifiers an example shows: user ids, then e-mails, then the rest by type.
fn shown(identifiers: &[Identifier]) -> (Vec<Identifier>, usize) {
    let rank = |id: &Identifier| match id.kind.as_str() {
        USER_ID => 0,
        EMAIL => 1,
        _ => 2,
    };
    let mut sorted: Vec<&Identifier> = identifiers.iter().collect();
    sorted.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    let kept = sorted
        .into_iter()
        .take(SHOWN_IDENTIFIERS)
        .cloned()
        .collect();
    (kept, identifiers.len())
}

/// Keeps a candidate list short while examples stream in.
fn keep_worst<T>(list: &mut Vec<T>, key: impl Fn(&T) -> (u64, String)) {
    if list.len() > 8 * WORST {
        finish_worst(list, key);
    }
}

/// Worst first (ties by name), at most [`WORST`].
fn finish_worst<T>(list: &mut Vec<T>, key: impl Fn(&T) -> (u64, String)) {
    list.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.cmp(&ka.0).then(ka.1.cmp(&kb.1))
    });
    list.truncate(WORST);
}

impl fmt::Display for EvaluationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "events     {} of {} people in {} profiles (missing {}, unknown {}, repeated {})",
            self.events,
            self.people,
            self.profiles,
            self.missing_events,
            self.unknown_events,
            self.repeated_events
        )?;
        writeln!(
            f,
            "pairwise   precision {:.4}  recall {:.4}  F1 {:.4}  (recall ceiling {:.4})",
            self.precision, self.recall, self.f1, self.ceiling.recall
        )?;
        writeln!(
            f,
            "pairs      {} predicted, {} true, {} correct",
            self.predicted_pairs, self.true_pairs, self.correct_pairs
        )?;
        writeln!(
            f,
            "mistakes   {} over-merged people in {} profiles; {} split people, {} of them \
             with linkable events apart ({} missed pairs rules could avoid)",
            self.over_merged_people,
            self.over_merged_profiles,
            self.split_people,
            self.avoidable_split_people,
            self.avoidable_missed_pairs
        )?;
        write!(
            f,
            "ceiling    {} people, {} events cannot be linked by any rule",
            self.ceiling.unrecoverable_people, self.ceiling.unrecoverable_events
        )?;
        let reasons: Vec<String> = self
            .ceiling
            .by_reason
            .iter()
            .map(|(reason, c)| format!("{reason}: {} people, {} events", c.people, c.events))
            .collect();
        if reasons.is_empty() {
            writeln!(f)?;
        } else {
            writeln!(f, " ({})", reasons.join("; "))?;
        }
        if !self.worst_over_merges.is_empty() {
            writeln!(f, "worst over-merges:")?;
            for o in &self.worst_over_merges {
                let mut people: Vec<String> = o
                    .people
                    .iter()
                    .map(|p| format!("{} {}", p.person, p.events))
                    .collect();
                if o.people_count > o.people.len() {
                    people.push(format!("+{} more", o.people_count - o.people.len()));
                }
                writeln!(
                    f,
                    "  {}: {} events of {} people ({}), {} wrong pairs",
                    o.profile_id,
                    o.events,
                    o.people_count,
                    people.join(", "),
                    o.wrong_pairs
                )?;
                writeln!(
                    f,
                    "      {}",
                    identifier_line(&o.identifiers, o.identifier_count)
                )?;
            }
        }
        write_splits(f, "worst splits", &self.worst_splits)?;
        write_splits(
            f,
            "worst avoidable splits (events shared identifiers link, in several profiles)",
            &self.worst_avoidable_splits,
        )?;
        Ok(())
    }
}

/// A titled list of split examples (nothing when there are none).
fn write_splits(f: &mut fmt::Formatter<'_>, title: &str, splits: &[Split]) -> fmt::Result {
    if splits.is_empty() {
        return Ok(());
    }
    writeln!(f, "{title}:")?;
    for s in splits {
        writeln!(
            f,
            "  {}: {} events in {} profiles, {} missed pairs",
            s.person, s.events, s.profile_count, s.missed_pairs
        )?;
        for part in &s.parts {
            writeln!(
                f,
                "      {} ({} events): {}",
                part.profile_id,
                part.events,
                identifier_line(&part.identifiers, part.identifier_count)
            )?;
        }
        if s.profile_count > s.parts.len() {
            writeln!(
                f,
                "      +{} more profiles",
                s.profile_count - s.parts.len()
            )?;
        }
    }
    Ok(())
}

fn identifier_line(shown: &[Identifier], total: usize) -> String {
    let mut line = shown
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if total > shown.len() {
        line.push_str(&format!(" (+{} more)", total - shown.len()));
    }
    if line.is_empty() {
        line.push_str("(no identifiers)");
    }
    line
}
