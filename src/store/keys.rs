//! Key encoding for a space's sled tree: a one-byte record tag, then big-endian fields so
//! that scans come out in numeric and time order.

use crate::model::{Identifier, Millis, ProfileId};

/// Record tags (the first byte of every key).
pub mod tag {
    /// Counters and store metadata.
    pub const META: u8 = b'M';
    /// Profile by id.
    pub const PROFILE: u8 = b'P';
    /// Identifier → owning profile, one record per identifier: layout 2, whose spaces are
    /// moved to [`OWNERS`] buckets when opened.
    pub const IDENTIFIER: u8 = b'I';
    /// Identifier → owning profile, in buckets by the identifier's hash.
    pub const OWNERS: u8 = b'O';
    /// Event bundles: cluster, smallest seq held → the events one batch filed under that
    /// cluster (a profile's timeline is the union of its clusters' bundles, so merges
    /// rewrite nothing).
    pub const TIMELINE: u8 = b'T';
    /// The messageIds of one batch's events (hashed), by the batch's first seq: the
    /// deduplication set.
    pub const MESSAGE: u8 = b'D';
    /// Cluster → profile, for clusters merged into another profile.
    pub const CLUSTER: u8 = b'C';
    /// Links not kept with an event (manual merges; events stored before links moved into
    /// their bundles), filed under the identifier they attached: identifier, link id → link.
    pub const ADJACENCY: u8 = b'A';
    /// Violations: cluster, seq, index.
    pub const VIOLATION: u8 = b'V';
    /// Journal entry by op.
    pub const JOURNAL: u8 = b'J';
    /// Undo data by op.
    pub const UNDO: u8 = b'U';
    /// Per-profile history: profile, op.
    pub const HISTORY: u8 = b'H';
    /// Audience members: audience, profile → why (members only).
    pub const AUDIENCE_MEMBER: u8 = b'X';
    /// A profile's audience standings: profile, audience → standing (members, and
    /// non-members whose standing expires).
    pub const PROFILE_AUDIENCE: u8 = b'Y';
    /// Expiring audience standings: audience, valid-until time, profile → nothing.
    pub const AUDIENCE_EXPIRY: u8 = b'Z';
    /// Every audience record tag (members, standings, expiries).
    pub const AUDIENCE_RECORDS: [u8; 3] = [AUDIENCE_MEMBER, PROFILE_AUDIENCE, AUDIENCE_EXPIRY];
}

/// Encodes a time so that byte order equals numeric order (sign bit flipped).
pub fn time_bytes(time: Millis) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// Decodes [`time_bytes`].
pub fn time_from_bytes(bytes: [u8; 8]) -> Millis {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

fn with_tag(tag: u8, capacity: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(capacity + 1);
    key.push(tag);
    key
}

/// `M` + name.
pub fn meta(name: &str) -> Vec<u8> {
    let mut key = with_tag(tag::META, name.len());
    key.extend_from_slice(name.as_bytes());
    key
}

/// `P` + id.
pub fn profile(id: ProfileId) -> Vec<u8> {
    tagged_u64(tag::PROFILE, id.0)
}

/// `tag` + a big-endian number.
pub fn tagged_u64(tag: u8, n: u64) -> Vec<u8> {
    let mut key = with_tag(tag, 8);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

/// Reads the number after the tag of a [`tagged_u64`] key.
pub fn u64_at(key: &[u8], offset: usize) -> Option<u64> {
    let bytes: [u8; 8] = key.get(offset..offset + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn push_identifier(key: &mut Vec<u8>, id: &Identifier, value_last: bool) {
    let kind = id.kind.as_bytes();
    key.extend_from_slice(&(kind.len().min(u16::MAX as usize) as u16).to_be_bytes());
    key.extend_from_slice(kind);
    if !value_last {
        key.extend_from_slice(&(id.value.len() as u32).to_be_bytes());
    }
    key.extend_from_slice(id.value.as_bytes());
}

/// An identifier as an owner bucket holds it: kind length, kind, value.
pub fn identifier_entry(id: &Identifier) -> Vec<u8> {
    let mut entry = Vec::with_capacity(2 + id.kind.len() + id.value.len());
    push_identifier(&mut entry, id, true);
    entry
}

/// Reads an identifier back from its [`identifier_entry`] (after the tag, in a layout 2
/// `I` key).
pub fn identifier_from_entry(entry: &[u8]) -> Option<Identifier> {
    let len = u16::from_be_bytes(entry.get(..2)?.try_into().ok()?) as usize;
    let kind = std::str::from_utf8(entry.get(2..2 + len)?).ok()?;
    let value = std::str::from_utf8(entry.get(2 + len..)?).ok()?;
    Some(Identifier::new(kind, value))
}

/// `O` + bucket number.
pub fn owner_bucket(bucket: u32) -> Vec<u8> {
    let mut key = with_tag(tag::OWNERS, 4);
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

/// Reads the bucket number from an `O` key.
pub fn bucket_from_key(key: &[u8]) -> Option<u32> {
    match key {
        [tag::OWNERS, rest @ ..] => Some(u32::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// `T` + cluster: the prefix of one cluster's timeline.
pub fn timeline_prefix(cluster: u64) -> Vec<u8> {
    tagged_u64(tag::TIMELINE, cluster)
}

/// `T` + cluster + the smallest seq of the bundle.
pub fn timeline(cluster: u64, first_seq: u64) -> Vec<u8> {
    let mut key = timeline_prefix(cluster);
    key.extend_from_slice(&first_seq.to_be_bytes());
    key
}

/// Reads (cluster, smallest seq) from a bundle key.
pub fn timeline_entry(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 17 || key.first() != Some(&tag::TIMELINE) {
        return None;
    }
    Some((u64_at(key, 1)?, u64_at(key, 9)?))
}

/// `D` + the first seq of the batch.
pub fn messages(first_seq: u64) -> Vec<u8> {
    tagged_u64(tag::MESSAGE, first_seq)
}

/// `C` + cluster.
pub fn cluster(cluster: u64) -> Vec<u8> {
    tagged_u64(tag::CLUSTER, cluster)
}

/// `A` + identifier: the prefix of an identifier's links.
pub fn adjacency_prefix(id: &Identifier) -> Vec<u8> {
    let mut key = with_tag(tag::ADJACENCY, 6 + id.kind.len() + id.value.len() + 8);
    push_identifier(&mut key, id, false);
    key
}

/// `A` + identifier + link id.
pub fn adjacency(id: &Identifier, link: u64) -> Vec<u8> {
    let mut key = adjacency_prefix(id);
    key.extend_from_slice(&link.to_be_bytes());
    key
}

/// `V` + cluster: the prefix of one cluster's violations.
pub fn violation_prefix(cluster: u64) -> Vec<u8> {
    tagged_u64(tag::VIOLATION, cluster)
}

/// `V` + cluster + seq + index.
pub fn violation(cluster: u64, seq: u64, index: u16) -> Vec<u8> {
    let mut key = violation_prefix(cluster);
    key.extend_from_slice(&seq.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// `J` + op.
pub fn journal(op: u64) -> Vec<u8> {
    tagged_u64(tag::JOURNAL, op)
}

/// `U` + op.
pub fn undo(op: u64) -> Vec<u8> {
    tagged_u64(tag::UNDO, op)
}

/// `H` + profile: the prefix of a profile's history.
pub fn history_prefix(profile: ProfileId) -> Vec<u8> {
    tagged_u64(tag::HISTORY, profile.0)
}

/// `H` + profile + op.
pub fn history(profile: ProfileId, op: u64) -> Vec<u8> {
    let mut key = history_prefix(profile);
    key.extend_from_slice(&op.to_be_bytes());
    key
}

fn push_name(key: &mut Vec<u8>, name: &str) {
    key.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_be_bytes());
    key.extend_from_slice(name.as_bytes());
}

/// `X` + audience: the prefix of an audience's members.
pub fn audience_member_prefix(audience: &str) -> Vec<u8> {
    let mut key = with_tag(tag::AUDIENCE_MEMBER, 2 + audience.len() + 8);
    push_name(&mut key, audience);
    key
}

/// `X` + audience + profile.
pub fn audience_member(audience: &str, profile: ProfileId) -> Vec<u8> {
    let mut key = audience_member_prefix(audience);
    key.extend_from_slice(&profile.0.to_be_bytes());
    key
}

/// `Y` + profile: the prefix of a profile's audience standings.
pub fn profile_audience_prefix(profile: ProfileId) -> Vec<u8> {
    tagged_u64(tag::PROFILE_AUDIENCE, profile.0)
}

/// `Y` + profile + audience.
pub fn profile_audience(profile: ProfileId, audience: &str) -> Vec<u8> {
    let mut key = profile_audience_prefix(profile);
    key.extend_from_slice(audience.as_bytes());
    key
}

/// Reads the audience name back from a `Y` key.
pub fn audience_of_profile_key(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key.get(9..)?).ok()
}

/// `Z` + audience: the prefix of an audience's expiring standings.
pub fn audience_expiry_prefix(audience: &str) -> Vec<u8> {
    let mut key = with_tag(tag::AUDIENCE_EXPIRY, 2 + audience.len() + 16);
    push_name(&mut key, audience);
    key
}

/// `Z` + audience + valid-until + profile.
pub fn audience_expiry(audience: &str, until: Millis, profile: ProfileId) -> Vec<u8> {
    let mut key = audience_expiry_prefix(audience);
    key.extend_from_slice(&time_bytes(until));
    key.extend_from_slice(&profile.0.to_be_bytes());
    key
}

/// Reads the length-prefixed name after the tag of an `X` or `Z` key, and where it ends.
fn name_after_tag(key: &[u8]) -> Option<(&str, usize)> {
    let len = u16::from_be_bytes(key.get(1..3)?.try_into().ok()?) as usize;
    let name = std::str::from_utf8(key.get(3..3 + len)?).ok()?;
    Some((name, 3 + len))
}

/// Reads an `X` key back: the audience and the profile.
pub fn audience_member_entry(key: &[u8]) -> Option<(&str, ProfileId)> {
    let (name, end) = name_after_tag(key)?;
    (key.first() == Some(&tag::AUDIENCE_MEMBER) && key.len() == end + 8)
        .then(|| u64_at(key, end).map(|p| (name, ProfileId(p))))
        .flatten()
}

/// Reads a `Y` key back: the profile and the audience.
pub fn profile_audience_entry(key: &[u8]) -> Option<(ProfileId, &str)> {
    if key.first() != Some(&tag::PROFILE_AUDIENCE) {
        return None;
    }
    let name = audience_of_profile_key(key).filter(|n| !n.is_empty())?;
    Some((ProfileId(u64_at(key, 1)?), name))
}

/// Reads a `Z` key back: the audience, the valid-until time and the profile.
pub fn audience_expiry_entry(key: &[u8]) -> Option<(&str, Millis, ProfileId)> {
    let (name, end) = name_after_tag(key)?;
    if key.first() != Some(&tag::AUDIENCE_EXPIRY) || key.len() != end + 16 {
        return None;
    }
    let time = time_from_bytes(key.get(end..end + 8)?.try_into().ok()?);
    Some((name, time, ProfileId(u64_at(key, end + 8)?)))
}

/// The profile at the end of an `X` or `Z` key.
pub fn trailing_profile(key: &[u8]) -> Option<ProfileId> {
    let start = key.len().checked_sub(8)?;
    u64_at(key, start).map(ProfileId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_as_bytes() {
        let times = [-5_000_i64, -1, 0, 1, 1_700_000_000_000];
        let mut keys: Vec<_> = times.iter().map(|t| time_bytes(*t)).collect();
        keys.sort();
        let back: Vec<_> = keys.iter().map(|k| time_from_bytes(*k)).collect();
        assert_eq!(back, times);
    }

    #[test]
    fn bundle_keys_sort_by_cluster_then_seq_and_read_back() {
        let mut keys = [timeline(2, 9), timeline(1, 300), timeline(1, 7)];
        keys.sort();
        let back: Vec<_> = keys.iter().map(|k| timeline_entry(k).unwrap()).collect();
        assert_eq!(back, [(1, 7), (1, 300), (2, 9)]);
        assert!(timeline(1, 7).starts_with(&timeline_prefix(1)));
        assert_eq!(timeline_entry(&timeline_prefix(1)), None);
        assert_eq!(timeline_entry(&messages(3)), None);
    }

    #[test]
    fn audience_keys_keep_names_apart_and_expiries_in_time_order() {
        let a = audience_member_prefix("cart");
        assert!(!audience_member("cart_x", ProfileId(1)).starts_with(&a));
        assert_eq!(
            trailing_profile(&audience_member("cart", ProfileId(7))),
            Some(ProfileId(7))
        );
        let key = profile_audience(ProfileId(3), "review_request");
        assert_eq!(audience_of_profile_key(&key), Some("review_request"));
        let early = audience_expiry("cart", -5, ProfileId(9));
        let late = audience_expiry("cart", 10, ProfileId(1));
        assert!(early < late);
        assert_eq!(trailing_profile(&late), Some(ProfileId(1)));
        assert_eq!(
            audience_member_entry(&audience_member("cart", ProfileId(7))),
            Some(("cart", ProfileId(7)))
        );
        assert_eq!(
            profile_audience_entry(&key),
            Some((ProfileId(3), "review_request"))
        );
        assert_eq!(
            audience_expiry_entry(&early),
            Some(("cart", -5, ProfileId(9)))
        );
        assert_eq!(audience_member_entry(&early), None);
        assert_eq!(audience_expiry_entry(&early[..early.len() - 1]), None);
        assert_eq!(
            profile_audience_entry(&profile_audience_prefix(ProfileId(3))),
            None
        );
    }

    #[test]
    fn identifiers_round_trip_and_do_not_collide() {
        let id = Identifier::new("email", "a@b.io");
        assert_eq!(
            identifier_from_entry(&identifier_entry(&id)),
            Some(id.clone())
        );
        assert_eq!(identifier_from_entry(b"\x00\x09email"), None);
        assert_eq!(
            bucket_from_key(&owner_bucket(0x0003_fffe)),
            Some(0x0003_fffe)
        );
        assert_eq!(bucket_from_key(&profile(ProfileId(1))), None);
        let a = adjacency_prefix(&Identifier::new("x", "ab"));
        let b = adjacency(&Identifier::new("x", "a"), 0x62);
        assert!(!b.starts_with(&a));
    }
}
