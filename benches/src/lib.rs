//! Shared adapters for the benches: one throughput scenario, run over every channel crate.
//!
//! Each peer is wrapped in [`BenchChannel`] so that the scenario is written once and every
//! crate is measured doing exactly the same work.

use std::future::Future;
use std::time::{Duration, Instant};

pub mod priority;

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use tokio::runtime::Runtime;

/// Messages moved per measured iteration.
pub const MESSAGES: u64 = 100_000;

/// The runtime a group runs on. Multi-thread throughput on 2 cores depends on how often tasks
/// park and wake, so every case also runs on `current_thread`, where the cost per operation is
/// stable; overhead goals are judged there.
#[derive(Debug, Clone, Copy)]
pub enum Flavor {
    /// `current_thread`: stable, the reference for overhead ratios.
    CurrentThread,
    /// `multi_thread` with 2 workers, one per core.
    MultiThread,
}

impl Flavor {
    /// Both flavors, stable one first.
    pub const ALL: [Flavor; 2] = [Flavor::CurrentThread, Flavor::MultiThread];

    /// A short tag for group names.
    pub fn tag(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "ct",
            Flavor::MultiThread => "mt",
        }
    }

    /// Builds the runtime.
    pub fn runtime(self) -> Runtime {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build(),
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build(),
        }
        .expect("a tokio runtime")
    }
}

/// How many producers and consumers share one channel.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Producer tasks; each sends `MESSAGES / producers` items.
    pub producers: u64,
    /// Consumer tasks.
    pub consumers: usize,
}

impl Shape {
    /// The shapes measured: 1P/1C, 4P/4C, 1P/4C.
    pub const ALL: [Shape; 3] = [
        Shape {
            producers: 1,
            consumers: 1,
        },
        Shape {
            producers: 4,
            consumers: 4,
        },
        Shape {
            producers: 1,
            consumers: 4,
        },
    ];

    /// `1p1c`, `4p4c`, ...
    pub fn tag(self) -> String {
        format!("{}p{}c", self.producers, self.consumers)
    }
}

/// One channel crate, as the scenario needs it.
pub trait BenchChannel: 'static {
    /// The sending half.
    type Tx: Clone + Send + Sync + 'static;
    /// The receiving half.
    type Rx: Clone + Send + Sync + 'static;

    /// A bounded channel of `capacity`.
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    /// Sends, waiting for space.
    fn send(tx: &Self::Tx, item: u64) -> impl Future<Output = ()> + Send;
    /// Receives, or `None` once closed and drained.
    fn recv(rx: &Self::Rx) -> impl Future<Output = Option<u64>> + Send;
}

/// `pc::channel`.
#[derive(Debug)]
pub struct Pc;

impl BenchChannel for Pc {
    type Tx = pc::channel::Sender<u64>;
    type Rx = pc::channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        pc::channel::bounded(capacity).expect("a positive capacity")
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// `pc::channel` through `reserve` and `Permit::send`: the cancel-safe way to wait for space.
#[derive(Debug)]
pub struct PcReserve;

impl BenchChannel for PcReserve {
    type Tx = pc::channel::Sender<u64>;
    type Rx = pc::channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        Pc::bounded(capacity)
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.reserve().await.expect("open").send(item).expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// `pc::backpressure::BoundedQueue` with `Overflow::Block`.
#[derive(Debug)]
pub struct PcBoundedQueue;

impl BenchChannel for PcBoundedQueue {
    type Tx = pc::backpressure::Sender<u64>;
    type Rx = pc::backpressure::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        pc::backpressure::BoundedQueue::builder(capacity)
            .build()
            .expect("a positive capacity")
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// `pc::backpressure::BoundedQueue` with `Overflow::Block` and a weight bound as well: each
/// message weighs its value's low byte (0 to 255), at most 64 Ki in all, so that both bounds
/// take turns.
#[derive(Debug)]
pub struct PcWeighedQueue;

impl BenchChannel for PcWeighedQueue {
    type Tx = pc::backpressure::Sender<u64>;
    type Rx = pc::backpressure::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        pc::backpressure::BoundedQueue::builder(capacity)
            .max_weight(64 * 1024, |&item: &u64| item & 0xff)
            .build()
            .expect("a positive capacity and weight")
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// async-channel, the queue people reach for.
#[derive(Debug)]
pub struct AsyncChannel;

impl BenchChannel for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(capacity)
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// flume.
#[derive(Debug)]
pub struct Flume;

impl BenchChannel for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(capacity)
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send_async(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
}

/// kanal.
#[derive(Debug)]
pub struct Kanal;

impl BenchChannel for Kanal {
    type Tx = kanal::AsyncSender<u64>;
    type Rx = kanal::AsyncReceiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        kanal::bounded_async(capacity)
    }

    async fn send(tx: &Self::Tx, item: u64) {
        tx.send(item).await.expect("open");
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// Moves [`MESSAGES`] items through a fresh channel of `C` with `shape` and `capacity`, and
/// checks that every one arrived.
pub async fn transfer<C: BenchChannel>(shape: Shape, capacity: usize) {
    let (tx, rx) = C::bounded(capacity);
    let per_producer = MESSAGES / shape.producers;
    let producers: Vec<_> = (0..shape.producers)
        .map(|_| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..per_producer {
                    C::send(&tx, i).await;
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..shape.consumers)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while C::recv(&rx).await.is_some() {
                    n += 1;
                }
                n
            })
        })
        .collect();
    drop(rx);
    for producer in producers {
        producer.await.expect("producer");
    }
    let mut received = 0;
    for consumer in consumers {
        received += consumer.await.expect("consumer");
    }
    assert_eq!(
        received,
        per_producer * shape.producers,
        "every item arrives"
    );
}

/// tokio's mpsc, for the single-consumer shape only.
pub async fn transfer_tokio_mpsc(producers: u64, capacity: usize) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(capacity);
    let per_producer = MESSAGES / producers;
    for _ in 0..producers {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..per_producer {
                tx.send(i).await.expect("open");
            }
        });
    }
    drop(tx);
    let mut received = 0;
    while rx.recv().await.is_some() {
        received += 1;
    }
    assert_eq!(received, per_producer * producers, "every item arrives");
}

/// Measures `run` on `rt`: each criterion iteration is one full run.
pub fn bench_async<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    run: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    run().await;
                }
                start.elapsed()
            })
        })
    });
}

/// A group sized for this 2-core machine: 10 samples, short warm-up, throughput in messages.
pub fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(MESSAGES));
    group
}
