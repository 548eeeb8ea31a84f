//! Windows at each edge of the checklist (`shared/EDGES.md`), one section per edge.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use pc_core::{FailReason, Probe};
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

/// Walk: a count window of `u64::MAX` items works (one pane; it fires what it holds when the
/// source ends). Sliding by one, it spans `u64::MAX` panes, and as many windows overlap each
/// item: the windows past the last item never ended (the stream grew until memory ran out), so
/// a window spanning more than `MAX_PANES` slides is a typed error.
#[tokio::test(start_paused = true)]
async fn count_windows_of_u64_max_items() {
    let tumbling = Window::tumbling_count(u64::MAX)
        .aggregate(pc_window::Sum)
        .build()
        .unwrap();
    let fired: Vec<(u64, u64, u64)> = futures_util::stream::iter([1u64, 2, 3])
        .window(tumbling)
        .map(|r| (r.start, r.end, r.value))
        .collect()
        .await;
    assert_eq!(fired, [(0, u64::MAX, 6)]);
    let endless = Window::<u64, _, (), pc_window::Counted>::sliding_count(u64::MAX, 1).build();
    assert_eq!(endless.unwrap_err().setting(), "slide");
    let endless = Window::<u64, _, (), pc_window::ProcessingTime>::sliding(
        Duration::from_secs(86_400 * 365),
        Duration::from_nanos(1),
    )
    .build();
    assert_eq!(endless.unwrap_err().setting(), "slide");
    let widest =
        Window::<u64, _, (), pc_window::Counted>::sliding_count(pc_window::MAX_PANES * 3, 3)
            .build();
    assert!(widest.is_ok());
}

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

// ## 6. User code that panics
//
// A `Windowed` stream calls user code (timestamps, keys, aggregates, the late hook) inline, so
// a panic unwinds to the task that polls it. The item it concerned is dropped; the stream stays
// consistent and goes on with the next item as if that one had never come.

/// Collects every item, arrival order kept; panics when asked to add `add`, to merge a part
/// holding `merge`, or to finish a window holding `finish`.
#[derive(Debug, Clone, Copy)]
struct Unlucky {
    add: u64,
    merge: u64,
    finish: u64,
}

/// Panics on adding 13.
const ADD_13: Unlucky = Unlucky {
    add: 13,
    merge: u64::MAX,
    finish: u64::MAX,
};

impl Aggregate<u64> for Unlucky {
    type Acc = Vec<u64>;
    type Output = Vec<u64>;

    fn init(&self) -> Vec<u64> {
        Vec::new()
    }

    fn add(&self, acc: &mut Vec<u64>, item: &u64) {
        assert!(*item != self.add, "unlucky item");
        acc.push(*item);
    }

    fn merge(&self, acc: &mut Vec<u64>, other: &Vec<u64>) {
        assert!(!other.contains(&self.merge), "unlucky merge");
        acc.extend_from_slice(other);
    }

    fn finish(&self, acc: &Vec<u64>) -> Vec<u64> {
        assert!(!acc.contains(&self.finish), "unlucky window");
        acc.clone()
    }
}

type Fired<P> = Vec<(P, P, u64, Vec<u64>)>;

/// Polls every window out of `items`, catching the panics on the way: the windows and how
/// many polls panicked.
async fn windows_through_panics<D: pc_window::Domain>(
    window: Window<u64, Unlucky, (), D>,
    items: &[u64],
) -> (Fired<D::Position>, usize) {
    let mut windows = futures_util::stream::iter(items.to_vec()).window(window);
    let (mut fired, mut panics) = (Vec::new(), 0);
    loop {
        match AssertUnwindSafe(windows.next()).catch_unwind().await {
            Ok(Some(r)) => fired.push((r.start, r.end, r.count, r.value)),
            Ok(None) => return (fired, panics),
            Err(_) => panics += 1,
        }
    }
}

/// Listed: an aggregate whose `add` panicked once left the engine inconsistent (the position
/// was counted, the item was not), and every later item failed an internal assertion. Now the
/// panic costs that item alone, in every shape of window: the windows are those of the same
/// items without it.
#[tokio::test(start_paused = true)]
async fn an_aggregate_that_panics_costs_its_item_alone() {
    let items = [1u64, 2, 13, 3, 4, 5, 6, 7];
    let without: Vec<u64> = items.iter().copied().filter(|item| *item != 13).collect();
    let stamped_items = [1u64, 12, 13, 5, 23, 24, 41, 44, 13, 70];
    let stamped_without: Vec<u64> = stamped_items
        .iter()
        .copied()
        .filter(|item| *item != 13)
        .collect();
    macro_rules! check {
        ($shape:expr, $items:expr, $without:expr, $panics:expr) => {{
            let (fired, panics) = windows_through_panics($shape, &$items).await;
            let (expected, none) = windows_through_panics($shape, &$without).await;
            assert_eq!((panics, none), ($panics, 0));
            assert!(!expected.is_empty());
            assert_eq!(fired, expected, "{}", stringify!($shape));
        }};
    }
    check!(
        Window::tumbling_count(3).aggregate(ADD_13).build().unwrap(),
        items,
        without,
        1
    );
    check!(
        Window::sliding_count(4, 2)
            .aggregate(ADD_13)
            .build()
            .unwrap(),
        items,
        without,
        1
    );
    let event = |at: &u64| ms(*at);
    check!(
        Window::tumbling(ms(10))
            .event_time(event, ms(5))
            .aggregate(ADD_13)
            .build()
            .unwrap(),
        stamped_items,
        stamped_without,
        1 // the second 13 is late, dropped before any aggregate sees it
    );
    check!(
        Window::sliding(ms(20), ms(10))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50))
            .aggregate(ADD_13)
            .build()
            .unwrap(),
        stamped_items,
        stamped_without,
        2
    );
    check!(
        Window::session(ms(6))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50))
            .aggregate(ADD_13)
            .build()
            .unwrap(),
        stamped_items,
        stamped_without,
        2
    );
}

/// Counts items taken and items failed.
#[derive(Debug, Default)]
struct Failures {
    produced: AtomicU64,
    consumed: AtomicU64,
    failed: AtomicU64,
}

impl Probe for Failures {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
    }

    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }

    fn failed(&self, n: u64, reason: FailReason) {
        assert_eq!(reason, FailReason::Panicked);
        self.failed.fetch_add(n, Ordering::Relaxed);
    }
}

/// Walk: the item whose aggregate panicked is counted as failed, once, on the probe.
#[tokio::test(start_paused = true)]
async fn the_probe_counts_the_item_whose_aggregate_panicked() {
    let probe = Arc::new(Failures::default());
    let window = Window::tumbling_count(3)
        .aggregate(ADD_13)
        .probe(probe.clone())
        .build()
        .unwrap();
    let (fired, panics) = windows_through_panics(window, &[1, 13, 2, 3, 13, 4]).await;
    assert_eq!(panics, 2);
    assert_eq!(fired.len(), 2);
    assert_eq!(probe.produced.load(Ordering::Relaxed), 6);
    assert_eq!(probe.failed.load(Ordering::Relaxed), 2);
    // Every item is done with, the two whose aggregate panicked too: none in flight for good.
    assert_eq!(probe.consumed.load(Ordering::Relaxed), 6);
}

/// Walk: a key function or a timestamp that panics costs that item alone, counted as failed;
/// the other items' windows are whole.
#[tokio::test(start_paused = true)]
async fn a_key_or_timestamp_that_panics_costs_its_item_alone() {
    let probe = Arc::new(Failures::default());
    let keyed = Window::tumbling_count(2)
        .key_by(|item: &u64| {
            assert!(*item != 7, "no key for 7");
            item % 2
        })
        .aggregate(pc_window::Sum)
        .probe(probe.clone())
        .build()
        .unwrap();
    let mut windows = futures_util::stream::iter([1u64, 2, 7, 3, 4]).window(keyed);
    let mut fired = Vec::new();
    let mut panics = 0;
    loop {
        match AssertUnwindSafe(windows.next()).catch_unwind().await {
            Ok(Some(r)) => fired.push((r.key, r.count, r.value)),
            Ok(None) => break,
            Err(_) => panics += 1,
        }
    }
    assert_eq!(panics, 1);
    assert_eq!(fired, [(1, 2, 4), (0, 2, 6)]);
    assert_eq!(probe.failed.load(Ordering::Relaxed), 1);

    let probe = Arc::new(Failures::default());
    let stamped = Window::tumbling(ms(10))
        .event_time(
            |at: &u64| {
                assert!(*at != 99, "no time for 99");
                ms(*at)
            },
            Duration::ZERO,
        )
        .aggregate(ADD_13)
        .probe(probe.clone())
        .build()
        .unwrap();
    let (fired, panics) = windows_through_panics(stamped, &[1, 99, 4, 12]).await;
    assert_eq!(panics, 1);
    assert_eq!(
        fired,
        [
            (ms(0), ms(10), 2, vec![1, 4]),
            (ms(10), ms(20), 1, vec![12])
        ]
    );
    assert_eq!(probe.failed.load(Ordering::Relaxed), 1);
}

/// Walk: a `finish` that panics costs the result it was making, nothing else: every other
/// window fires as it would have, late re-firings of that window included.
#[tokio::test(start_paused = true)]
async fn a_finish_that_panics_costs_that_result_alone() {
    let unlucky = Unlucky {
        add: u64::MAX,
        merge: u64::MAX,
        finish: 42,
    };
    let calm = Unlucky {
        finish: u64::MAX,
        ..unlucky
    };
    let event = |at: &u64| ms(*at);
    let stamped = [1u64, 12, 42, 45, 23, 61, 44, 90];
    let counted = [1u64, 2, 42, 3, 4, 5, 6, 7];
    macro_rules! check {
        ($shape:expr, $items:expr) => {{
            let (fired, panics) =
                windows_through_panics($shape.aggregate(unlucky).build().unwrap(), &$items).await;
            let (all, _) =
                windows_through_panics($shape.aggregate(calm).build().unwrap(), &$items).await;
            let expected: Fired<_> = all.iter().filter(|w| !w.3.contains(&42)).cloned().collect();
            assert_eq!(panics, all.len() - expected.len());
            assert!(panics > 0);
            assert_eq!(fired, expected, "{}", stringify!($shape));
        }};
    }
    check!(Window::tumbling_count(3), counted);
    check!(Window::sliding_count(4, 2), counted);
    check!(
        Window::tumbling(ms(10))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50)),
        stamped
    );
    check!(
        Window::sliding(ms(20), ms(10))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50)),
        stamped
    );
    check!(
        Window::session(ms(6))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50)),
        stamped
    );
}

/// Walk: a `merge` that panics costs the windows that needed that merge; the stream stays
/// consistent (no internal assertion fails, it ends), and every window that does not cover
/// the part that cannot be merged fires as it would have.
#[tokio::test(start_paused = true)]
async fn a_merge_that_panics_costs_the_windows_that_needed_it() {
    let unlucky = Unlucky {
        add: u64::MAX,
        merge: 42,
        finish: u64::MAX,
    };
    let calm = Unlucky {
        merge: u64::MAX,
        ..unlucky
    };
    let event = |at: &u64| ms(*at);
    let stamped = [1u64, 12, 42, 45, 23, 61, 44, 90, 120];
    let counted = [1u64, 2, 3, 4, 42, 5, 6, 7, 8, 9, 10, 11, 12];
    macro_rules! check {
        ($shape:expr, $items:expr, $covers:expr) => {{
            let (fired, panics) =
                windows_through_panics($shape.aggregate(unlucky).build().unwrap(), &$items).await;
            let (all, _) =
                windows_through_panics($shape.aggregate(calm).build().unwrap(), &$items).await;
            let apart = |windows: &Fired<_>| -> Fired<_> {
                windows
                    .iter()
                    .filter(|w| !$covers(w.0, w.1))
                    .cloned()
                    .collect()
            };
            assert!(panics > 0, "{}", stringify!($shape));
            assert_eq!(apart(&fired), apart(&all), "{}", stringify!($shape));
        }};
    }
    check!(
        Window::sliding_count(4, 2),
        counted,
        |start: u64, end: u64| start <= 4 && 4 < end
    );
    check!(
        Window::sliding(ms(20), ms(10))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50)),
        stamped,
        |start: Duration, end: Duration| start <= ms(42) && ms(42) < end
    );
    check!(
        Window::session(ms(6))
            .event_time(event, ms(5))
            .allowed_lateness(ms(50)),
        stamped,
        |start: Duration, end: Duration| start <= ms(42) && ms(42) < end
    );
}

// ## 7. Shutdown in every state: tested in
// `unbounded_event_time_settings_hold_windows_until_the_end` above and tests/windows.rs
// (`idle_timeout_closes_the_windows_of_a_silent_source`): a `Windowed` stream runs no task;
// when its source ends, every window holding items fires and the stream ends.

// ## 1. Cancellation does not apply beyond the source: a `Windowed` stream has no future of
// its own to cancel; dropped between polls it drops what it held (documented on `Windowed`),
// and its source's receives are cancel safe (pc-core's tests).

// ## 2. The abandoned registration: tested in the facade's tests/edges.rs
// (`window_consumer` over three consumers keeps no wake-up from a waiting receive).

// ## 3. Fairness does not apply: a window stream has one consumer and serves no waiters.

// ## 8. Bounded memory: tested in tests/windows.rs (`idle_timeout_closes_the_windows_of_a_silent_source`,
// keys forgotten once empty) and `count_windows_of_u64_max_items` above (`MAX_PANES`).

// ## 9. Weak memory does not apply: a `Windowed` stream is polled by one task and shares no
// state.

// ## 10. Promises across composition: tested in tests/windows.rs (`windows_any_consumer`) and
// the facade's tests/edges.rs.

// ## 12. Errors and probes that tell the truth: tested in tests/windows.rs
// (`event_time_counts_late_items_and_hands_them_to_the_hook`: late items are counted as late
// and handed to the hook, never silently dropped; every other item is consumed once its
// aggregate took it) and here (`the_probe_counts_the_item_whose_aggregate_panicked`: consumed
// and failed).

// ## The randomized contract test does not apply as such: a window's items come out as
// aggregates, not as the items sent; its promises across composition are the facade's
// tests/edges.rs (`window_consumer` over every consumer).
