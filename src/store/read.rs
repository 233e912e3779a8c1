//! Reads of a space: the [`GraphRead`] implementation.

use std::collections::BTreeSet;

use crate::model::{
    Identifier, JournalEntry, Link, Millis, Profile, ProfileId, StoredEvent, Violation,
};
use crate::query::search::IndexCache;
use crate::query::{Changes, GraphRead};

use super::codec::decode;
use super::keys::{self, tag};
use super::space::SpaceStore;

impl SpaceStore {
    /// A profile's newest `limit` events, newest first, from its clusters' bundles.
    pub(super) fn timeline_events(
        &self,
        profile: &Profile,
        limit: usize,
    ) -> anyhow::Result<Vec<StoredEvent>> {
        Ok(newest(self.cluster_events(&profile.clusters)?, limit))
    }

    /// Violations recorded in the given clusters.
    pub(super) fn cluster_violations(
        &self,
        clusters: &[u64],
    ) -> anyhow::Result<Vec<(Vec<u8>, Violation)>> {
        let mut out = Vec::new();
        for cluster in clusters {
            for item in self.tree.scan_prefix(keys::violation_prefix(*cluster)) {
                let (key, value) = item?;
                out.push((key.to_vec(), decode(&value)?));
            }
        }
        Ok(out)
    }

    /// Every link between the profile's identifiers, oldest first: those its events made,
    /// and those filed under its identifiers (manual merges, events stored before links
    /// moved into them).
    fn profile_links(
        &self,
        profile: &Profile,
        events: &[StoredEvent],
    ) -> anyhow::Result<Vec<Link>> {
        let mut out: Vec<Link> = events.iter().flat_map(StoredEvent::made_links).collect();
        for held in &profile.identifiers {
            for item in self.tree.scan_prefix(keys::adjacency_prefix(&held.id)) {
                let (_, value) = item?;
                out.push(decode(&value)?);
            }
        }
        out.retain(|l| profile.has(&l.from) && profile.has(&l.to));
        // A link a split recorded apart is also in its event again once the split is undone.
        out.sort_by(|a, b| link_order(a).cmp(&link_order(b)));
        out.dedup();
        Ok(out)
    }
}

impl GraphRead for SpaceStore {
    fn space(&self) -> &str {
        &self.name
    }

    fn index_cache(&self) -> Option<IndexCache> {
        let path = self.index_file.clone()?;
        let stamp = self.write_stamp().ok()?;
        Some(IndexCache::new(path, stamp))
    }

    fn index_cache_after(&self, version: u64) -> Option<(IndexCache, Changes)> {
        // Writers record what a batch changed before they let readers through again.
        let _gate = self.read_gate();
        Some((self.index_cache()?, self.changes_after(version)))
    }

    fn profile_count(&self) -> anyhow::Result<u64> {
        Ok(self.counters()?.profiles)
    }

    fn for_each_profile(&self, visit: &mut dyn FnMut(&Profile) -> bool) -> anyhow::Result<()> {
        let _gate = self.read_gate();
        for item in self.tree.scan_prefix([tag::PROFILE]) {
            let (_, value) = item?;
            let profile: Profile = decode(&value)?;
            if !visit(&profile) {
                break;
            }
        }
        Ok(())
    }

    fn profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>> {
        let _gate = self.read_gate();
        self.load_profile(id)
    }

    fn owner(&self, id: &Identifier) -> anyhow::Result<Option<ProfileId>> {
        let _gate = self.read_gate();
        self.load_owner(id)
    }

    fn timeline(&self, id: ProfileId, limit: usize) -> anyhow::Result<Vec<StoredEvent>> {
        let _gate = self.read_gate();
        let Some(profile) = self.load_profile(id)? else {
            return Ok(Vec::new());
        };
        self.timeline_events(&profile, limit)
    }

    fn links(&self, id: ProfileId) -> anyhow::Result<Vec<Link>> {
        let _gate = self.read_gate();
        let Some(profile) = self.load_profile(id)? else {
            return Ok(Vec::new());
        };
        self.profile_links(&profile, &self.cluster_events(&profile.clusters)?)
    }

    fn timeline_and_links(
        &self,
        id: ProfileId,
        limit: usize,
    ) -> anyhow::Result<(Vec<StoredEvent>, Vec<Link>)> {
        let _gate = self.read_gate();
        let Some(profile) = self.load_profile(id)? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let events = self.cluster_events(&profile.clusters)?;
        let links = self.profile_links(&profile, &events)?;
        Ok((newest(events, limit), links))
    }

    fn violations(&self, id: ProfileId) -> anyhow::Result<Vec<Violation>> {
        let _gate = self.read_gate();
        let Some(profile) = self.load_profile(id)? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Violation> = self
            .cluster_violations(&profile.clusters)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.provenance.time));
        Ok(out)
    }

    fn for_each_violation(
        &self,
        visit: &mut dyn FnMut(u64, Violation) -> bool,
    ) -> anyhow::Result<()> {
        let _gate = self.read_gate();
        for item in self.tree.scan_prefix([tag::VIOLATION]) {
            let (key, value) = item?;
            let Some(cluster) = keys::u64_at(&key, 1) else {
                continue;
            };
            if !visit(cluster, decode(&value)?) {
                break;
            }
        }
        Ok(())
    }

    fn journal_for(&self, id: ProfileId) -> anyhow::Result<Vec<JournalEntry>> {
        let _gate = self.read_gate();
        let clusters = match self.load_profile(id)? {
            Some(profile) => profile.clusters,
            None => vec![id.0],
        };
        let mut ops = BTreeSet::new();
        for cluster in clusters {
            for item in self
                .tree
                .scan_prefix(keys::history_prefix(ProfileId(cluster)))
            {
                let (key, _) = item?;
                if let Some(op) = keys::u64_at(&key, 9) {
                    ops.insert(op);
                }
            }
        }
        let mut out = Vec::new();
        for op in ops {
            if let Some(entry) = self.get::<JournalEntry>(&keys::journal(op))? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    fn changes_since(&self, version: u64) -> anyhow::Result<Changes> {
        Ok(self.changes_after(version))
    }

    fn journal(&self) -> anyhow::Result<Vec<JournalEntry>> {
        let _gate = self.read_gate();
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([tag::JOURNAL]) {
            let (_, value) = item?;
            out.push(decode(&value)?);
        }
        Ok(out)
    }
}

/// Links oldest first (then by what else tells them apart, so that equal links end up side
/// by side).
fn link_order(link: &Link) -> (Millis, Option<u64>, &str, &Identifier, &Identifier) {
    let provenance = &link.provenance;
    (
        provenance.time,
        provenance.op,
        &provenance.message_id,
        &link.from,
        &link.to,
    )
}

/// The newest `limit` events, newest first.
fn newest(mut events: Vec<StoredEvent>, limit: usize) -> Vec<StoredEvent> {
    let newest_first = |e: &StoredEvent| std::cmp::Reverse((e.time, e.seq));
    if limit < events.len() {
        events.select_nth_unstable_by_key(limit, newest_first);
        events.truncate(limit);
    }
    events.sort_unstable_by_key(newest_first);
    events
}
