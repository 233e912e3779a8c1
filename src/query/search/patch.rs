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

    /// [`SearchIndex::patched`], taking this index: each part is patched in its own memory
    /// (its kept runs moved within it, the changed profiles written between them), so the
    /// patch needs little more than the index itself, as long as each part has room for
    /// what it gains (an index read from its file has room for about 3% more); a part
    /// without that room grows, held twice for a moment.
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
    new_slot: usize,
    new_entry: u32,
    new_text: u32,
    new_uuid: u32,
}

/// A piece's items `from` one part of its index, placed at `to` in the patched index's part.
struct Run<'p> {
    piece: &'p Piece,
    from: Range<usize>,
    to: usize,
}

/// The parts of the index being patched, borrowed or owned as the index is.
struct Parts<'a> {
    arena: Cow<'a, str>,
    uuids: Cow<'a, [[u8; 16]]>,
    entries: Cow<'a, [Entry]>,
    slots: Cow<'a, [Slot]>,
    bags: Cow<'a, [SlotBags]>,
    exact: Cow<'a, [(u32, u32)]>,
}

impl<'a> Parts<'a> {
    fn of(index: Cow<'a, SearchIndex>) -> Parts<'a> {
        match index {
            Cow::Borrowed(index) => Parts {
                arena: Cow::Borrowed(&index.arena),
                uuids: Cow::Borrowed(&index.uuids),
                entries: Cow::Borrowed(&index.entries),
                slots: Cow::Borrowed(&index.slots),
                bags: Cow::Borrowed(&index.bags),
                exact: Cow::Borrowed(&index.exact),
            },
            Cow::Owned(index) => Parts {
                arena: Cow::Owned(index.arena),
                uuids: Cow::Owned(index.uuids),
                entries: Cow::Owned(index.entries),
                slots: Cow::Owned(index.slots),
                bags: Cow::Owned(index.bags),
                exact: Cow::Owned(index.exact),
            },
        }
    }
}

fn patch(old: Cow<'_, SearchIndex>, changed: &[Profile], removed: &[ProfileId]) -> SearchIndex {
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
    let old = Parts::of(old);
    let runs = |indexed_only: bool, of: fn(&Piece) -> (Range<usize>, usize)| -> Vec<Run> {
        pieces
            .iter()
            .filter(|p| p.indexed || !indexed_only)
            .map(|piece| {
                let (from, to) = of(piece);
                Run { piece, from, to }
            })
            .collect()
    };

    let arena = lay_out_texts(
        old.arena,
        &fresh.arena,
        &runs(true, |p| (p.texts.clone(), p.new_text as usize)),
    );

    let uuids = lay_out(
        old.uuids,
        &fresh.uuids,
        &runs(true, |p| (p.uuids.clone(), p.new_uuid as usize)),
        as_they_are,
    );

    let entries = lay_out(
        old.entries,
        &fresh.entries,
        &runs(true, |p| (p.entries.clone(), p.new_entry as usize)),
        |piece, entries| {
            for entry in entries {
                entry.start = if entry.form.is_uuid() {
                    entry.start - piece.uuids.start as u32 + piece.new_uuid
                } else {
                    entry.start - piece.texts.start as u32 + piece.new_text
                };
            }
        },
    );

    let slot_runs = runs(false, |p| (p.slots.clone(), p.new_slot));
    let slots = lay_out(old.slots, &fresh.slots, &slot_runs, |piece, slots| {
        for slot in slots {
            *slot = match piece.indexed {
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
            };
        }
    });
    let bags = lay_out(old.bags, &fresh.bags, &slot_runs, |piece, bags| {
        if !piece.indexed {
            bags.fill(SlotBags::EMPTY);
        }
    });

    let moves = |fresh: bool| -> Vec<(u32, u32, u32)> {
        pieces
            .iter()
            .filter(|p| p.indexed && p.fresh == fresh && !p.entries.is_empty())
            .map(|p| (p.entries.start as u32, p.entries.end as u32, p.new_entry))
            .collect()
    };
    let (old_moves, fresh_moves) = (moves(false), moves(true));
    let fresh_exact: Vec<(u32, u32)> = fresh
        .exact
        .iter()
        .filter_map(|&pair| renumbered(pair, &fresh_moves))
        .collect();
    let mut exact = match old.exact {
        Cow::Borrowed(old) => {
            let mut kept = Vec::with_capacity(old.len() + fresh_exact.len());
            kept.extend(old.iter().filter_map(|&pair| renumbered(pair, &old_moves)));
            kept
        }
        Cow::Owned(mut kept) => {
            kept.retain_mut(|pair| match renumbered(*pair, &old_moves) {
                Some(moved) => {
                    *pair = moved;
                    true
                }
                None => false,
            });
            kept
        }
    };
    merge_in(&mut exact, &fresh_exact);
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

/// The texts part of the patched index, as [`lay_out`] lays out the others.
fn lay_out_texts(old: Cow<'_, str>, fresh: &str, runs: &[Run]) -> String {
    match old {
        Cow::Borrowed(old) => {
            let mut arena = String::with_capacity(runs.iter().map(|run| run.from.len()).sum());
            for run in runs {
                arena.push_str(&if run.piece.fresh { fresh } else { old }[run.from.clone()]);
            }
            arena
        }
        Cow::Owned(old) => {
            let bytes = Cow::Owned(old.into_bytes());
            let arena = lay_out(bytes, fresh.as_bytes(), runs, as_they_are);
            // Whole texts move, so this is UTF-8 again.
            String::from_utf8(arena)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
    }
}

/// Leaves a run's items as they are (texts and UUIDs keep their bytes).
fn as_they_are<T>(_: &Piece, _: &mut [T]) {}

/// One part of the patched index: the runs' items laid end to end, each run adjusted by
/// `adjust` once in place. A borrowed old part is copied run by run; an owned one is
/// rearranged in its own memory: the kept runs moving towards the start are moved first to
/// last, those moving towards the end last to first (so none overwrites one not moved yet,
/// nor is a placed run ever the source of a later move), then the fresh runs fill the gaps
/// between them.
fn lay_out<T: Copy>(
    old: Cow<'_, [T]>,
    fresh: &[T],
    runs: &[Run],
    adjust: impl Fn(&Piece, &mut [T]),
) -> Vec<T> {
    let len = runs.last().map_or(0, |run| run.to + run.from.len());
    let placed =
        |part: &mut [T], run: &Run| adjust(run.piece, &mut part[run.to..][..run.from.len()]);
    match old {
        Cow::Borrowed(old) => {
            let mut part = Vec::with_capacity(len);
            for run in runs {
                let source = if run.piece.fresh { fresh } else { old };
                part.extend_from_slice(&source[run.from.clone()]);
                placed(&mut part, run);
            }
            part
        }
        Cow::Owned(mut part) => {
            if let Some(&filler) = part.first().or(fresh.first()) {
                part.resize(len.max(part.len()), filler);
            }
            let kept = || runs.iter().filter(|run| !run.piece.fresh);
            for run in kept().filter(|run| run.to <= run.from.start) {
                if run.to < run.from.start {
                    part.copy_within(run.from.clone(), run.to);
                }
                placed(&mut part, run);
            }
            for run in kept().rev().filter(|run| run.to > run.from.start) {
                part.copy_within(run.from.clone(), run.to);
                placed(&mut part, run);
            }
            for run in runs.iter().filter(|run| run.piece.fresh) {
                part[run.to..][..run.from.len()].copy_from_slice(&fresh[run.from.clone()]);
                placed(&mut part, run);
            }
            part.truncate(len);
            part
        }
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
    let new_slot = previous.map_or(0, |p| p.new_slot + p.slots.len());
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
        new_slot,
        new_entry,
        new_text: new_text as u32,
        new_uuid: new_uuid as u32,
    }
}

/// An exact value (hash, entry) with its entry where `moves` puts it, if it keeps it:
/// (first old entry, past the last, new first) per run, in entry order.
fn renumbered((hash, entry): (u32, u32), moves: &[(u32, u32, u32)]) -> Option<(u32, u32)> {
    let at = moves.partition_point(|&(_, end, _)| end <= entry);
    moves
        .get(at)
        .filter(|&&(start, _, _)| start <= entry)
        .map(|&(start, _, to)| (hash, to + (entry - start)))
}

/// Merges the sorted `fresh` into the sorted `kept`, from the back, in `kept`'s memory.
fn merge_in(kept: &mut Vec<(u32, u32)>, fresh: &[(u32, u32)]) {
    let mut k = kept.len();
    let mut f = fresh.len();
    kept.resize(k + f, (0, 0));
    while f > 0 {
        let at = k + f - 1;
        if k > 0 && kept[k - 1] > fresh[f - 1] {
            kept[at] = kept[k - 1];
            k -= 1;
        } else {
            kept[at] = fresh[f - 1];
            f -= 1;
        }
    }
}
