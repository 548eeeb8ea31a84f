//! Exact behaviour of the public API under paused time: firing on the clock, idle sources,
//! keys, late items, sessions, consumers and bad settings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{BuildError, DropReason, Probe, channel};
use pc_window::{Aggregate, Count, Items, Max, Sum, Window, WindowExt, window_consumer};
use tokio::time::{Instant, sleep, timeout};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn processing_time_windows_fire_on_the_clock_with_no_new_items() {
    let (tx, rx) = channel::unbounded::<u32>();
    let window = Window::tumbling(secs(1)).aggregate(Sum).build().unwrap();
    let mut sums = rx.window(window);
    let origin = sums.origin();
    let producer = tokio::spawn(async move {
        sleep(ms(100)).await;
        tx.send_all([1, 2]).await.unwrap();
        sleep(ms(400)).await;
        tx.send(3).await.unwrap();
        // Silence, then one more item in [3 s, 4 s).
        sleep(ms(2700)).await;
        tx.send(10).await.unwrap();
        sleep(secs(5)).await;
    });

    let first = sums.next().await.unwrap();
    assert_eq!((first.start, first.end), (origin, origin + secs(1)));
    assert_eq!((first.count, first.value), (3, 6));
    assert_eq!(Instant::now(), origin + secs(1), "fired exactly at its end");

    // The empty windows [1 s, 2 s) and [2 s, 3 s) never fire.
    let second = sums.next().await.unwrap();
    assert_eq!(
        (second.start, second.end),
        (origin + secs(3), origin + secs(4))
    );
    assert_eq!((second.count, second.value), (1, 10));
    assert_eq!(Instant::now(), origin + secs(4));

    // Nothing is open: the stream waits for items or the end of the source.
    assert!(timeout(secs(2), sums.next()).await.is_err());
    producer.await.unwrap();
    assert_eq!(sums.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn sliding_windows_share_items_and_fire_each_slide() {
    let (tx, rx) = channel::unbounded::<u32>();
    let window = Window::sliding(secs(2), secs(1))
        .aggregate(Items(|xs: &[u32]| xs.to_vec()))
        .build()
        .unwrap();
    let mut windows = rx.window(window);
    let origin = windows.origin();
    tokio::spawn(async move {
        for i in 0..4 {
            tx.send(i).await.unwrap();
            sleep(ms(700)).await; // at 0, 0.7, 1.4, 2.1 s
        }
    });
    let mut got = Vec::new();
    while let Some(r) = windows.next().await {
        let at = Instant::now() - origin;
        got.push(((r.start - origin), (r.end - origin), r.value, at));
    }
    assert_eq!(
        got,
        [
            (secs(0), secs(1), vec![0, 1], secs(1)),
            (secs(0), secs(2), vec![0, 1, 2], secs(2)),
            // The source ended at 2.8 s: the windows still open fire then.
            (secs(1), secs(3), vec![2, 3], ms(2800)),
            (secs(2), secs(4), vec![3], ms(2800)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn sessions_on_the_clock_close_a_gap_after_the_last_item() {
    let (tx, rx) = channel::unbounded::<&str>();
    let window = Window::session(ms(300)).build().unwrap();
    let mut sessions = rx.window(window);
    let origin = sessions.origin();
    tokio::spawn(async move {
        for (wait, word) in [(0, "a"), (200, "b"), (200, "c"), (500, "d")] {
            sleep(ms(wait)).await;
            tx.send(word).await.unwrap();
        }
        sleep(secs(10)).await;
    });
    let first = sessions.next().await.unwrap();
    assert_eq!(
        (first.start - origin, first.end - origin, first.count),
        (ms(0), ms(700), 3)
    );
    assert_eq!(Instant::now() - origin, ms(700));
    let second = sessions.next().await.unwrap();
    assert_eq!(
        (second.start - origin, second.end - origin, second.count),
        (ms(900), ms(1200), 1)
    );
    assert_eq!(Instant::now() - origin, ms(1200));
}

/// Readings with an event time in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    sensor: &'static str,
    at: u64,
    value: u32,
}

fn reading(sensor: &'static str, at: u64, value: u32) -> Reading {
    Reading { sensor, at, value }
}

#[derive(Debug, Default)]
struct LateProbe {
    produced: AtomicU64,
    consumed: AtomicU64,
    late: AtomicU64,
}

impl Probe for LateProbe {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
    }

    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }

    fn dropped(&self, n: u64, reason: DropReason) {
        assert_eq!(reason, DropReason::Late);
        self.late.fetch_add(n, Ordering::Relaxed);
    }
}

#[tokio::test(start_paused = true)]
async fn event_time_counts_late_items_and_hands_them_to_the_hook() {
    let late = Arc::new(Mutex::new(Vec::new()));
    let probe = Arc::new(LateProbe::default());
    let window = Window::tumbling(secs(10))
        .event_time(|r: &Reading| secs(r.at), secs(2))
        .allowed_lateness(secs(3))
        .on_late({
            let late = late.clone();
            move |r| late.lock().unwrap().push(r)
        })
        .probe(probe.clone())
        .aggregate(Sum.of(|r: &Reading| r.value))
        .build()
        .unwrap();
    let items = [
        reading("a", 1, 1),
        reading("a", 9, 2),
        reading("a", 11, 4),  // watermark 9
        reading("a", 8, 8),   // out of order, on time
        reading("a", 12, 16), // watermark 10: [0, 10) fires
        reading("a", 5, 32),  // late, within 3 s: [0, 10) fires again
        reading("a", 15, 64), // watermark 13: [0, 10) takes nothing more
        reading("a", 7, 128), // too late
    ];
    let mut windows = futures_util::stream::iter(items).window(window);
    let mut got = Vec::new();
    while let Some(r) = windows.next().await {
        got.push((r.start.as_secs(), r.end.as_secs(), r.count, r.value));
    }
    assert_eq!(
        got,
        [(0, 10, 3, 11), (0, 10, 4, 43), (10, 20, 3, 84)],
        "the update repeats the window with the new count and value"
    );
    assert_eq!(windows.late_items(), 1);
    assert_eq!(*late.lock().unwrap(), [reading("a", 7, 128)]);
    assert_eq!(probe.produced.load(Ordering::Relaxed), 8);
    assert_eq!(probe.late.load(Ordering::Relaxed), 1);
    // Defect: no item was ever reported consumed, so every item counted in flight for good.
    // The 7 taken by their windows are consumed, the late one dropped.
    assert_eq!(probe.consumed.load(Ordering::Relaxed), 7);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_closes_the_windows_of_a_silent_source() {
    let (tx, rx) = channel::unbounded::<Reading>();
    let window = Window::tumbling(secs(10))
        .event_time(|r: &Reading| secs(r.at), secs(1))
        .idle_timeout(secs(5))
        .aggregate(Count)
        .build()
        .unwrap();
    let mut windows = rx.window(window);
    let start = Instant::now();
    tx.send_all([reading("a", 100, 1), reading("a", 102, 1)])
        .await
        .unwrap();
    // Watermark 101. Silent from now on: after 5 s it follows the clock, so it reaches the end
    // of [100, 110) 9 s after the last item.
    let r = windows.next().await.unwrap();
    assert_eq!((r.start, r.end, r.count), (secs(100), secs(110), 2));
    assert_eq!(Instant::now() - start, secs(9));
    // An item after the silence moves event time on as usual.
    tx.send(reading("a", 125, 1)).await.unwrap();
    tx.close();
    let r = windows.next().await.unwrap();
    assert_eq!((r.start, r.end, r.count), (secs(120), secs(130), 1));
    assert_eq!(windows.late_items(), 0);
    assert_eq!(windows.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn without_idle_timeout_a_silent_source_holds_its_windows() {
    let (tx, rx) = channel::unbounded::<Reading>();
    let window = Window::tumbling(secs(10))
        .event_time(|r: &Reading| secs(r.at), Duration::ZERO)
        .build()
        .unwrap();
    let mut windows = rx.window(window);
    tx.send(reading("a", 3, 1)).await.unwrap();
    assert!(timeout(secs(3600), windows.next()).await.is_err());
    tx.close();
    assert_eq!(windows.next().await.unwrap().count, 1, "flushed on close");
}

#[tokio::test(start_paused = true)]
async fn keyed_windows_keep_keys_apart() {
    let window = Window::tumbling(secs(10))
        .event_time(|r: &Reading| secs(r.at), Duration::ZERO)
        .key_by(|r: &Reading| r.sensor)
        .aggregate(Max.of(|r: &Reading| r.value))
        .build()
        .unwrap();
    let items = [
        reading("kitchen", 1, 20),
        reading("attic", 2, 31),
        reading("kitchen", 4, 22),
        reading("attic", 12, 35),
        reading("kitchen", 13, 19),
        reading("attic", 25, 30),
    ];
    let mut got: Vec<_> = futures_util::stream::iter(items)
        .window(window)
        .map(|r| (r.key, r.start.as_secs(), r.count, r.value))
        .collect()
        .await;
    got.sort();
    assert_eq!(
        got,
        [
            ("attic", 0, 1, Some(31)),
            ("attic", 10, 1, Some(35)),
            ("attic", 20, 1, Some(30)),
            ("kitchen", 0, 2, Some(22)),
            ("kitchen", 10, 1, Some(19)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn keyed_processing_time_windows_fire_together_per_key() {
    let (tx, rx) = channel::unbounded::<(&str, u32)>();
    let window = Window::tumbling(secs(1))
        .key_by(|&(key, _): &(&str, u32)| key)
        .aggregate(Sum.of(|&(_, n): &(&str, u32)| n))
        .build()
        .unwrap();
    let mut windows = rx.window(window);
    tx.send_all([("x", 1), ("y", 10), ("x", 2)]).await.unwrap();
    let mut got = vec![];
    for _ in 0..2 {
        let r = windows.next().await.unwrap();
        got.push((r.key, r.value));
    }
    got.sort();
    assert_eq!(got, [("x", 3), ("y", 10)]);
    assert_eq!(Instant::now() - windows.origin(), secs(1));
}

#[tokio::test(start_paused = true)]
async fn windows_any_consumer() {
    let (tx, rx) = channel::bounded::<u64>(4).unwrap();
    let producer = tokio::spawn(async move { tx.send_all(1..=10).await.unwrap() });
    let window = Window::tumbling_count(4).aggregate(Sum).build().unwrap();
    let sums: Vec<(u64, u64, u64)> = window_consumer(&rx, window)
        .map(|r| (r.start, r.end, r.value))
        .collect()
        .await;
    assert_eq!(sums, [(0, 4, 10), (4, 8, 26), (8, 12, 19)]);
    assert_eq!(producer.await.unwrap(), 10);
}

#[test]
fn builders_reject_bad_settings() {
    let zero = |setting| Err::<(), _>(BuildError::Zero { setting });
    let check = |r: Result<(), BuildError>| r;
    assert_eq!(
        check(Window::<u32, _>::tumbling(Duration::ZERO).build().map(drop)),
        zero("size")
    );
    assert_eq!(
        check(
            Window::<u32, _>::sliding(secs(1), Duration::ZERO)
                .build()
                .map(drop)
        ),
        zero("slide")
    );
    assert_eq!(
        check(Window::<u32, _>::session(Duration::ZERO).build().map(drop)),
        zero("gap")
    );
    assert_eq!(
        check(Window::<u32, _, _, _>::tumbling_count(0).build().map(drop)),
        zero("size")
    );
    assert_eq!(
        check(
            Window::<u32, _, _, _>::sliding_count(10, 0)
                .build()
                .map(drop)
        ),
        zero("slide")
    );
    let err = Window::<u32, _, _, _>::sliding_count(10, 11)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "slide");
    assert_eq!(
        err.to_string(),
        "invalid setting `slide`: must not be larger than the size (11 > 10), or items would fall between windows"
    );
    let err = Window::<u32, _>::sliding(secs(1), secs(2))
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "slide");
    assert_eq!(
        check(
            Window::<u32, _>::tumbling(secs(1))
                .event_time(|_| Duration::ZERO, Duration::ZERO)
                .idle_timeout(Duration::ZERO)
                .build()
                .map(drop)
        ),
        zero("idle_timeout")
    );
    let err = Window::<u32, _>::tumbling(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "size");
}
