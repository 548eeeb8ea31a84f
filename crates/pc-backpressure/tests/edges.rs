//! The bounded queue and the adaptive pacer at each edge of the checklist (`shared/EDGES.md`),
//! one section per edge.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pc_backpressure::{
    AdaptiveProducer, AdaptiveRate, BoundedQueue, OfferError, Overflow, Pressure, Receiver,
};
use pc_core::{DropReason, Probe, ProduceError, ProduceErrorKind, Producer, channel};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

/// A trait send's outcome as its error's kind and item.
fn parts<T>(sent: Result<(), ProduceError<T>>) -> Result<(), (ProduceErrorKind, T)> {
    sent.map_err(ProduceError::into_parts)
}

/// A pacer held at one send per second.
fn one_per_second() -> Arc<AdaptiveRate> {
    let rate = AdaptiveRate::builder().initial(1.0).min(1.0).max(1.0);
    Arc::new(rate.build().unwrap())
}

/// A queue of 100 items weighing at most 10, each item weighing its own value.
fn weighed(overflow: Overflow) -> (pc_backpressure::Sender<u64>, Receiver<u64>) {
    BoundedQueue::builder(100)
        .max_weight(10, |&item: &u64| item)
        .overflow(overflow)
        .build()
        .unwrap()
}

// ## 1. Cancellation at every await point

#[tokio::test(start_paused = true)]
async fn a_blocked_send_cancelled_queues_nothing() {
    let (tx, rx) = BoundedQueue::builder(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    tx.send(1).await.unwrap();
    {
        let mut blocked = spawn(tx.send(2));
        assert_pending!(blocked.poll());
    }
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(rx.try_recv().is_err());
    assert_eq!(tx.stats().dropped_incoming, 0);
}

/// A send waiting for weight under `BlockFor`, cancelled mid-wait: nothing queued, the weight
/// it was given meanwhile passes on, and the queue's count of waiting senders drops.
#[tokio::test(start_paused = true)]
async fn a_send_waiting_for_weight_cancelled_holds_nothing() {
    let (tx, rx) = weighed(Overflow::BlockFor(Duration::from_secs(60)));
    tx.try_send(7).unwrap();
    {
        let mut waiting = spawn(tx.send(6));
        assert_pending!(waiting.poll());
        assert_eq!(tx.stats().waiting_producers, 1);
    }
    assert_eq!(tx.stats().waiting_producers, 0);
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(tx.weight(), 0);
    tx.try_send(10).unwrap();
    assert_eq!((tx.len(), tx.weight()), (1, 10));
}

// ## 2. The abandoned registration: a pressure watch that is never read again holds nothing.

#[tokio::test(start_paused = true)]
async fn an_unread_pressure_watch_does_not_hold_the_queue() {
    let (tx, rx) = BoundedQueue::builder(4)
        .watermarks(0.5, 0.25)
        .build()
        .unwrap();
    let _idle = tx.subscribe();
    let mut watching = rx.subscribe();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    watching.changed().await.unwrap();
    assert_eq!(*watching.borrow(), Pressure::High);
}

/// Listed: the receiver's `Consumer::stream` was an `unfold` over `recv()`, so a stream polled
/// once and kept took the wake-up of the next item, and a receiver waiting in `recv()` hung.
/// The stream is now the channel's wake-only one, and still counts what it hands out.
#[tokio::test(start_paused = true)]
async fn an_idle_stream_keeps_no_wake_up_from_a_waiting_receive() {
    use futures_util::StreamExt;
    let (tx, rx) = BoundedQueue::builder(4).build().unwrap();
    let mut idle = Box::pin(pc_core::Consumer::stream(&rx));
    {
        let mut next = spawn(idle.next());
        assert_pending!(next.poll());
    }
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok(1));
    tx.try_send(2).unwrap();
    assert_eq!(idle.next().await, Some(2));
    assert_eq!(
        rx.stats().consumed,
        2,
        "the stream's item is counted as received"
    );
}

/// The receiver itself is a `Stream` (and `FusedStream`), on the channel's watching stream:
/// polled once and left, it keeps no wake-up from a receive that waits; what it hands out is
/// counted; it ends, for good, once the queue is closed and drained.
#[tokio::test(start_paused = true)]
async fn a_receiver_polled_as_a_stream_and_left_keeps_no_wake_up() {
    use futures_util::StreamExt;
    use futures_util::stream::FusedStream;
    let (tx, rx) = BoundedQueue::builder(4).build().unwrap();
    let mut idle = rx.clone();
    {
        let mut next = spawn(idle.next());
        assert_pending!(next.poll());
    }
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1).unwrap();
    assert!(
        recv.is_woken(),
        "the waiting receive slept with an item queued"
    );
    assert_ready_eq!(recv.poll(), Ok(1));
    tx.try_send(2).unwrap();
    assert_eq!(idle.next().await, Some(2));
    assert_eq!(rx.stats().consumed, 2, "the stream's item is counted");
    assert!(!idle.is_terminated());
    tx.try_send(3).unwrap();
    tx.close();
    assert!(!idle.is_terminated(), "an item is still queued");
    assert_eq!(idle.next().await, Some(3));
    assert_eq!(idle.next().await, None);
    assert!(idle.is_terminated());
    assert_eq!(idle.next().await, None);
}

// ## 7. Shutdown, and the pressure promise under races

/// A probe that drains the queue from inside the sender's depth report: the sender then holds
/// a depth that was true a moment ago, and the queue is empty.
#[derive(Debug, Default)]
struct DrainOnDepth {
    at: usize,
    rx: OnceLock<Receiver<u32>>,
    busy: AtomicBool,
    drained: AtomicUsize,
}

impl Probe for DrainOnDepth {
    fn depth(&self, depth: usize) {
        if depth != self.at || self.busy.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(rx) = self.rx.get() {
            while rx.try_recv().is_ok() {
                self.drained.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Defect: the sender read the depth, a receiver drained the queue to 0 without looking at
/// the pressure (still `Normal`), then the stale depth set it to `High`, where it stuck with
/// the queue empty: producers waiting for `Normal` waited forever.
#[tokio::test(start_paused = true)]
async fn a_stale_depth_cannot_leave_the_pressure_high_on_an_empty_queue() {
    let probe = Arc::new(DrainOnDepth {
        at: 8,
        ..DrainOnDepth::default()
    });
    let (tx, rx) = BoundedQueue::builder(10)
        .watermarks(0.8, 0.2)
        .probe(probe.clone())
        .build()
        .unwrap();
    probe.rx.set(rx.clone()).unwrap();
    for i in 0..8 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(probe.drained.load(Ordering::SeqCst), 8);
    assert_eq!(tx.len(), 0);
    assert_eq!(tx.pressure(), Pressure::Normal, "high on an empty queue");
    assert_eq!(*rx.subscribe().borrow(), Pressure::Normal);
}

#[tokio::test(start_paused = true)]
async fn the_last_receiver_drops_what_is_queued_through_the_hook() {
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(4)
        .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
        .build()
        .unwrap();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    drop(rx);
    assert_eq!(
        *dropped.lock().unwrap(),
        [(1, DropReason::Closed), (2, DropReason::Closed)]
    );
    assert!(tx.try_send(3).unwrap_err().is_closed());
}

/// The last receiver goes while a send waits for weight: the wait ends `Closed`, with the item.
#[tokio::test(start_paused = true)]
async fn the_last_receiver_going_ends_a_wait_for_weight() {
    let (tx, rx) = weighed(Overflow::Block);
    tx.try_send(10).unwrap();
    let mut waiting = spawn(tx.send(4));
    assert_pending!(waiting.poll());
    drop(rx);
    assert!(waiting.is_woken());
    assert!(matches!(
        assert_ready!(waiting.poll()),
        Err(OfferError::Closed(4))
    ));
    assert_eq!((tx.weight(), tx.stats().dropped_closed), (0, 1));
}

// ## 3. Fairness: a blocked producer is woken for the space a receive frees.

#[tokio::test(start_paused = true)]
async fn a_blocked_producer_gets_the_freed_slot() {
    let (tx, rx) = BoundedQueue::builder(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    tx.try_send(1).unwrap();
    let mut blocked = spawn(tx.send(2));
    assert_pending!(blocked.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(blocked.is_woken());
    assert_ready_eq!(blocked.poll().map(|r| r.is_ok()), true);
    assert_eq!(rx.try_recv(), Ok(2));
}

/// A heavy send waiting for weight against a stream of light `try_send`s that would each fit:
/// none of them takes the weight it waits for, and it goes in once the queue drains.
#[tokio::test(start_paused = true)]
async fn a_send_waiting_for_weight_is_not_overtaken() {
    let (tx, rx) = weighed(Overflow::Block);
    tx.try_send(6).unwrap();
    let mut heavy = spawn(tx.send(8));
    assert_pending!(heavy.poll());
    for _ in 0..100 {
        assert!(tx.try_send(1).unwrap_err().is_full());
    }
    assert_eq!(rx.try_recv(), Ok(6));
    assert!(heavy.is_woken());
    assert_ready_eq!(heavy.poll().map(|sent| sent.is_ok()), true);
    assert_eq!((rx.try_recv(), tx.weight()), (Ok(8), 0));
}

// ## 4. Extreme durations

#[tokio::test(start_paused = true)]
async fn block_for_zero_and_max() {
    let (tx, rx) = BoundedQueue::builder(1)
        .overflow(Overflow::BlockFor(Duration::ZERO))
        .build()
        .unwrap();
    tx.send(1).await.unwrap();
    assert!(tx.send(2).await.is_err(), "zero: one look, no wait");
    let (tx_max, rx_max) = BoundedQueue::builder(1)
        .overflow(Overflow::BlockFor(Duration::MAX))
        .build()
        .unwrap();
    tx_max.send(1).await.unwrap();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        (rx_max.try_recv(), rx_max)
    });
    tx_max.send(2).await.unwrap();
    let (first, rx_max) = later.await.unwrap();
    assert_eq!(first, Ok(1));
    assert_eq!(rx_max.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[tokio::test(start_paused = true)]
async fn adaptive_send_timeout_takes_zero_and_max() {
    let rate = one_per_second();
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let paced = AdaptiveProducer::new(tx, rate, || 0.5);
    paced.send_timeout(1, Duration::ZERO).await.unwrap();
    assert_eq!(
        paced
            .send_timeout(2, Duration::ZERO)
            .await
            .unwrap_err()
            .kind(),
        ProduceErrorKind::TimedOut
    );
    paced.send_timeout(3, Duration::MAX).await.unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(3));
}

/// Waiting for weight: `BlockFor(ZERO)` is one look; `BlockFor(MAX)` waits as long as it
/// takes (the timer clamps it, no overflow).
#[tokio::test(start_paused = true)]
async fn block_for_zero_and_max_waiting_for_weight() {
    let (tx, _rx) = weighed(Overflow::BlockFor(Duration::ZERO));
    tx.send(10).await.unwrap();
    let start = tokio::time::Instant::now();
    assert!(matches!(tx.send(1).await, Err(OfferError::TimedOut(1))));
    assert_eq!(start.elapsed(), Duration::ZERO);

    let (tx, rx) = weighed(Overflow::BlockFor(Duration::MAX));
    tx.send(10).await.unwrap();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        (rx.try_recv(), rx)
    });
    tx.send(5).await.unwrap();
    let (first, rx) = later.await.unwrap();
    assert_eq!(first, Ok(10));
    assert_eq!((rx.try_recv(), rx.weight()), (Ok(5), 0));
}

// ## 5. Extreme numbers

/// Walk: a queue of `usize::MAX` (the channel below reserves nothing up front at that size)
/// takes items and keeps its watermarks' arithmetic in range.
#[test]
fn a_capacity_of_usize_max_works() {
    let (tx, rx) = BoundedQueue::builder(usize::MAX)
        .watermarks(0.9, 0.1)
        .build()
        .unwrap();
    for i in 0..1_000u32 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(rx.len(), 1_000);
    assert_eq!(tx.pressure(), Pressure::Normal);
    assert_eq!(rx.try_recv(), Ok(0));
}

#[tokio::test(start_paused = true)]
async fn a_rate_too_slow_for_a_duration_paces_without_panicking() {
    let rate = AdaptiveRate::builder()
        .initial(1e-300)
        .min(1e-300)
        .max(1.0)
        .build()
        .unwrap();
    rate.pace(0.5).await;
    let mut next = spawn(rate.pace(0.5));
    assert_pending!(next.poll());
}

/// Listed: at 7e8 sends/s the pacer's interval was truncated to 1 ns, so 1,000 sends went
/// through in 999 ns. Intervals are now rounded up with the remainder carried: by every
/// instant `t`, at most `1 + t x rate` sends have gone (700 by 999 ns), and never more than
/// one fewer.
#[tokio::test(start_paused = true)]
async fn a_fractional_interval_never_paces_faster_than_the_rate() {
    let rate = 7e8;
    let pacer = AdaptiveRate::builder()
        .initial(rate)
        .min(rate)
        .max(rate)
        .build()
        .unwrap();
    let (tx, rx) = channel::unbounded::<u32>();
    let paced = AdaptiveProducer::new(tx, Arc::new(pacer), || 0.5);
    let mut sent = 0u64;
    for t in 0..=1_428u64 {
        while paced.try_send(0).is_ok() {
            sent += 1;
        }
        let allowed = 1.0 + t as f64 * rate / 1e9;
        assert!(sent as f64 <= allowed, "{sent} sends by {t} ns");
        assert!(sent as f64 > allowed - 2.0, "{sent} sends by {t} ns");
        if t == 999 {
            assert_eq!(sent, 700);
        }
        tokio::time::advance(Duration::from_nanos(1)).await;
    }
    assert_eq!(
        sent, 1_000,
        "the thousandth send at 1,428 ns, as 999 x 1.4286 rounds up"
    );
    assert_eq!(rx.len(), 1_000);
}

/// The largest bound, a weigher saying `u64::MAX` (charged the bound: alone) and one saying 0
/// (only the count bounds it).
#[test]
fn weights_at_their_extremes() {
    let (tx, rx) = BoundedQueue::builder(4)
        .max_weight(u64::from(u32::MAX), |&item: &u64| item)
        .overflow(Overflow::Reject)
        .build()
        .unwrap();
    tx.try_send(u64::from(u32::MAX) - 1).unwrap();
    tx.try_send(1).unwrap();
    assert!(tx.try_send(1).unwrap_err().is_full());
    assert_eq!(tx.weight(), u64::from(u32::MAX));
    assert_eq!(rx.try_recv(), Ok(u64::from(u32::MAX) - 1));
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(u64::MAX).unwrap();
    assert_eq!(tx.weight(), u64::from(u32::MAX), "charged the whole bound");
    assert!(tx.try_send(0).is_ok(), "weightless, it fits beside it");
    assert!(tx.try_send(1).unwrap_err().is_full());
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(u64::MAX), Ok(0)));
    assert_eq!(rx.weight(), 0);
}

// ## 9. Weak memory and check-then-act: the pacer decides under one lock

/// Defect 19, first half: `try_send` checked the pacing and took the slot under two separate
/// locks, so a caller between the two (here, the occupancy read, re-entered) passed as well:
/// two sends in one slot.
#[tokio::test(start_paused = true)]
async fn two_try_sends_cannot_share_one_slot() {
    type Paced = AdaptiveProducer<channel::Sender<u32>>;
    let rate = one_per_second();
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let me: Arc<OnceLock<std::sync::Weak<Paced>>> = Arc::default();
    let inner_result = Arc::new(Mutex::new(None));
    let paced = Arc::new(AdaptiveProducer::new(tx, rate, {
        let (me, inner_result) = (Arc::clone(&me), Arc::clone(&inner_result));
        let entered = AtomicBool::new(false);
        move || {
            if !entered.swap(true, Ordering::SeqCst)
                && let Some(paced) = me.get().and_then(std::sync::Weak::upgrade)
            {
                *inner_result.lock().unwrap() = Some(paced.try_send(2).is_ok());
            }
            0.5
        }
    }));
    me.set(Arc::downgrade(&paced)).unwrap();
    let outer = paced.try_send(1).is_ok();
    let inner = inner_result.lock().unwrap().unwrap();
    assert_eq!((outer as u8) + (inner as u8), 1, "one slot, one send");
    assert_eq!(rx.len(), 1);
}

/// Defect 19, second half: a slot taken for an item the inner producer refused was spent.
#[tokio::test(start_paused = true)]
async fn a_refused_try_send_gives_its_slot_back() {
    let rate = one_per_second();
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let paced = AdaptiveProducer::new(tx, rate, || 0.5);
    assert_eq!(
        paced.try_send(1).unwrap_err().kind(),
        ProduceErrorKind::Full,
        "the channel is full"
    );
    assert_eq!(rx.try_recv(), Ok(0));
    paced.try_send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(
        paced.try_send(3).unwrap_err().kind(),
        ProduceErrorKind::OverLimit,
        "now paced: the next slot is in 1 s"
    );
}

// ## 6. User code that panics
//
// The drop hook is the queue's one callback (tests/policies.rs shows it sees every discarded
// item once). A hook that panics panics the call that discarded, once the queue is in order.

/// A queue whose drop hook records what it sees and panics on 2.
fn queue_with_a_touchy_hook(
    capacity: usize,
    overflow: Overflow,
) -> (
    pc_backpressure::Sender<u64>,
    Receiver<u64>,
    Arc<Mutex<Vec<u64>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&seen);
    let (tx, rx) = BoundedQueue::builder(capacity)
        .overflow(overflow)
        .on_drop(move |item: u64, _| {
            hook.lock().unwrap().push(item);
            assert!(item != 2, "the hook cannot take 2");
        })
        .build()
        .unwrap();
    (tx, rx, seen)
}

/// Walk: the last receiver's drop handed queued items to the hook until one panicked there;
/// the items after it were dropped unseen and uncounted. Now every item reaches the hook and
/// is counted, then the panic goes on.
#[test]
fn a_panicking_hook_at_the_last_receiver_still_sees_every_item() {
    let (tx, rx, seen) = queue_with_a_touchy_hook(8, Overflow::Block);
    for item in 1..=4 {
        tx.try_send(item).unwrap();
    }
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rx)));
    assert!(dropped.is_err(), "the hook's panic goes on");
    assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4]);
    assert_eq!(tx.stats().dropped_closed, 4);
}

/// Walk: under `DropOldest`, a hook that panicked on the evicted item unwound past the new
/// item, which was neither queued nor handed back. Now the new item is queued first.
#[test]
fn a_panicking_hook_on_an_eviction_keeps_the_new_item() {
    let (tx, rx, seen) = queue_with_a_touchy_hook(2, Overflow::DropOldest);
    tx.try_send(2).unwrap();
    tx.try_send(3).unwrap();
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.try_send(4)));
    assert!(sent.is_err(), "the hook's panic goes on");
    assert_eq!(*seen.lock().unwrap(), [2]);
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(3), Ok(4)));
    let stats = tx.stats();
    assert_eq!((stats.produced, stats.dropped_oldest), (3, 1));
}

/// A weigher that panics panics the send that called it; the queue is unchanged and goes on.
#[tokio::test]
async fn a_weigher_that_panics_leaves_the_queue_in_order() {
    use futures_util::FutureExt;
    let (tx, rx) = BoundedQueue::builder(4)
        .max_weight(10, |&item: &u64| {
            assert!(item != 13, "the weigher cannot take 13");
            item
        })
        .build()
        .unwrap();
    tx.send(3).await.unwrap();
    let sent = std::panic::AssertUnwindSafe(tx.send(13))
        .catch_unwind()
        .await;
    assert!(sent.is_err());
    assert_eq!((tx.len(), tx.weight(), tx.stats().produced), (1, 3, 1));
    tx.send(7).await.unwrap();
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(3), Ok(7)));
}

/// Evicting by weight, a hook that panics on one evicted item: every evicted item reaches the
/// hook and is counted, the new item is queued, then the panic goes on.
#[test]
fn a_panicking_hook_on_evictions_by_weight_keeps_the_new_item() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&seen);
    let (tx, rx) = BoundedQueue::builder(8)
        .max_weight(10, |&item: &u64| item)
        .overflow(Overflow::DropOldest)
        .on_drop(move |item: u64, _| {
            hook.lock().unwrap().push(item);
            assert!(item != 2, "the hook cannot take 2");
        })
        .build()
        .unwrap();
    for item in [2, 3, 4] {
        tx.try_send(item).unwrap();
    }
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.try_send(6)));
    assert!(sent.is_err(), "the hook's panic goes on");
    assert_eq!(*seen.lock().unwrap(), [2, 3]);
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(4), Ok(6)));
    let stats = tx.stats();
    assert_eq!(
        (stats.produced, stats.dropped_oldest, stats.weight),
        (4, 2, 0)
    );
}

// ## 8. Bounded memory: tested in tests/policies.rs (4 producers x 2,000 items under every
// policy, never more than the capacity queued); the queue keeps no buffer of its own beyond the
// channel below it, whose capacity test is in pc-core's tests/edges.rs.

// ## 10. Promises across composition: tested in tests/policies.rs (one accounting test run
// over every `Overflow` variant) and in the facade's tests/edges.rs (the queue among every
// producer and consumer).

// ## 11. Hidden order assumptions does not apply: the queue promises FIFO only, and its drop
// hook and probe see items in the order the queue discards them (tests/policies.rs).

// ## 12. Errors that tell the truth: the queue's are tested in tests/policies.rs (`Reject` and
// `BlockFor` hand the item back as `Rejected` / `TimedOut`, a full `try_send` as `Full`, never
// `Closed`); the pacer's here.

/// Through the trait, a queue full by weight says so as it does full by count: `Rejected`
/// under `Reject`, `TimedOut` for the caller's `send_timeout`, never `Closed`.
#[tokio::test(start_paused = true)]
async fn a_queue_full_by_weight_tells_the_truth_through_the_trait() {
    let (tx, _rx) = weighed(Overflow::Reject);
    tx.try_send(9).unwrap();
    assert_eq!(
        parts(Producer::try_send(&tx, 2)),
        Err((ProduceErrorKind::Rejected, 2))
    );
    let (tx, _rx) = weighed(Overflow::Block);
    tx.try_send(9).unwrap();
    assert_eq!(
        parts(Producer::send_timeout(&tx, 2, Duration::from_millis(5)).await),
        Err((ProduceErrorKind::TimedOut, 2))
    );
    assert_eq!((tx.stats().rejected, tx.weight()), (1, 9));
}

/// Everything a queue's probe hears, by reason.
#[derive(Debug, Default)]
struct Heard {
    produced: AtomicU64,
    consumed: AtomicU64,
    full: AtomicU64,
    oldest: AtomicU64,
    closed: AtomicU64,
    other: AtomicU64,
}

impl Probe for Heard {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::SeqCst);
    }
    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::SeqCst);
    }
    fn dropped(&self, n: u64, reason: DropReason) {
        let count = match reason {
            DropReason::Full => &self.full,
            DropReason::Oldest => &self.oldest,
            DropReason::Closed => &self.closed,
            _ => &self.other,
        };
        count.fetch_add(n, Ordering::SeqCst);
    }
}

impl Heard {
    #[track_caller]
    fn agrees_with(&self, stats: pc_backpressure::QueueStats, step: &str) {
        let n = |count: &AtomicU64| count.load(Ordering::SeqCst);
        assert_eq!(n(&self.produced), stats.produced, "produced, {step}");
        assert_eq!(n(&self.consumed), stats.consumed, "consumed, {step}");
        assert_eq!(
            n(&self.full),
            stats.dropped_incoming,
            "dropped incoming, {step}"
        );
        assert_eq!(
            n(&self.oldest),
            stats.dropped_oldest,
            "dropped oldest, {step}"
        );
        assert_eq!(
            n(&self.closed),
            stats.dropped_closed,
            "dropped at close, {step}"
        );
        assert_eq!(n(&self.other), 0, "{step}");
    }
}

/// Walk: under every policy, through sends, `try_send`s and `send_timeout`s on a full queue,
/// receives, and the last receiver dropped with items queued, the probe hears exactly what the
/// stats count, after every step.
#[tokio::test(start_paused = true)]
async fn the_probe_agrees_with_the_stats_under_every_policy() {
    for overflow in [
        Overflow::Block,
        Overflow::BlockFor(Duration::from_millis(5)),
        Overflow::Reject,
        Overflow::DropIncoming,
        Overflow::DropOldest,
    ] {
        let heard = Arc::new(Heard::default());
        let (tx, rx) = BoundedQueue::builder::<u32>(2)
            .overflow(overflow)
            .probe(heard.clone())
            .build()
            .unwrap();
        let step = |what: &str| format!("{what} under {overflow:?}");
        for n in 0..2 {
            tx.send(n).await.unwrap();
        }
        heard.agrees_with(tx.stats(), &step("filling"));
        let _ = tx.try_send(2);
        heard.agrees_with(tx.stats(), &step("a try_send on a full queue"));
        let _ = tx.send_timeout(3, Duration::from_millis(1)).await;
        heard.agrees_with(tx.stats(), &step("a send_timeout on a full queue"));
        if overflow != Overflow::Block {
            let _ = tx.send(4).await;
            heard.agrees_with(tx.stats(), &step("a send on a full queue"));
        }
        rx.recv().await.unwrap();
        heard.agrees_with(rx.stats(), &step("a receive"));
        tx.send(5).await.unwrap();
        let stats = tx.stats();
        drop(rx);
        heard.agrees_with(tx.stats(), &step("the last receiver dropped"));
        assert_eq!(
            tx.stats().dropped_closed,
            stats.depth as u64,
            "{overflow:?}"
        );
    }
}

/// Defect: an `AdaptiveProducer` closed while its next slot lay ahead said `Full` from
/// `try_send`, and `send_timeout` waited for the slot before it said `Closed`, where every
/// other producer says `Closed` at once.
#[tokio::test(start_paused = true)]
async fn a_closed_adaptive_producer_says_closed_at_once() {
    let (tx, _rx) = channel::unbounded::<u32>();
    let paced = AdaptiveProducer::new(tx, one_per_second(), || 0.5);
    paced.send(0).await.unwrap();
    assert_eq!(
        parts(paced.try_send(1)),
        Err((ProduceErrorKind::OverLimit, 1))
    );
    assert!(paced.close());
    assert_eq!(parts(paced.try_send(2)), Err((ProduceErrorKind::Closed, 2)));
    let start = tokio::time::Instant::now();
    let refused = paced.send_timeout(3, Duration::from_secs(10)).await;
    assert_eq!(parts(refused), Err((ProduceErrorKind::Closed, 3)));
    assert_eq!(
        parts(paced.send(4).await),
        Err((ProduceErrorKind::Closed, 4))
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// Defect: a slot taken by `send_timeout` or `send` whose inner send then failed (timed out,
/// or cancelled while it waited) was spent: the next send waited a slot for an item that never
/// went out. It is given back.
#[tokio::test(start_paused = true)]
async fn a_slot_whose_inner_send_fails_is_given_back() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let paced = AdaptiveProducer::new(tx, one_per_second(), || 0.5);
    paced.send(0).await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    let timed_out = paced.send_timeout(1, Duration::from_millis(10)).await;
    assert_eq!(parts(timed_out), Err((ProduceErrorKind::TimedOut, 1)));
    {
        let mut cancelled = spawn(paced.send(2));
        assert_pending!(cancelled.poll());
    }
    assert_eq!(rx.try_recv(), Ok(0));
    // The slot at 1 s is still there: taken now, without a wait.
    let mut send = spawn(paced.send(3));
    assert!(assert_ready!(send.poll()).is_ok());
    assert_eq!(rx.try_recv(), Ok(3));
}

// ## The randomized contract test: the queue under every policy and the adaptive pacer run
// in the facade's tests/contract.rs (`bounded_queue_every_policy`, `adaptive_producer`), the
// queue's stats checked against its probe after every step.
