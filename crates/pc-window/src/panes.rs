//! Panes and the two-stacks queue that merges them into sliding windows in O(1) amortized.
//!
//! A sliding window of `size` every `slide` is cut into panes of `gcd(size, slide)`: every
//! window is a run of whole panes, and every item lands in exactly one pane. Each pane is folded
//! once; a window's value is the merge of its panes. The panes of the window being computed sit
//! in a FIFO queue made of two stacks (the back takes new panes and keeps their running merge;
//! the front holds older panes, each with the merge of itself and every newer pane of the
//! front), so evicting the oldest pane, adding a new one and reading the merge of all of them
//! each cost O(1) amortized merges, with no inverse needed.

use crate::aggregate::Aggregate;

/// The items of a pane or a window: how many, and their accumulator.
#[derive(Debug)]
pub(crate) struct Part<Acc> {
    pub(crate) count: u64,
    pub(crate) acc: Acc,
}

impl<Acc> Part<Acc> {
    #[inline]
    pub(crate) fn new<T, A: Aggregate<T, Acc = Acc>>(agg: &A) -> Self {
        Self {
            count: 0,
            acc: agg.init(),
        }
    }

    #[inline]
    pub(crate) fn add<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, item: &T) {
        self.count += 1;
        agg.add(&mut self.acc, item);
    }

    #[inline]
    pub(crate) fn merge<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, other: &Self) {
        self.count += other.count;
        agg.merge(&mut self.acc, &other.acc);
    }

    /// `older` then `self`, as one part.
    #[inline]
    fn after<T, A: Aggregate<T, Acc = Acc>>(&self, agg: &A, older: &Self) -> Self {
        let mut part = Self::new(agg);
        part.merge(agg, older);
        part.merge(agg, self);
        part
    }
}

/// A pane: its number (its start divided by the pane length) and its items.
#[derive(Debug)]
pub(crate) struct Pane<Acc> {
    pub(crate) index: u64,
    pub(crate) part: Part<Acc>,
}

/// A front entry: a pane and the merge of it with every newer pane of the front.
#[derive(Debug)]
struct Front<Acc> {
    pane: Pane<Acc>,
    merged: Part<Acc>,
}

/// A FIFO of panes, in increasing pane number, that reads the merge of all of them in O(1).
#[derive(Debug)]
pub(crate) struct TwoStacks<Acc> {
    /// Older panes; the last is the oldest.
    front: Vec<Front<Acc>>,
    /// Newer panes, oldest first.
    back: Vec<Pane<Acc>>,
    /// The merge of `back`.
    back_merged: Part<Acc>,
}

impl<Acc> TwoStacks<Acc> {
    pub(crate) fn new<T, A: Aggregate<T, Acc = Acc>>(agg: &A) -> Self {
        Self {
            front: Vec::new(),
            back: Vec::new(),
            back_merged: Part::new(agg),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.front.is_empty() && self.back.is_empty()
    }

    /// The number of the oldest pane.
    #[inline]
    pub(crate) fn oldest(&self) -> Option<u64> {
        match self.front.last() {
            Some(entry) => Some(entry.pane.index),
            None => self.back.first().map(|pane| pane.index),
        }
    }

    /// Adds a pane newer than every pane held.
    #[inline]
    pub(crate) fn push<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, pane: Pane<Acc>) {
        self.back_merged.merge(agg, &pane.part);
        self.back.push(pane);
    }

    /// Drops every pane numbered below `index`.
    #[inline]
    pub(crate) fn evict_below<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, index: u64) {
        while self.oldest().is_some_and(|oldest| oldest < index) {
            if self.front.is_empty() {
                self.flip(agg);
            }
            self.front.pop();
        }
    }

    /// Moves the back stack to the front, computing each entry's merge with the newer ones.
    #[inline(never)]
    fn flip<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        debug_assert!(self.front.is_empty());
        self.front.reserve(self.back.len());
        for pane in self.back.drain(..).rev() {
            let merged = match self.front.last() {
                Some(newer) => newer.merged.after(agg, &pane.part),
                None => Part::new(agg).after(agg, &pane.part),
            };
            self.front.push(Front { pane, merged });
        }
        self.back_merged = Part::new(agg);
    }

    /// The merge of every pane held, oldest first.
    #[inline]
    pub(crate) fn merged<T, A: Aggregate<T, Acc = Acc>>(&self, agg: &A) -> Part<Acc> {
        match self.front.last() {
            Some(oldest) => self.back_merged.after(agg, &oldest.merged),
            None => Part::new(agg).after(agg, &self.back_merged),
        }
    }

    /// Adds `item` to pane `index`, which is held or falls between the panes held (a late
    /// item). Rebuilds the stacks: O(panes held), for late items only.
    #[inline(never)]
    pub(crate) fn add_late<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        index: u64,
        item: &T,
    ) {
        let mut panes: Vec<Pane<Acc>> = self.front.drain(..).rev().map(|f| f.pane).collect();
        panes.append(&mut self.back);
        self.back_merged = Part::new(agg);
        match panes.binary_search_by_key(&index, |pane| pane.index) {
            Ok(at) => panes[at].part.add(agg, item),
            Err(at) => {
                let mut part = Part::new(agg);
                part.add(agg, item);
                panes.insert(at, Pane { index, part });
            }
        }
        for pane in panes {
            self.push(agg, pane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Items;

    fn pane<A: Aggregate<u32>>(agg: &A, index: u64, items: &[u32]) -> Pane<A::Acc> {
        let mut part = Part::new(agg);
        for item in items {
            part.add(agg, item);
        }
        Pane { index, part }
    }

    #[test]
    fn reads_the_merge_of_the_panes_held_in_order() {
        let agg = Items(|xs: &[u32]| xs.to_vec());
        let mut fifo = TwoStacks::new(&agg);
        assert!(fifo.is_empty());
        for i in 0..10u32 {
            fifo.push(&agg, pane(&agg, u64::from(i), &[i * 10, i * 10 + 1]));
            fifo.evict_below(&agg, u64::from(i.saturating_sub(2)));
            let lo = i.saturating_sub(2);
            let expected: Vec<u32> = (lo..=i).flat_map(|j| [j * 10, j * 10 + 1]).collect();
            let merged = fifo.merged(&agg);
            assert_eq!(agg.finish(&merged.acc), expected);
            assert_eq!(merged.count, expected.len() as u64);
            assert_eq!(fifo.oldest(), Some(u64::from(lo)));
        }
    }

    #[test]
    fn a_late_item_lands_in_its_pane() {
        let agg = Items(|xs: &[u32]| xs.to_vec());
        let mut fifo = TwoStacks::new(&agg);
        for i in [1u64, 3, 4] {
            fifo.push(&agg, pane(&agg, i, &[i as u32]));
        }
        fifo.evict_below(&agg, 0); // no-op
        fifo.evict_below(&agg, 1); // no-op; and a flip happened in neither
        fifo.add_late(&agg, 2, &2);
        fifo.add_late(&agg, 3, &30);
        assert_eq!(agg.finish(&fifo.merged(&agg).acc), [1, 2, 3, 30, 4]);
        fifo.evict_below(&agg, 3);
        assert_eq!(agg.finish(&fifo.merged(&agg).acc), [3, 30, 4]);
        fifo.evict_below(&agg, 5);
        assert!(fifo.is_empty());
    }
}
