//! The channel at each edge of the checklist (`shared/EDGES.md`), one section per edge.
//!
//! Poll-level where a wake-up is the question, paused time where a duration is, and every item
//! counted where cancellation or shutdown could lose one.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use pc_core::task::TaskGroup;
use pc_core::{Consumer, DropReason, Producer, RecvError, TryRecvError, TryReserveError, channel};
use support::{Counted, RecordingProbe, within_paused};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq, assert_ready_ok};

// ## 1. Cancellation at every await point

#[test]
fn a_notified_recv_that_is_dropped_passes_the_item_on() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.try_send(1).unwrap();
    assert!(first.is_woken());
    // The woken receiver goes away without running: the other one is woken in its place.
    drop(first);
    assert!(second.is_woken());
    assert_ready_eq!(second.poll(), Ok(1));
}

#[test]
fn a_notified_send_that_is_dropped_passes_the_slot_on() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut first = spawn(tx.send(1));
    let mut second = spawn(tx.send(2));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(first.is_woken());
    drop(first);
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_cancelled_reserve_holds_no_slot() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut reserve = spawn(tx.reserve());
    assert_pending!(reserve.poll());
    drop(reserve);
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_recv_batch_dropped_while_lingering_keeps_what_it_took() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    tx.try_send(1).unwrap();
    let mut buf = Vec::new();
    {
        let batch = rx.recv_batch(&mut buf, 4, Duration::from_secs(1));
        let mut batch = pin!(batch);
        assert!(futures_util::poll!(batch.as_mut()).is_pending());
    }
    assert_eq!(buf, [1]);
    tx.try_send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

// ## 2. The abandoned registration

/// Listed: through the trait, `Consumer::stream` was an `unfold` over `recv()` rather than the
/// receiver's wake-only stream, and an idle one took the wake-up of a receiver in `recv()`.
#[test]
fn an_idle_trait_stream_does_not_absorb_a_receivers_wake_up() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut stream = Box::pin(Consumer::stream(&rx));
    assert!(stream.next().now_or_never().is_none());
    let mut waiting = spawn(rx.recv());
    assert_pending!(waiting.poll());
    tx.try_send(1).unwrap();
    assert!(waiting.is_woken());
    assert_ready_eq!(waiting.poll(), Ok(1));
    tx.try_send(2).unwrap();
    assert_eq!(stream.next().now_or_never(), Some(Some(2)));
    drop(tx);
    assert_eq!(stream.next().now_or_never(), Some(None));
}

/// Defect: an idle stream's registration took the one wake-up a send gives, and the receiver
/// waiting in `recv` slept with the item in the queue.
#[test]
fn an_idle_stream_does_not_absorb_a_receivers_wake_up() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut stream = rx.clone();
    // Polled once, as the losing branch of a `select!`, then kept and never polled again.
    assert!(stream.next().now_or_never().is_none());
    let mut waiting = spawn(rx.recv());
    assert_pending!(waiting.poll());
    tx.try_send(1).unwrap();
    assert!(
        waiting.is_woken(),
        "the waiting receiver slept with an item queued"
    );
    assert_ready_eq!(waiting.poll(), Ok(1));
    drop(stream);
}

/// Defect: a sink whose `send` timed out kept its registration and swallowed the wake-up meant
/// for a sender waiting in `send`.
#[tokio::test(start_paused = true)]
async fn a_timed_out_sink_does_not_absorb_a_senders_wake_up() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut sink = tx.clone().into_sink();
    let timed_out = tokio::time::timeout(Duration::from_millis(1), sink.send(9)).await;
    assert!(timed_out.is_err());
    let mut waiting = spawn(tx.send(1));
    assert_pending!(waiting.poll());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(
        waiting.is_woken(),
        "the waiting sender slept with a slot free"
    );
    assert_ready_ok!(waiting.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    drop(sink);
}

#[test]
fn an_idle_stream_is_still_woken_when_polled_again() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut stream = spawn(rx);
    assert_pending!(stream.poll_next());
    tx.try_send(5).unwrap();
    assert!(stream.is_woken());
    assert_ready_eq!(stream.poll_next(), Some(5));
    drop(tx);
    assert_ready_eq!(stream.poll_next(), None);
}

/// `FusedStream`: ended only once the channel is closed, drained, and no permit is out that
/// could still send; then for good.
#[test]
fn a_receiver_stream_ends_for_good_only_when_closed_and_drained() {
    use futures_util::stream::FusedStream;
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut stream = spawn(rx);
    tx.try_send(1).unwrap();
    let permit = tx.try_reserve().unwrap();
    tx.close();
    assert!(!stream.is_terminated(), "an item is queued");
    assert_ready_eq!(stream.poll_next(), Some(1));
    assert!(!stream.is_terminated(), "a permit out can still send");
    assert_pending!(stream.poll_next());
    permit.send(2).unwrap();
    assert!(stream.is_woken());
    assert_ready_eq!(stream.poll_next(), Some(2));
    assert!(stream.is_terminated());
    assert_ready_eq!(stream.poll_next(), None);
    assert_ready_eq!(stream.poll_next(), None);
}

#[test]
fn an_item_goes_to_the_waiting_receiver_past_two_idle_streams() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut a = spawn(rx.clone());
    let mut b = spawn(rx.clone());
    assert_pending!(a.poll_next());
    assert_pending!(b.poll_next());
    let mut waiting = spawn(rx.recv());
    assert_pending!(waiting.poll());
    tx.try_send(1).unwrap();
    // Handed to the receive that waits: the idle streams have nothing to wake for.
    assert!(waiting.is_woken());
    assert!(!a.is_woken() && !b.is_woken());
    assert_ready_eq!(waiting.poll(), Ok(1));
    assert_pending!(a.poll_next());
    assert_pending!(b.poll_next());
}

// ## 3. Fairness between waiters and newcomers
//
// Parked sends, reservations and receives are served in arrival order, and a newcomer never
// takes a slot or an item a parked one is owed: a freed slot is granted to the first parked
// sender, an item sent is handed to the first parked receiver.

/// Defect: a parked sender was only woken when a slot freed, and a newcomer's `try_send` took
/// that slot first, every time (1,000 wake-ups, 0 slots won).
#[test]
fn a_parked_sender_gets_the_next_free_slot_against_a_stream_of_try_sends() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut parked = spawn(tx.send(1));
    assert_pending!(parked.poll());
    for round in 0..1_000 {
        assert!(tx.try_send(100).unwrap_err().is_full(), "round {round}");
    }
    assert_eq!(rx.try_recv(), Ok(0));
    // Granted to the parked send, not to the newcomer that asks before it runs.
    assert!(parked.is_woken());
    assert!(tx.try_send(100).unwrap_err().is_full());
    assert!(matches!(tx.try_reserve(), Err(TryReserveError::Full)));
    assert_ready_ok!(parked.poll());
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn parked_senders_are_served_in_arrival_order() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    let mut senders: Vec<_> = (2..5).map(|i| spawn(tx.send(i))).collect();
    for sender in &mut senders {
        assert_pending!(sender.poll());
    }
    assert_eq!(rx.try_recv(), Ok(0));
    let woken: Vec<bool> = senders.iter().map(|s| s.is_woken()).collect();
    assert_eq!(woken, [true, false, false]);
    assert_eq!(rx.try_recv(), Ok(1));
    let woken: Vec<bool> = senders.iter().map(|s| s.is_woken()).collect();
    assert_eq!(woken, [true, true, false]);
    // The later one polled first still goes in second.
    assert_ready_ok!(senders[1].poll());
    assert_ready_ok!(senders[0].poll());
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_new_reservation_waits_while_an_earlier_one_does() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut first = spawn(tx.reserve());
    assert_pending!(first.poll());
    assert_eq!(rx.try_recv(), Ok(0));
    let mut second = spawn(tx.reserve());
    assert_pending!(second.poll());
    assert!(first.is_woken());
    let permit = assert_ready_ok!(first.poll());
    permit.send(1).unwrap();
    drop(first);
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(second.is_woken());
    assert_ready_ok!(second.poll()).send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_cancelled_reservation_passes_its_grant_on() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut first = spawn(tx.reserve());
    let mut second = spawn(tx.send(2));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(first.is_woken() && !second.is_woken());
    drop(first);
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn parked_receivers_are_served_in_arrival_order_before_newcomers() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut receivers: Vec<_> = (0..3).map(|_| spawn(rx.recv())).collect();
    for receiver in &mut receivers {
        assert_pending!(receiver.poll());
    }
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    // Handed over: nothing is left in the queue for a newcomer, though both are still in the
    // channel until their receives take them.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.len(), 2);
    let woken: Vec<bool> = receivers.iter().map(|r| r.is_woken()).collect();
    assert_eq!(woken, [true, true, false]);
    assert_ready_eq!(receivers[1].poll(), Ok(2));
    assert_ready_eq!(receivers[0].poll(), Ok(1));
    assert_pending!(receivers[2].poll());
}

/// A receive cancelled after it was handed its item gives the item to the next parked receive,
/// or back to the head of the queue, where `len() <= capacity` still holds.
#[test]
fn a_cancelled_receive_puts_its_item_back_first_in_line() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.try_send(1).unwrap();
    drop(first);
    assert!(second.is_woken());
    assert_ready_eq!(second.poll(), Ok(1));
    let mut third = spawn(rx.recv());
    assert_pending!(third.poll());
    tx.try_send(2).unwrap();
    tx.try_send(3).unwrap();
    assert_eq!(rx.len(), 2);
    drop(third);
    assert_eq!(rx.len(), 2);
    assert!(tx.try_send(4).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
}

/// `force_send` is drop-oldest as one step of the channel: the oldest item makes room, the
/// bound holds, and it never takes a slot a parked sender is owed.
#[test]
fn force_send_displaces_the_oldest_and_keeps_the_bound() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    assert_eq!(tx.force_send(1), Ok(None));
    assert_eq!(tx.force_send(2), Ok(None));
    assert_eq!(tx.force_send(3), Ok(Some(1)));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    // Every slot held by a permit: nothing to displace.
    let permits = [tx.try_reserve().unwrap(), tx.try_reserve().unwrap()];
    assert!(tx.force_send(4).unwrap_err().is_full());
    drop(permits);
    assert_eq!(tx.force_send(5), Ok(None));
    tx.close();
    assert!(tx.force_send(6).unwrap_err().is_closed());
    assert_eq!(rx.try_recv(), Ok(5));
}

#[test]
fn force_send_displaces_an_item_handed_to_a_receive_that_has_not_run() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1).unwrap();
    assert_eq!(tx.force_send(2), Ok(Some(1)));
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok(2));
    assert_eq!(rx.len(), 0);
}

#[test]
fn force_send_leaves_a_parked_sender_its_turn() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    let mut parked = spawn(tx.send(2));
    assert_pending!(parked.poll());
    assert_eq!(tx.force_send(3), Ok(Some(1)));
    assert!(!parked.is_woken());
    assert_eq!(rx.try_recv(), Ok(3));
    assert!(parked.is_woken());
    assert_ready_ok!(parked.poll());
    assert_eq!(rx.try_recv(), Ok(2));
}

/// Taking from the tail, or a run from the head, frees slots as a receive does: the first
/// parked sender gets them, in order, and a newcomer does not.
#[test]
fn newest_first_and_runs_from_the_head_serve_parked_senders_in_order() {
    let (tx, rx) = channel::bounded::<u32>(3).unwrap();
    for n in 0..3 {
        tx.try_send(n).unwrap();
    }
    let mut first = spawn(tx.send(10));
    let mut second = spawn(tx.send(11));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv_newest(), Ok(2));
    assert!(first.is_woken() && !second.is_woken());
    assert!(tx.try_send(100).unwrap_err().is_full(), "the slot is owed");
    assert_ready_ok!(first.poll());
    let mut run = Vec::new();
    assert_eq!(rx.try_recv_while(&mut run, |n| *n < 10), 2);
    assert_eq!(run, [0, 1]);
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv_newest(), Ok(11));
    assert_eq!(rx.try_recv_while(&mut run, |_| false), 0);
    assert_eq!(rx.len(), 1);
    drop((first, second));
    drop(tx);
    assert_eq!(rx.try_recv_newest(), Ok(10));
    assert_eq!(rx.try_recv_newest(), Err(TryRecvError::Closed));
    assert_eq!(rx.try_recv_while(&mut run, |_| true), 0);
}

// ## 4. Extreme durations

/// Defect: `Instant::now() + linger` panicked for `Duration::MAX`.
#[tokio::test(start_paused = true)]
async fn recv_batch_with_an_unbounded_linger_waits_for_max_items() {
    within_paused(async {
        let (tx, rx) = channel::bounded::<u32>(4).unwrap();
        let producer = tokio::spawn(async move {
            for i in 0..3 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                tx.send(i).await.unwrap();
            }
        });
        let mut buf = Vec::new();
        assert_eq!(rx.recv_batch(&mut buf, 3, Duration::MAX).await, 3);
        assert_eq!(buf, [0, 1, 2]);
        producer.await.unwrap();
        // With the senders gone, an unbounded linger ends at the close.
        assert_eq!(rx.recv_batch(&mut buf, 3, Duration::MAX).await, 0);
    })
    .await;
}

/// The same through the trait's provided `recv_batch`, over a consumer that does not
/// override it.
#[tokio::test(start_paused = true)]
async fn the_default_recv_batch_takes_an_unbounded_linger() {
    within_paused(async {
        let (tx, rx) = async_channel::bounded::<u32>(4);
        let producer = tokio::spawn(async move {
            for i in 0..2 {
                tokio::time::sleep(Duration::from_secs(60)).await;
                tx.send(i).await.unwrap();
            }
        });
        let mut buf = Vec::new();
        assert_eq!(
            Consumer::recv_batch(&rx, &mut buf, 2, Duration::MAX).await,
            Ok(2)
        );
        assert_eq!(buf, [0, 1]);
        producer.await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn zero_and_max_timeouts_on_every_timed_call() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    // Zero: one look, no wait.
    assert!(
        rx.recv_timeout(Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    tx.send_timeout(1, Duration::ZERO).await.unwrap();
    assert!(
        tx.send_timeout(2, Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(rx.recv_timeout(Duration::MAX).await, Ok(1));
    tx.send_timeout(3, Duration::MAX).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(rx.recv_batch(&mut buf, 4, Duration::ZERO).await, 1);
    // Max: waits as long as it takes, here for a send an hour away.
    let later = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        later.send(4).await.unwrap();
    });
    assert_eq!(rx.recv_timeout(Duration::MAX).await, Ok(4));
    // Through async-channel's halves too (the interop `send_timeout` polls with a deadline).
    let (atx, arx) = async_channel::bounded::<u32>(1);
    Producer::send_timeout(&atx, 1, Duration::MAX)
        .await
        .unwrap();
    assert_eq!(
        Producer::send_timeout(&atx, 2, Duration::ZERO)
            .await
            .unwrap_err()
            .kind(),
        pc_core::ProduceErrorKind::TimedOut
    );
    assert_eq!(arx.recv().await, Ok(1));
}

// ## 5. Extreme numbers

/// Defect: `recv_batch` with `max == 0` panicked; like tokio's `recv_many`, it takes nothing.
#[tokio::test(start_paused = true)]
async fn recv_batch_of_zero_returns_zero_at_once() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    tx.try_send(1).unwrap();
    let mut buf = Vec::new();
    assert_eq!(rx.recv_batch(&mut buf, 0, Duration::MAX).await, 0);
    assert_eq!(
        Consumer::recv_batch(&rx, &mut buf, 0, Duration::MAX).await,
        Ok(0)
    );
    let (_atx, arx) = async_channel::bounded::<u32>(1);
    assert_eq!(
        Consumer::recv_batch(&arx, &mut buf, 0, Duration::MAX).await,
        Ok(0)
    );
    assert!(buf.is_empty());
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn capacities_at_the_limits() {
    assert!(channel::bounded::<u32>(0).is_err());
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    assert!(tx.try_send(2).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok(1));
    let (tx, rx) = channel::unbounded::<u32>();
    tx.try_send(1).unwrap();
    assert_eq!(rx.capacity(), None);
}

/// Listed: `channel::bounded(usize::MAX)` panicked with "capacity overflow", as the queue's
/// slots were allocated up front. A capacity past 65,536 now reserves nothing and keeps its
/// bound with the slot count: exactly `capacity` items fit, the next is `Full`.
#[test]
fn capacities_past_what_is_allocated_up_front_keep_their_bound() {
    let (tx, rx) = channel::bounded::<u64>(usize::MAX).unwrap();
    assert_eq!(rx.capacity(), Some(usize::MAX));
    for i in 0..1_000 {
        tx.try_send(i).unwrap();
    }
    let permit = tx.try_reserve().unwrap();
    permit.send(1_000).unwrap();
    assert_eq!(rx.len(), 1_001);
    assert_eq!(rx.try_recv(), Ok(0));

    let capacity = (1 << 16) + 3;
    let (tx, rx) = channel::bounded::<u32>(capacity).unwrap();
    for i in 0..capacity {
        tx.try_send(i as u32).unwrap();
    }
    assert!(tx.try_send(0).unwrap_err().is_full());
    assert!(tx.try_reserve().is_err());
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(7).unwrap();
    assert!(tx.try_send(8).unwrap_err().is_full());
    assert_eq!(rx.len(), capacity);
}

// ## 6. User code that panics

/// An item whose `Drop` panics the first time it runs.
struct PanicsOnDrop(Counted, bool);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.1 {
            panic!("drop of item {}", self.0.id);
        }
    }
}

/// Defect: a panicking `Drop` leaked the items queued behind it.
#[test]
fn a_panicking_drop_does_not_leak_the_items_behind_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded::<PanicsOnDrop>(4).unwrap();
    tx.try_send(PanicsOnDrop(Counted::new(0, &drops), true))
        .unwrap();
    for id in 1..4 {
        tx.try_send(PanicsOnDrop(Counted::new(id, &drops), false))
            .unwrap();
    }
    drop(tx);
    let unwound = catch_unwind(AssertUnwindSafe(move || drop(rx)));
    assert!(unwound.is_err());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        4,
        "every item dropped, the panicking one too"
    );
}

#[test]
fn a_panicking_drop_in_the_last_sender_drop_does_not_leak_either() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::unbounded::<PanicsOnDrop>();
    tx.try_send(PanicsOnDrop(Counted::new(0, &drops), false))
        .unwrap();
    tx.try_send(PanicsOnDrop(Counted::new(1, &drops), true))
        .unwrap();
    tx.try_send(PanicsOnDrop(Counted::new(2, &drops), false))
        .unwrap();
    assert_eq!(rx.try_recv().map(|item| item.0.id).ok(), Some(0));
    let rx2 = rx.clone();
    drop(rx);
    // The queue is dropped with the last handle of all, here a receiver.
    drop(tx);
    assert!(catch_unwind(AssertUnwindSafe(move || drop(rx2))).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// Defect: handles were not `UnwindSafe` (the shared `dyn Probe`); checked at compile time in
/// `auto_traits.rs`, and here across a real `catch_unwind` with a probe attached.
#[test]
fn handles_cross_catch_unwind_with_a_probe() {
    let probe = Arc::new(RecordingProbe::default());
    let (tx, rx) = channel::Builder::bounded(2)
        .probe(probe)
        .build::<u32>()
        .unwrap();
    let result = catch_unwind(|| {
        tx.try_send(1).unwrap();
        panic!("user code");
    });
    assert!(result.is_err());
    assert_eq!(catch_unwind(|| rx.try_recv()).unwrap(), Ok(1));
}

/// Walk: reserving `usize::MAX` slots of an unbounded channel added them to the count of
/// granted slots, and the next reservation overflowed it. An unbounded channel's free slots are
/// what that count leaves.
#[test]
fn reserving_every_slot_of_an_unbounded_channel_overflows_nothing() {
    let (tx, rx) = channel::unbounded::<u32>();
    let all = tx.try_reserve_many(usize::MAX).unwrap();
    assert_eq!(all.len(), usize::MAX);
    assert!(matches!(tx.try_reserve(), Err(TryReserveError::Full)));
    assert!(tx.try_send(1).unwrap_err().is_full());
    drop(all);
    tx.try_send(1).unwrap();
    assert_eq!(tx.force_send(2), Ok(None));
    assert_eq!(rx.len(), 2);
}

/// A predicate of `try_recv_while` that panics leaves the item it looked at at the head, the
/// items it accepted before taken, their slots granted to the parked sender, and the channel
/// usable.
#[test]
fn a_run_predicate_that_panics_leaves_the_channel_in_order() {
    let (tx, rx) = channel::bounded::<u32>(3).unwrap();
    for n in 0..3 {
        tx.try_send(n).unwrap();
    }
    let mut parked = spawn(tx.send(3));
    assert_pending!(parked.poll());
    let mut run = Vec::new();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        rx.try_recv_while(&mut run, |n| {
            assert!(*n != 1, "refuses to look at {n}");
            true
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(run, [0]);
    assert!(
        parked.is_woken(),
        "the slot taken went to the parked sender"
    );
    assert_ready_ok!(parked.poll());
    assert_eq!(rx.counts().map(|c| (c.sent, c.received)), Some((4, 1)));
    assert_eq!(
        std::iter::from_fn(|| rx.try_recv().ok()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

// ## 7. Shutdown in every state

/// The owner of a block's tasks: waits of any number, cancelled or not, end when the last
/// task ends, and nothing is counted by hand.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_task_group_is_stopped_when_its_last_task_ends() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = alive();
    let tasks = TaskGroup::new(tokio::runtime::Handle::current());
    tasks.wait().await;
    for secs in [1, 3] {
        tasks.spawn(tokio::time::sleep(Duration::from_secs(secs)));
    }
    assert_eq!(tasks.len(), 2);
    {
        let mut cancelled = spawn(tasks.wait());
        assert_pending!(cancelled.poll());
    }
    let start = tokio::time::Instant::now();
    tokio::join!(tasks.wait(), tasks.wait());
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(tasks.is_empty());
    assert_eq!(alive(), before);
}

/// A task that panics ends, counted off like any other, and its panic is kept for the block
/// to re-raise, once: never a silent end.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_task_group_keeps_a_panic_for_the_block_to_raise() {
    let tasks = TaskGroup::new(tokio::runtime::Handle::current());
    tasks.spawn(async { panic!("a task of the block broke") });
    tasks.spawn(async {});
    tasks.wait().await;
    let raised = catch_unwind(AssertUnwindSafe(|| tasks.raise_panic())).unwrap_err();
    assert_eq!(
        raised.downcast_ref::<&str>(),
        Some(&"a task of the block broke")
    );
    assert!(tasks.take_panic().is_none(), "raised once");
}

/// A hold keeps the group from looking empty while a block is about to spawn.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_held_task_group_is_not_empty() {
    let tasks = TaskGroup::new(tokio::runtime::Handle::current());
    let hold = tasks.hold();
    let mut wait = spawn(tasks.wait());
    assert_pending!(wait.poll());
    tasks.spawn(async {});
    drop(hold);
    assert_pending!(
        wait.poll(),
        "the task spawned under the hold has not run yet"
    );
    tokio::task::yield_now().await;
    assert!(wait.is_woken());
    assert_ready!(wait.poll());
    let hold = tasks.hold();
    let mut wait = spawn(tasks.wait());
    assert_pending!(wait.poll());
    drop(hold);
    assert!(wait.is_woken());
    assert_ready!(wait.poll());
}

/// Defect: items queued when the last receiver went stayed alive until the last sender went,
/// while the probe was told they were dropped.
#[test]
fn the_last_receiver_drops_what_is_queued_at_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Arc::new(RecordingProbe::default());
    let (tx, rx) = channel::Builder::bounded(4)
        .probe(probe.clone())
        .build::<Counted>()
        .unwrap();
    for id in 0..3 {
        tx.try_send(Counted::new(id, &drops)).unwrap();
    }
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "dropped with the last receiver"
    );
    assert_eq!(*probe.dropped.lock().unwrap(), [(3, DropReason::Closed)]);
    let back = tx.try_send(Counted::new(9, &drops)).unwrap_err();
    assert!(back.is_closed());
    drop(back);
    assert_eq!(tx.len(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn close_wakes_every_parked_waiter_and_idle_handle() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut send = spawn(tx.send(1));
    let mut reserve = spawn(tx.reserve());
    assert_pending!(send.poll());
    assert_pending!(reserve.poll());
    let (etx, erx) = channel::bounded::<u32>(1).unwrap();
    let mut recv = spawn(erx.recv());
    let mut stream = spawn(erx.clone());
    assert_pending!(recv.poll());
    assert_pending!(stream.poll_next());
    assert!(tx.close());
    assert!(etx.close());
    assert!(send.is_woken() && reserve.is_woken() && recv.is_woken() && stream.is_woken());
    assert!(assert_ready!(send.poll()).is_err());
    assert!(assert_ready!(reserve.poll()).is_err());
    assert_ready_eq!(recv.poll(), Err(RecvError));
    assert_ready_eq!(stream.poll_next(), None);
    assert_eq!(rx.try_recv(), Ok(0));
}

// ## 9. Weak memory: tested in src/channel/tests/loom_channel.rs (loom models, run by
// `cargo xtask ci`).

/// A thread blocked in `send_blocking` or `recv_blocking` wakes when the channel ends under
/// it: the last receiver gone hands the item back, the last sender gone ends the receive.
#[test]
fn blocking_calls_end_when_the_other_side_goes() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        tx.send_blocking(1)
    });
    started_rx.recv().unwrap();
    // Real time, bounded: the sender parks (or is about to) on the full channel.
    while rx.waiting_senders() == 0 {
        std::thread::yield_now();
    }
    drop(rx);
    assert_eq!(sender.join().unwrap().unwrap_err().into_inner(), 1);

    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let receiver = std::thread::spawn(move || rx.recv_blocking());
    while tx.waiting_receivers() == 0 {
        std::thread::yield_now();
    }
    drop(tx);
    assert_eq!(receiver.join().unwrap(), Err(RecvError));
}

// ## 8. Bounded memory: tested in `capacities_past_what_is_allocated_up_front_keep_their_bound`
// above (exactly `capacity` items fit); the channel keeps no buffer beyond its queue.

// ## 10. Promises across composition: tested in the facade's tests/edges.rs (one contract over
// every producer and consumer, this channel among them).

// ## 11. Hidden order assumptions: tested in tests/mpmc.rs and tests/model.rs (FIFO per
// producer, every item once, under 4 x 4 tasks and random operation sequences).

// ## 12. Errors and probes that tell the truth: errors are tested in tests/errors.rs (`Full`,
// `Timeout` and `Closed` each where they belong, the item handed back); the channel's counts
// against its probe in the facade's tests/contract.rs, after every step of random sequences.

// ## The randomized contract test: this channel, bounded and unbounded, runs in the facade's
// tests/contract.rs (`pc_core_bounded_channel`, `pc_core_unbounded_channel`), its counts
// checked against its probe after every step.
