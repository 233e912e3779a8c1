//! Patching the search index: some profiles replaced or dropped, the others kept as blocks
//! (their texts, entries, bags and exact values moved run by run), so a patch costs about
//! what copying the index does, not what indexing every profile again would.

use std::borrow::Cow;
use std::ops::Range;

use crate::model::{Profile, ProfileId};

use super::index::{Entry, IndexBuilder, SearchIndex, Slot, SlotBags};

impl SearchIndex {
    /// A copy of this index with some profiles replaced (`changed`) or dropped (`removed`),
    /// e.g. after a batch, a merge, split or undo.
    pub fn patched(&self, changed: &[Profile], removed: &[ProfileId]) -> SearchIndex {
        patch(Cow::Borrowed(self), changed, removed)
    }

    /// [`SearchIndex::patched`], taking this index: each of its parts is freed once the
    /// patched index has its copy of it, so the patch holds one part twice at a time rather
    /// than the whole index (at 1M profiles, the largest part is about 80 MB of 300 MB).
    pub fn into_patched(self, changed: &[Profile], removed: &[ProfileId]) -> SearchIndex {
        patch(Cow::Owned(self), changed, removed)
    }
}

/// A run of consecutive slots of one index (the old one, or the fresh one indexing the
/// changed profiles) and where its parts go in the patched index.
struct Piece {
    fresh: bool,
    slots: Range<usize>,
    entries: Range<usize>,
    texts: Range<usize>,
    uuids: Range<usize>,
    /// Whether its texts are indexed: past 4 GB of texts nothing more is, as in a build.
    indexed: bool,
    new_entry: u32,
    new_text: u32,
    new_uuid: u32,
}

fn patch(mut old: Cow<'_, SearchIndex>, changed: &[Profile], removed: &[ProfileId]) -> SearchIndex {
    let mut pending: Vec<&Profile> = changed.iter().collect();
    pending.sort_by_key(|p| p.id);
    let mut builder = IndexBuilder::with_kinds_of(&old);
    for profile in pending {
        builder.add(profile);
    }
    let fresh = builder.finish();
    let mut replaced: Vec<ProfileId> = changed
        .iter()
        .map(|p| p.id)
        .chain(removed.iter().copied())
        .collect();
    replaced.sort_unstable();
    let pieces = plan(&old, &fresh, &replaced);
    let indexed = || pieces.iter().filter(|p| p.indexed);

    let mut arena = String::with_capacity(indexed().map(|p| p.texts.len()).sum());
    for piece in indexed() {
        arena.push_str(&source(&old, &fresh, piece).arena[piece.texts.clone()]);
    }
    release(&mut old, |index| &mut index.arena);

    let mut uuids = Vec::with_capacity(indexed().map(|p| p.uuids.len()).sum());
    for piece in indexed() {
        uuids.extend_from_slice(&source(&old, &fresh, piece).uuids[piece.uuids.clone()]);
    }
    release(&mut old, |index| &mut index.uuids);

    let mut entries = Vec::with_capacity(indexed().map(|p| p.entries.len()).sum());
    for piece in indexed() {
        let moved = source(&old, &fresh, piece).entries[piece.entries.clone()]
            .iter()
            .map(|entry| Entry {
                start: if entry.form.is_uuid() {
                    entry.start - piece.uuids.start as u32 + piece.new_uuid
                } else {
                    entry.start - piece.texts.start as u32 + piece.new_text
                },
                ..*entry
            });
        entries.extend(moved);
    }
    release(&mut old, |index| &mut index.entries);

    let slot_count = pieces.iter().map(|p| p.slots.len()).sum();
    let mut slots = Vec::with_capacity(slot_count);
    for piece in &pieces {
        let moved = source(&old, &fresh, piece).slots[piece.slots.clone()]
            .iter()
            .map(|slot| match piece.indexed {
                true => Slot {
                    first: slot.first - piece.entries.start as u32 + piece.new_entry,
                    ..*slot
                },
                false => Slot {
                    first: piece.new_entry,
                    count: 0,
                    named: false,
                    ..*slot
                },
            });
        slots.extend(moved);
    }
    release(&mut old, |index| &mut index.slots);

    let mut bags = Vec::with_capacity(slot_count);
    for piece in &pieces {
        match piece.indexed {
            true => bags.extend_from_slice(&source(&old, &fresh, piece).bags[piece.slots.clone()]),
            false => bags.extend(piece.slots.clone().map(|_| SlotBags::EMPTY)),
        }
    }
    release(&mut old, |index| &mut index.bags);

    let moves = |fresh: bool| -> Vec<(u32, u32, u32)> {
        indexed()
            .filter(|p| p.fresh == fresh && !p.entries.is_empty())
            .map(|p| (p.entries.start as u32, p.entries.end as u32, p.new_entry))
            .collect()
    };
    let exact = merge_sorted(
        old.exact.len() + fresh.exact.len(),
        renumbered(&old.exact, &moves(false)),
        renumbered(&fresh.exact, &moves(true)),
    );
    SearchIndex {
        space: fresh.space,
        arena,
        uuids,
        entries,
        slots,
        bags,
        kinds: fresh.kinds,
        identifier_kind: fresh.identifier_kind,
        exact,
    }
}

/// The index a piece comes from.
fn source<'a>(old: &'a SearchIndex, fresh: &'a SearchIndex, piece: &Piece) -> &'a SearchIndex {
    if piece.fresh { fresh } else { old }
}

/// Frees a part of the old index, when the patch owns it.
fn release<T: Default>(old: &mut Cow<'_, SearchIndex>, part: fn(&mut SearchIndex) -> &mut T) {
    if let Cow::Owned(index) = old {
        drop(std::mem::take(part(index)));
    }
}

/// The runs of the patched index in profile order: the old slots not replaced, between the
/// fresh ones.
fn plan(old: &SearchIndex, fresh: &SearchIndex, replaced: &[ProfileId]) -> Vec<Piece> {
    let is_replaced = |slot: &Slot| replaced.binary_search(&slot.id).is_ok();
    let mut pieces: Vec<Piece> = Vec::new();
    let (mut at_old, mut at_fresh) = (0, 0);
    loop {
        while old.slots.get(at_old).is_some_and(is_replaced) {
            at_old += 1;
        }
        let next_old = old.slots.get(at_old).map(|s| s.id);
        let next_fresh = fresh.slots.get(at_fresh).map(|s| s.id);
        let (index, fresh_side, start, bound) = match (next_old, next_fresh) {
            (None, None) => return pieces,
            (Some(o), Some(f)) if f < o => (fresh, true, at_fresh, Some(o)),
            (None, Some(_)) => (fresh, true, at_fresh, None),
            (_, bound) => (old, false, at_old, bound),
        };
        let mut end = start + 1;
        while index.slots.get(end).is_some_and(|slot| {
            bound.is_none_or(|b| slot.id < b) && (fresh_side || !is_replaced(slot))
        }) {
            end += 1;
        }
        let piece = place(pieces.last(), index, fresh_side, start..end);
        pieces.push(piece);
        match fresh_side {
            true => at_fresh = end,
            false => at_old = end,
        }
    }
}

/// A run of slots placed after the `previous` piece.
fn place(previous: Option<&Piece>, index: &SearchIndex, fresh: bool, slots: Range<usize>) -> Piece {
    let run = &index.slots[slots.clone()];
    let entries = match (run.first(), run.last()) {
        (Some(first), Some(last)) => {
            first.first as usize..last.first as usize + last.count as usize
        }
        _ => 0..0,
    };
    let run_entries = &index.entries[entries.clone()];
    // The run's texts and UUIDs, each kept in entry order: from the first to the last.
    let span = |packed: bool, width: fn(&Entry) -> usize| {
        let mut of_form = run_entries.iter().filter(|e| e.form.is_uuid() == packed);
        match (of_form.next(), of_form.next_back()) {
            (Some(head), tail) => {
                let tail = tail.unwrap_or(head);
                head.start as usize..tail.start as usize + width(tail)
            }
            (None, _) => 0..0,
        }
    };
    let texts = span(false, |e| e.len as usize);
    let uuids = span(true, |_| 1);
    let (new_entry, new_text, new_uuid, room) = match previous {
        Some(p) if p.indexed => (
            p.new_entry + p.entries.len() as u32,
            p.new_text as usize + p.texts.len(),
            p.new_uuid as usize + p.uuids.len(),
            true,
        ),
        Some(p) => (p.new_entry, p.new_text as usize, p.new_uuid as usize, false),
        None => (0, 0, 0, true),
    };
    let indexed = room
        && new_text + texts.len() <= u32::MAX as usize
        && new_uuid + uuids.len() <= u32::MAX as usize;
    Piece {
        fresh,
        slots,
        entries,
        texts,
        uuids,
        indexed,
        new_entry,
        new_text: new_text as u32,
        new_uuid: new_uuid as u32,
    }
}

/// Exact values (hash, entry) of the entries `moves` keeps, renumbered as they say: (first
/// old entry, past the last, new first) per run, in entry order. Stays sorted.
fn renumbered<'a>(
    exact: &'a [(u32, u32)],
    moves: &'a [(u32, u32, u32)],
) -> impl Iterator<Item = (u32, u32)> + 'a {
    exact.iter().filter_map(move |&(hash, entry)| {
        let at = moves.partition_point(|&(_, end, _)| end <= entry);
        moves
            .get(at)
            .filter(|&&(start, _, _)| start <= entry)
            .map(|&(start, _, to)| (hash, to + (entry - start)))
    })
}

/// Two sorted sequences as one (`most`: room for both).
fn merge_sorted(
    most: usize,
    a: impl Iterator<Item = (u32, u32)>,
    b: impl Iterator<Item = (u32, u32)>,
) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(most);
    let mut b = b.peekable();
    for pair in a {
        while let Some(next) = b.next_if(|next| *next < pair) {
            out.push(next);
        }
        out.push(pair);
    }
    out.extend(b);
    out
}
