//! Pools that size themselves, simulated under paused time: a backend with a concurrency knee
//! (each job takes 10 ms with up to 8 running, `10 ms x running / 8` with more, so at most 800
//! jobs a second get done however many workers call it) under stepped load: 400 jobs a second
//! for 20 s, 1,000 a second for 20 s, 400 again for 20 s. Every fixed size from 1 to 32 runs
//! it, then each built-in controller (between 1 and 32 workers, starting at 4).
//!
//! `cargo run --release --example adaptive_pool` prints a table and writes an SVG chart of
//! each controller's size over time (`target/adaptive_pool.svg`, or the path after `--svg`);
//! `-- --json` prints the figures as JSON instead. The run is deterministic: paused time and
//! seeded arrivals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc::Producer;
use pc::pool::WorkerPool;
use pc::pool::sizing::{Aimd, Controller, Gradient2, LittlesLaw, Vegas};
use tokio::time::{Instant, sleep, sleep_until};

mod chart;
use chart::{Chart, Options};

/// The backend: a job's time alone, and how many run at once before each gets slower.
const BASE: Duration = Duration::from_millis(10);
const KNEE: usize = 8;
/// Jobs the pool's queue holds; more are refused.
const CAPACITY: usize = 128;
/// The load: jobs per second, for how long.
const PHASES: [(f64, Duration); 3] = [
    (400.0, Duration::from_secs(20)),
    (1_000.0, Duration::from_secs(20)),
    (400.0, Duration::from_secs(20)),
];
/// The adaptive pools' bounds and first size.
const MIN: usize = 1;
const MAX: usize = 32;
const START: usize = 4;
/// How often the size is read for the chart and the settling time.
const EVERY: Duration = Duration::from_millis(250);

/// What one pool did with the load.
#[derive(Debug, Default)]
struct Outcome {
    /// Jobs finished, per second of the run.
    throughput: f64,
    /// Each finished job's time from arrival to its end.
    latencies: Vec<Duration>,
    /// The pool's size, read every `EVERY`.
    sizes: Vec<usize>,
}

impl Outcome {
    fn p99_ms(&self) -> f64 {
        let mut sorted = self.latencies.clone();
        if sorted.is_empty() {
            return 0.0;
        }
        sorted.sort_unstable();
        sorted[(sorted.len() * 99).div_ceil(100) - 1].as_secs_f64() * 1e3
    }

    /// After each load step, how long until the size stays within 2 workers (or a fifth, if
    /// more) of where that phase ends; the longest of the steps, in seconds.
    fn settle_s(&self) -> f64 {
        let per_phase = |length: Duration| (length.as_millis() / EVERY.as_millis()) as usize;
        let mut start = per_phase(PHASES[0].1);
        let mut longest: f64 = 0.0;
        for (_, length) in &PHASES[1..] {
            let end = (start + per_phase(*length)).min(self.sizes.len());
            let phase = &self.sizes[start..end];
            let Some(&last) = phase.last() else { break };
            let band = 2.max(last / 5);
            let settled = phase
                .iter()
                .rposition(|size| size.abs_diff(last) > band)
                .map_or(0, |outside| outside + 1);
            longest = longest.max(settled as f64 * EVERY.as_secs_f64());
            start = end;
        }
        longest
    }
}

/// Runs the load through a pool of `workers`, sized by `controller` if there is one, on the
/// paused clock of the caller.
async fn simulate(workers: usize, controller: Option<impl Controller>) -> Outcome {
    let running = Arc::new(AtomicUsize::new(0));
    let backend = move |arrived: Instant| {
        let running = Arc::clone(&running);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            sleep(BASE * now.max(KNEE) as u32 / KNEE as u32).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(arrived.elapsed())
        }
    };
    let builder = WorkerPool::builder(backend)
        .capacity(CAPACITY)
        .workers(workers);
    let builder = match controller {
        Some(controller) => builder.adaptive(MIN, MAX, controller),
        None => builder,
    };
    let pool = builder.build().expect("valid settings");
    let pool = Arc::new(pool);
    let results = pool.results();
    let collect = tokio::spawn(async move {
        let mut latencies = Vec::new();
        while let Ok(result) = results.recv().await {
            latencies.push(result.output.expect("the backend does not fail"));
        }
        latencies
    });
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let watch = tokio::spawn({
        let (pool, sizes) = (Arc::clone(&pool), Arc::clone(&sizes));
        async move {
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                sizes.lock().unwrap().push(pool.target_workers());
            }
        }
    });
    // Poisson arrivals, each sent at its own instant (the timer rounds to the millisecond).
    let mut rng = fastrand::Rng::with_seed(11);
    let start = Instant::now();
    let (mut next, mut phase_end) = (start, start);
    for (per_second, length) in PHASES {
        phase_end += length;
        loop {
            next += Duration::from_secs_f64(-(1.0 - rng.f64()).ln() / per_second);
            if next >= phase_end {
                next = phase_end;
                break;
            }
            sleep_until(next).await;
            // Refused when the queue is full: the caller's load shedding.
            let _ = pool.try_send(next);
        }
    }
    sleep_until(phase_end).await;
    watch.abort();
    let total = phase_end - start;
    pool.close_and_wait().await;
    let latencies = collect.await.expect("the collector ends with the pool");
    let sizes = sizes.lock().unwrap().clone();
    Outcome {
        throughput: latencies.len() as f64 / total.as_secs_f64(),
        latencies,
        sizes,
    }
}

/// The fixed sizes tried.
const FIXED: std::ops::RangeInclusive<usize> = 1..=32;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::from_args("target/adaptive_pool.svg");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let fixed: Vec<(usize, Outcome)> = FIXED
        .map(|workers| (workers, runtime.block_on(simulate(workers, None::<Aimd>))))
        .collect();
    let controllers: Vec<(&str, Outcome)> = vec![
        (
            "gradient2",
            runtime.block_on(simulate(START, Some(Gradient2::new()))),
        ),
        (
            "vegas",
            runtime.block_on(simulate(START, Some(Vegas::new()))),
        ),
        ("aimd", runtime.block_on(simulate(START, Some(Aimd::new())))),
        (
            "littles_law",
            runtime.block_on(simulate(START, Some(LittlesLaw::new()))),
        ),
    ];
    let best = best(&fixed);
    if options.json {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        let figures = serde_json::json!({
            "fixed": fixed.iter().map(|(workers, outcome)| serde_json::json!({
                "workers": workers,
                "throughput": round(outcome.throughput),
                "p99_ms": round(outcome.p99_ms()),
            })).collect::<Vec<_>>(),
            "controllers": controllers.iter().map(|(name, outcome)| ((*name).to_owned(), serde_json::json!({
                "throughput": round(outcome.throughput),
                "p99_ms": round(outcome.p99_ms()),
                "settle_s": outcome.settle_s(),
                "sizes": outcome.sizes,
            }))).collect::<serde_json::Map<_, _>>(),
        });
        println!("{figures}");
    } else {
        println!(
            "backend: 10 ms a job up to 8 at once, slower in proportion past it (800 jobs/s at most)"
        );
        println!("load: 400 jobs/s for 20 s, 1,000/s for 20 s, 400/s for 20 s; queue of 128");
        println!(
            "{:<14} {:>12} {:>10} {:>10}",
            "pool", "throughput", "p99 ms", "settle s"
        );
        for (workers, outcome) in &fixed {
            let mark = if *workers == best.0 {
                " (best fixed)"
            } else {
                ""
            };
            println!(
                "{:<14} {:>12.1} {:>10.2} {:>10}{mark}",
                format!("fixed {workers}"),
                outcome.throughput,
                outcome.p99_ms(),
                "-"
            );
        }
        for (name, outcome) in &controllers {
            println!(
                "{name:<14} {:>12.1} {:>10.2} {:>10.2}",
                outcome.throughput,
                outcome.p99_ms(),
                outcome.settle_s()
            );
        }
        options.write(&chart(&controllers))?;
    }
    check(best, &controllers)?;
    Ok(())
}

/// The fixed size with the most throughput (within 0.5%, the one with the lower p99).
fn best(fixed: &[(usize, Outcome)]) -> (usize, &Outcome) {
    let most = fixed
        .iter()
        .map(|(_, outcome)| outcome.throughput)
        .fold(0.0, f64::max);
    fixed
        .iter()
        .filter(|(_, outcome)| outcome.throughput >= most * 0.995)
        .min_by(|(_, a), (_, b)| a.p99_ms().total_cmp(&b.p99_ms()))
        .map(|(workers, outcome)| (*workers, outcome))
        .expect("fixed sizes ran")
}

/// The simulation's goals: each controller within 0.9x the best fixed size's throughput, with
/// a p99 at most 1.5x that size's, settled within 10 s of each load step.
fn check(best: (usize, &Outcome), controllers: &[(&str, Outcome)]) -> Result<(), String> {
    let (workers, best) = best;
    for (name, outcome) in controllers {
        if outcome.throughput < 0.9 * best.throughput {
            return Err(format!(
                "{name}: throughput {:.1} is under 0.9x the best fixed size's ({workers} workers, {:.1})",
                outcome.throughput, best.throughput
            ));
        }
        if outcome.p99_ms() > 1.5 * best.p99_ms() {
            return Err(format!(
                "{name}: p99 {:.2} ms is over 1.5x the best fixed size's ({workers} workers, {:.2} ms)",
                outcome.p99_ms(),
                best.p99_ms()
            ));
        }
        if outcome.settle_s() > 10.0 {
            return Err(format!(
                "{name}: settled {:.2} s after a load step, over 10 s",
                outcome.settle_s()
            ));
        }
    }
    Ok(())
}

/// Each controller's size over time, one line each, with the load steps marked.
fn chart(controllers: &[(&str, Outcome)]) -> String {
    let total: Duration = PHASES.iter().map(|(_, length)| *length).sum();
    let steps = (total.as_millis() / EVERY.as_millis()) as f64;
    let mut chart = Chart::new(320.0);
    for size in (0..=MAX).step_by(8) {
        chart.grid(size as f64 / MAX as f64, &size.to_string());
    }
    let phases: Vec<Duration> = PHASES.iter().map(|(_, length)| *length).collect();
    chart.time_axis(&phases, 10);
    for (name, outcome) in controllers {
        let points = outcome
            .sizes
            .iter()
            .enumerate()
            .map(|(step, size)| (step as f64 / steps, *size as f64 / MAX as f64));
        chart.line(name, points);
    }
    chart.finish("workers over time; load 400/s, 1,000/s from 20 s, 400/s from 40 s; knee at 8")
}
