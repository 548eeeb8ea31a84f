//! How queued items are kept and ordered: a FIFO per level with a bitmap of the non-empty ones
//! ([`Levels`]), or an ordered map keyed by `(priority, arrival)` ([`ByKey`]).

use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::UnknownLevel;
use crate::policy::Scheduling;

/// The most levels a fixed-level channel has: one bit each in the non-empty bitmap.
pub const MAX_LEVELS: usize = 64;

/// How a channel orders its items: [`Levels`] or [`ByKey`].
///
/// Sealed: the channel's internals depend on it.
pub trait Store: sealed::Sealed + Send + Sync + 'static {
    /// What a send is tagged with and a receive reports.
    type Priority: Clone + fmt::Debug + Send + Sync + 'static;
    #[doc(hidden)]
    type Queue<T: Send>: sealed::Queue<T, Self::Priority>;
    #[doc(hidden)]
    type Settings: fmt::Debug + Send;
    /// The level of `priority`, for stores with levels.
    #[doc(hidden)]
    fn level(priority: &Self::Priority) -> Option<usize> {
        let _ = priority;
        None
    }
}

/// Fixed levels `0..levels` (at most 64), level 0 first: the fast path, O(1) send and receive.
#[derive(Debug)]
pub enum Levels {}

/// Any `Ord` priority (deadlines, scores), the smallest first and FIFO among equals; wrap the
/// key in [`std::cmp::Reverse`] to serve the largest first. O(log n) send and receive.
pub struct ByKey<K>(PhantomData<fn() -> K>);

impl<K> fmt::Debug for ByKey<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByKey")
    }
}

impl Store for Levels {
    type Priority = usize;
    type Queue<T: Send> = LevelQueue<T>;
    type Settings = crate::builder::LevelSettings;

    fn level(priority: &usize) -> Option<usize> {
        Some(*priority)
    }
}

impl<K: Ord + Clone + fmt::Debug + Send + Sync + 'static> Store for ByKey<K> {
    type Priority = K;
    type Queue<T: Send> = KeyQueue<T, K>;
    type Settings = K;
}

/// Why a priority cannot take an item now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such level.
    Unknown,
    /// The level was closed on its own.
    LevelClosed,
}

pub(crate) mod sealed {
    use super::Refusal;

    pub trait Sealed {}
    impl Sealed for super::Levels {}
    impl<K> Sealed for super::ByKey<K> {}

    /// The queue under the channel's lock.
    pub trait Queue<T, P>: Send {
        /// Whether items of `priority` are taken.
        fn check(&self, priority: &P) -> Result<(), Refusal>;
        fn push(&mut self, item: T, priority: P);
        fn pop(&mut self) -> Option<(T, P)>;
        /// Removes the oldest item of the lowest priority strictly below `priority`, if any.
        fn shed_below(&mut self, priority: &P) -> Option<(T, P)>;
        fn len(&self) -> usize;
        /// Items queued at `level`, for stores with levels.
        fn len_at(&self, level: usize) -> usize {
            let _ = level;
            0
        }
        /// Removes every item, for a channel nobody can receive from any more.
        fn drain(&mut self) -> Vec<T>;
    }
}

/// The queue of a [`Levels`] channel.
#[doc(hidden)]
pub struct LevelQueue<T> {
    queues: Box<[VecDeque<T>]>,
    /// Bit `l` set: level `l` holds items.
    nonempty: u64,
    /// Bit `l` set: level `l` was closed on its own.
    closed: u64,
    len: usize,
    pick: Pick,
}

impl<T> fmt::Debug for LevelQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LevelQueue")
            .field("len", &self.len)
            .field("levels", &self.queues.len())
            .finish_non_exhaustive()
    }
}

/// The scheduling state of a [`LevelQueue`].
enum Pick {
    Strict,
    Weighted {
        weights: Box<[u32]>,
        /// The level being served and how many more it may take this round.
        current: usize,
        credit: u32,
    },
    Aging {
        period: Duration,
        /// Arrival time of each queued item, parallel to `queues`.
        arrivals: Box<[VecDeque<Instant>]>,
    },
}

impl<T> LevelQueue<T> {
    pub(crate) fn new(levels: usize, scheduling: &Scheduling) -> Self {
        let pick = match scheduling {
            Scheduling::Strict => Pick::Strict,
            Scheduling::Weighted(weights) => Pick::Weighted {
                weights: weights.clone().into_boxed_slice(),
                // The first pick moves on from the last level, to the first non-empty one.
                current: levels - 1,
                credit: 0,
            },
            Scheduling::Aging(period) => Pick::Aging {
                period: *period,
                arrivals: (0..levels).map(|_| VecDeque::new()).collect(),
            },
        };
        Self {
            queues: (0..levels).map(|_| VecDeque::new()).collect(),
            nonempty: 0,
            closed: 0,
            len: 0,
            pick,
        }
    }

    pub(crate) fn levels(&self) -> usize {
        self.queues.len()
    }

    /// `Ok` if the channel has `level`.
    pub(crate) fn known(&self, level: usize) -> Result<(), UnknownLevel> {
        let levels = self.queues.len();
        if level < levels {
            Ok(())
        } else {
            Err(UnknownLevel { level, levels })
        }
    }

    pub(crate) fn level_len(&self, level: usize) -> Option<usize> {
        self.queues.get(level).map(VecDeque::len)
    }

    /// Closes `level` to sends; returns `true` if it was open.
    pub(crate) fn close_level(&mut self, level: usize) -> bool {
        let bit = 1 << level;
        let was_open = self.closed & bit == 0;
        self.closed |= bit;
        was_open
    }

    pub(crate) fn level_closed(&self, level: usize) -> bool {
        self.closed & (1 << level) != 0
    }

    /// Whether every level is closed on its own.
    pub(crate) fn all_closed(&self) -> bool {
        self.closed.count_ones() as usize == self.queues.len()
    }

    fn take(&mut self, level: usize) -> T {
        let queue = &mut self.queues[level];
        let item = queue
            .pop_front()
            .expect("a level in the bitmap holds items");
        if queue.is_empty() {
            self.nonempty &= !(1 << level);
        }
        if let Pick::Aging { arrivals, .. } = &mut self.pick {
            arrivals[level].pop_front();
        }
        self.len -= 1;
        item
    }

    /// The level the scheduling policy serves next; `nonempty` is not 0.
    fn next_level(&mut self) -> usize {
        let nonempty = self.nonempty;
        match &mut self.pick {
            Pick::Strict => nonempty.trailing_zeros() as usize,
            Pick::Weighted {
                weights,
                current,
                credit,
            } => {
                if *credit == 0 || nonempty & (1 << *current) == 0 {
                    // Next non-empty level after the current one, wrapping around.
                    let after = nonempty.checked_shr(*current as u32 + 1).unwrap_or(0);
                    *current = if after != 0 {
                        *current + 1 + after.trailing_zeros() as usize
                    } else {
                        nonempty.trailing_zeros() as usize
                    };
                    *credit = weights[*current];
                }
                *credit -= 1;
                *current
            }
            Pick::Aging { period, arrivals } => {
                let now = Instant::now();
                let period = period.as_nanos();
                let mut best: Option<(usize, Instant, usize)> = None;
                let mut bits = nonempty;
                while bits != 0 {
                    let level = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let arrived = arrivals[level][0];
                    let periods = now.saturating_duration_since(arrived).as_nanos() / period;
                    let effective =
                        level.saturating_sub(usize::try_from(periods).unwrap_or(usize::MAX));
                    let candidate = (effective, arrived, level);
                    if best.is_none_or(|best| candidate < best) {
                        best = Some(candidate);
                    }
                }
                best.expect("nonempty is not 0").2
            }
        }
    }
}

impl<T: Send> sealed::Queue<T, usize> for LevelQueue<T> {
    fn check(&self, level: &usize) -> Result<(), Refusal> {
        if *level >= self.queues.len() {
            Err(Refusal::Unknown)
        } else if self.level_closed(*level) {
            Err(Refusal::LevelClosed)
        } else {
            Ok(())
        }
    }

    #[inline]
    fn push(&mut self, item: T, level: usize) {
        self.queues[level].push_back(item);
        self.nonempty |= 1 << level;
        if let Pick::Aging { arrivals, .. } = &mut self.pick {
            arrivals[level].push_back(Instant::now());
        }
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<(T, usize)> {
        if self.nonempty == 0 {
            return None;
        }
        let level = self.next_level();
        Some((self.take(level), level))
    }

    fn shed_below(&mut self, level: &usize) -> Option<(T, usize)> {
        let lowest = (u64::BITS - 1).checked_sub(self.nonempty.leading_zeros())? as usize;
        (lowest > *level).then(|| (self.take(lowest), lowest))
    }

    fn len(&self) -> usize {
        self.len
    }

    fn len_at(&self, level: usize) -> usize {
        self.queues.get(level).map_or(0, VecDeque::len)
    }

    fn drain(&mut self) -> Vec<T> {
        let mut items = Vec::with_capacity(self.len);
        for queue in &mut self.queues {
            items.extend(queue.drain(..));
        }
        if let Pick::Aging { arrivals, .. } = &mut self.pick {
            arrivals.iter_mut().for_each(VecDeque::clear);
        }
        self.nonempty = 0;
        self.len = 0;
        items
    }
}

/// The queue of a [`ByKey`] channel: ordered by priority, then by arrival.
///
/// A binary heap, unless the channel sheds: shedding takes the oldest of the largest keys, which
/// a heap cannot reach, so a shedding channel keeps an ordered map instead (slower by a constant
/// factor, O(log n) either way).
#[doc(hidden)]
pub struct KeyQueue<T, K> {
    order: Order<T, K>,
    next_seq: u64,
    /// The item a pop took out of the heap when the key's `Ord` panicked as the heap closed
    /// the gap: the next pop hands it out, as it is the smallest.
    front: Option<(T, K)>,
}

enum Order<T, K> {
    Heap(BinaryHeap<Entry<T, K>>),
    Map(BTreeMap<(K, u64), T>),
}

/// A heap entry: the heap's maximum is the smallest key, then the earliest arrival.
struct Entry<T, K> {
    key: K,
    seq: u64,
    /// Always `Some` in the heap: a pop takes the item out of the top entry before the heap
    /// sifts (and may meet a panicking `Ord`), so that the item is never dropped by the unwind.
    item: Option<T>,
}

impl<T, K: Ord> PartialEq for Entry<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T, K: Ord> Eq for Entry<T, K> {}

impl<T, K: Ord> PartialOrd for Entry<T, K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T, K: Ord> Ord for Entry<T, K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (&other.key, other.seq).cmp(&(&self.key, self.seq))
    }
}

impl<T, K> fmt::Debug for KeyQueue<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = match &self.order {
            Order::Heap(heap) => heap.len(),
            Order::Map(map) => map.len(),
        };
        f.debug_struct("KeyQueue")
            .field("len", &len)
            .finish_non_exhaustive()
    }
}

impl<T, K: Ord> KeyQueue<T, K> {
    /// An empty queue; `shedding` if the channel sheds its lowest items when full.
    pub(crate) fn new(shedding: bool) -> Self {
        let order = if shedding {
            Order::Map(BTreeMap::new())
        } else {
            Order::Heap(BinaryHeap::new())
        };
        Self {
            order,
            next_seq: 0,
            front: None,
        }
    }
}

impl<T: Send, K: Ord + Clone + Send> sealed::Queue<T, K> for KeyQueue<T, K> {
    fn check(&self, _: &K) -> Result<(), Refusal> {
        Ok(())
    }

    #[inline]
    fn push(&mut self, item: T, key: K) {
        let seq = self.next_seq;
        self.next_seq += 1;
        match &mut self.order {
            Order::Heap(heap) => {
                let entry = Entry {
                    key,
                    seq,
                    item: Some(item),
                };
                let pushed = catch_unwind(AssertUnwindSafe(|| heap.push(entry)));
                if let Err(panic) = pushed {
                    // The key's `Ord` panicked halfway through the sift: the new entry sits in
                    // the heap with a key that cannot be compared, and every later pop would
                    // panic on it. Take it out (dropping its item), rebuild the heap from the
                    // others, and let the panic go on to the sender.
                    let mut entries = std::mem::take(heap).into_vec();
                    entries.retain(|entry| entry.seq != seq);
                    *heap = BinaryHeap::from(entries);
                    resume_unwind(panic);
                }
            }
            // A B-tree compares while it searches, before it inserts: a panicking `Ord` leaves
            // it as it was.
            Order::Map(map) => {
                map.insert((key, seq), item);
            }
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(T, K)> {
        if let Some(front) = self.front.take() {
            return Some(front);
        }
        match &mut self.order {
            Order::Heap(heap) => {
                let mut top = heap.peek_mut()?;
                let item = top.item.take()?;
                // Cloned before the heap compares: if a key's `Ord` panics while the heap
                // closes the gap, the unwind drops the top entry, and the item must not go
                // with it.
                let key = top.key.clone();
                match catch_unwind(AssertUnwindSafe(|| PeekMut::pop(top))) {
                    Ok(_) => Some((item, key)),
                    Err(panic) => {
                        // Every other entry is still in the heap (it puts the moving entry
                        // back as it unwinds); the smallest waits in front for the next pop,
                        // and the panic goes on to the receiver.
                        self.front = Some((item, key));
                        resume_unwind(panic)
                    }
                }
            }
            Order::Map(map) => map.pop_first().map(|((key, _), item)| (item, key)),
        }
    }

    fn shed_below(&mut self, key: &K) -> Option<(T, K)> {
        let Order::Map(map) = &mut self.order else {
            return None;
        };
        let ((lowest, _), _) = map.last_key_value()?;
        if lowest <= key {
            return None;
        }
        // The oldest of the lowest priority: the first entry with that key.
        let oldest = (lowest.clone(), 0);
        let entry = map.range(oldest..).next().map(|(k, _)| k.clone())?;
        map.remove_entry(&entry).map(|((key, _), item)| (item, key))
    }

    fn len(&self) -> usize {
        let queued = match &self.order {
            Order::Heap(heap) => heap.len(),
            Order::Map(map) => map.len(),
        };
        queued + usize::from(self.front.is_some())
    }

    fn drain(&mut self) -> Vec<T> {
        let front = self.front.take().map(|(item, _)| item);
        let rest: Vec<T> = match &mut self.order {
            Order::Heap(heap) => heap.drain().filter_map(|entry| entry.item).collect(),
            Order::Map(map) => std::mem::take(map).into_values().collect(),
        };
        front.into_iter().chain(rest).collect()
    }
}
