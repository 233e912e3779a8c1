//! Audience records under `idgraph check` and `check --repair` (see
//! [`super::audience`] for the records `X`, `Y`, `Z` and the audience clock).
//!
//! Invariants checked:
//! - every record's key and value decode;
//! - records name profiles that exist and configured audiences;
//! - the indexes agree: a member record (`X`) has its member standing (`Y`, same
//!   evaluation time and validity) and the other way round; a standing that expires is
//!   filed under its expiry (`Z`) and an expiry names the standing's validity; only
//!   members and standings that expire are stored;
//! - a standing still valid at the space's audience clock equals a fresh evaluation at
//!   that clock (membership, validity and, for members, the clauses and evidence), and no
//!   profile without a stored standing is a member or expires then. A standing whose
//!   validity ended at or before the clock is consistently expired: filed for
//!   re-evaluation, which every read does.
//!
//! Stored standings computed for other definitions than the configured ones are rebuilt
//! when the store is next opened, so then only the first three are checked. Repair
//! rewrites each broken (audience, profile) pair from a fresh evaluation at the clock,
//! removes records of missing profiles or audiences, and rebuilds everything when the
//! definitions differ.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::audience::{Journey, Why};
use crate::model::time::now as wall_clock;
use crate::model::{Millis, Profile, ProfileId, StoredEvent};

use super::audience::{AudienceMeta, META, Standing, insert_standing};
use super::check::{SpaceCheck, SpaceRepair};
use super::codec::{decode, encode};
use super::keys::{self, tag};
use super::space::SpaceStore;

/// The stored records of one (audience, profile) pair.
#[derive(Debug, Default)]
struct Stored {
    member: Option<Why>,
    standing: Option<Standing>,
    expiries: BTreeSet<Millis>,
}

/// What a look at the audience records found and what repair does about it.
#[derive(Default)]
struct Audit {
    problems: Vec<String>,
    /// Keys that do not decode, or name a missing profile or audience: removed.
    remove: Vec<Vec<u8>>,
    /// Pairs rewritten from a fresh evaluation, each with why.
    rewrite: BTreeMap<(String, u64), String>,
    /// The stored records, by audience and profile.
    pairs: BTreeMap<(String, u64), Stored>,
    /// Records read.
    records: u64,
    /// Stored definitions differ from the configured ones (or the bookkeeping is
    /// missing): everything is rebuilt.
    rebuild: bool,
}

/// Profiles, and the events left out of evaluation (duplicates about to be removed).
pub(super) struct Live<'a> {
    /// Profiles whose record decodes, by id.
    pub profiles: &'a BTreeMap<u64, Profile>,
    /// Profiles whose record does not decode (rebuilt by repair).
    pub lost: &'a BTreeSet<u64>,
    /// (cluster, seq) of events that do not count.
    pub skip: &'a HashSet<(u64, u64)>,
}

impl Live<'_> {
    fn exists(&self, id: u64) -> bool {
        self.profiles.contains_key(&id) || self.lost.contains(&id)
    }
}

impl SpaceStore {
    /// Checks the audience records; returns how many there are.
    pub(super) fn check_audiences(
        &self,
        live: &Live<'_>,
        out: &mut SpaceCheck,
    ) -> anyhow::Result<u64> {
        let audit = self.audit_audiences(live)?;
        for problem in audit.problems {
            out.report("audience", problem);
        }
        Ok(audit.records)
    }

    /// Adds to a repair batch the fixes of the audience records.
    pub(super) fn repair_audiences(
        &self,
        live: &Live<'_>,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<()> {
        let audit = self.audit_audiences(live)?;
        if audit.rebuild {
            return self.rebuild_audiences(live, batch, repair);
        }
        for key in &audit.remove {
            batch.remove(key.as_slice());
        }
        if !audit.remove.is_empty() {
            repair.actions.push(format!(
                "removed {} audience record(s) that do not decode or name a missing profile or audience",
                audit.remove.len()
            ));
        }
        let Some(clock) = self.audience_meta()?.clock else {
            return Ok(());
        };
        for ((audience, id), reason) in &audit.rewrite {
            if let Some(stored) = audit.pairs.get(&(audience.clone(), *id)) {
                remove_pair(batch, audience, ProfileId(*id), stored);
            }
            let fresh = match live.profiles.get(id) {
                Some(profile) => self.evaluate_one(profile, audience, clock, live.skip)?,
                None => None,
            };
            if let Some(why) = &fresh {
                insert_standing(batch, ProfileId(*id), audience, why);
            }
            repair.actions.push(format!(
                "audience {audience}: membership of p{id} rewritten from a fresh evaluation ({reason})"
            ));
        }
        Ok(())
    }

    /// Removes every audience record and evaluates every profile again, at the audience
    /// clock (the wall clock when there is none), with the configured definitions.
    fn rebuild_audiences(
        &self,
        live: &Live<'_>,
        batch: &mut sled::Batch,
        repair: &mut SpaceRepair,
    ) -> anyhow::Result<()> {
        self.remove_audience_records(batch)?;
        let meta = self.get::<AudienceMeta>(&keys::meta(META)).ok().flatten();
        let clock = meta.and_then(|m| m.clock).unwrap_or_else(wall_clock);
        for profile in live.profiles.values() {
            let events = self.countable_events(&profile.clusters, live.skip)?;
            let journey = Journey::new(profile, &events);
            for (audience, why) in self.audiences.evaluate(&journey, clock) {
                insert_standing(batch, profile.id, &audience, &why);
            }
        }
        batch.insert(
            keys::meta(META),
            encode(&AudienceMeta {
                clock: Some(clock),
                definitions: self.audience_definitions(),
            }),
        );
        repair.actions.push(format!(
            "audience membership of {} rebuilt with the configured audiences",
            crate::words::count(live.profiles.len() as u64, "profile")
        ));
        Ok(())
    }

    /// Reads the audience records and finds what is wrong with them.
    fn audit_audiences(&self, live: &Live<'_>) -> anyhow::Result<Audit> {
        let mut audit = Audit::default();
        let meta = match self.get::<AudienceMeta>(&keys::meta(META)) {
            Ok(meta) => meta.unwrap_or_default(),
            Err(e) => {
                audit
                    .problems
                    .push(format!("the audience bookkeeping does not decode: {e:#}"));
                audit.rebuild = true;
                AudienceMeta::default()
            }
        };
        // Standings of other definitions are rebuilt when the store is next opened: only
        // their records themselves are checked then.
        let current = !audit.rebuild && meta.definitions == self.audience_definitions();
        audit.rebuild |= !current;
        self.read_audience_records(live, current, &mut audit)?;
        if !current {
            return Ok(audit);
        }
        self.check_pairs(&mut audit);
        match meta.clock {
            Some(clock) => self.compare_fresh(live, clock, &mut audit)?,
            None if !live.profiles.is_empty() && !self.audiences.is_empty() => {
                audit
                    .problems
                    .push("the audience bookkeeping has no evaluation time".into());
                audit.rebuild = true;
            }
            None => {}
        }
        Ok(audit)
    }

    /// Reads `X`, `Y` and `Z`: undecodable records and records of missing profiles (or,
    /// with `named`, audiences not configured) are listed for removal, the others filed by
    /// pair.
    fn read_audience_records(
        &self,
        live: &Live<'_>,
        named: bool,
        audit: &mut Audit,
    ) -> anyhow::Result<()> {
        for record in tag::AUDIENCE_RECORDS {
            for item in self.tree.scan_prefix([record]) {
                let (key, value) = item?;
                audit.records += 1;
                let filed = match record {
                    tag::AUDIENCE_MEMBER => keys::audience_member_entry(&key).and_then(|(a, p)| {
                        let why = decode::<Why>(&value).ok()?;
                        Some((a.to_string(), p, Entry::Member(why)))
                    }),
                    tag::PROFILE_AUDIENCE => {
                        keys::profile_audience_entry(&key).and_then(|(p, a)| {
                            let standing = decode::<Standing>(&value).ok()?;
                            Some((a.to_string(), p, Entry::Standing(standing)))
                        })
                    }
                    _ => keys::audience_expiry_entry(&key)
                        .filter(|_| value.is_empty())
                        .map(|(a, until, p)| (a.to_string(), p, Entry::Expiry(until))),
                };
                let Some((audience, profile, entry)) = filed else {
                    audit.problems.push(format!(
                        "record {} does not decode",
                        record_text(record, &key)
                    ));
                    audit.remove.push(key.to_vec());
                    continue;
                };
                if !live.exists(profile.0) {
                    audit.problems.push(format!(
                        "{} names {profile}, which does not exist",
                        entry.describe(&audience, profile)
                    ));
                    audit.remove.push(key.to_vec());
                    continue;
                }
                if named && self.audiences.get(&audience).is_none() {
                    audit.problems.push(format!(
                        "{} names audience {audience}, which is not configured",
                        entry.describe(&audience, profile)
                    ));
                    audit.remove.push(key.to_vec());
                    continue;
                }
                let stored = audit.pairs.entry((audience, profile.0)).or_default();
                match entry {
                    Entry::Member(why) => stored.member = Some(why),
                    Entry::Standing(standing) => stored.standing = Some(standing),
                    Entry::Expiry(until) => {
                        stored.expiries.insert(until);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the three records of each pair agree.
    fn check_pairs(&self, audit: &mut Audit) {
        for ((audience, id), stored) in &audit.pairs {
            let problem = pair_problem(stored);
            if let Some(problem) = problem {
                audit
                    .problems
                    .push(format!("audience {audience}: p{id} {problem}"));
                audit
                    .rewrite
                    .insert((audience.clone(), *id), problem.to_string());
            }
        }
    }

    /// Compares every standing still valid at `clock` (and every absent one) with a fresh
    /// evaluation at `clock`.
    fn compare_fresh(
        &self,
        live: &Live<'_>,
        clock: Millis,
        audit: &mut Audit,
    ) -> anyhow::Result<()> {
        for profile in live.profiles.values() {
            let events = self.countable_events(&profile.clusters, live.skip)?;
            let journey = Journey::new(profile, &events);
            for (audience, fresh) in self.audiences.evaluate(&journey, clock) {
                let pair = (audience, profile.id.0);
                if audit.rewrite.contains_key(&pair) {
                    continue;
                }
                let stored = audit.pairs.get(&pair);
                let Some(problem) = fresh_problem(stored, &fresh, clock) else {
                    continue;
                };
                audit.problems.push(format!(
                    "audience {}: p{} {problem} (fresh evaluation at {})",
                    pair.0,
                    pair.1,
                    crate::model::time::format_time(clock)
                ));
                audit.rewrite.insert(pair, problem);
            }
        }
        Ok(())
    }

    /// One audience evaluated on a profile at `at`: `None` when nothing is stored for it
    /// (a non-member that never expires).
    fn evaluate_one(
        &self,
        profile: &Profile,
        audience: &str,
        at: Millis,
        skip: &HashSet<(u64, u64)>,
    ) -> anyhow::Result<Option<Why>> {
        let Some(definition) = self.audiences.get(audience) else {
            return Ok(None);
        };
        let events = self.countable_events(&profile.clusters, skip)?;
        let why = definition
            .condition
            .evaluate(&Journey::new(profile, &events), at);
        Ok((why.member || why.valid_until.is_some()).then_some(why))
    }

    /// The events of the clusters some audience looks at, leaving out those in bundles that
    /// do not decode and those in `skip`.
    fn countable_events(
        &self,
        clusters: &[u64],
        skip: &HashSet<(u64, u64)>,
    ) -> anyhow::Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        for cluster in clusters {
            for item in self.tree.scan_prefix(keys::timeline_prefix(*cluster)) {
                let (_, value) = item?;
                let Ok(events) = self.events.decode_bundle(&value) else {
                    continue;
                };
                out.extend(events.into_iter().filter(|event| {
                    !skip.contains(&(*cluster, event.seq))
                        && self.audiences.looks_at(event.call, &event.label)
                }));
            }
        }
        Ok(out)
    }
}

/// A decoded audience record.
enum Entry {
    Member(Why),
    Standing(Standing),
    Expiry(Millis),
}

impl Entry {
    fn describe(&self, audience: &str, profile: ProfileId) -> String {
        match self {
            Entry::Member(_) => format!("member record X({audience}, {profile})"),
            Entry::Standing(_) => format!("standing Y({profile}, {audience})"),
            Entry::Expiry(until) => format!("expiry Z({audience}, {until}, {profile})"),
        }
    }
}

/// A record's key for messages.
fn record_text(record: u8, key: &[u8]) -> String {
    let printable: String = key
        .iter()
        .skip(1)
        .map(|b| {
            if b.is_ascii_graphic() {
                (*b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    format!("{}({printable})", record as char)
}

/// What is inconsistent between a pair's member record, standing and expiries.
fn pair_problem(stored: &Stored) -> Option<&'static str> {
    let standing = stored.standing;
    match (&stored.member, standing) {
        (Some(why), _) if !why.member => return Some("has a member record saying non-member"),
        (Some(_), None) => return Some("has a member record but no standing"),
        (Some(_), Some(s)) if !s.member => {
            return Some("has a member record but a non-member standing");
        }
        (Some(why), Some(s))
            if why.evaluated_at != s.evaluated_at || why.valid_until != s.valid_until =>
        {
            return Some("has a member record and a standing that disagree");
        }
        (None, Some(s)) if s.member => return Some("has a member standing but no member record"),
        (None, Some(s)) if s.valid_until.is_none() => {
            return Some("has a stored non-member standing that never expires");
        }
        _ => {}
    }
    let expected: BTreeSet<Millis> = standing.and_then(|s| s.valid_until).into_iter().collect();
    if stored.expiries != expected {
        return Some(if expected.is_empty() {
            "is filed for re-evaluation without a standing that expires"
        } else if stored.expiries.is_empty() {
            "has a standing that expires but is not filed for re-evaluation"
        } else {
            "is filed for re-evaluation at another time than its standing expires"
        });
    }
    None
}

/// How a stored standing (or its absence) differs from a fresh evaluation at `clock`;
/// `None` when it agrees or has expired by then.
fn fresh_problem(stored: Option<&Stored>, fresh: &Why, clock: Millis) -> Option<String> {
    let standing = stored.and_then(|s| s.standing);
    let Some(standing) = standing else {
        return match (fresh.member, fresh.valid_until) {
            (true, _) => Some("is a member but none is stored".into()),
            (false, Some(_)) => Some("has a standing that expires but none is stored".into()),
            (false, None) => None,
        };
    };
    if standing.valid_until.is_some_and(|until| until <= clock) {
        return None;
    }
    if standing.member != fresh.member {
        let (was, is) = if standing.member {
            ("member", "non-member")
        } else {
            ("non-member", "member")
        };
        return Some(format!("is stored as a {was} but is a {is}"));
    }
    if standing.valid_until != fresh.valid_until {
        return Some("is stored with another validity".into());
    }
    let stored_reasons = stored.and_then(|s| s.member.as_ref()).map(|w| &w.reasons);
    if fresh.member && stored_reasons != Some(&fresh.reasons) {
        return Some("is stored with other clauses or evidence".into());
    }
    None
}

/// Removes the stored records of one pair.
fn remove_pair(batch: &mut sled::Batch, audience: &str, id: ProfileId, stored: &Stored) {
    batch.remove(keys::audience_member(audience, id));
    batch.remove(keys::profile_audience(id, audience));
    for until in &stored.expiries {
        batch.remove(keys::audience_expiry(audience, *until, id));
    }
}
