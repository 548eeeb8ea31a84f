//! Metrics on any block: attach a probe, read counts, depth and latencies, render Prometheus.
//!
//! `cargo run -p pc --example metrics`

use std::time::Duration;

use pc::channel;
use pc::metrics::Registry;
use pc::pool::WorkerPool;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let (tx, rx) = channel::Builder::bounded(8)
        .probe(registry.metrics("orders").probe())
        .build::<u64>()?;
    let pool = WorkerPool::builder(|n: u64| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, std::convert::Infallible>(n * 2)
    })
    .workers(2)
    .probe(registry.metrics("pricing").probe())
    .build()?;

    tx.send_all(1..=6).await?;
    for _ in 0..4 {
        let order = rx.recv().await?;
        pool.submit(order).await?.await?;
    }
    pool.close_and_wait().await;

    for snapshot in registry.snapshot() {
        println!("{snapshot}");
    }
    let orders = &registry.snapshot()[0];
    assert_eq!((orders.produced, orders.consumed, orders.depth), (6, 4, 2));
    let text = registry.render_prometheus();
    assert!(text.contains("pc_produced_total{queue=\"orders\"} 6"));
    println!("{text}");
    Ok(())
}
