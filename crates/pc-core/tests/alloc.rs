//! Allocations on the channel's item path, counted with a counting global allocator (a test
//! binary of its own, so no other test allocates meanwhile; one test in it, on a current-thread
//! runtime). Parked operations live in reused slots, so the steady state allocates nothing.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pc_core::{Probe, WaitKind, channel};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static HEAP: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Four producers and four consumers, joined in one task, move `per_producer * 4` items
/// through `tx`/`rx`, parking on both sides; returns how many were received.
async fn run(tx: &channel::Sender<u64>, rx: &channel::Receiver<u64>, per_producer: u64) -> u64 {
    let produce = || async {
        for i in 0..per_producer {
            tx.send(i).await.unwrap();
        }
    };
    let consume = || async {
        let mut received = 0;
        // Each consumer takes its share; together they take everything sent.
        while received < per_producer {
            rx.recv().await.unwrap();
            received += 1;
        }
        received
    };
    let ((), (), (), (), a, b, c, d) = futures_util::join!(
        produce(),
        produce(),
        produce(),
        produce(),
        consume(),
        consume(),
        consume(),
        consume()
    );
    a + b + c + d
}

/// Counts the waits that parked, on each side.
#[derive(Debug, Default)]
struct Parked {
    senders: AtomicU64,
    receivers: AtomicU64,
}

impl Probe for Parked {
    fn wait_started(&self, kind: WaitKind) {
        match kind {
            WaitKind::SendBlocked => self.senders.fetch_add(1, Ordering::Relaxed),
            _ => self.receivers.fetch_add(1, Ordering::Relaxed),
        };
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_channel_allocates_nothing_per_message_or_wait() {
    let parked = Arc::new(Parked::default());
    let (tx, rx) = channel::Builder::bounded(16)
        .probe(parked.clone())
        .build::<u64>()
        .unwrap();
    // Warm-up: the queue and the slab of parked operations reach their size.
    assert_eq!(run(&tx, &rx, 2_500).await, 10_000);
    assert_eq!(rx.waiting_senders() + rx.waiting_receivers(), 0);
    let before = (
        parked.senders.load(Ordering::Relaxed),
        parked.receivers.load(Ordering::Relaxed),
    );
    let region = Region::new(HEAP);
    assert_eq!(run(&tx, &rx, 25_000).await, 100_000);
    let change = region.change();
    let parked_senders = parked.senders.load(Ordering::Relaxed) - before.0;
    let parked_receivers = parked.receivers.load(Ordering::Relaxed) - before.1;
    assert!(
        parked_senders > 1_000 && parked_receivers > 1_000,
        "both sides parked: {parked_senders} sends, {parked_receivers} receives"
    );
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "100,000 messages through a full channel with parked senders and receivers"
    );
}
