//! Overload, simulated under paused time: requests arrive at twice what the workers serve for
//! 10 s, then at half of it for 10 s, and each client gives up after 100 ms. The same run under
//! each queue discipline: FIFO, CoDel, adaptive LIFO, and CoDel with adaptive LIFO.
//!
//! `cargo run --release --example overload` prints a table and writes an SVG chart of the
//! 99th percentile of time in the queue over time (`target/overload.svg`, or the path after
//! `--svg`); `-- --json` prints the figures as JSON instead. The run is deterministic: paused
//! time and seeded arrivals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc::backpressure::{BoundedQueue, Discipline, Overflow};
use tokio::time::{Instant, sleep, sleep_until};

mod chart;
use chart::{Chart, Options};

/// Workers, and each request's service time: 1,000 requests per second served.
const WORKERS: usize = 4;
const SERVICE: Duration = Duration::from_millis(4);
/// Room for a second's worth of requests: a FIFO queue under overload makes each wait that.
const CAPACITY: usize = 1_000;
/// How long a client waits for its answer before it gives up.
const PATIENCE: Duration = Duration::from_millis(100);
/// The load: twice the service rate, then half of it.
const PHASES: [(f64, Duration); 2] = [
    (2_000.0, Duration::from_secs(10)),
    (500.0, Duration::from_secs(10)),
];
/// The chart's time step.
const BUCKET: Duration = Duration::from_millis(250);

/// What one discipline did with the load.
#[derive(Debug, Default)]
struct Outcome {
    /// Requests answered before their client gave up.
    goodput: u64,
    /// Requests the queue dropped (expired) or refused (full).
    dropped: u64,
    /// Each served request's time in the queue, with when it was taken.
    sojourns: Vec<(Duration, Duration)>,
}

impl Outcome {
    fn p99_ms(&self) -> f64 {
        p99(self.sojourns.iter().map(|(_, sojourn)| *sojourn)).as_secs_f64() * 1e3
    }
}

fn p99(sojourns: impl Iterator<Item = Duration>) -> Duration {
    let mut sorted: Vec<Duration> = sojourns.collect();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted.sort_unstable();
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
}

/// Runs the load through a queue with `discipline`, on the paused clock of the caller.
async fn simulate(discipline: Discipline) -> Outcome {
    let expired = Arc::new(Mutex::new(0u64));
    let counted = Arc::clone(&expired);
    let (tx, rx) = BoundedQueue::builder(CAPACITY)
        .overflow(Overflow::Reject)
        .discipline(discipline)
        .on_drop(move |_: Instant, _| *counted.lock().unwrap() += 1)
        .build()
        .expect("valid settings");
    let start = Instant::now();
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (rx, outcome) = (rx.clone(), Arc::clone(&outcome));
            tokio::spawn(async move {
                while let Ok(arrived) = rx.recv().await {
                    let taken = Instant::now();
                    sleep(SERVICE).await;
                    let mut outcome = outcome.lock().unwrap();
                    outcome.sojourns.push((taken - start, taken - arrived));
                    if arrived.elapsed() <= PATIENCE {
                        outcome.goodput += 1;
                    }
                }
            })
        })
        .collect();
    drop(rx);
    // Poisson arrivals, each sent at its own instant (the timer rounds to the millisecond).
    let mut rng = fastrand::Rng::with_seed(7);
    let mut refused = 0;
    let mut next = start;
    let mut phase_end = start;
    for (per_second, length) in PHASES {
        phase_end += length;
        loop {
            next += Duration::from_secs_f64(-(1.0 - rng.f64()).ln() / per_second);
            if next >= phase_end {
                next = phase_end;
                break;
            }
            sleep_until(next).await;
            if tx.try_send(next).is_err() {
                refused += 1;
            }
        }
    }
    drop(tx);
    for worker in workers {
        worker.await.expect("a worker ends with the queue");
    }
    let mut outcome = Arc::try_unwrap(outcome)
        .expect("the workers are done")
        .into_inner()
        .unwrap();
    outcome.dropped = refused + *expired.lock().unwrap();
    outcome
}

const DISCIPLINES: [(&str, Discipline); 4] = [
    ("fifo", Discipline::fifo()),
    ("codel", Discipline::codel()),
    ("lifo", Discipline::adaptive_lifo()),
    ("codel_lifo", Discipline::codel().lifo(true)),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::from_args("target/overload.svg");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let outcomes: Vec<(&str, Outcome)> = DISCIPLINES
        .iter()
        .map(|&(name, discipline)| (name, runtime.block_on(simulate(discipline))))
        .collect();
    check(&outcomes)?;
    if options.json {
        let figures: serde_json::Map<String, serde_json::Value> = outcomes
            .iter()
            .map(|(name, outcome)| {
                let figures = serde_json::json!({
                    "goodput": outcome.goodput,
                    "p99_sojourn_ms": (outcome.p99_ms() * 100.0).round() / 100.0,
                    "dropped": outcome.dropped,
                });
                ((*name).to_owned(), figures)
            })
            .collect();
        println!("{}", serde_json::Value::Object(figures));
        return Ok(());
    }
    println!("requests: 2,000/s for 10 s, then 500/s for 10 s; served: 1,000/s; patience 100 ms");
    println!(
        "{:<12} {:>8} {:>16} {:>8}",
        "discipline", "goodput", "p99 sojourn ms", "dropped"
    );
    for (name, outcome) in &outcomes {
        println!(
            "{name:<12} {:>8} {:>16.2} {:>8}",
            outcome.goodput,
            outcome.p99_ms(),
            outcome.dropped
        );
    }
    options.write(&chart(&outcomes))?;
    Ok(())
}

/// The simulation's goals: CoDel's goodput at least 1.5x FIFO's, with its p99 time in the
/// queue within 2x its target, while FIFO's grows to capacity / service rate.
fn check(outcomes: &[(&str, Outcome)]) -> Result<(), String> {
    let of = |wanted: &str| {
        outcomes
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, outcome)| outcome)
            .ok_or_else(|| format!("no run of {wanted}"))
    };
    let (fifo, codel) = (of("fifo")?, of("codel")?);
    let target_ms = Discipline::codel()
        .target()
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3;
    let full_ms = CAPACITY as f64 / (WORKERS as f64 / SERVICE.as_secs_f64()) * 1e3;
    if (codel.goodput as f64) < 1.5 * fifo.goodput as f64 {
        return Err(format!(
            "CoDel's goodput {} is under 1.5x FIFO's {}",
            codel.goodput, fifo.goodput
        ));
    }
    if codel.p99_ms() > 2.0 * target_ms {
        return Err(format!(
            "CoDel's p99 {:.2} ms is over 2x its target",
            codel.p99_ms()
        ));
    }
    if fifo.p99_ms() < 0.9 * full_ms {
        return Err(format!(
            "FIFO's p99 {:.2} ms is short of {full_ms} ms",
            fifo.p99_ms()
        ));
    }
    Ok(())
}

/// The 99th percentile of time in the queue per quarter second, one line per discipline, on
/// a log scale from 1 ms to 10 s.
fn chart(outcomes: &[(&str, Outcome)]) -> String {
    let total: Duration = PHASES.iter().map(|(_, length)| *length).sum();
    let buckets = (total.as_millis() / BUCKET.as_millis()) as usize;
    let x = |bucket: usize| bucket as f64 / buckets as f64;
    // log10 of milliseconds, from 0 (1 ms) to 4 (10 s), as a fraction of the height.
    let y = |sojourn: Duration| (sojourn.as_secs_f64() * 1e3).clamp(1.0, 1e4).log10() / 4.0;
    let mut chart = Chart::new(360.0);
    for (decade, label) in ["1 ms", "10 ms", "100 ms", "1 s", "10 s"]
        .iter()
        .enumerate()
    {
        chart.grid(decade as f64 / 4.0, label);
    }
    let phases: Vec<Duration> = PHASES.iter().map(|(_, length)| *length).collect();
    chart.time_axis(&phases, 5);
    for (name, outcome) in outcomes {
        let mut by_bucket = vec![Vec::new(); buckets];
        for (taken, sojourn) in &outcome.sojourns {
            let bucket = (taken.as_millis() / BUCKET.as_millis()) as usize;
            if let Some(samples) = by_bucket.get_mut(bucket) {
                samples.push(*sojourn);
            }
        }
        let points = by_bucket
            .into_iter()
            .enumerate()
            .filter(|(_, samples)| !samples.is_empty())
            .map(|(bucket, samples)| (x(bucket), y(p99(samples.into_iter()))));
        chart.line(name, points);
    }
    chart.finish("p99 time in the queue per 250 ms; load 2x service until 10 s, 0.5x after")
}
