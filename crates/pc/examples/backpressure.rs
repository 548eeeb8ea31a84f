//! A bounded queue that drops on purpose, and says what it dropped.
//!
//! `cargo run -p pc --example backpressure`

use pc::backpressure::{BoundedQueue, Overflow};
use pc::{ProduceErrorKind, Producer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the freshest 3 readings: a full queue drops its oldest.
    let (tx, rx) = BoundedQueue::builder(3)
        .overflow(Overflow::DropOldest)
        .build()?;
    for reading in 1..=5 {
        tx.send(reading).await?;
    }
    tx.close();
    let mut kept = Vec::new();
    while let Ok(reading) = rx.recv().await {
        kept.push(reading);
    }
    assert_eq!(kept, [3, 4, 5]);
    let stats = tx.stats();
    assert_eq!(stats.dropped_oldest, 2);
    println!(
        "drop-oldest kept {kept:?}, evicted {}",
        stats.dropped_oldest
    );

    // Reject instead: the caller gets the item back and can tell a refusal from a close.
    let (tx, _rx) = BoundedQueue::builder(1)
        .overflow(Overflow::Reject)
        .build()?;
    Producer::send(&tx, "taken").await?;
    let refused = Producer::send(&tx, "refused").await.unwrap_err();
    assert!(refused.is_refused() && !refused.is_closed());
    assert_eq!(
        refused.into_parts(),
        (ProduceErrorKind::Rejected, "refused")
    );
    println!("reject: the item came back as Rejected, the queue is still open");
    Ok(())
}
