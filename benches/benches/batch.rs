//! `pc::batch` against tokio-stream's `chunks_timeout` on the same sources: 1,000,000 u64 items,
//! batches of at most 100, linger 10 ms; from an in-memory stream and from an async-channel of
//! capacity 1024 fed by another task.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pc::batch::{BatchExt, Batcher};
use pc_benches::Flavor;
use tokio_stream::StreamExt as _;

const ITEMS: u64 = 1_000_000;
const MAX: usize = 100;
const LINGER: Duration = Duration::from_millis(10);

fn batcher() -> Batcher<u64> {
    Batcher::builder(MAX, LINGER)
        .build()
        .expect("valid settings")
}

/// Counts the items in the batches of `batches`, checking none is lost.
async fn drain(batches: impl futures_util::Stream<Item = Vec<u64>>) {
    let items =
        futures_util::StreamExt::fold(batches, 0, |n, batch| async move { n + batch.len() as u64 })
            .await;
    assert_eq!(items, ITEMS, "every item arrives");
}

/// An async-channel of 1024 filled by a spawned task.
fn channel_source() -> async_channel::Receiver<u64> {
    let (tx, rx) = async_channel::bounded(1024);
    tokio::spawn(async move {
        for i in 0..ITEMS {
            tx.send(i).await.expect("open");
        }
    });
    rx
}

fn batch(c: &mut Criterion) {
    let rt = Flavor::CurrentThread.runtime();
    for source in ["iter", "channel"] {
        let mut g = c.benchmark_group(format!("batch-ct-{source}-max100"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(ITEMS));
        for case in ["pc", "chunks_timeout"] {
            g.bench_function(case, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            match (source, case) {
                                ("iter", "pc") => {
                                    drain(futures_util::stream::iter(0..ITEMS).batch(batcher()))
                                        .await
                                }
                                ("iter", _) => {
                                    drain(
                                        futures_util::stream::iter(0..ITEMS)
                                            .chunks_timeout(MAX, LINGER),
                                    )
                                    .await
                                }
                                (_, "pc") => drain(channel_source().batch(batcher())).await,
                                _ => drain(channel_source().chunks_timeout(MAX, LINGER)).await,
                            }
                        }
                        start.elapsed()
                    })
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, batch);
criterion_main!(benches);
