//! The interface the store offers to readers (CLI, explorer, HTTP reads) and to repair flows.
//! Everything is scoped to one space.

use crate::model::{Identifier, JournalEntry, Link, Profile, ProfileId, StoredEvent, Violation};
use crate::resolve::MergePreview;

use super::changes::Changes;
use super::search::IndexCache;

/// Read access to one space's profiles and provenance.
pub trait GraphRead {
    /// The space name.
    fn space(&self) -> &str;
    /// Number of profiles.
    fn profile_count(&self) -> anyhow::Result<u64>;
    /// Calls `visit` for every profile, in id order; stops early when it returns `false`.
    fn for_each_profile(&self, visit: &mut dyn FnMut(&Profile) -> bool) -> anyhow::Result<()>;
    /// A profile by id.
    fn profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>>;
    /// The profile holding an identifier.
    fn owner(&self, id: &Identifier) -> anyhow::Result<Option<ProfileId>>;
    /// The profile's events, newest first, at most `limit`.
    fn timeline(&self, id: ProfileId, limit: usize) -> anyhow::Result<Vec<StoredEvent>>;
    /// Every link between the profile's identifiers, with provenance, oldest first.
    fn links(&self, id: ProfileId) -> anyhow::Result<Vec<Link>>;
    /// [`GraphRead::timeline`] and [`GraphRead::links`] together, read at one moment (a
    /// store that keeps links with their events reads the events once).
    fn timeline_and_links(
        &self,
        id: ProfileId,
        limit: usize,
    ) -> anyhow::Result<(Vec<StoredEvent>, Vec<Link>)> {
        Ok((self.timeline(id, limit)?, self.links(id)?))
    }
    /// Identifiers dropped from events attributed to the profile, with reasons.
    fn violations(&self, id: ProfileId) -> anyhow::Result<Vec<Violation>>;
    /// Journal entries that touched the profile, oldest first.
    fn journal_for(&self, id: ProfileId) -> anyhow::Result<Vec<JournalEntry>>;
    /// The whole journal of the space, oldest first.
    fn journal(&self) -> anyhow::Result<Vec<JournalEntry>>;
    /// What changed after `version` of the space's change feed (see
    /// [`ChangeLog::since`](super::changes::ChangeLog::since)); cheap enough to poll.
    /// Stores without a feed keep the default: version 0, nothing ever changes.
    fn changes_since(&self, version: u64) -> anyhow::Result<Changes> {
        let _ = version;
        Ok(Changes::none(0, 0))
    }
    /// Calls `visit` with every violation of the space and the timeline cluster it is filed
    /// under (one of its profile's [`Profile::clusters`]), in cluster order; stops early when
    /// it returns `false`.
    fn for_each_violation(
        &self,
        visit: &mut dyn FnMut(u64, Violation) -> bool,
    ) -> anyhow::Result<()>;
    /// Where the space's search index is kept between runs, stamped with the space's state
    /// now (read it before building the index). Stores that keep no file: `None`.
    fn index_cache(&self) -> Option<IndexCache> {
        None
    }
    /// [`GraphRead::index_cache`] and [`GraphRead::changes_since`] `version`, read at one
    /// moment: an index that held the state at `version` and is patched with these changes
    /// is the index of the state the cache is stamped with. Stores that keep no file: `None`.
    fn index_cache_after(&self, version: u64) -> Option<(IndexCache, Changes)> {
        let _ = version;
        None
    }
}

/// What a split would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPreview {
    pub from: ProfileId,
    /// Identifiers moving to the new profile.
    pub moving: Vec<Identifier>,
    /// Identifiers staying.
    pub staying: Vec<Identifier>,
    /// Events moving with them (those only the moving identifiers explain), newest first.
    pub moving_events: Vec<StoredEvent>,
    /// Number of events staying.
    pub staying_events: u64,
}

/// The result of a manual operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpOutcome {
    /// The journal entry written.
    pub entry: JournalEntry,
}

/// Manual repair of one space: every operation is journaled with user and reason.
pub trait GraphRepair: GraphRead {
    /// Previews merging the profiles holding two identifiers (or two profile ids).
    fn preview_merge(&self, a: ProfileId, b: ProfileId) -> anyhow::Result<MergePreview>;
    /// Merges two profiles; fails on rule conflicts unless `force`, which records the override.
    fn merge(
        &self,
        a: ProfileId,
        b: ProfileId,
        reason: &str,
        force: bool,
    ) -> anyhow::Result<OpOutcome>;
    /// Previews moving identifiers out of a profile.
    fn preview_split(&self, from: ProfileId, moving: &[Identifier])
    -> anyhow::Result<SplitPreview>;
    /// Moves identifiers (and the events only they explain) into a new profile, pinned apart.
    fn split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
        reason: &str,
    ) -> anyhow::Result<OpOutcome>;
    /// Reverts a journal entry (a merge, automatic merge or split).
    fn undo(&self, op: u64, reason: &str) -> anyhow::Result<OpOutcome>;
}

impl<T: GraphRead + ?Sized> GraphRead for std::sync::Arc<T> {
    fn space(&self) -> &str {
        (**self).space()
    }
    fn profile_count(&self) -> anyhow::Result<u64> {
        (**self).profile_count()
    }
    fn for_each_profile(&self, visit: &mut dyn FnMut(&Profile) -> bool) -> anyhow::Result<()> {
        (**self).for_each_profile(visit)
    }
    fn profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>> {
        (**self).profile(id)
    }
    fn owner(&self, id: &Identifier) -> anyhow::Result<Option<ProfileId>> {
        (**self).owner(id)
    }
    fn timeline(&self, id: ProfileId, limit: usize) -> anyhow::Result<Vec<StoredEvent>> {
        (**self).timeline(id, limit)
    }
    fn links(&self, id: ProfileId) -> anyhow::Result<Vec<Link>> {
        (**self).links(id)
    }
    fn timeline_and_links(
        &self,
        id: ProfileId,
        limit: usize,
    ) -> anyhow::Result<(Vec<StoredEvent>, Vec<Link>)> {
        (**self).timeline_and_links(id, limit)
    }
    fn violations(&self, id: ProfileId) -> anyhow::Result<Vec<Violation>> {
        (**self).violations(id)
    }
    fn journal_for(&self, id: ProfileId) -> anyhow::Result<Vec<JournalEntry>> {
        (**self).journal_for(id)
    }
    fn journal(&self) -> anyhow::Result<Vec<JournalEntry>> {
        (**self).journal()
    }
    fn changes_since(&self, version: u64) -> anyhow::Result<Changes> {
        (**self).changes_since(version)
    }
    fn for_each_violation(
        &self,
        visit: &mut dyn FnMut(u64, Violation) -> bool,
    ) -> anyhow::Result<()> {
        (**self).for_each_violation(visit)
    }
    fn index_cache(&self) -> Option<IndexCache> {
        (**self).index_cache()
    }
    fn index_cache_after(&self, version: u64) -> Option<(IndexCache, Changes)> {
        (**self).index_cache_after(version)
    }
}

impl<T: GraphRepair + ?Sized> GraphRepair for std::sync::Arc<T> {
    fn preview_merge(&self, a: ProfileId, b: ProfileId) -> anyhow::Result<MergePreview> {
        (**self).preview_merge(a, b)
    }
    fn merge(
        &self,
        a: ProfileId,
        b: ProfileId,
        reason: &str,
        force: bool,
    ) -> anyhow::Result<OpOutcome> {
        (**self).merge(a, b, reason, force)
    }
    fn preview_split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
    ) -> anyhow::Result<SplitPreview> {
        (**self).preview_split(from, moving)
    }
    fn split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
        reason: &str,
    ) -> anyhow::Result<OpOutcome> {
        (**self).split(from, moving, reason)
    }
    fn undo(&self, op: u64, reason: &str) -> anyhow::Result<OpOutcome> {
        (**self).undo(op, reason)
    }
}
