//! `pc::window` sliding count windows against recomputing each window from its items, and
//! against a hand-written two-stacks queue for reference: 1,000,000 f64 items, windows of the
//! last 1,000 items every 1 and every 100 items, `Stats` (count, sum, mean, min, max).
//!
//! Two recomputations: `recompute-seed` does what the C# seed's stream processor does on each
//! slide (copy the window's items into a fresh list, then one pass each for the mean, the
//! minimum and the maximum); `recompute-1pass` folds the window in place in one pass, the
//! fastest way to recompute.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use pc::window::{Stats, Summary, Window, WindowExt};
use pc_benches::Flavor;

const ITEMS: u64 = 1_000_000;
const SIZE: u64 = 1_000;

/// A repeatable mix of values.
fn value(i: u64) -> f64 {
    ((i * 7919) % 1000) as f64
}

/// Through the pc-window API: the windowed stream over an in-memory stream.
async fn pc(slide: u64) -> f64 {
    let window = Window::sliding_count(SIZE, slide)
        .aggregate(Stats)
        .build()
        .expect("valid settings");
    let mut windows = futures_util::stream::iter((0..ITEMS).map(value)).window(window);
    let mut total = 0.0;
    while let Some(r) = windows.next().await {
        total += used(&r.value);
    }
    total
}

/// Every field of a result, so that none of them can be skipped.
fn used(s: &Summary) -> f64 {
    s.count as f64 + s.sum + s.mean + s.min + s.max
}

fn summary(values: impl Iterator<Item = f64>) -> Summary {
    let (mut count, mut sum, mut min, mut max) = (0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        count += 1;
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    Summary {
        count,
        sum,
        mean: sum / count as f64,
        min,
        max,
    }
}

/// Every `slide` items, the last `SIZE` items folded again from scratch, in one pass.
fn recompute_one_pass(slide: u64) -> f64 {
    recompute(slide, |last| summary(last.iter().copied()))
}

/// Every `slide` items, the last `SIZE` items copied out and summarised as the seed does it.
fn recompute_seed(slide: u64) -> f64 {
    recompute(slide, |last| {
        let values: Vec<f64> = last.iter().copied().collect();
        let count = values.len() as u64;
        let sum: f64 = values.iter().sum();
        Summary {
            count,
            sum,
            mean: sum / count as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    })
}

fn recompute(slide: u64, summarise: impl Fn(&VecDeque<f64>) -> Summary) -> f64 {
    let mut last = VecDeque::with_capacity(SIZE as usize);
    let mut total = 0.0;
    for i in 0..ITEMS {
        if last.len() == SIZE as usize {
            last.pop_front();
        }
        last.push_back(value(i));
        if (i + 1) % slide == 0 {
            total += used(&summarise(&last));
        }
    }
    total
}

/// A minimal two-stacks queue over `Stats` accumulators, one item per entry (slide 1 only).
fn two_stacks() -> f64 {
    let empty = || (0u64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    let merge = |a: (u64, f64, f64, f64), b: (u64, f64, f64, f64)| {
        (a.0 + b.0, a.1 + b.1, a.2.min(b.2), a.3.max(b.3))
    };
    let mut front: Vec<(u64, f64, f64, f64)> = Vec::new();
    let mut back: Vec<f64> = Vec::new();
    let mut back_agg = empty();
    let mut total = 0.0;
    for i in 0..ITEMS {
        let v = value(i);
        back.push(v);
        back_agg = merge(back_agg, (1, v, v, v));
        if front.len() + back.len() > SIZE as usize {
            if front.is_empty() {
                let mut agg = empty();
                for &v in back.iter().rev() {
                    agg = merge((1, v, v, v), agg);
                    front.push(agg);
                }
                back.clear();
                back_agg = empty();
            }
            front.pop();
        }
        let all = merge(front.last().copied().unwrap_or_else(empty), back_agg);
        let summary = Summary {
            count: all.0,
            sum: all.1,
            mean: all.1 / all.0 as f64,
            min: all.2,
            max: all.3,
        };
        total += used(&summary);
    }
    total
}

fn window(c: &mut Criterion) {
    let rt = Flavor::CurrentThread.runtime();
    for slide in [1, 100] {
        let mut g = c.benchmark_group(format!("window-ct-count{SIZE}-slide{slide}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(ITEMS));
        let cases: &[&str] = if slide == 1 {
            &["pc", "two-stacks", "recompute-1pass", "recompute-seed"]
        } else {
            &["pc", "recompute-1pass", "recompute-seed"]
        };
        for &case in cases {
            g.bench_function(case, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let total = match case {
                            "pc" => rt.block_on(pc(slide)),
                            "two-stacks" => two_stacks(),
                            "recompute-1pass" => recompute_one_pass(slide),
                            _ => recompute_seed(slide),
                        };
                        black_box(total);
                    }
                    start.elapsed()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, window);
criterion_main!(benches);
