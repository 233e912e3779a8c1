//! Delivery noise: a small bounded reorder buffer that lets some events arrive late and
//! some arrive twice, as happens when clients batch, go offline and retry.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Holds late items until enough later items have gone out.
#[derive(Debug)]
pub(crate) struct ReorderBuffer<T> {
    heap: BinaryHeap<Reverse<Slot<T>>>,
    arrivals: u64,
}

#[derive(Debug)]
struct Slot<T> {
    release: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Slot<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}

impl<T> Eq for Slot<T> {}

impl<T> PartialOrd for Slot<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Slot<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.release, self.seq).cmp(&(other.release, other.seq))
    }
}

impl<T> Default for ReorderBuffer<T> {
    fn default() -> Self {
        ReorderBuffer {
            heap: BinaryHeap::new(),
            arrivals: 0,
        }
    }
}

impl<T> ReorderBuffer<T> {
    /// Adds an item that `delay` later items overtake (0: it goes out in order).
    pub(crate) fn push(&mut self, item: T, delay: u64) {
        // Keys are doubled so a delayed item goes out right after the item it waits for.
        let release = if delay == 0 {
            2 * self.arrivals
        } else {
            2 * (self.arrivals + delay) + 1
        };
        self.heap.push(Reverse(Slot {
            release,
            seq: self.arrivals,
            item,
        }));
        self.arrivals += 1;
    }

    /// The next item whose turn has come.
    pub(crate) fn pop_ready(&mut self) -> Option<T> {
        match self.heap.peek() {
            Some(Reverse(slot)) if slot.release < 2 * self.arrivals => self.pop_any(),
            _ => None,
        }
    }

    /// The next item in release order, ready or not (to drain at the end).
    pub(crate) fn pop_any(&mut self) -> Option<T> {
        self.heap.pop().map(|Reverse(slot)| slot.item)
    }

    /// Number of items held.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_only_what_is_asked_and_keeps_order_otherwise() {
        let mut buffer = ReorderBuffer::default();
        let mut out = Vec::new();
        for i in 0..6u64 {
            buffer.push(i, if i == 1 { 3 } else { 0 });
            while let Some(x) = buffer.pop_ready() {
                out.push(x);
            }
        }
        while let Some(x) = buffer.pop_any() {
            out.push(x);
        }
        assert_eq!(out, vec![0, 2, 3, 4, 1, 5]);
        assert_eq!(buffer.len(), 0);
    }
}
