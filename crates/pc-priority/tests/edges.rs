//! The priority channel at each edge of the checklist (`shared/EDGES.md`), one section per
//! edge. Wake-ups, cancellation and close are also covered poll by poll in tests/wakeups.rs
//! and tests/close.rs; this file holds what the edge walk added.

use std::cell::Cell;
use std::cmp::Ordering as CmpOrdering;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pc_core::{DropReason, RecvError, SharedProbe};
use pc_priority::{PriorityChannel, WhenFull};
use support::RecordingProbe;

mod support;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq, assert_ready_ok};

// ## 1. Cancellation at every await point

#[test]
fn a_notified_receiver_that_is_dropped_passes_the_item_on() {
    let (tx, rx) = PriorityChannel::builder(2).capacity(2).build().unwrap();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.try_send(7, 1).unwrap();
    drop(first);
    assert!(second.is_woken());
    assert_ready_eq!(second.poll(), Ok((7, 1)));
}

#[test]
fn a_notified_sender_that_is_dropped_passes_the_slot_on() {
    let (tx, rx) = PriorityChannel::builder(2).capacity(1).build().unwrap();
    tx.try_send(0, 0).unwrap();
    let mut first = spawn(tx.send(1, 0));
    let mut second = spawn(tx.send(2, 1));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv(), Ok((0, 0)));
    drop(first);
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv(), Ok((2, 1)));
}

// ## 4. Extreme durations

/// Defect: `Instant::now() + timeout` panicked for `Duration::MAX` in `send_timeout` and
/// `recv_timeout`.
#[tokio::test(start_paused = true)]
async fn timeouts_of_zero_and_max() {
    let (tx, rx) = PriorityChannel::builder(2).capacity(1).build().unwrap();
    assert!(
        rx.recv_timeout(Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    tx.send_timeout(1, 0, Duration::ZERO).await.unwrap();
    assert!(
        tx.send_timeout(2, 0, Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    let later = {
        let rx = rx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            rx.recv().await
        })
    };
    tx.send_timeout(3, 1, Duration::MAX).await.unwrap();
    assert_eq!(later.await.unwrap(), Ok((1, 0)));
    assert_eq!(rx.recv_timeout(Duration::MAX).await, Ok((3, 1)));
    drop(tx);
    assert!(
        !rx.recv_timeout(Duration::MAX)
            .await
            .unwrap_err()
            .is_timeout()
    );
}

// ## 5. Extreme numbers

/// Walk: a capacity of `usize::MAX` is no bound in practice, and allocates nothing up front.
#[test]
fn a_capacity_of_usize_max_works() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(usize::MAX)
        .build()
        .unwrap();
    for i in 0..1_000u32 {
        tx.try_send(i, (i % 2) as usize).unwrap();
    }
    assert_eq!(rx.len(), 1_000);
    assert_eq!(rx.try_recv().map(|(item, _)| item), Ok(0));
}

#[test]
fn levels_at_the_limits() {
    assert!(PriorityChannel::builder::<u32>(0).build().is_err());
    assert!(PriorityChannel::builder::<u32>(64).build().is_ok());
    assert!(PriorityChannel::builder::<u32>(65).build().is_err());
    let (tx, _rx) = PriorityChannel::builder(64).capacity(1).build().unwrap();
    assert!(tx.try_send(1, 64).unwrap_err().is_unknown_level());
    tx.try_send(1, 63).unwrap();
}

// ## 6. User code that panics: an `Ord` that panics fails that send only

/// A key whose comparison panics when either side is `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Touchy(u32);

impl PartialOrd for Touchy {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Touchy {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        assert!(self.0 != u32::MAX && other.0 != u32::MAX, "cannot compare");
        self.0.cmp(&other.0)
    }
}

#[test]
fn a_panicking_ord_leaves_the_channel_usable() {
    let (tx, rx) = PriorityChannel::by_key::<u32, Touchy>(Touchy(0))
        .capacity(8)
        .build()
        .unwrap();
    tx.try_send(1, Touchy(5)).unwrap();
    tx.try_send(2, Touchy(3)).unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| tx.try_send(3, Touchy(u32::MAX))));
    assert!(panicked.is_err());
    // The channel still sends and receives, and its lock is not left poisoned for good.
    tx.try_send(4, Touchy(1)).unwrap();
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok().map(|(item, _)| item)).collect();
    assert_eq!(
        got,
        [4, 2, 1],
        "the others, in key order; the panicking send's item is dropped"
    );
}

std::thread_local! {
    /// While set, [`Fragile`] keys of 99 cannot be compared.
    static FRAGILE: Cell<bool> = const { Cell::new(false) };
}

/// A key whose comparison with 99 panics while [`FRAGILE`] is set: it gets into the heap
/// quietly, and a later receive meets the panic as the heap sifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fragile(u32);

impl PartialOrd for Fragile {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fragile {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        if FRAGILE.get() && (self.0 == 99 || other.0 == 99) {
            panic!("cannot compare 99 now");
        }
        self.0.cmp(&other.0)
    }
}

/// Listed: a key whose `Ord` panicked while a receive sifted the heap lost the item being
/// received (the unwind dropped it). The panic now reaches the receiver and the item is the
/// next one out: every item sent is received once.
#[test]
fn a_panicking_ord_in_a_receive_loses_no_item() {
    let (tx, rx) = PriorityChannel::by_key::<u32, Fragile>(Fragile(0))
        .capacity(16)
        .build()
        .unwrap();
    for (item, key) in [(1, 5), (2, 99), (3, 1), (4, 99), (5, 3), (6, 99), (7, 2)] {
        tx.try_send(item, Fragile(key)).unwrap();
    }
    FRAGILE.set(true);
    let panicked = catch_unwind(AssertUnwindSafe(|| rx.try_recv()));
    FRAGILE.set(false);
    assert!(panicked.is_err(), "the receive meets the panic");
    assert_eq!(rx.len(), 7, "no item left the channel");
    let mut got: Vec<(u32, u32)> = Vec::new();
    while let Ok((item, key)) = rx.try_recv() {
        got.push((item, key.0));
    }
    assert_eq!(got[0], (3, 1), "the item being received comes out next");
    got.sort_unstable();
    assert_eq!(
        got,
        [(1, 5), (2, 99), (3, 1), (4, 99), (5, 3), (6, 99), (7, 2)],
        "every item once"
    );
    tx.try_send(8, Fragile(0)).unwrap();
    assert_eq!(rx.try_recv().map(|(item, _)| item), Ok(8));
}

/// Walk: a reservation that shed an item reserved its slot first, then called the drop hook;
/// when the hook panicked, no permit reached the caller and the slot stayed taken for good
/// (the channel stayed full, and after a close the receivers waited forever). Now the slot is
/// given back before the panic goes on.
#[tokio::test(start_paused = true)]
async fn a_drop_hook_that_panics_in_a_reservation_gives_the_slot_back() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(1)
        .when_full(WhenFull::ShedLowest)
        .on_drop(|item: u32, _| assert!(item != 7, "the hook cannot take 7"))
        .build()
        .unwrap();
    tx.try_send(7, 1).unwrap();
    let reserved = catch_unwind(AssertUnwindSafe(|| tx.try_reserve(0).map(drop)));
    assert!(reserved.is_err(), "the hook's panic goes on");
    assert_eq!(tx.len(), 0, "7 was shed");
    tx.try_send(8, 0).unwrap();
    tx.close();
    assert_eq!(rx.recv().await.map(|(item, _)| item), Ok(8));
    let end = tokio::time::timeout(Duration::from_secs(3600), rx.recv()).await;
    assert_eq!(end, Ok(Err(RecvError)), "the channel ends");
}

// ## 7. Shutdown in every state

#[tokio::test(start_paused = true)]
async fn dropping_every_receiver_fails_a_parked_sender() {
    let (tx, rx) = PriorityChannel::builder(1).capacity(1).build().unwrap();
    tx.try_send(1, 0).unwrap();
    let mut send = spawn(tx.send(2, 0));
    assert_pending!(send.poll());
    drop(rx);
    assert!(send.is_woken());
    assert!(send.poll().is_ready());
    let (tx, rx) = PriorityChannel::builder::<u32>(1).build().unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    drop(tx);
    assert_ready_eq!(recv.poll(), Err(RecvError));
}

// ## 9. Weak memory does not apply: every waiter registers under the lock its notifier holds
// (ARCHITECTURE.md), so there is no atomic protocol outside the lock to model; tests/mpmc.rs
// counts every item under 4 x 4 tasks on 2 threads.
//
// ## 2. The abandoned registration

/// Listed: the receiver's `Consumer::stream` was an `unfold` over `recv()`: two streams polled
/// once and kept took the wake-ups of the two items sent, and the receiver waiting in `recv()`
/// hung with both items queued. A stream's registration is now woken by every item and is
/// nobody's wake-up; the streams still get items when polled again, and end at the close.
#[tokio::test(start_paused = true)]
async fn idle_streams_keep_no_wake_up_from_a_waiting_receive() {
    use futures_util::StreamExt;
    let (tx, rx) = PriorityChannel::builder(3).capacity(8).build().unwrap();
    let mut first = Box::pin(pc_core::Consumer::stream(&rx));
    let mut second = Box::pin(pc_core::Consumer::stream(&rx));
    for idle in [&mut first, &mut second] {
        let mut next = spawn(idle.next());
        assert_pending!(next.poll());
    }
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1, 2).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok((1, 2)));
    tx.try_send(2, 0).unwrap();
    tx.try_send(3, 1).unwrap();
    assert_eq!(first.next().await, Some(2));
    assert_eq!(second.next().await, Some(3));
    tx.close();
    assert_eq!(first.next().await, None);
    assert_eq!(second.next().await, None);
}

/// The receiver itself is a `Stream` too (as pc-core's is), with its wait kept in the handle:
/// polled once and left, it keeps no wake-up from a receive that waits, still gets an item when
/// polled again, and ends, for good, at the close.
#[tokio::test(start_paused = true)]
async fn a_receiver_polled_as_a_stream_and_left_keeps_no_wake_up() {
    use futures_util::StreamExt;
    use futures_util::stream::FusedStream;
    let (tx, rx) = PriorityChannel::builder(3).capacity(8).build().unwrap();
    let mut idle = rx.clone();
    {
        let mut next = spawn(idle.next());
        assert_pending!(next.poll());
    }
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1, 2).unwrap();
    assert!(
        recv.is_woken(),
        "the waiting receive slept with an item queued"
    );
    assert_ready_eq!(recv.poll(), Ok((1, 2)));
    tx.try_send(2, 1).unwrap();
    tx.try_send(3, 0).unwrap();
    assert_eq!(idle.next().await, Some(3), "highest priority first");
    assert!(!idle.is_terminated());
    tx.close();
    assert_eq!(idle.next().await, Some(2), "drained after the close");
    assert_eq!(idle.next().await, None);
    assert!(idle.is_terminated());
    assert_eq!(idle.next().await, None);
}

// ## 3. Fairness: tested in tests/ordering.rs (FIFO among equal priorities; weighted and aging
// schedules serve the lowest level under a flood) and tests/wakeups.rs.

// ## 8. Bounded memory: tested in tests/shed.rs and tests/model.rs (never more than the
// capacity queued, reservations included).

// ## 10. Promises across composition: tested in the facade's tests/edges.rs (the channel
// among every producer and consumer, levels and keys).

// ## 11. Hidden order assumptions: tested in tests/ordering.rs
// (`keys_come_out_smallest_first_and_fifo_among_equals`) and tests/model.rs.

// ## 12. Errors and probes that tell the truth: errors are tested in tests/shed.rs (a shed item
// is reported `Shed`, a full channel `Full`, never `Closed`); the probes here.

/// Defect: an item shed to make room for a reservation was reported to the channel's probe
/// and not to its level's probe, which went on counting it as queued (produced 2, consumed 0,
/// dropped 0, with 1 item at that level). Every way into the channel now tells the level's
/// probe the same as the channel's.
#[tokio::test]
async fn a_level_probe_hears_of_sheds_made_by_reservations() {
    let channel_probe = Arc::new(RecordingProbe::default());
    let levels: Vec<Arc<RecordingProbe>> = (0..2).map(|_| Arc::default()).collect();
    let (tx, rx) = PriorityChannel::builder::<u32>(2)
        .capacity(2)
        .when_full(WhenFull::ShedLowest)
        .probe(channel_probe.clone())
        .level_probes(levels.iter().map(|p| p.clone() as SharedProbe))
        .build()
        .unwrap();
    tx.try_send(1, 1).unwrap();
    tx.try_send(2, 1).unwrap();
    let permit = tx.try_reserve(0).unwrap();
    permit.send(0).unwrap();
    tx.try_send(3, 0).unwrap();
    let low = &levels[1];
    assert_eq!(low.produced.load(Ordering::SeqCst), 2);
    assert_eq!(
        *low.dropped.lock().unwrap(),
        [(1, DropReason::Shed), (1, DropReason::Shed)]
    );
    assert_eq!(low.last_depth.load(Ordering::SeqCst), 0);
    assert_eq!(levels[0].produced.load(Ordering::SeqCst), 2);
    assert_eq!(levels[0].last_depth.load(Ordering::SeqCst), 2);
    assert_eq!(channel_probe.dropped.lock().unwrap().len(), 2);
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok((0, 0)), Ok((3, 0))));
}

// ## The randomized contract test: the channel, waiting or shedding when full, runs in the
// facade's tests/contract.rs (`priority_channel`; reservations take the higher level, so they
// shed).
