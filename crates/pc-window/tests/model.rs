//! For random streams, sizes and slides, the incremental windows equal a naive recomputation:
//! by count, on the tokio clock (paused), and on event time, in order and shuffled with late
//! items counted exactly.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use pc_window::{Aggregate, Stats, Summary, Window, WindowExt};
use proptest::prelude::*;
use support::{naive_windows, paused_runtime};

/// Sizes, and slides no larger than them.
fn size_and_slide() -> impl Strategy<Value = (u64, u64)> {
    (1u64..12).prop_flat_map(|size| (Just(size), 1..=size))
}

/// Small whole numbers, so that sums in any order are exact in `f64`.
fn values(max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(0u32..1000, 0..max_len)
}

proptest! {
    #[test]
    fn count_windows_equal_a_naive_recomputation(
        values in values(120),
        (size, slide) in size_and_slide(),
    ) {
        let window = Window::sliding_count(size, slide).aggregate(Stats).build().unwrap();
        let rt = paused_runtime();
        let got: Vec<(u64, u64, Summary)> = rt.block_on(
            futures_util::stream::iter(values.clone())
                .window(window)
                .map(|r| (r.start, r.end, r.value))
                .collect(),
        );
        let positioned: Vec<(u64, u32)> = (0u64..).zip(values.iter().copied()).collect();
        prop_assert_eq!(got, naive_windows(&positioned, size, slide));
    }

    #[test]
    fn processing_time_windows_equal_a_naive_recomputation_and_fire_at_their_end(
        items in proptest::collection::vec((0u64..40, 0u32..1000), 0..60),
        (size, slide) in size_and_slide(),
    ) {
        let ms = Duration::from_millis;
        let window = Window::sliding(ms(size * 10), ms(slide * 10))
            .aggregate(Stats)
            .build()
            .unwrap();
        let rt = paused_runtime();
        let (got, fired_at) = rt.block_on(async {
            let source = futures_util::stream::iter(items.clone()).then(|(gap, value)| async move {
                tokio::time::sleep(ms(gap)).await;
                value
            });
            let mut windows = Box::pin(source.window(window));
            let origin = windows.origin();
            let mut got = Vec::new();
            let mut fired_at = Vec::new();
            while let Some(r) = windows.next().await {
                let millis = |at: tokio::time::Instant| (at - origin).as_millis() as u64;
                got.push((millis(r.start), millis(r.end), r.value));
                fired_at.push((millis(r.end), millis(tokio::time::Instant::now())));
            }
            (got, fired_at)
        });
        let mut at = 0;
        let positioned: Vec<(u64, u32)> = items
            .iter()
            .map(|&(gap, value)| {
                at += gap;
                (at, value)
            })
            .collect();
        let last = positioned.last().map_or(0, |&(at, _)| at);
        prop_assert_eq!(got, naive_windows(&positioned, size * 10, slide * 10));
        for (end, fired) in fired_at {
            // On time: when the clock passes its end, or when the source ends after the last item.
            prop_assert_eq!(fired, if end <= last { end } else { last });
        }
    }

    #[test]
    fn in_order_event_time_equals_a_naive_recomputation(
        gaps in proptest::collection::vec((0u64..30, 0u32..1000), 0..80),
        (size, slide) in size_and_slide(),
    ) {
        let mut at = 0;
        let items: Vec<(u64, u32)> = gaps
            .iter()
            .map(|&(gap, value)| {
                at += gap;
                (at, value)
            })
            .collect();
        let window = Window::sliding(Duration::from_secs(size), Duration::from_secs(slide))
            .event_time(|&(at, _): &(u64, u32)| Duration::from_secs(at), Duration::ZERO)
            .aggregate(Stats.of(|&(_, value): &(u64, u32)| value))
            .build()
            .unwrap();
        let got: Vec<(u64, u64, Summary)> = paused_runtime().block_on(
            futures_util::stream::iter(items.clone())
                .window(window)
                .map(|r| (r.start.as_secs(), r.end.as_secs(), r.value))
                .collect(),
        );
        prop_assert_eq!(got, naive_windows(&items, size, slide));
    }

    #[test]
    fn shuffled_event_time_equals_the_sorted_input_within_lateness(
        gaps in proptest::collection::vec((0u64..20, 0u32..1000), 1..80),
        (size, slide) in size_and_slide(),
        out_of_orderness in 0u64..15,
        lateness in 0u64..15,
        seed in any::<u64>(),
    ) {
        let mut at = 0;
        let mut items: Vec<(u64, u32)> = gaps
            .iter()
            .map(|&(gap, value)| {
                at += gap;
                (at, value)
            })
            .collect();
        fastrand::Rng::with_seed(seed).shuffle(&mut items);
        let window = Window::sliding(Duration::from_secs(size), Duration::from_secs(slide))
            .event_time(
                |&(at, _): &(u64, u32)| Duration::from_secs(at),
                Duration::from_secs(out_of_orderness),
            )
            .allowed_lateness(Duration::from_secs(lateness))
            .aggregate(Stats.of(|&(_, value): &(u64, u32)| value))
            .build()
            .unwrap();
        let (finals, late) = paused_runtime().block_on(async {
            let mut windows = futures_util::stream::iter(items.clone()).window(window);
            let mut finals = BTreeMap::new();
            while let Some(r) = windows.next().await {
                // A later firing of the same window replaces the earlier one.
                finals.insert((r.start.as_secs(), r.end.as_secs()), r.value);
            }
            (finals, windows.late_items())
        });

        // The model: an item counts in a window if it arrives while the window's end plus the
        // lateness is above the watermark (the largest timestamp so far, this item's included,
        // minus the out-of-orderness). An item no window takes is late.
        let mut model: BTreeMap<(u64, u64), Vec<(u64, u32)>> = BTreeMap::new();
        let mut max = 0;
        let mut expected_late = 0;
        for &(at, value) in &items {
            max = max.max(at);
            let watermark = max.saturating_sub(out_of_orderness);
            let mut taken = false;
            for (start, end) in support::windows_of(at, size, slide) {
                if end + lateness > watermark {
                    model.entry((start, end)).or_default().push((at, value));
                    taken = true;
                }
            }
            expected_late += u64::from(!taken);
        }
        let expected: BTreeMap<(u64, u64), Summary> = model
            .into_iter()
            .map(|(bounds, items)| (bounds, support::stats(items.iter().map(|&(_, v)| v))))
            .collect();
        prop_assert_eq!(late, expected_late);
        prop_assert_eq!(finals, expected);
    }
}

/// Sessions of `gap` over `items` (position, value), the slow way: sort, split where the next
/// item is `gap` or more after the previous one.
fn naive_sessions(items: &[(u64, u32)], gap: u64) -> Vec<(u64, u64, Summary)> {
    let mut sorted = items.to_vec();
    sorted.sort_by_key(|&(at, _)| at);
    let mut sessions: Vec<Vec<(u64, u32)>> = Vec::new();
    for item in sorted {
        match sessions.last_mut() {
            Some(session) if item.0 < session.last().unwrap().0 + gap => session.push(item),
            _ => sessions.push(vec![item]),
        }
    }
    sessions
        .into_iter()
        .map(|s| {
            let (start, end) = (s[0].0, s.last().unwrap().0 + gap);
            (start, end, support::stats(s.iter().map(|&(_, v)| v)))
        })
        .collect()
}

proptest! {
    #[test]
    fn keyed_shuffled_sessions_equal_the_sorted_input_per_key(
        items in proptest::collection::vec((0u64..200, 0u32..1000, 0u8..3), 0..80),
        gap in 1u64..20,
    ) {
        // Out-of-orderness covers every shuffle, so nothing is late and sessions merge as the
        // items that bridge them arrive.
        let window = Window::session(Duration::from_secs(gap))
            .event_time(|&(at, _, _): &(u64, u32, u8)| Duration::from_secs(at), Duration::from_secs(1000))
            .key_by(|&(_, _, key): &(u64, u32, u8)| key)
            .aggregate(Stats.of(|&(_, value, _): &(u64, u32, u8)| value))
            .build()
            .unwrap();
        let got: Vec<(u8, u64, u64, Summary)> = paused_runtime().block_on(
            futures_util::stream::iter(items.clone())
                .window(window)
                .map(|r| (r.key, r.start.as_secs(), r.end.as_secs(), r.value))
                .collect(),
        );
        for key in 0..3u8 {
            let mine: Vec<(u64, u32)> =
                items.iter().filter(|i| i.2 == key).map(|&(at, v, _)| (at, v)).collect();
            let mut got_mine: Vec<(u64, u64, Summary)> = got
                .iter()
                .filter(|r| r.0 == key)
                .map(|&(_, start, end, value)| (start, end, value))
                .collect();
            got_mine.sort_by_key(|&(start, _, _)| start);
            prop_assert_eq!(got_mine, naive_sessions(&mine, gap));
        }
    }

    #[test]
    fn keyed_count_windows_count_each_key_apart(
        items in proptest::collection::vec((0u32..1000, 0u8..3), 0..100),
        (size, slide) in size_and_slide(),
    ) {
        let window = Window::sliding_count(size, slide)
            .key_by(|&(_, key): &(u32, u8)| key)
            .aggregate(Stats.of(|&(value, _): &(u32, u8)| value))
            .build()
            .unwrap();
        let got: Vec<(u8, u64, u64, Summary)> = paused_runtime().block_on(
            futures_util::stream::iter(items.clone())
                .window(window)
                .map(|r| (r.key, r.start, r.end, r.value))
                .collect(),
        );
        for key in 0..3u8 {
            let mine: Vec<(u64, u32)> = (0u64..)
                .zip(items.iter().filter(|i| i.1 == key).map(|&(v, _)| v))
                .collect();
            let got_mine: Vec<(u64, u64, Summary)> = got
                .iter()
                .filter(|r| r.0 == key)
                .map(|&(_, start, end, value)| (start, end, value))
                .collect();
            prop_assert_eq!(got_mine, naive_windows(&mine, size, slide));
        }
    }
}
