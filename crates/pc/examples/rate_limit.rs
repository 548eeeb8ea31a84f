//! A token bucket: a burst at once, then a steady rate, shared by every caller.
//!
//! `cargo run -p pc --example rate_limit`

use std::time::Duration;

use pc::ratelimit::{KeyedLimiter, Throttled, TokenBucket};
use pc::{Producer, channel};
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 5 at once, then one every 10 ms (100 per second).
    let bucket = TokenBucket::builder().rate(100.0).burst(5).build()?;
    let (tx, rx) = channel::unbounded::<u32>();
    let paced = Throttled::new(tx, bucket.clone());
    let start = Instant::now();
    paced.send_all(0..8).await?;
    let took = start.elapsed();
    // 5 from the burst, 3 more at the rate: about 30 ms.
    assert!(took >= Duration::from_millis(29), "{took:?}");
    assert_eq!(rx.len(), 8);
    println!("8 sends through a 5-burst 100/s bucket took {took:?}");

    // Over the limit right now: the item comes back, and the producer stays open.
    let refused = paced.try_send(8).unwrap_err();
    assert!(refused.is_refused());
    println!("try_send without a permit: {refused}");

    // One limit per key: a tenant that spends its burst does not slow the others.
    let per_tenant = KeyedLimiter::builder().rate(1.0).burst(2).build()?;
    let decisions: Vec<bool> = ["acme", "acme", "acme", "globex"]
        .iter()
        .map(|tenant| per_tenant.try_acquire(tenant, 1).is_ok())
        .collect();
    assert_eq!(decisions, [true, true, false, true]);
    println!("per tenant: {decisions:?}");
    Ok(())
}
