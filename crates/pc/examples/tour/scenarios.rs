//! The seed scenarios, played on `pc`. Shared by the tour (`main.rs`, real time) and by
//! `tests/tour.rs` (paused time), so what the tour shows is what the tests check.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pc::WaitKind;
use pc::channel;
use pc::metrics::{Metrics, Registry};
use pc::prelude::*;
use tokio::time::{Instant, sleep};

/// What one scenario did, for the tour's table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub(crate) name: String,
    pub(crate) items: u64,
    pub(crate) wall: Duration,
    pub(crate) peak_depth: usize,
    /// Items dropped or handed back by a policy, as the seed counts them.
    pub(crate) dropped: u64,
    /// Items whose processing failed (jobs, pipeline items), as the scenario expects them.
    pub(crate) errors: u64,
    /// The 99th percentile of the scenario's most telling wait, and which wait it is.
    pub(crate) p99: Option<(WaitKind, Duration)>,
}

impl Report {
    /// A report with nothing dropped, failed or measured yet.
    fn new(name: impl Into<String>, items: u64, wall: Duration) -> Self {
        Self {
            name: name.into(),
            items,
            wall,
            peak_depth: 0,
            dropped: 0,
            errors: 0,
            p99: None,
        }
    }

    pub(crate) fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Takes the peak depth, failures and p99 from what `metrics` saw: processing time first,
    /// then queue wait, throttling, blocked sends and batch linger.
    fn observed(mut self, metrics: &[&Metrics]) -> Self {
        let snapshots: Vec<_> = metrics.iter().map(|m| m.snapshot()).collect();
        for s in &snapshots {
            self.peak_depth = self.peak_depth.max(s.peak_depth as usize);
            self.errors += s.failed_total();
        }
        self.p99 = [
            WaitKind::Processing,
            WaitKind::Queue,
            WaitKind::Throttled,
            WaitKind::SendBlocked,
            WaitKind::Linger,
        ]
        .into_iter()
        .find_map(|kind| {
            snapshots
                .iter()
                .filter_map(|s| s.latency_of(kind))
                .map(|latency| latency.p99)
                .max()
                .map(|p99| (kind, p99))
        });
        self
    }

    fn dropped(mut self, dropped: u64) -> Self {
        self.dropped = dropped;
        self
    }

    fn peak_depth(mut self, peak_depth: usize) -> Self {
        self.peak_depth = peak_depth;
        self
    }
}

/// A scenario's outcome: its report, or what did not add up.
pub(crate) type Outcome = Result<Report, String>;

/// Every scenario's metrics, where the tour's progress line reads them while it plays.
pub(crate) fn live() -> &'static Registry {
    static LIVE: OnceLock<Registry> = OnceLock::new();
    LIVE.get_or_init(Registry::new)
}

/// Metrics for one scenario, registered with [`live`].
fn metrics(name: &str) -> Arc<Metrics> {
    let metrics = Metrics::new(name);
    live().register(metrics.clone());
    metrics
}

fn check<T: PartialEq + std::fmt::Debug>(
    name: &str,
    what: &str,
    expected: T,
    got: T,
) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(format!(
            "{name}: {what}: expected {expected:?}, got {got:?}"
        ))
    }
}

/// C# example 1: a bounded channel of 100, one producer of 1,000 messages (1 ms apart), one
/// consumer that takes 2 ms per message. Every message arrives, in order.
pub(crate) async fn csharp_basic_channel() -> Outcome {
    const NAME: &str = "C# 1: basic channel, 1,000 messages";
    let peak = metrics(NAME);
    let (tx, rx) = channel::Builder::bounded(100)
        .probe(peak.probe())
        .build::<String>()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        for i in 1..=1000 {
            tx.send(format!("Message-{i}"))
                .await
                .map_err(|e| e.to_string())?;
            sleep(Duration::from_millis(1)).await;
        }
        Ok::<_, String>(())
        // Dropping `tx` completes the channel, as `CompleteAsync` did.
    });
    let mut consumed = Vec::new();
    while let Ok(message) = rx.recv().await {
        sleep(Duration::from_millis(2)).await;
        consumed.push(message);
    }
    producer.await.map_err(|e| e.to_string())??;
    let expected: Vec<String> = (1..=1000).map(|i| format!("Message-{i}")).collect();
    check(NAME, "messages in order", true, consumed == expected)?;
    Ok(Report::new(NAME, consumed.len() as u64, start.elapsed()).observed(&[&peak]))
}

/// C# example 6: three producers of 100 work items each (5-25 ms apart, each needing 10-100 ms
/// of work), two consumers, a channel of 1,000. Every item is processed exactly once.
pub(crate) async fn csharp_multi_producer_multi_consumer() -> Outcome {
    const NAME: &str = "C# 6: 3 producers x 100, 2 consumers";
    let peak = metrics(NAME);
    let (tx, rx) = channel::Builder::bounded(1000)
        .probe(peak.probe())
        .build::<(String, Duration)>()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let producers: Vec<_> = (1..=3u64)
        .map(|producer| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(producer);
                for i in 1..=100 {
                    let work = Duration::from_millis(rng.u64(10..100));
                    tx.send((format!("Producer-{producer}-Work-{i}"), work))
                        .await
                        .map_err(|e| e.to_string())?;
                    sleep(Duration::from_millis(rng.u64(5..25))).await;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (1..=2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut done = Vec::new();
                // The channel's end is `Err(RecvError)`, not an exception used as a signal.
                while let Ok((id, work)) = rx.recv().await {
                    sleep(work).await;
                    done.push(id);
                }
                done
            })
        })
        .collect();
    drop(rx);
    for producer in producers {
        producer.await.map_err(|e| e.to_string())??;
    }
    let mut seen = HashSet::new();
    let mut per_consumer = Vec::new();
    for consumer in consumers {
        let done = consumer.await.map_err(|e| e.to_string())?;
        per_consumer.push(done.len());
        for id in done {
            if !seen.insert(id.clone()) {
                return Err(format!("{NAME}: {id} processed twice"));
            }
        }
    }
    check(NAME, "items processed", 300, seen.len())?;
    check(
        NAME,
        "both consumers worked",
        true,
        per_consumer.iter().all(|&n| n > 0),
    )?;
    Ok(Report::new(NAME, 300, start.elapsed()).observed(&[&peak]))
}

/// C# example 7: 10,000 items through channels of capacity 10, 100, 1,000 and 10,000, as fast as
/// they go. In order, and never deeper than the capacity.
pub(crate) async fn csharp_capacity_comparison() -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for capacity in [10, 100, 1000, 10_000] {
        outcomes.push(capacity_run(capacity).await);
    }
    outcomes
}

async fn capacity_run(capacity: usize) -> Outcome {
    let name = format!("C# 7: capacity {capacity}, 10,000 items");
    // The comparison is about depth: every change reported, for an exact peak.
    let peak = Metrics::with_exact_depth(&name);
    live().register(peak.clone());
    let (tx, rx) = channel::Builder::bounded(capacity)
        .probe(peak.probe())
        .build::<u64>()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let producer =
        tokio::spawn(async move { tx.send_all(0..10_000).await.map_err(|e| e.to_string()) });
    let mut next = 0u64;
    while let Ok(item) = rx.recv().await {
        check(&name, "item in order", next, item)?;
        next += 1;
    }
    let sent = producer.await.map_err(|e| e.to_string())??;
    check(&name, "items sent", 10_000, sent)?;
    check(&name, "items received", 10_000, next)?;
    check(
        &name,
        "peak depth within capacity",
        true,
        peak.snapshot().peak_depth <= capacity as u64,
    )?;
    Ok(Report::new(name, next, start.elapsed()).observed(&[&peak]))
}

/// Go basic producer-consumer: a channel of 10, two producers on tickers (200-700 ms), three
/// consumers taking 100-400 ms per message, run for 5 s; then the producers stop, the channel
/// closes and the consumers drain it. Every produced message is consumed exactly once.
pub(crate) async fn go_basic_producer_consumer() -> Outcome {
    const NAME: &str = "Go: basic producer-consumer, 5 s";
    let peak = metrics(NAME);
    let (tx, rx) = channel::Builder::bounded(10)
        .probe(peak.probe())
        .build::<(u64, u64)>()
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let start = Instant::now();
    let producers: Vec<_> = (1..=2u64)
        .map(|producer| {
            let tx = tx.clone();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(10 + producer);
                let mut ticker = tokio::time::interval(Duration::from_millis(rng.u64(200..700)));
                ticker.tick().await; // an interval's first tick is immediate; Go's ticker waits
                let mut sent = 0u64;
                loop {
                    tokio::select! {
                        () = stop.notified() => break,
                        _ = ticker.tick() => {
                            // Waiting for space stays interruptible by stop, and the message
                            // is kept (not lost) if stop wins: reserve, then send.
                            tokio::select! {
                                () = stop.notified() => break,
                                permit = tx.reserve() => {
                                    let Ok(permit) = permit else { break };
                                    sent += 1;
                                    permit.send((producer, sent)).map_err(|e| e.to_string())?;
                                }
                            }
                        }
                    }
                }
                Ok::<_, String>(sent)
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (1..=3u64)
        .map(|consumer| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(20 + consumer);
                let mut got = Vec::new();
                while let Ok(message) = rx.recv().await {
                    sleep(Duration::from_millis(rng.u64(100..400))).await;
                    got.push(message);
                }
                got
            })
        })
        .collect();
    drop(rx);
    sleep(Duration::from_secs(5)).await;
    stop.notify_waiters();
    let mut produced = 0;
    for producer in producers {
        produced += producer.await.map_err(|e| e.to_string())??;
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        for message in consumer.await.map_err(|e| e.to_string())? {
            if !seen.insert(message) {
                return Err(format!("{NAME}: message {message:?} consumed twice"));
            }
        }
    }
    check(NAME, "consumed = produced", produced, seen.len() as u64)?;
    check(NAME, "messages produced", true, produced > 0)?;
    Ok(Report::new(NAME, produced, start.elapsed()).observed(&[&peak]))
}

/// Go token bucket with rate-limited workers: a bucket of 5 refilled at 2 per second shared by
/// 3 workers, each with its own 10-slot queue fed round-robin every 200 ms; each job waits for a
/// permit, then works 100 ms, for 15 s; `speed` plays it that many times faster (every rate
/// multiplied, every duration divided), with the same counts. Every submitted job is processed,
/// refused with "queue full", or still queued or waiting for its permit at the end; the permits
/// granted never exceed the burst plus the rate times the time.
#[cfg(feature = "ratelimit")]
pub(crate) async fn go_token_bucket(speed: u32) -> Outcome {
    use pc::ratelimit::TokenBucket;

    let name = format!("Go: token bucket, 3 workers, 15 s / {speed}");
    let run_for = Duration::from_secs(15) / speed;
    let limiter = metrics(&format!("{name}: bucket"));
    let bucket = TokenBucket::builder()
        .rate(2.0 * f64::from(speed))
        .burst(5)
        .probe(limiter.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let peak = metrics(&name);
    let start = Instant::now();
    let deadline = start + run_for;
    let mut queues = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = channel::Builder::bounded(10)
            .probe(peak.probe())
            .build::<u64>()
            .map_err(|e| e.to_string())?;
        queues.push(tx);
        let bucket = bucket.clone();
        workers.push(tokio::spawn(async move {
            let (mut processed, mut cut_off) = (0u64, 0u64);
            loop {
                let job = tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    job = rx.recv() => match job { Ok(job) => job, Err(_) => break },
                };
                // Waiting for a permit stops at the deadline; the cancelled wait refunds it.
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => { cut_off += 1; break }
                    permit = bucket.acquire(1) => permit.map_err(|e| e.to_string())?,
                }
                sleep(Duration::from_millis(100) / speed).await;
                let _ = job;
                processed += 1;
            }
            Ok::<_, String>((processed, cut_off, rx.len() as u64))
        }));
    }
    let tick = Duration::from_millis(200) / speed;
    let mut ticker = tokio::time::interval_at(start + tick, tick);
    let (mut submitted, mut refused, mut job) = (0u64, 0u64, 0u64);
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            _ = ticker.tick() => {
                // Round-robin, and a full queue is reported, not waited on.
                match queues[(job % 3) as usize].try_send(job) {
                    Ok(()) => submitted += 1,
                    Err(err) if err.is_full() => refused += 1,
                    // A worker stops at the deadline too, and may see it first: the run is over.
                    Err(_) => break,
                }
                job += 1;
            }
        }
    }
    let (mut processed, mut cut_off, mut queued) = (0, 0, 0);
    for worker in workers {
        let (p, c, q) = worker.await.map_err(|e| e.to_string())??;
        (processed, cut_off, queued) = (processed + p, cut_off + c, queued + q);
    }
    let granted = bucket.stats().granted;
    check(
        &name,
        "submitted + refused = attempted",
        job,
        submitted + refused,
    )?;
    check(
        &name,
        "processed + cut off + still queued = submitted",
        submitted,
        processed + cut_off + queued,
    )?;
    check(&name, "\"queue full\" reported", true, refused > 0)?;
    // Never more than the burst plus the rate times the time, nor fewer than the time allows.
    let bound = 5 + 2 * 15;
    check(
        &name,
        "permits granted within the bound",
        true,
        granted <= bound && granted + 2 >= bound,
    )?;
    Ok(Report::new(name, granted, start.elapsed())
        .dropped(refused)
        .observed(&[&peak, &limiter]))
}

/// Go backpressure queue: a queue of 5 with `BlockFor(100 ms)`, a producer every 50 ms, two
/// consumers taking `work` per item (the seed's is 100 ms), for 10 s; `speed` plays it that
/// many times faster. Every attempt is enqueued or handed back (the seed's "dropped"), every
/// enqueued item consumed or still queued, and the depth never passes 5.
#[cfg(feature = "backpressure")]
pub(crate) async fn go_backpressure_queue(speed: u32, work: Duration) -> Outcome {
    use pc::backpressure::{BoundedQueue, OfferError, Overflow};
    use tokio::time::{MissedTickBehavior, sleep_until};

    let name = format!(
        "Go: backpressure queue, {} ms work, 10 s / {speed}",
        work.as_millis()
    );
    let queue = metrics(&name);
    let (tx, rx) = BoundedQueue::builder::<u64>(5)
        .overflow(Overflow::BlockFor(Duration::from_millis(100) / speed))
        .probe(queue.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(10) / speed;
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut consumed = 0u64;
                loop {
                    tokio::select! {
                        biased; // at the deadline exactly, the deadline wins
                        () = sleep_until(deadline) => break,
                        item = rx.recv() => match item {
                            Ok(_) => {
                                sleep(work / speed).await;
                                consumed += 1;
                            }
                            Err(_) => break,
                        },
                    }
                }
                consumed
            })
        })
        .collect();
    let tick = Duration::from_millis(50) / speed;
    let mut ticker = tokio::time::interval_at(start + tick, tick);
    // Like Go's ticker, a tick missed while a send waited is skipped, not replayed.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut attempted, mut handed_back) = (0u64, 0u64);
    loop {
        tokio::select! {
            biased;
            () = sleep_until(deadline) => break,
            _ = ticker.tick() => {
                attempted += 1;
                match tx.send(attempted).await {
                    Ok(()) => {}
                    Err(OfferError::TimedOut(_)) => handed_back += 1,
                    Err(other) => return Err(format!("{name}: {other}")),
                }
            }
        }
    }
    let mut consumed = 0;
    for consumer in consumers {
        consumed += consumer.await.map_err(|e| e.to_string())?;
    }
    let stats = tx.stats();
    check(
        &name,
        "enqueued + handed back = attempted",
        attempted,
        stats.produced + handed_back,
    )?;
    check(
        &name,
        "consumed + still queued = enqueued",
        stats.produced,
        consumed + rx.len() as u64,
    )?;
    check(
        &name,
        "depth within the capacity",
        true,
        stats.peak_depth <= 5,
    )?;
    Ok(Report::new(name, consumed, start.elapsed())
        .dropped(handed_back)
        .peak_depth(stats.peak_depth)
        .observed(&[&queue]))
}

/// C# example 4: a queue of 500 and a producer paced by `AdaptiveRate` (starting at 200/s)
/// pushing 2,000 items to a consumer taking 1-10 ms each; `speed` plays it faster. Every item is
/// consumed and the depth stays within the capacity; returns the pacer's view of the run
/// (occupancy given, rate then) for the caller to inspect.
#[cfg(feature = "backpressure")]
pub(crate) async fn csharp_adaptive_producer(
    speed: u32,
) -> Result<(Report, Vec<(f64, f64)>), String> {
    use pc::backpressure::{AdaptiveProducer, AdaptiveRate, BoundedQueue};

    let name = format!("C# 4: adaptive producer, 2,000 items / {speed}");
    let k = f64::from(speed);
    let queue = metrics(&name);
    let (tx, rx) = BoundedQueue::builder::<u32>(500)
        .probe(queue.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let rate = Arc::new(
        AdaptiveRate::builder()
            .initial(200.0 * k)
            .min(10.0 * k)
            .max(2_000.0 * k)
            .increase(10.0 * k)
            .adjust_every(Duration::from_millis(100) / speed)
            .build()
            .map_err(|e| e.to_string())?,
    );
    // The pacer's own view: the occupancy it is given at each send, and its rate then.
    let trace = Arc::new(std::sync::Mutex::new(Vec::new()));
    let occupancy = {
        let (tx, rate, trace) = (tx.clone(), Arc::clone(&rate), Arc::clone(&trace));
        move || {
            let occupancy = tx.occupancy();
            trace
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((occupancy, rate.rate()));
            occupancy
        }
    };
    let producer = AdaptiveProducer::new(tx.clone(), Arc::clone(&rate), occupancy);
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut rng = fastrand::Rng::with_seed(4);
        let mut consumed = 0u64;
        while let Ok(_item) = rx.recv().await {
            sleep(Duration::from_millis(rng.u64(1..10)) / speed).await;
            consumed += 1;
        }
        consumed
    });
    let sent = producer
        .send_all(1..=2_000)
        .await
        .map_err(|e| e.to_string())?;
    drop(producer);
    tx.close();
    let consumed = consumer.await.map_err(|e| e.to_string())?;
    let stats = tx.stats();
    check(&name, "items sent", 2_000, sent)?;
    check(&name, "items consumed", 2_000, consumed)?;
    check(
        &name,
        "depth within the capacity",
        true,
        stats.peak_depth <= 500,
    )?;
    let trace = std::mem::take(
        &mut *trace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let report = Report::new(name, consumed, start.elapsed())
        .peak_depth(stats.peak_depth)
        .observed(&[&queue]);
    Ok((report, trace))
}

/// C# example 2: five priorities (the seed's 5 is the highest, our level 0), a producer per
/// priority sending 50 messages `priority x 10 ms` apart (divided by `speed`), one consumer, a
/// channel of 200. All 250 arrive once, FIFO within each priority, with no polling consumer.
#[cfg(feature = "priority")]
pub(crate) async fn csharp_priority(speed: u32) -> Outcome {
    use pc::priority::PriorityChannel;

    const NAME: &str = "C# 2: priority, 5 producers x 50";
    let peak = metrics(NAME);
    let (tx, rx) = PriorityChannel::builder(5)
        .capacity(200)
        .probe(peak.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let producers: Vec<_> = (1..=5u32)
        .map(|priority| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let level = (5 - priority) as usize;
                for i in 1..=50 {
                    tx.send(format!("Priority-{priority}-Message-{i}"), level)
                        .await
                        .map_err(|e| e.to_string())?;
                    sleep(Duration::from_millis(u64::from(priority) * 10) / speed).await;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    drop(tx);
    let mut by_level = vec![Vec::new(); 5];
    while let Ok((message, level)) = rx.recv().await {
        by_level[level].push(message);
    }
    for producer in producers {
        producer.await.map_err(|e| e.to_string())??;
    }
    for (level, got) in by_level.iter().enumerate() {
        let priority = 5 - level;
        let expected: Vec<String> = (1..=50)
            .map(|i| format!("Priority-{priority}-Message-{i}"))
            .collect();
        check(
            NAME,
            &format!("priority {priority} once, in order"),
            &expected,
            got,
        )?;
    }
    Ok(Report::new(
        NAME,
        by_level.iter().map(Vec::len).sum::<usize>() as u64,
        start.elapsed(),
    )
    .observed(&[&peak]))
}

/// C# example 3: 250 numbers through a batch processor (batches of 10, linger 200 ms, a handler
/// taking 50 ms per batch), read back through `process_stream`: 250 outputs, each caller its own,
/// in input order.
#[cfg(feature = "batch")]
pub(crate) async fn csharp_batch_processor() -> Outcome {
    use pc::batch::{BatchProcessor, Batcher};

    const NAME: &str = "C# 3: batch processor, 250 items";
    let batches = metrics(NAME);
    let batcher = Batcher::builder(10, Duration::from_millis(200))
        .probe(batches.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let processor = BatchProcessor::builder(batcher)
        .build(|batch: Vec<u32>| async move {
            sleep(Duration::from_millis(50)).await;
            Ok::<_, String>(
                batch
                    .into_iter()
                    .map(|x| format!("Processed-{x}"))
                    .collect(),
            )
        })
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let results: Vec<String> = futures_util::StreamExt::collect::<Vec<_>>(
        processor.process_stream(futures_util::stream::iter(1..=250), 20),
    )
    .await
    .into_iter()
    .collect::<Result<_, _>>()
    .map_err(|e| e.to_string())?;
    processor.close_and_wait().await;
    let expected: Vec<String> = (1..=250).map(|x| format!("Processed-{x}")).collect();
    check(
        NAME,
        "each caller its own output, in order",
        &expected,
        &results,
    )?;
    Ok(Report::new(NAME, results.len() as u64, start.elapsed()).observed(&[&batches]))
}

/// C# example 5: 100 values arriving every 50-150 ms (seeded), in sliding windows of 2 s every
/// 1 s on the clock, with count, mean, min and max: every window equals a recomputation from
/// its own items (kept alongside by a second aggregate), and no window fires before its end.
/// `speed` shortens every duration.
#[cfg(feature = "window")]
pub(crate) async fn csharp_sliding_window(speed: u32) -> Outcome {
    use pc::window::{Items, Stats, Window, WindowExt};

    const NAME: &str = "C# 5: sliding window 2 s / 1 s, 100 values";
    let (size, slide) = (
        Duration::from_secs(2) / speed,
        Duration::from_secs(1) / speed,
    );
    let (tx, rx) = channel::unbounded::<f64>();
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..100 {
            let value = f64::from(rng.u32(0..10_000)) / 100.0;
            tx.send(value).await.map_err(|e| e.to_string())?;
            sleep(Duration::from_millis(rng.u64(50..150)) / speed).await;
        }
        // Dropping `tx` ends the stream: the windows still open fire then.
        Ok::<_, String>(Instant::now())
    });
    let windows_seen = metrics(NAME);
    let window = Window::sliding(size, slide)
        .probe(windows_seen.probe())
        .aggregate((Stats, Items(|values: &[f64]| values.to_vec())))
        .build()
        .map_err(|e| e.to_string())?;
    let mut windows = rx.window(window);
    let mut got = Vec::new();
    while let Some(w) = futures_util::StreamExt::next(&mut windows).await {
        got.push((Instant::now(), w));
    }
    let closed = producer.await.map_err(|e| e.to_string())??;
    let mut counted = 0;
    for (fired_at, w) in &got {
        counted += w.count;
        let (ours, inside) = &w.value;
        if *fired_at < w.end.min(closed) {
            return Err(format!(
                "{NAME}: window ending at {:?} fired early",
                w.end - start
            ));
        }
        let sum: f64 = inside.iter().sum();
        let brute = (
            inside.len() as u64,
            sum / inside.len() as f64,
            inside.iter().copied().fold(f64::INFINITY, f64::min),
            inside.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        // Sums in another order may differ in the last bits.
        let same = ours.count == brute.0
            && w.count == brute.0
            && (ours.mean - brute.1).abs() < 1e-9
            && ours.min == brute.2
            && ours.max == brute.3;
        if !same {
            return Err(format!(
                "{NAME}: window ending at {:?}: recomputed {brute:?}, got {ours:?}",
                w.end - start
            ));
        }
    }
    // Every value sits in two windows of 2 s every 1 s.
    check(NAME, "items over all windows", 200, counted)?;
    Ok(Report::new(NAME, counted / 2, start.elapsed()).observed(&[&windows_seen]))
}

/// The Go basic worker pool: 3 workers, 10 jobs of 500 ms each (doubling their number), every
/// result once; `speed` shortens the work.
#[cfg(feature = "pool")]
pub(crate) async fn go_basic_worker_pool(speed: u32) -> Outcome {
    use pc::pool::WorkerPool;

    const NAME: &str = "Go: worker pool, 3 workers x 10 jobs";
    let jobs = metrics(NAME);
    let work = Duration::from_millis(500) / speed;
    let pool = WorkerPool::builder(move |n: u64| async move {
        sleep(work).await;
        Ok::<_, String>(n * 2)
    })
    .workers(3)
    .capacity(10)
    .probe(jobs.probe())
    .build()
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    pool.send_all(1..=10).await.map_err(|e| e.to_string())?;
    pool.close_and_wait().await;
    let mut outputs = Vec::new();
    let mut errors = 0;
    let mut results = pool.results();
    while let Some(result) = futures_util::StreamExt::next(&mut results).await {
        match result.output {
            Ok(output) => outputs.push(output),
            Err(_) => errors += 1,
        }
    }
    outputs.sort_unstable();
    check(NAME, "errors", 0, errors)?;
    check(
        NAME,
        "each job's result once",
        (1..=10).map(|n| n * 2).collect::<Vec<u64>>(),
        outputs,
    )?;
    Ok(Report::new(NAME, 10, start.elapsed()).observed(&[&jobs]))
}

/// The Go pool with a context: 3 workers, tasks slow (2 s), fast (100 ms), failing, fast, slow,
/// and a 5 s deadline: four results and the one error, by id; `speed` shortens every duration.
#[cfg(feature = "pool")]
pub(crate) async fn go_advanced_worker_pool(speed: u32) -> Outcome {
    use pc::pool::{JobError, WorkerPool};

    const NAME: &str = "Go: pool with a context, 5 tasks";
    let jobs = metrics(NAME);
    #[derive(Clone, Copy)]
    enum Task {
        Slow,
        Fast,
        Error,
    }
    let token = pc::pool::CancellationToken::new();
    let pool = WorkerPool::builder(move |task: Task| async move {
        match task {
            Task::Slow => {
                sleep(Duration::from_secs(2) / speed).await;
                Ok("Slow task completed")
            }
            Task::Fast => {
                sleep(Duration::from_millis(100) / speed).await;
                Ok("Fast task completed")
            }
            Task::Error => Err("task failed"),
        }
    })
    .workers(3)
    .cancel_token(&token)
    .probe(jobs.probe())
    .build()
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let deadline = tokio::spawn({
        let token = token.clone();
        async move {
            sleep(Duration::from_secs(5) / speed).await;
            token.cancel();
        }
    });
    pool.send_all([Task::Slow, Task::Fast, Task::Error, Task::Fast, Task::Slow])
        .await
        .map_err(|e| e.to_string())?;
    pool.close_and_wait().await;
    deadline.abort();
    let mut results = Vec::new();
    let mut stream = pool.results();
    while let Some(r) = futures_util::StreamExt::next(&mut stream).await {
        results.push((r.id + 1, r.output));
    }
    results.sort_by_key(|(id, _)| *id);
    check(
        NAME,
        "results by task",
        vec![
            (1, Ok("Slow task completed")),
            (2, Ok("Fast task completed")),
            (3, Err(JobError::Failed("task failed"))),
            (4, Ok("Fast task completed")),
            (5, Ok("Slow task completed")),
        ],
        results,
    )?;
    Ok(Report::new(NAME, 5, start.elapsed()).observed(&[&jobs]))
}

/// The Go basic pipeline: generate 1..=5, square, to string, prefix, in order.
#[cfg(feature = "pool")]
pub(crate) async fn go_basic_pipeline() -> Outcome {
    use pc::pool::{Pipeline, PipelineError};

    const NAME: &str = "Go: pipeline, 3 stages, 1..=5";
    let start = Instant::now();
    let basic: Vec<Result<String, PipelineError<String>>> = futures_util::StreamExt::collect(
        Pipeline::from_stream(futures_util::stream::iter(1..=5u64))
            .stage(1, 1, |n: u64| async move { Ok(n * n) })
            .and_then(|p| p.stage(1, 1, |n: u64| async move { Ok(n.to_string()) }))
            .and_then(|p| p.stage(1, 1, |s: String| async move { Ok(format!("Result: {s}")) }))
            .map_err(|e| e.to_string())?
            .ordered(),
    )
    .await;
    check(
        NAME,
        "basic pipeline",
        [1, 4, 9, 16, 25]
            .map(|n| Ok(format!("Result: {n}")))
            .to_vec(),
        basic,
    )?;
    Ok(Report::new(NAME, 5, start.elapsed()))
}

/// The Go pipeline with error handling: "1", "2", "invalid", "4", "5" parsed, doubled and
/// formatted by stages of 2 workers, in order, the one error in its place.
#[cfg(feature = "pool")]
pub(crate) async fn go_error_pipeline() -> Outcome {
    use pc::pool::{Pipeline, PipelineError};

    const NAME: &str = "Go: pipeline with errors, 5 inputs";
    let start = Instant::now();
    let inputs = ["1", "2", "invalid", "4", "5"].map(String::from);
    let with_errors: Vec<Result<String, PipelineError<String>>> = futures_util::StreamExt::collect(
        Pipeline::from_stream(futures_util::stream::iter(inputs))
            .stage(2, 2, |s: String| async move {
                s.parse::<i64>().map_err(|_| format!("invalid input {s:?}"))
            })
            .and_then(|p| p.stage(2, 2, |n: i64| async move { Ok(n * 2) }))
            .and_then(|p| p.stage(2, 2, |n: i64| async move { Ok(format!("Result: {n}")) }))
            .map_err(|e| e.to_string())?
            .ordered(),
    )
    .await;
    let errors = with_errors.iter().filter(|r| r.is_err()).count() as u64;
    check(
        NAME,
        "pipeline with errors",
        vec![
            Ok("Result: 2".to_string()),
            Ok("Result: 4".to_string()),
            Err(PipelineError::Stage(
                "invalid input \"invalid\"".to_string(),
            )),
            Ok("Result: 8".to_string()),
            Ok("Result: 10".to_string()),
        ],
        with_errors,
    )?;
    let mut report = Report::new(NAME, 5, start.elapsed());
    report.errors = errors;
    Ok(report)
}

/// The Go fan-out/fan-in: 3 workers square 1..=10 after 0-99 ms of simulated work (seeded).
#[cfg(feature = "pool")]
pub(crate) async fn go_fan_out_fan_in(speed: u32) -> Outcome {
    const NAME: &str = "Go: fan-out/fan-in, 3 workers, 1..=10";
    let (tx, rx) = channel::bounded::<u64>(1).map_err(|e| e.to_string())?;
    let squares = pc::pool::fan_out(rx, 3, move |n: u64| async move {
        let work = Duration::from_millis(fastrand::Rng::with_seed(n).u64(0..100)) / speed;
        sleep(work).await;
        Ok::<_, String>(n * n)
    })
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    tokio::spawn(async move { tx.send_all(1..=10).await });
    let mut got: Vec<u64> = futures_util::StreamExt::collect::<Vec<_>>(squares)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    got.sort_unstable();
    check(NAME, "squares", (1..=10).map(|n| n * n).collect(), got)?;
    Ok(Report::new(NAME, 10, start.elapsed()))
}

/// The Go load balancer: 4 workers with queues of their own, 20 items in turn, 10% failing
/// (seeded): 5 items for each worker, every failure reported with its item.
#[cfg(feature = "pool")]
pub(crate) async fn go_load_balancer(speed: u32) -> Outcome {
    use pc::pool::{Balance, WorkerPool};

    const NAME: &str = "Go: load balancer, 4 workers x 20 items";
    let jobs = metrics(NAME);
    let fails = |item: u64| fastrand::Rng::with_seed(item).u32(0..10) == 0;
    let pool = WorkerPool::builder(move |item: u64| async move {
        let work = Duration::from_millis(fastrand::Rng::with_seed(item + 100).u64(10..50));
        sleep(work / speed).await;
        if fails(item) {
            Err(format!("item {item} failed"))
        } else {
            Ok(item * 10)
        }
    })
    .workers(4)
    .balance(Balance::RoundRobin)
    .probe(jobs.probe())
    .build()
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    pool.send_all(0..20).await.map_err(|e| e.to_string())?;
    pool.close_and_wait().await;
    let mut per_worker = [0; 4];
    let mut failed = 0;
    let mut stream = pool.results();
    while let Some(r) = futures_util::StreamExt::next(&mut stream).await {
        per_worker[r.worker] += 1;
        check(
            NAME,
            "failure of its own item",
            fails(r.id),
            r.output.is_err(),
        )?;
        failed += u64::from(r.output.is_err());
    }
    check(NAME, "items per worker", [5; 4], per_worker)?;
    check(
        NAME,
        "failures reported",
        (0..20).filter(|&item| fails(item)).count() as u64,
        failed,
    )?;
    Ok(Report::new(NAME, 20, start.elapsed()).observed(&[&jobs]))
}

/// C# example 6 across processes' worth of distance: 3 producers of 100 work items each, 2
/// consumers, on a Redis stream instead of a channel (timings divided by 4). Every item is
/// processed exactly once and acked; nothing is left pending.
pub(crate) async fn csharp_multi_producer_over_redis(redis: &pc_redis::LocalServer) -> Outcome {
    use pc::AckConsumer;
    use pc_redis::RedisQueue;

    const NAME: &str = "C# 6 over Redis: 3 producers x 100, 2 consumers";
    let counted = metrics(NAME);
    redis.ready().await.map_err(|e| format!("{NAME}: {e}"))?;
    let queue = RedisQueue::<(String, u64)>::builder(redis.url(), "csharp6")
        .block(Duration::from_millis(100))
        .probe(counted.probe())
        .build()
        .map_err(|e| e.to_string())?;
    let producer = queue.producer().await.map_err(|e| e.to_string())?;
    let start = Instant::now();
    let consumers: Vec<_> = (1..=2)
        .map(|c| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let consumer = queue.consumer(format!("consumer-{c}")).await?;
                let mut done = Vec::new();
                // Until a second passes with nothing to take.
                while let Ok(delivery) =
                    tokio::time::timeout(Duration::from_secs(1), consumer.recv_delivery()).await
                {
                    let ((id, work_ms), ack) = delivery?.into_parts();
                    sleep(Duration::from_millis(work_ms) / 4).await;
                    ack.ack().await?;
                    done.push(id);
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(done)
            })
        })
        .collect();
    let producers: Vec<_> = (1..=3u64)
        .map(|p| {
            let producer = producer.clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(p);
                for i in 1..=100 {
                    let work = rng.u64(10..100);
                    producer
                        .send((format!("Producer-{p}-Work-{i}"), work))
                        .await
                        .map_err(|e| e.to_string())?;
                    sleep(Duration::from_millis(rng.u64(5..25)) / 4).await;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for p in producers {
        p.await.map_err(|e| e.to_string())??;
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        for id in consumer
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
        {
            if !seen.insert(id.clone()) {
                return Err(format!("{NAME}: {id} processed twice"));
            }
        }
    }
    check(NAME, "items processed", 300, seen.len())?;
    Ok(Report::new(NAME, 300, start.elapsed()).observed(&[&counted]))
}

/// How a scenario is played: its outcomes (one, or one per run for a comparison).
pub(crate) type Play = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Outcome>>>>;

/// Every scenario the features allow, in the order the tour plays them: a key to pick it from
/// the command line, and how to play it. Long seeds are played faster here; tests/tour.rs plays
/// them at speed 1 under paused time.
pub(crate) fn all() -> Vec<(&'static str, Play)> {
    let mut all: Vec<(&'static str, Play)> = Vec::new();
    all.push(("csharp-1", || {
        Box::pin(async { vec![csharp_basic_channel().await] })
    }));
    #[cfg(feature = "priority")]
    all.push(("csharp-2", || {
        Box::pin(async { vec![csharp_priority(5).await] })
    }));
    #[cfg(feature = "batch")]
    all.push(("csharp-3", || {
        Box::pin(async { vec![csharp_batch_processor().await] })
    }));
    #[cfg(feature = "backpressure")]
    all.push(("csharp-4", || {
        Box::pin(async { vec![csharp_adaptive_producer(10).await.map(|(report, _)| report)] })
    }));
    #[cfg(feature = "window")]
    all.push(("csharp-5", || {
        Box::pin(async { vec![csharp_sliding_window(5).await] })
    }));
    all.push(("csharp-6", || {
        Box::pin(async { vec![csharp_multi_producer_multi_consumer().await] })
    }));
    all.push(("csharp-7", || Box::pin(csharp_capacity_comparison())));
    all.push(("csharp-6-redis", || {
        Box::pin(async {
            match pc_redis::LocalServer::start() {
                Ok(redis) => vec![csharp_multi_producer_over_redis(&redis).await],
                Err(why) => {
                    eprintln!("tour: skipped csharp-6-redis: redis-server did not start ({why})");
                    Vec::new()
                }
            }
        })
    }));
    all.push(("go-producer-consumer", || {
        Box::pin(async { vec![go_basic_producer_consumer().await] })
    }));
    #[cfg(feature = "pool")]
    {
        all.push(("go-worker-pool", || {
            Box::pin(async { vec![go_basic_worker_pool(5).await] })
        }));
        all.push(("go-pool-context", || {
            Box::pin(async { vec![go_advanced_worker_pool(5).await] })
        }));
        all.push(("go-pipeline", || {
            Box::pin(async { vec![go_basic_pipeline().await] })
        }));
        all.push(("go-pipeline-errors", || {
            Box::pin(async { vec![go_error_pipeline().await] })
        }));
        all.push(("go-fan-out-fan-in", || {
            Box::pin(async { vec![go_fan_out_fan_in(1).await] })
        }));
        all.push(("go-load-balancer", || {
            Box::pin(async { vec![go_load_balancer(1).await] })
        }));
    }
    #[cfg(feature = "backpressure")]
    all.push(("go-backpressure", || {
        Box::pin(async { vec![go_backpressure_queue(10, Duration::from_millis(100)).await] })
    }));
    #[cfg(feature = "ratelimit")]
    all.push(("go-token-bucket", || {
        Box::pin(async { vec![go_token_bucket(3).await] })
    }));
    all
}
