//! Audience membership kept current in the space tree, written in the same atomic batch
//! as the events, merges, splits and undos that change it.
//!
//! Records: `X` audience+profile → [`Why`] for members; `Y` profile+audience → [`Standing`]
//! for members and for non-members whose standing expires; `Z` audience+valid-until+profile
//! for every standing that expires. Only the profiles a batch or repair touched are
//! re-evaluated.
//!
//! Time: a condition with windows relative to now (`within 7d`, `before 1h ago`) can change
//! without new events. Each evaluation records `valid_until`, the next time a window edge
//! crosses one of the profile's matching events; until then the stored standing is exact.
//! Expired standings are re-evaluated on read (exact answers at any later time), in every
//! ingest batch (a bounded number) and by [`SpaceStore::refresh_audiences`]. The space's
//! audience *clock* is the latest "now" any stored standing was evaluated at: writes
//! evaluate at `max(now, clock)`, and a read at a time before the clock (a replay)
//! evaluates every profile on the fly instead of trusting stored standings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::audience::{Journey, Why};
use crate::model::time::now as wall_clock;
use crate::model::{CallType, Millis, Profile, ProfileId, StoredEvent};

use super::bundle::{bodies, decode_event};
use super::codec::{decode, decode_body, encode};
use super::keys::{self, tag};
use super::space::SpaceStore;

/// Bump when evaluation semantics change, so stored standings are rebuilt.
const EVALUATION_VERSION: &str = "1";
/// The meta record holding a space's [`AudienceMeta`].
pub(super) const META: &str = "audiences";
/// Most expired standings re-evaluated within one ingest batch (reads stay exact anyway).
const EXPIRED_PER_BATCH: usize = 1_000;

/// What the stored standings of a space were computed with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AudienceMeta {
    /// The latest "now" a stored standing was evaluated at.
    pub clock: Option<Millis>,
    /// Audience name → evaluation version and condition fingerprint.
    pub definitions: BTreeMap<String, String>,
}

/// A profile's stored standing in one audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Standing {
    pub member: bool,
    pub evaluated_at: Millis,
    pub valid_until: Option<Millis>,
}

/// The leading fields of a stored [`StoredEvent`] record, borrowed: postcard writes fields
/// in declaration order, so these must mirror its first fields (a test checks).
#[derive(Deserialize)]
struct EventHead<'a> {
    _seq: u64,
    _message_id: &'a str,
    call: CallType,
    _time: Millis,
    _received_at: Millis,
    _source: &'a str,
    _channel: &'a str,
    _app: Option<&'a str>,
    _device: Option<&'a str>,
    label: &'a str,
}

/// Profiles a repair changed (with their events, some not yet in the tree) or removed.
#[derive(Default)]
pub(super) struct Touched {
    updated: BTreeMap<ProfileId, (Profile, Vec<StoredEvent>)>,
    removed: BTreeSet<ProfileId>,
}

impl Touched {
    /// A profile as it will be after the operation, with all its events.
    pub fn update(&mut self, profile: Profile, events: Vec<StoredEvent>) {
        self.removed.remove(&profile.id);
        self.updated.insert(profile.id, (profile, events));
    }

    /// A profile the operation deletes.
    pub fn remove(&mut self, id: ProfileId) {
        self.updated.remove(&id);
        self.removed.insert(id);
    }
}

impl SpaceStore {
    /// The stored audience bookkeeping.
    pub(super) fn audience_meta(&self) -> anyhow::Result<AudienceMeta> {
        Ok(self.get(&keys::meta(META))?.unwrap_or_default())
    }

    /// The definitions the configured audiences would be stored with.
    pub(super) fn audience_definitions(&self) -> BTreeMap<String, String> {
        self.audiences
            .iter()
            .map(|a| {
                let fingerprint = format!("{EVALUATION_VERSION} {}", a.condition.fingerprint());
                (a.name.clone(), fingerprint)
            })
            .collect()
    }

    /// The events of the given timeline clusters that some audience looks at (only their
    /// leading fields are decoded to tell; the others could not change any outcome).
    pub(super) fn audience_events(&self, clusters: &[u64]) -> anyhow::Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        for cluster in clusters {
            self.read_audience_events(*cluster, &mut out)?;
        }
        Ok(out)
    }

    /// Adds the events of one timeline cluster that some audience looks at to `out`.
    fn read_audience_events(&self, cluster: u64, out: &mut Vec<StoredEvent>) -> anyhow::Result<()> {
        for item in self.tree.scan_prefix(keys::timeline_prefix(cluster)) {
            let (_, value) = item?;
            self.events.with_plain(&value, |plain| {
                for body in bodies(plain)? {
                    let head: EventHead<'_> = decode_body(body)?;
                    if self.audiences.looks_at(head.call, head.label) {
                        out.push(decode_event(body)?);
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// [`SpaceStore::audience_events`] for the writer, per cluster: from the events it kept
    /// in memory (see [`super::relevant_events`]), reading and keeping the clusters it does
    /// not hold. Only for callers holding the writer lock.
    fn kept_audience_events(&self, clusters: &[u64]) -> anyhow::Result<Vec<Arc<Vec<StoredEvent>>>> {
        clusters
            .iter()
            .map(|&cluster| {
                if let Some(events) = self.relevant.get(cluster) {
                    return Ok(events);
                }
                let mut events = Vec::new();
                self.read_audience_events(cluster, &mut events)?;
                Ok(self.relevant.keep(cluster, events))
            })
            .collect()
    }

    /// Profiles whose stored standing in `audience` expired at or before `now`.
    pub(super) fn expired_profiles(
        &self,
        audience: &str,
        now: Millis,
    ) -> anyhow::Result<Vec<ProfileId>> {
        let start = keys::audience_expiry_prefix(audience);
        let mut end = start.clone();
        end.extend_from_slice(&keys::time_bytes(now.saturating_add(1)));
        let mut out = Vec::new();
        for item in self.tree.range(start..end) {
            let (key, _) = item?;
            out.extend(keys::trailing_profile(&key));
        }
        Ok(out)
    }

    /// Rebuilds every standing when the configured audiences differ from those the stored
    /// standings were computed with (first use, or the config changed).
    pub(super) fn sync_audiences(&self) -> anyhow::Result<()> {
        let meta = self.audience_meta()?;
        let definitions = self.audience_definitions();
        if meta.definitions == definitions {
            return Ok(());
        }
        let _writer = self.lock_writer()?;
        let mut batch = sled::Batch::default();
        self.remove_audience_records(&mut batch)?;
        let mut clock = meta.clock;
        let mut profiles = 0_u64;
        if !self.audiences.is_empty() {
            for item in self.tree.scan_prefix([tag::PROFILE]) {
                let (_, value) = item?;
                let profile: Profile = decode(&value)?;
                let now = *clock.get_or_insert_with(wall_clock);
                let events = self.audience_events(&profile.clusters)?;
                let standings = self
                    .audiences
                    .evaluate(&Journey::new(&profile, &events), now);
                insert_standings(&mut batch, profile.id, &standings);
                profiles += 1;
            }
        }
        tracing::info!(
            space = %self.name,
            profiles,
            audiences = definitions.len(),
            "audience definitions changed: membership rebuilt"
        );
        batch.insert(
            keys::meta(META),
            encode(&AudienceMeta { clock, definitions }),
        );
        let _gate = self.write_gate();
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Adds to an ingest batch the new standings of every profile it changed (each with
    /// whether its traits or clusters may have changed too) or removed (`fresh`: this
    /// batch's events by timeline cluster), plus a bounded number of expired standings.
    pub(super) fn put_batch_standings(
        &self,
        batch: &mut sled::Batch,
        changed: &[(Profile, bool)],
        removed: &[ProfileId],
        fresh: &FxHashMap<u64, Vec<StoredEvent>>,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut meta = self.audience_meta()?;
        let now = meta.clock.map_or(now, |clock| clock.max(now));
        let mut done = FxHashSet::default();
        // Reading each profile's stored timeline is most of the work: on both cores, and
        // only for the profiles whose standings the batch may have changed.
        let changes = changed
            .par_iter()
            .map(|(profile, reshaped)| {
                if !self.may_have_changed_standings(profile, *reshaped, fresh, now)? {
                    return Ok(None);
                }
                let stored = self.kept_audience_events(&profile.clusters)?;
                let new = profile
                    .clusters
                    .iter()
                    .filter_map(|c| fresh.get(c))
                    .flatten();
                let events = stored.iter().flat_map(|kept| kept.iter()).chain(new);
                self.standing_changes(profile, events, now).map(Some)
            })
            .collect::<anyhow::Result<Vec<Option<StandingChanges>>>>()?;
        for change in changes.into_iter().flatten() {
            done.insert(change.profile);
            change.put(batch);
        }
        for &id in removed {
            self.remove_standings(batch, id)?;
            done.insert(id);
        }
        self.put_expired(batch, now, &done, EXPIRED_PER_BATCH)?;
        if meta.clock != Some(now) {
            meta.clock = Some(now);
            batch.insert(keys::meta(META), encode(&meta));
        }
        Ok(())
    }

    /// Whether an ingest batch may have changed a profile's standings. Evaluation reads a
    /// profile's traits and its relevant events (which ingest only adds to, through its
    /// clusters), and a standing holds until its `valid_until`; so a profile that got no
    /// relevant event, kept its clusters (no merge) and traits (`reshaped` says whether
    /// resolution may have changed either), and has no standing expiring by `now` would
    /// evaluate as it is stored.
    fn may_have_changed_standings(
        &self,
        profile: &Profile,
        reshaped: bool,
        fresh: &FxHashMap<u64, Vec<StoredEvent>>,
        now: Millis,
    ) -> anyhow::Result<bool> {
        if reshaped || profile.clusters.iter().any(|c| fresh.contains_key(c)) {
            return Ok(true);
        }
        Ok(self
            .stored_standings(profile.id)?
            .values()
            .any(|standing| standing.valid_until.is_some_and(|until| until <= now)))
    }

    /// Adds to a repair batch the new standings of the profiles it touched, evaluated at
    /// the space's audience clock (the wall clock when nothing was evaluated yet).
    pub(super) fn put_touched(
        &self,
        batch: &mut sled::Batch,
        touched: Touched,
    ) -> anyhow::Result<()> {
        if self.audiences.is_empty() {
            return Ok(());
        }
        let mut meta = self.audience_meta()?;
        let now = match meta.clock {
            Some(clock) => clock,
            None => {
                let now = wall_clock();
                meta.clock = Some(now);
                batch.insert(keys::meta(META), encode(&meta));
                now
            }
        };
        for (profile, events) in touched.updated.values() {
            let relevant = events
                .iter()
                .filter(|e| self.audiences.looks_at(e.call, &e.label));
            self.put_standings(batch, profile, relevant, now)?;
        }
        for id in touched.removed {
            self.remove_standings(batch, id)?;
        }
        Ok(())
    }

    /// Re-evaluates every standing that expired at or before `now` and moves the audience
    /// clock to `now`; returns how many profiles were re-evaluated. Does nothing for a
    /// `now` before the clock (time does not run backwards).
    pub fn refresh_audiences(&self, now: Millis) -> anyhow::Result<usize> {
        if self.audiences.is_empty() {
            return Ok(0);
        }
        let _writer = self.lock_writer()?;
        let mut meta = self.audience_meta()?;
        if meta.clock.is_some_and(|clock| now < clock) {
            return Ok(0);
        }
        let mut batch = sled::Batch::default();
        let refreshed = self.put_expired(&mut batch, now, &FxHashSet::default(), usize::MAX)?;
        meta.clock = Some(now);
        batch.insert(keys::meta(META), encode(&meta));
        let _gate = self.write_gate();
        self.tree.apply_batch(batch)?;
        Ok(refreshed)
    }

    /// Re-evaluates up to `limit` profiles with an expired standing (not in `skip`).
    fn put_expired(
        &self,
        batch: &mut sled::Batch,
        now: Millis,
        skip: &FxHashSet<ProfileId>,
        limit: usize,
    ) -> anyhow::Result<usize> {
        let mut ids = BTreeSet::new();
        for audience in self.audiences.iter() {
            let expired = self.expired_profiles(&audience.name, now)?;
            ids.extend(expired.into_iter().filter(|id| !skip.contains(id)));
        }
        let ids: Vec<ProfileId> = ids.into_iter().take(limit).collect();
        for id in &ids {
            match self.load_profile(*id)? {
                Some(profile) => {
                    let events = self.kept_audience_events(&profile.clusters)?;
                    let events = events.iter().flat_map(|kept| kept.iter());
                    self.put_standings(batch, &profile, events, now)?;
                }
                None => self.remove_standings(batch, *id)?,
            }
        }
        Ok(ids.len())
    }

    /// Evaluates every audience on a profile and writes the standings that changed.
    fn put_standings<'e>(
        &self,
        batch: &mut sled::Batch,
        profile: &'e Profile,
        events: impl IntoIterator<Item = &'e StoredEvent>,
        now: Millis,
    ) -> anyhow::Result<()> {
        self.standing_changes(profile, events, now)?.put(batch);
        Ok(())
    }

    /// Evaluates every audience on a profile: the standings that changed.
    fn standing_changes<'e>(
        &self,
        profile: &'e Profile,
        events: impl IntoIterator<Item = &'e StoredEvent>,
        now: Millis,
    ) -> anyhow::Result<StandingChanges> {
        let standings = self.audiences.evaluate(&Journey::new(profile, events), now);
        let mut before = self.stored_standings(profile.id)?;
        let mut changes = StandingChanges {
            profile: profile.id,
            steps: Vec::new(),
        };
        for (audience, why) in standings {
            let old = before.remove(&audience);
            if self.unchanged(profile.id, &audience, old, &why)? {
                continue;
            }
            if let Some(old) = old {
                changes
                    .steps
                    .push(StandingStep::Remove(audience.clone(), old));
            }
            changes.steps.push(StandingStep::Insert(audience, why));
        }
        for (audience, old) in before {
            changes.steps.push(StandingStep::Remove(audience, old));
        }
        Ok(changes)
    }

    /// Whether a stored standing (or its absence) already says what `why` says: same
    /// membership, validity and evidence. (It stays exact: it was evaluated earlier, with
    /// the same result holding until the same time.)
    fn unchanged(
        &self,
        id: ProfileId,
        audience: &str,
        old: Option<Standing>,
        why: &Why,
    ) -> anyhow::Result<bool> {
        Ok(match old {
            None => !why.member && why.valid_until.is_none(),
            Some(old) if old.member != why.member || old.valid_until != why.valid_until => false,
            Some(_) if !why.member => true,
            Some(_) => self
                .get::<Why>(&keys::audience_member(audience, id))?
                .is_some_and(|stored| stored.reasons == why.reasons),
        })
    }

    /// A profile's stored standings by audience (as the tree holds them before the batch).
    fn stored_standings(&self, id: ProfileId) -> anyhow::Result<BTreeMap<String, Standing>> {
        let mut out = BTreeMap::new();
        for item in self.tree.scan_prefix(keys::profile_audience_prefix(id)) {
            let (key, value) = item?;
            if let Some(audience) = keys::audience_of_profile_key(&key) {
                out.insert(audience.to_string(), decode(&value)?);
            }
        }
        Ok(out)
    }

    /// Removes a profile's stored standings.
    fn remove_standings(&self, batch: &mut sled::Batch, id: ProfileId) -> anyhow::Result<()> {
        for (audience, old) in self.stored_standings(id)? {
            remove_standing(batch, id, &audience, old);
        }
        Ok(())
    }
}

/// A profile's standings that changed, to write in this order.
struct StandingChanges {
    profile: ProfileId,
    steps: Vec<StandingStep>,
}

/// One audience's stored standing of a profile removed, or a new one written.
enum StandingStep {
    Remove(String, Standing),
    Insert(String, Why),
}

impl StandingChanges {
    /// Adds the changes to a batch.
    fn put(self, batch: &mut sled::Batch) {
        for step in self.steps {
            match step {
                StandingStep::Remove(audience, old) => {
                    remove_standing(batch, self.profile, &audience, old);
                }
                StandingStep::Insert(audience, why) => {
                    insert_standing(batch, self.profile, &audience, &why);
                }
            }
        }
    }
}

/// Removes one stored standing and the member and expiry records that go with it.
pub(super) fn remove_standing(
    batch: &mut sled::Batch,
    id: ProfileId,
    audience: &str,
    old: Standing,
) {
    if old.member {
        batch.remove(keys::audience_member(audience, id));
    }
    if let Some(until) = old.valid_until {
        batch.remove(keys::audience_expiry(audience, until, id));
    }
    batch.remove(keys::profile_audience(id, audience));
}

/// Adds a profile's standings to a batch.
fn insert_standings(batch: &mut sled::Batch, id: ProfileId, standings: &[(String, Why)]) {
    for (audience, why) in standings {
        insert_standing(batch, id, audience, why);
    }
}

/// Adds one standing: the member record, the profile's standing (kept for members and
/// for anything that expires) and the expiry record.
pub(super) fn insert_standing(batch: &mut sled::Batch, id: ProfileId, audience: &str, why: &Why) {
    if why.member {
        batch.insert(keys::audience_member(audience, id), encode(why));
    }
    if why.member || why.valid_until.is_some() {
        let standing = Standing {
            member: why.member,
            evaluated_at: why.evaluated_at,
            valid_until: why.valid_until,
        };
        batch.insert(keys::profile_audience(id, audience), encode(&standing));
    }
    if let Some(until) = why.valid_until {
        batch.insert(keys::audience_expiry(audience, until, id), &[][..]);
    }
}

impl SpaceStore {
    /// Adds the removal of every audience record (members, standings, expiries) to `batch`.
    pub(super) fn remove_audience_records(&self, batch: &mut sled::Batch) -> anyhow::Result<()> {
        for record in tag::AUDIENCE_RECORDS {
            for item in self.tree.scan_prefix([record]) {
                let (key, _) = item?;
                batch.remove(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;
    use crate::store::codec::encode_into;

    #[test]
    fn event_heads_mirror_stored_events() {
        let event = Event::from_json(serde_json::json!({"type":"screen","name":"Cart",
            "userId":"u","messageId":"m","context":{"app":{"name":"Acme"},"device":{"type":"ios","id":"D"}}}))
        .unwrap();
        let stored = StoredEvent::from_event(&event, 7, -3, "src", "ios", vec![]);
        let bytes = encode_into(&stored, Vec::new());
        let head: EventHead<'_> = decode_body(&bytes).unwrap();
        assert_eq!((head.call, head.label), (CallType::Screen, "screen Cart"));
        assert_eq!((head._seq, head._time, head._channel), (7, -3, "ios"));
        assert_eq!(head._device, stored.device.as_deref());
    }
}
