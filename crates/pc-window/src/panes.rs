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
/// An item with its arrival number: its place among every item the stream took, which an
/// order-aware aggregate keeps (panes are merged in time order, not arrival order).
#[derive(Debug)]
pub(crate) struct Arrived<'a, T> {
    pub(crate) item: &'a T,
    pub(crate) at: u64,
}

impl<T> Clone for Arrived<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Arrived<'_, T> {}

#[derive(Debug, Clone)]
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
    pub(crate) fn add<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, item: Arrived<'_, T>) {
        // User code first: if it panics, the item is not counted.
        agg.add_at(&mut self.acc, item.item, item.at);
        self.count += 1;
    }

    #[inline]
    pub(crate) fn merge<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, other: &Self) {
        agg.merge(&mut self.acc, &other.acc);
        self.count += other.count;
    }

    /// `older` then `self`, as one part.
    #[inline]
    fn after<T, A: Aggregate<T, Acc = Acc>>(&self, agg: &A, older: &Self) -> Self
    where
        Acc: Clone,
    {
        let mut part = older.clone();
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

/// Builds a front stack from parts given newest first: each entry merges its part with every
/// newer one, so the last entry, the oldest, merges them all.
fn stack_merges<T, A, Acc>(
    agg: &A,
    newest_first: impl Iterator<Item = Part<Acc>>,
    front: &mut Vec<Part<Acc>>,
) where
    A: Aggregate<T, Acc = Acc>,
{
    for mut part in newest_first {
        if let Some(newer) = front.last() {
            part.merge(agg, newer);
        }
        front.push(part);
    }
}

/// A FIFO of panes, in increasing pane number, that reads the merge of all of them in O(1).
///
/// The panes sit in one ring, oldest first. The oldest `front.len()` of them form the front
/// stack: `front[j]` merges the `j + 1` newest of those, so `front.last()` merges them all and
/// evicting the oldest pane pops one entry. The rest form the back stack, merged as they come
/// into `back`. When the front runs out, a flip computes it afresh over every pane held. The
/// newest pane may be `open`, still taking items and not yet merged into `back`; it is merged
/// when a newer pane comes or the panes are read. (Items are added in place, never moved, so
/// a pane is not copied right after it is written.)
#[derive(Debug)]
pub(crate) struct TwoStacks<Acc> {
    ring: Ring<Pane<Acc>>,
    front: Vec<Part<Acc>>,
    back: Part<Acc>,
    open: bool,
}

impl<Acc: Clone> TwoStacks<Acc> {
    pub(crate) fn new<T, A: Aggregate<T, Acc = Acc>>(agg: &A) -> Self {
        Self {
            ring: Ring::default(),
            front: Vec::new(),
            back: Part::new(agg),
            open: false,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Merges the open pane into the back stack.
    #[inline]
    fn seal<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        if self.open {
            // Sealed once merged: a merge that panics leaves the pane open, as it was.
            if let Some(newest) = self.ring.back() {
                self.back.merge(agg, &newest.part);
            }
            self.open = false;
        }
    }

    /// Adds `item` to pane `index`, at least as new as every pane held: to the open pane if it
    /// is that one, else to a new open pane.
    #[inline(always)]
    pub(crate) fn add_newest<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        index: u64,
        item: Arrived<'_, T>,
    ) {
        if self.open
            && let Some(newest) = self.ring.back_mut()
            && newest.index == index
        {
            newest.part.add(agg, item);
            return;
        }
        self.seal(agg);
        if self.ring.back().is_some_and(|newest| newest.index >= index) {
            return self.add_late(agg, index, item);
        }
        let mut part = Part::new(agg);
        part.add(agg, item);
        self.ring.push_back(Pane { index, part });
        self.open = true;
    }

    /// Adds a pane newer than every pane held.
    #[inline]
    pub(crate) fn push<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, pane: Pane<Acc>) {
        debug_assert!(!self.open);
        debug_assert!(
            self.ring
                .back()
                .is_none_or(|newest| newest.index < pane.index)
        );
        self.back.merge(agg, &pane.part);
        self.ring.push_back(pane);
    }

    /// The number of the oldest pane.
    #[inline]
    fn oldest(&self) -> Option<u64> {
        self.ring.front().map(|pane| pane.index)
    }

    /// Drops every pane numbered below `index`.
    #[inline]
    pub(crate) fn evict_below<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, index: u64) {
        self.seal(agg);
        while self.oldest().is_some_and(|oldest| oldest < index) {
            if self.front.is_empty() {
                self.flip(agg);
            }
            self.ring.pop_front();
            self.front.pop();
        }
    }

    /// Makes every pane held part of the front, merging each with the newer ones.
    #[inline(never)]
    fn flip<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        // Built aside (in the front's own allocation) and put in place once every merge is
        // done: a merge that panics leaves the front empty and the back as it was, which is
        // where a flip starts.
        let mut front = std::mem::take(&mut self.front);
        front.clear();
        front.reserve(self.ring.len());
        let panes = self.ring.iter_rev().map(|pane| pane.part.clone());
        stack_merges(agg, panes, &mut front);
        let back = Part::new(agg);
        (self.front, self.back) = (front, back);
    }

    /// The merge of every pane held, oldest first.
    #[inline]
    pub(crate) fn merged<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) -> Part<Acc> {
        self.seal(agg);
        match self.front.last() {
            Some(oldest) => self.back.after(agg, oldest),
            None => self.back.clone(),
        }
    }

    /// Adds `item` to pane `index`, which is held or falls between or before the panes held
    /// (an item out of order). Merges the stacks again: O(panes held).
    #[inline(never)]
    pub(crate) fn add_late<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        index: u64,
        item: Arrived<'_, T>,
    ) {
        self.seal(agg);
        match self.ring.binary_search_by_key(index, |pane| pane.index) {
            Ok(at) => self.ring.get_mut(at).expect("found").part.add(agg, item),
            Err(at) => {
                let mut part = Part::new(agg);
                part.add(agg, item);
                self.ring.insert(at, Pane { index, part });
            }
        }
        // Merged aside first, so that a merge that panics leaves the stacks as they were (the
        // item is in its pane either way).
        let mut back = Part::new(agg);
        for pane in self.ring.iter() {
            back.merge(agg, &pane.part);
        }
        self.front.clear();
        self.back = back;
    }
}

/// A FIFO on a power-of-two ring of slots: positions wrap with a mask, which is cheaper per
/// operation than a `VecDeque`'s wrap-around (it matters at one pane per item). Grows by
/// doubling; never shrinks below what it held at its fullest.
#[derive(Debug)]
struct Ring<T> {
    slots: Vec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T> Ring<T> {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        if i < self.len {
            self.slots[(self.head + i) & self.mask()].as_ref()
        } else {
            None
        }
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i < self.len {
            let mask = self.mask();
            self.slots[(self.head + i) & mask].as_mut()
        } else {
            None
        }
    }

    #[inline]
    fn front(&self) -> Option<&T> {
        self.get(0)
    }

    #[inline]
    fn back(&self) -> Option<&T> {
        self.get(self.len.wrapping_sub(1))
    }

    #[inline]
    fn back_mut(&mut self) -> Option<&mut T> {
        self.get_mut(self.len.wrapping_sub(1))
    }

    #[inline]
    fn push_back(&mut self, item: T) {
        if self.len == self.slots.len() {
            self.grow();
        }
        let at = (self.head + self.len) & self.mask();
        self.slots[at] = Some(item);
        self.len += 1;
    }

    #[inline]
    fn pop_front(&mut self) {
        debug_assert!(!self.is_empty());
        let at = self.head;
        self.slots[at] = None;
        self.head = (self.head + 1) & self.mask();
        self.len -= 1;
    }

    #[inline(never)]
    fn grow(&mut self) {
        let mut slots: Vec<Option<T>> = Vec::new();
        slots.resize_with((self.slots.len() * 2).max(8), || None);
        for (i, slot) in slots.iter_mut().enumerate().take(self.len) {
            let at = (self.head + i) & self.mask();
            *slot = self.slots[at].take();
        }
        self.slots = slots;
        self.head = 0;
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        let (wrapped, first) = self.slots.split_at(self.head.min(self.slots.len()));
        let first_len = first.len().min(self.len);
        first[..first_len]
            .iter()
            .chain(&wrapped[..self.len - first_len])
            .flatten()
    }

    /// The items, newest first.
    fn iter_rev(&self) -> impl Iterator<Item = &T> {
        let (wrapped, first) = self.slots.split_at(self.head.min(self.slots.len()));
        let first_len = first.len().min(self.len);
        wrapped[..self.len - first_len]
            .iter()
            .rev()
            .chain(first[..first_len].iter().rev())
            .flatten()
    }

    /// The index of `key` among the items (sorted by `f`), or where it would go.
    fn binary_search_by_key(&self, key: u64, f: impl Fn(&T) -> u64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = f(self.get(mid).expect("in range"));
            match at.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Inserts `item` before position `at`: O(len).
    fn insert(&mut self, at: usize, item: T) {
        self.push_back(item);
        let mask = self.mask();
        for i in (at + 1..self.len).rev() {
            self.slots
                .swap((self.head + i) & mask, (self.head + i - 1) & mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Items;

    /// Items numbered by their value times 10, so that the arrival order these tests expect
    /// is the pane order they check.
    fn at(item: &u32) -> Arrived<'_, u32> {
        Arrived {
            item,
            at: u64::from(*item) * 10,
        }
    }

    fn pane<A: Aggregate<u32>>(agg: &A, index: u64, items: &[u32]) -> Pane<A::Acc> {
        let mut part = Part::new(agg);
        for item in items {
            part.add(agg, at(item));
        }
        Pane { index, part }
    }

    #[test]
    fn reads_the_merge_of_the_panes_held_in_order() {
        let agg = Items(|xs: &[u32]| xs.to_vec());
        let mut fifo = TwoStacks::new(&agg);
        assert!(fifo.is_empty());
        fifo.evict_below(&agg, 0);
        for i in 0..10u32 {
            if i % 2 == 0 {
                fifo.push(&agg, pane(&agg, u64::from(i), &[i * 10, i * 10 + 1]));
            } else {
                fifo.add_newest(&agg, u64::from(i), at(&(i * 10)));
                fifo.add_newest(&agg, u64::from(i), at(&(i * 10 + 1)));
            }
            fifo.evict_below(&agg, u64::from(i.saturating_sub(2)));
            let lo = i.saturating_sub(2);
            let expected: Vec<u32> = (lo..=i).flat_map(|j| [j * 10, j * 10 + 1]).collect();
            let merged = fifo.merged(&agg);
            assert_eq!(agg.finish(&merged.acc), expected);
            assert_eq!(merged.count, expected.len() as u64);
            fifo.seal(&agg);
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
        fifo.add_late(&agg, 2, Arrived { item: &2, at: 20 });
        fifo.add_late(&agg, 3, Arrived { item: &30, at: 31 });
        assert_eq!(agg.finish(&fifo.merged(&agg).acc), [1, 2, 3, 30, 4]);
        fifo.evict_below(&agg, 3);
        assert_eq!(agg.finish(&fifo.merged(&agg).acc), [3, 30, 4]);
        fifo.evict_below(&agg, 5);
        assert!(fifo.is_empty());
    }
}

/// A two-stacks queue of parts without numbers, for panes that always arrive in order and
/// never change once pushed: the back keeps its parts and their running merge, the front only
/// the merge of each part with the newer ones of the front.
#[derive(Debug)]
pub(crate) struct Stacks<Acc> {
    back: Vec<Part<Acc>>,
    back_merged: Part<Acc>,
    front: Vec<Part<Acc>>,
}

impl<Acc: Clone> Stacks<Acc> {
    pub(crate) fn new<T, A: Aggregate<T, Acc = Acc>>(agg: &A) -> Self {
        Self {
            back: Vec::new(),
            back_merged: Part::new(agg),
            front: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.back.len() + self.front.len()
    }

    #[inline]
    pub(crate) fn push<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, part: Part<Acc>) {
        self.back_merged.merge(agg, &part);
        self.back.push(part);
    }

    #[inline]
    pub(crate) fn pop<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        if self.front.is_empty() {
            self.flip(agg);
        }
        self.front.pop();
    }

    #[inline(never)]
    fn flip<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        // `init` before anything moves. A merge that panics midway drops the parts older than
        // it: the front then holds the newer ones, still oldest last, so the stacks stay
        // consistent and only windows over the dropped parts miss them.
        self.back_merged = Part::new(agg);
        self.front.reserve(self.back.len());
        stack_merges(agg, self.back.drain(..).rev(), &mut self.front);
    }

    #[inline]
    pub(crate) fn merged<T, A: Aggregate<T, Acc = Acc>>(&self, agg: &A) -> Part<Acc> {
        match self.front.last() {
            Some(oldest) => self.back_merged.after(agg, oldest),
            None => self.back_merged.clone(),
        }
    }
}
