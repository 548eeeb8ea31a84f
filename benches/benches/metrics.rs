//! What metrics cost: `pc::channel` with no probe, with `pc::metrics::Metrics`, and with a
//! naive probe that counts on one shared atomic, next to async-channel, 100,000 u64 messages
//! per iteration.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use pc::metrics::Metrics;
use pc::{Probe, SharedProbe};
use pc_benches::{AsyncChannel, BenchChannel, Flavor, Pc, Shape, bench_async, group, transfer};

/// `pc::channel` with a fresh `Metrics` attached.
struct PcMetrics;

impl BenchChannel for PcMetrics {
    type Tx = pc::channel::Sender<u64>;
    type Rx = pc::channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        with_probe(capacity, Metrics::new("bench").probe())
    }

    async fn send(tx: &Self::Tx, item: u64) {
        Pc::send(tx, item).await;
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        Pc::recv(rx).await
    }
}

/// The probe `Metrics` is measured against: every count on one shared cache line.
#[derive(Debug, Default)]
struct SharedCounter {
    produced: AtomicU64,
    consumed: AtomicU64,
}

impl Probe for SharedCounter {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
    }

    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }
}

/// `pc::channel` with a [`SharedCounter`] attached.
struct PcSharedCounter;

impl BenchChannel for PcSharedCounter {
    type Tx = pc::channel::Sender<u64>;
    type Rx = pc::channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        with_probe(capacity, Arc::new(SharedCounter::default()))
    }

    async fn send(tx: &Self::Tx, item: u64) {
        Pc::send(tx, item).await;
    }

    async fn recv(rx: &Self::Rx) -> Option<u64> {
        Pc::recv(rx).await
    }
}

fn with_probe(
    capacity: usize,
    probe: SharedProbe,
) -> (pc::channel::Sender<u64>, pc::channel::Receiver<u64>) {
    pc::channel::Builder::bounded(capacity)
        .probe(probe)
        .build()
        .expect("a positive capacity")
}

fn metrics(c: &mut Criterion) {
    let capacity = 1024;
    for flavor in Flavor::ALL {
        let rt = flavor.runtime();
        for shape in [Shape::ALL[0], Shape::ALL[1]] {
            let name = format!("probe-{}-{}-cap{capacity}", flavor.tag(), shape.tag());
            let mut g = group(c, &name);
            bench_async(&mut g, "pc", &rt, || transfer::<Pc>(shape, capacity));
            bench_async(&mut g, "pc+metrics", &rt, || {
                transfer::<PcMetrics>(shape, capacity)
            });
            bench_async(&mut g, "pc+shared-atomic", &rt, || {
                transfer::<PcSharedCounter>(shape, capacity)
            });
            bench_async(&mut g, "async-channel", &rt, || {
                transfer::<AsyncChannel>(shape, capacity)
            });
            g.finish();
        }
    }
}

criterion_group!(benches, metrics);
criterion_main!(benches);
