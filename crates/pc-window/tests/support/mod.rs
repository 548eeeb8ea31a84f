//! Naive window arithmetic the tests compare against, and a paused runtime.

#![allow(dead_code)]

use pc_window::Summary;

/// A current-thread runtime whose clock is paused: timers fire as soon as nothing else can run.
pub(crate) fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// The windows `[start, end)` of `size` every `slide` (starts at multiples of `slide`, cut at
/// 0) that hold position `at`.
pub(crate) fn windows_of(at: u64, size: u64, slide: u64) -> Vec<(u64, u64)> {
    let (at, size, slide) = (at as i64, size as i64, slide as i64);
    let first = (at - size).div_euclid(slide) + 1;
    let last = at.div_euclid(slide);
    (first..=last)
        .map(|k| ((k * slide).max(0) as u64, (k * slide + size) as u64))
        .collect()
}

/// Count, sum, mean, min and max, the slow way.
pub(crate) fn stats(values: impl IntoIterator<Item = u32>) -> Summary {
    let values: Vec<f64> = values.into_iter().map(f64::from).collect();
    let sum: f64 = values.iter().sum();
    Summary {
        count: values.len() as u64,
        sum,
        mean: sum / values.len() as f64,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Every non-empty window over `items` (position, value), by end, each recomputed from its
/// items.
pub(crate) fn naive_windows(
    items: &[(u64, u32)],
    size: u64,
    slide: u64,
) -> Vec<(u64, u64, Summary)> {
    let mut bounds: Vec<(u64, u64)> = items
        .iter()
        .flat_map(|&(at, _)| windows_of(at, size, slide))
        .collect();
    bounds.sort_by_key(|&(start, end)| (end, start));
    bounds.dedup();
    bounds
        .into_iter()
        .map(|(start, end)| {
            let inside = items
                .iter()
                .filter(|&&(at, _)| start <= at && at < end)
                .map(|&(_, value)| value);
            (start, end, stats(inside))
        })
        .collect()
}
