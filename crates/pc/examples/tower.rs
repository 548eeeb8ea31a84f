//! tower: a rate limit whose clones share one bucket, and a worker pool as a `Service`.
//!
//! `cargo run -p pc --example tower --features tower`

use std::convert::Infallible;
use std::time::Duration;

use pc::pool::{ServiceStage, WorkerPool};
use pc::ratelimit::TokenBucket;
use pc::ratelimit::tower::RateLimitLayer;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 2 at once, then 100 per second, for all clones together.
    let bucket = TokenBucket::builder().rate(100.0).burst(2).build()?;
    let lookup = ServiceBuilder::new()
        .layer(RateLimitLayer::new(bucket.clone()))
        .service_fn(|id: u32| async move { Ok::<_, Infallible>(format!("user-{id}")) });
    let start = Instant::now();
    let mut clones: Vec<_> = (0..4).map(|_| lookup.clone()).collect();
    for (id, service) in (0..).zip(clones.iter_mut()) {
        let name = service.ready().await?.call(id).await?;
        println!("{name} after {:?}", start.elapsed());
    }
    // 4 calls through 4 clones: 2 from the burst, 2 more at 10 ms apart.
    assert!(start.elapsed() >= Duration::from_millis(19));
    assert_eq!(bucket.stats().granted, 4);

    // The tower stack as a pool's stage, and the pool as a service in turn.
    let pool = WorkerPool::builder(ServiceStage::new(lookup))
        .workers(2)
        .build()?;
    let mut via_pool = pool.service();
    let name = via_pool.ready().await.unwrap().call(42).await.unwrap();
    assert_eq!(name, "user-42");
    println!("through the pool: {name}");
    pool.close_and_wait().await;
    Ok(())
}
