//! How a queue serves under a standing queue: CoDel, adaptive LIFO, both, and per-item
//! deadlines, under paused time with exact outcomes; every item delivered, handed back or
//! counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pc_backpressure::{BoundedQueue, Discipline, Overflow, Receiver, Sender};
use pc_core::{BuildError, Consumer, DropReason, Probe, WaitKind};
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

type Dropped = Arc<Mutex<Vec<(u32, DropReason)>>>;

fn queue(discipline: Discipline) -> (Sender<u32>, Receiver<u32>, Dropped) {
    let dropped: Dropped = Arc::default();
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(64)
        .overflow(Overflow::Reject)
        .discipline(discipline)
        .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
        .build()
        .unwrap();
    (tx, rx, dropped)
}

fn expired(items: &[u32]) -> Vec<(u32, DropReason)> {
    items.iter().map(|&i| (i, DropReason::Expired)).collect()
}

/// Items that waited past the target are served while the queue is not standing: it was
/// empty 50 ms ago, less than the interval.
#[tokio::test(start_paused = true)]
async fn codel_serves_a_burst_that_is_not_standing() {
    let (tx, rx, dropped) = queue(Discipline::codel());
    tx.send_all_now(0..3);
    sleep(50 * MS).await;
    assert_eq!(rx.drain_now(), [0, 1, 2]);
    assert!(dropped.lock().unwrap().is_empty());
    assert_eq!(rx.stats().expired, 0);
}

/// Not empty for longer than the interval: what waited past the target is dropped as it is
/// reached; the fresh item behind it is served; once empty, the queue no longer stands.
#[tokio::test(start_paused = true)]
async fn codel_drops_at_the_head_what_waited_past_the_target_under_a_standing_queue() {
    let (tx, rx, dropped) = queue(Discipline::codel());
    tx.send_all_now(0..3);
    sleep(101 * MS).await;
    tx.send_all_now(3..4);
    sleep(5 * MS).await; // 3 waited exactly the target: served
    assert_eq!(rx.recv().await, Ok(3));
    assert_eq!(*dropped.lock().unwrap(), expired(&[0, 1, 2]));
    // Found empty once the drops are an interval past: a new burst that waits 50 ms is served
    // again.
    sleep(100 * MS).await;
    assert!(rx.try_recv().unwrap_err().is_empty());
    tx.send_all_now(4..6);
    sleep(50 * MS).await;
    assert_eq!(rx.drain_now(), [4, 5]);
    let stats = rx.stats();
    assert_eq!((stats.produced, stats.consumed, stats.expired), (6, 3, 3));
}

/// With a custom target and interval; 6 ms past a 5 ms target is dropped, 5 ms is not.
#[tokio::test(start_paused = true)]
async fn codel_with_its_own_target_and_interval() {
    let (tx, rx, dropped) = queue(Discipline::codel_with(10 * MS, 20 * MS));
    tx.send_all_now(0..2);
    sleep(15 * MS).await;
    tx.send_all_now(2..3);
    sleep(10 * MS).await; // 25 ms not empty: standing; 2 waited 10 ms, the target
    assert_eq!(rx.drain_now(), [2]);
    assert_eq!(*dropped.lock().unwrap(), expired(&[0, 1]));
}

/// Adaptive LIFO: newest first while the queue stands, FIFO again once it has been empty.
#[tokio::test(start_paused = true)]
async fn adaptive_lifo_serves_the_newest_under_a_standing_queue() {
    let (tx, rx, dropped) = queue(Discipline::adaptive_lifo());
    tx.send_all_now(0..3);
    assert_eq!(rx.try_recv(), Ok(0), "not standing: FIFO");
    sleep(101 * MS).await;
    tx.send_all_now(3..5);
    assert_eq!(rx.drain_now(), [4, 3, 2, 1]);
    // Emptied: FIFO from here.
    tx.send_all_now(5..8);
    assert_eq!(rx.drain_now(), [5, 6, 7]);
    assert!(
        dropped.lock().unwrap().is_empty(),
        "LIFO alone drops nothing"
    );
}

/// Both: newest first, and the old items left behind are dropped as they are reached.
#[tokio::test(start_paused = true)]
async fn codel_and_lifo_serve_the_fresh_and_drop_the_stale() {
    let (tx, rx, dropped) = queue(Discipline::codel().lifo(true));
    tx.send_all_now(0..3);
    sleep(101 * MS).await;
    tx.send_all_now(3..5);
    sleep(2 * MS).await;
    assert_eq!(rx.recv().await, Ok(4));
    assert_eq!(rx.recv().await, Ok(3));
    assert!(rx.try_recv().unwrap_err().is_empty());
    assert_eq!(*dropped.lock().unwrap(), expired(&[0, 1, 2]));
}

/// A deadline is kept under plain FIFO too: an item still queued at its deadline is dropped
/// when reached, one already past at the send as well; a deadline out of reach is none.
#[tokio::test(start_paused = true)]
async fn an_item_past_its_deadline_is_never_handed_out() {
    let (tx, rx, dropped) = queue(Discipline::fifo());
    let now = Instant::now();
    tx.send_with_deadline(0, now + 10 * MS).await.unwrap();
    tx.send_with_deadline(1, now + 20 * MS).await.unwrap();
    tx.send_with_deadline(2, now).await.unwrap(); // due now: never handed out
    let far = now + Duration::from_secs(86_400 * 365 * 30);
    tx.send_with_deadline(3, far).await.unwrap();
    sleep(10 * MS).await; // 0 reaches its deadline
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(rx.recv().await, Ok(3));
    assert_eq!(*dropped.lock().unwrap(), expired(&[0, 2]));
    let stats = rx.stats();
    assert_eq!((stats.produced, stats.consumed, stats.expired), (4, 2, 2));
}

/// The stream and `Consumer::stream` serve as `recv` does.
#[tokio::test(start_paused = true)]
async fn streams_follow_the_discipline() {
    for through_trait in [false, true] {
        let (tx, mut rx, dropped) = queue(Discipline::codel().lifo(true));
        tx.send_all_now(0..3);
        sleep(101 * MS).await;
        tx.send_all_now(3..5);
        drop(tx);
        let got: Vec<u32> = if through_trait {
            Consumer::stream(&rx).collect().await
        } else {
            (&mut rx).collect().await
        };
        assert_eq!(got, [4, 3], "through the trait: {through_trait}");
        assert_eq!(*dropped.lock().unwrap(), expired(&[0, 1, 2]));
    }
}

#[derive(Debug, Default)]
struct Heard {
    sojourns: Mutex<Vec<Duration>>,
    expired: Mutex<u64>,
}

impl Probe for Heard {
    fn waited(&self, kind: WaitKind, duration: Duration) {
        if kind == WaitKind::Queue {
            self.sojourns.lock().unwrap().push(duration);
        }
    }

    fn dropped(&self, n: u64, reason: DropReason) {
        if reason == DropReason::Expired {
            *self.expired.lock().unwrap() += n;
        }
    }
}

/// The probe hears each served item's time in the queue and each drop by its reason.
#[tokio::test(start_paused = true)]
async fn the_probe_hears_sojourns_and_expired_drops() {
    let heard = Arc::new(Heard::default());
    let (tx, rx) = BoundedQueue::builder(8)
        .discipline(Discipline::codel())
        .probe(heard.clone())
        .build()
        .unwrap();
    tx.send(0).await.unwrap();
    sleep(3 * MS).await;
    tx.send(1).await.unwrap();
    sleep(2 * MS).await;
    assert_eq!(rx.recv().await, Ok(0));
    sleep(200 * MS).await;
    assert!(rx.try_recv().unwrap_err().is_empty(), "1 expired");
    assert_eq!(*heard.sojourns.lock().unwrap(), [5 * MS]);
    assert_eq!(*heard.expired.lock().unwrap(), 1);
}

/// A hook that panics on an expired item panics that receive once the item is counted; the
/// queue goes on.
#[tokio::test(start_paused = true)]
async fn a_hook_that_panics_on_an_expired_item_panics_that_receive_only() {
    let (tx, rx) = BoundedQueue::builder(8)
        .discipline(Discipline::codel())
        .on_drop(|item: u32, _| assert_ne!(item, 0, "the hook refuses {item}"))
        .build()
        .unwrap();
    tx.send_all_now(0..2);
    sleep(101 * MS).await;
    tx.send_all_now(2..3);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.try_recv()));
    assert!(panicked.is_err());
    assert_eq!(rx.stats().expired, 1);
    assert_eq!(rx.try_recv(), Ok(2), "1 expired too, quietly");
    assert_eq!(rx.stats().expired, 2);
}

/// Every item ends once: delivered, or counted as expired, under random service times and
/// all four disciplines, with producers and consumers running together.
#[tokio::test(start_paused = true)]
async fn every_item_is_delivered_or_counted_under_load() {
    for discipline in [
        Discipline::fifo(),
        Discipline::codel(),
        Discipline::adaptive_lifo(),
        Discipline::codel().lifo(true),
    ] {
        let dropped: Dropped = Arc::default();
        let hook = Arc::clone(&dropped);
        let (tx, rx) = BoundedQueue::builder(32)
            .discipline(discipline)
            .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
            .build()
            .unwrap();
        let producers: Vec<_> = (0..4u32)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(u64::from(p));
                    for i in 0..500 {
                        tx.send(p * 1000 + i).await.unwrap();
                        sleep(Duration::from_micros(rng.u64(0..800))).await;
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..2u64)
            .map(|c| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(10 + c);
                    let mut got = Vec::new();
                    while let Ok(item) = rx.recv().await {
                        got.push(item);
                        sleep(Duration::from_micros(rng.u64(0..1000))).await;
                    }
                    got
                })
            })
            .collect();
        for producer in producers {
            producer.await.unwrap();
        }
        let mut seen = Vec::new();
        for consumer in consumers {
            seen.extend(consumer.await.unwrap());
        }
        let dropped = dropped.lock().unwrap();
        assert!(dropped.iter().all(|(_, r)| *r == DropReason::Expired));
        seen.extend(dropped.iter().map(|(item, _)| *item));
        seen.sort_unstable();
        let sent: Vec<u32> = (0..4)
            .flat_map(|p| (0..500).map(move |i| p * 1000 + i))
            .collect();
        assert_eq!(seen, sent, "{discipline:?}");
        let stats = rx.stats();
        assert_eq!(stats.consumed + stats.expired, 2000, "{discipline:?}");
        if discipline.target().is_none() {
            assert_eq!(stats.expired, 0, "{discipline:?}");
        }
    }
}

#[test]
fn settings_out_of_range_are_build_errors() {
    let build = |discipline| {
        BoundedQueue::builder::<u32>(4)
            .discipline(discipline)
            .build()
            .map(drop)
    };
    assert!(matches!(
        build(Discipline::codel_with(Duration::ZERO, MS)),
        Err(BuildError::Zero { .. })
    ));
    assert!(matches!(
        build(Discipline::codel().interval(Duration::ZERO)),
        Err(BuildError::Zero { .. })
    ));
    assert!(matches!(
        build(Discipline::codel_with(MS, MS)),
        Err(BuildError::Invalid { .. })
    ));
    assert!(build(Discipline::codel_with(MS, Duration::MAX)).is_ok());
    assert!(build(Discipline::adaptive_lifo().interval(Duration::MAX)).is_ok());
}

/// An interval of `Duration::MAX`: the queue never stands, so nothing is dropped and the
/// order stays FIFO.
#[tokio::test(start_paused = true)]
async fn an_unbounded_interval_never_stands() {
    let (tx, rx, dropped) = queue(Discipline::codel_with(MS, Duration::MAX).lifo(true));
    tx.send_all_now(0..3);
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(rx.drain_now(), [0, 1, 2]);
    assert!(dropped.lock().unwrap().is_empty());
}

trait Now {
    fn send_all_now(&self, items: std::ops::Range<u32>);
}

impl Now for Sender<u32> {
    fn send_all_now(&self, items: std::ops::Range<u32>) {
        for item in items {
            self.try_send(item).unwrap();
        }
    }
}

trait Drain {
    fn drain_now(&self) -> Vec<u32>;
}

impl Drain for Receiver<u32> {
    fn drain_now(&self) -> Vec<u32> {
        std::iter::from_fn(|| self.try_recv().ok()).collect()
    }
}
