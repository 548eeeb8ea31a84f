//! Priority channels for the benches: ours (levels and keys), async-priority-channel, and the
//! naive `Mutex<BinaryHeap>` + `Notify` a user would write by hand. Item `i` goes at priority
//! `i % LEVELS`, so every level is in use.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::BenchChannel;

/// Priority levels used by every priority bench.
pub const LEVELS: usize = 16;

fn level(item: u64) -> usize {
    (item % LEVELS as u64) as usize
}

/// Writes the `BenchChannel` adapter of one of our priority channels: `$store` orders it and
/// `$builder` starts its settings.
macro_rules! pc_priority_adapter {
    ($(#[$doc:meta])* $name:ident, $store:ty, $builder:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl BenchChannel for $name {
            type Tx = pc::priority::PrioritySender<u64, $store>;
            type Rx = pc::priority::PriorityReceiver<u64, $store>;

            fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
                $builder.capacity(capacity).build().expect("valid settings")
            }

            async fn send(tx: &Self::Tx, item: u64) {
                tx.send(item, level(item)).await.expect("open");
            }

            async fn recv(rx: &Self::Rx) -> Option<u64> {
                rx.recv().await.ok().map(|(item, _)| item)
            }
        }
    };
}

pc_priority_adapter!(
    /// `pc::priority` with fixed levels.
    PcPriority,
    pc::priority::Levels,
    pc::priority::PriorityChannel::builder(LEVELS)
);

pc_priority_adapter!(
    /// `pc::priority` keyed by an `Ord` priority.
    PcPriorityByKey,
    pc::priority::ByKey<usize>,
    pc::priority::PriorityChannel::by_key(0)
);

/// async-priority-channel, the priority channel on crates.io.
#[derive(Debug)]
pub struct AsyncPriorityChannel;

impl BenchChannel for AsyncPriorityChannel {
    type Tx = async_priority_channel::Sender<u64, usize>;
    type Rx = async_priority_channel::Receiver<u64, usize>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        async_priority_channel::bounded(capacity as u64)
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item, level(item)).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok().map(|(item, _)| item)
    }
}

/// The baseline written by hand: a `BinaryHeap` of `(priority, arrival)` under a `Mutex`, a
/// `Notify` per side, a closed flag.
#[derive(Debug)]
pub struct NaiveHeap;

#[derive(Debug, Default)]
struct Heap {
    /// Smallest level first, then oldest first.
    items: BinaryHeap<Reverse<(usize, u64, u64)>>,
    next_seq: u64,
    closed: bool,
}

#[derive(Debug)]
struct NaiveShared {
    heap: Mutex<Heap>,
    capacity: usize,
    items: Notify,
    space: Notify,
    senders: AtomicUsize,
}

/// Sending half of [`NaiveHeap`].
#[derive(Debug)]
pub struct NaiveTx(Arc<NaiveShared>);

/// Receiving half of [`NaiveHeap`].
#[derive(Debug, Clone)]
pub struct NaiveRx(Arc<NaiveShared>);

impl Clone for NaiveTx {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(&self.0))
    }
}

impl Drop for NaiveTx {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.heap.lock().expect("not poisoned").closed = true;
            self.0.items.notify_waiters();
        }
    }
}

impl BenchChannel for NaiveHeap {
    type Tx = NaiveTx;
    type Rx = NaiveRx;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        let shared = Arc::new(NaiveShared {
            heap: Mutex::new(Heap::default()),
            capacity,
            items: Notify::new(),
            space: Notify::new(),
            senders: AtomicUsize::new(1),
        });
        (NaiveTx(Arc::clone(&shared)), NaiveRx(shared))
    }

    async fn send(tx: &Self::Tx, item: u64) {
        let shared = &tx.0;
        loop {
            // Registered before the check, so a notification in between is not lost.
            let notified = shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut heap = shared.heap.lock().expect("not poisoned");
                if heap.items.len() < shared.capacity {
                    let seq = heap.next_seq;
                    heap.next_seq += 1;
                    heap.items.push(Reverse((level(item), seq, item)));
                    drop(heap);
                    shared.items.notify_one();
                    return;
                }
            }
            notified.await;
        }
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        let shared = &rx.0;
        loop {
            let notified = shared.items.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut heap = shared.heap.lock().expect("not poisoned");
                if let Some(Reverse((_, _, item))) = heap.items.pop() {
                    drop(heap);
                    shared.space.notify_one();
                    return Some(item);
                }
                if heap.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}
