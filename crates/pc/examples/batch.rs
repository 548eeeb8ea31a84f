//! Batches by size and age: write rows in groups, never holding one longer than 50 ms.
//!
//! `cargo run -p pc --example batch`

use std::time::Duration;

use futures_util::StreamExt;
use pc::batch::{Batcher, batch_consumer};
use pc::channel;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = channel::bounded::<u32>(64)?;
    let batcher = Batcher::builder(4, Duration::from_millis(50)).build()?;
    let writer = tokio::spawn(async move {
        let mut batches = batch_consumer(&rx, batcher);
        let mut sizes = Vec::new();
        while let Some(batch) = batches.next().await {
            println!("writing {} rows: {batch:?}", batch.len());
            sizes.push(batch.len());
        }
        sizes
    });
    tx.send_all(0..10).await?;
    // A trickle: the last two rows leave when their batch is 50 ms old.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.close();
    let sizes = writer.await?;
    assert_eq!(sizes.iter().sum::<usize>(), 10);
    assert!(sizes.iter().all(|&size| (1..=4).contains(&size)));
    Ok(())
}
