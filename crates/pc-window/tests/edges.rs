//! Windows at each edge of the checklist (`shared/EDGES.md`), one section per edge.

use std::time::Duration;

use futures_util::StreamExt;
use pc_window::{Aggregate, Items, Max, Min, Window, WindowExt};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A timestamped item that compares by `value` only, so equal values can be told apart.
#[derive(Debug, Clone, Copy)]
struct Tagged {
    at: u64,
    value: u32,
    tag: char,
}

impl PartialEq for Tagged {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl PartialOrd for Tagged {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

// ## 11. Hidden order assumptions

/// Defect: `Items` promised arrival order but saw pane (time) order under event-time disorder:
/// window [0, 20) got `[5, 3, 8, 15, 17, 12]` for arrivals `[15, 5, 17, 3, 12, 8]`.
#[tokio::test(start_paused = true)]
async fn items_keep_arrival_order_under_disorder() {
    let window = Window::sliding(ms(20), ms(10))
        .event_time(|at: &u64| ms(*at), ms(100))
        .aggregate(Items(|xs: &[u64]| xs.to_vec()))
        .build()
        .unwrap();
    let arrivals = [15u64, 5, 17, 3, 12, 8];
    let out: Vec<_> = futures_util::stream::iter(arrivals)
        .window(window)
        .map(|r| (r.start.as_millis(), r.end.as_millis(), r.value))
        .collect()
        .await;
    assert_eq!(
        out,
        [
            (0, 10, vec![5, 3, 8]),
            (0, 20, vec![15, 5, 17, 3, 12, 8]),
            (10, 30, vec![15, 17, 12])
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn items_keep_arrival_order_through_late_refiring() {
    let window = Window::sliding(ms(20), ms(10))
        .event_time(|at: &u64| ms(*at), Duration::ZERO)
        .allowed_lateness(ms(50))
        .aggregate(Items(|xs: &[u64]| xs.to_vec()))
        .build()
        .unwrap();
    // 25 moves the watermark past [0, 20); 15 and then 2 come late and re-fire it.
    let arrivals = [12u64, 4, 25, 15, 2];
    let out: Vec<_> = futures_util::stream::iter(arrivals)
        .window(window)
        .filter(|r| std::future::ready(r.end == ms(20)))
        .map(|r| r.value)
        .collect()
        .await;
    assert_eq!(out, [vec![12, 4], vec![12, 4, 15], vec![12, 4, 15, 2]]);
}

/// `Min` and `Max` promise the earliest among equals: earliest in arrival, whatever order the
/// panes merge in.
#[tokio::test(start_paused = true)]
async fn min_and_max_pick_the_earliest_arrival_among_equals() {
    let items = [
        Tagged {
            at: 15,
            value: 1,
            tag: 'a',
        },
        Tagged {
            at: 15,
            value: 9,
            tag: 'b',
        },
        Tagged {
            at: 3,
            value: 1,
            tag: 'c',
        },
        Tagged {
            at: 3,
            value: 9,
            tag: 'd',
        },
    ];
    for max in [false, true] {
        // Window [0, 20) merges pane [0, 10) (`c`, `d`) before pane [10, 20) (`a`, `b`).
        let window = Window::sliding(ms(20), ms(10)).event_time(|t: &Tagged| ms(t.at), ms(100));
        let of_0_20 = |r: &pc_window::WindowResult<(), Option<Tagged>, Duration>| {
            (r.end == ms(20)).then(|| r.value.unwrap().tag)
        };
        let tags: Vec<char> = if max {
            let windows =
                futures_util::stream::iter(items).window(window.aggregate(Max).build().unwrap());
            windows
                .filter_map(|r| std::future::ready(of_0_20(&r)))
                .collect()
                .await
        } else {
            let windows =
                futures_util::stream::iter(items).window(window.aggregate(Min).build().unwrap());
            windows
                .filter_map(|r| std::future::ready(of_0_20(&r)))
                .collect()
                .await
        };
        // 'c' and 'd' sit in the earlier pane, but 'a' and 'b' arrived first.
        assert_eq!(tags, [if max { 'b' } else { 'a' }], "max: {max}");
    }
}

#[test]
fn aggregates_used_by_hand_keep_the_order_of_their_calls() {
    let items = Items(|xs: &[u32]| xs.to_vec());
    let mut acc = items.init();
    items.add(&mut acc, &3);
    items.add(&mut acc, &1);
    let mut later = items.init();
    items.add(&mut later, &2);
    items.merge(&mut acc, &later);
    assert_eq!(items.finish(&acc), [3, 1, 2]);
}

// ## 4. Extreme durations

/// `Duration::MAX` as out-of-orderness, lateness and idle timeout means no limit (it was a
/// build error for the first two, and the idle timeout panicked adding it to an instant).
#[tokio::test(start_paused = true)]
async fn unbounded_event_time_settings_hold_windows_until_the_end() {
    let window = Window::tumbling(ms(10))
        .event_time(|at: &u64| ms(*at), Duration::MAX)
        .allowed_lateness(Duration::MAX)
        .idle_timeout(Duration::MAX)
        .aggregate(Items(|xs: &[u64]| xs.to_vec()))
        .build()
        .unwrap();
    let (tx, rx) = pc_core::channel::unbounded::<u64>();
    let mut windows = rx.window(window);
    tx.try_send(25).unwrap();
    tx.try_send(3).unwrap();
    let mut next = tokio_test::task::spawn(windows.next());
    tokio_test::assert_pending!(next.poll());
    tokio::time::sleep(Duration::from_secs(3600 * 24)).await;
    tokio_test::assert_pending!(next.poll());
    drop(next);
    drop(tx);
    let out: Vec<_> = windows.map(|r| r.value).collect().await;
    assert_eq!(out, [vec![3], vec![25]]);
}

#[test]
fn zero_and_max_sizes_are_typed_errors() {
    let zero = Window::<u32, _>::tumbling(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(zero.setting(), "size");
    let max = Window::<u32, _>::tumbling(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(max.setting(), "size");
    let idle = Window::<u64, _>::tumbling(ms(1))
        .event_time(|at: &u64| ms(*at), Duration::ZERO)
        .idle_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(idle.setting(), "idle_timeout");
}

// ## 5. Extreme numbers

#[tokio::test(start_paused = true)]
async fn timestamps_at_the_end_of_time() {
    let window = Window::tumbling(ms(10))
        .event_time(|at: &Duration| *at, Duration::ZERO)
        .aggregate(pc_window::Count)
        .build()
        .unwrap();
    let items = [
        Duration::ZERO,
        Duration::from_nanos(u64::MAX),
        Duration::MAX,
    ];
    let windows: Vec<(Duration, Duration, u64)> = futures_util::stream::iter(items)
        .window(window)
        .map(|r| (r.start, r.end, r.value))
        .collect()
        .await;
    // `Duration::MAX` saturates to the last nanosecond: both late items share its window,
    // which ends where time does.
    let last = Duration::from_nanos(u64::MAX);
    let last_start = Duration::from_nanos(u64::MAX / 10_000_000 * 10_000_000);
    assert_eq!(
        windows,
        [(Duration::ZERO, ms(10), 1), (last_start, last, 2)]
    );
}

// ## 1, 2, 3, 6, 7, 8, 9, 10, 12: a `Windowed` stream holds no registration but its source's
// and one timer; dropped between polls it loses what it held with it (documented on
// `Windowed`); it calls user code (timestamps, keys, aggregates) inline, so a panic there
// unwinds to the caller's poll; memory is per key and per open window (tests/windows.rs holds
// the eviction of silent keys).
