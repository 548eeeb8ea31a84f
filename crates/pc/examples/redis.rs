//! A queue across processes on Redis Streams: deliveries acknowledged after the work, so a
//! consumer that dies mid-job leaves its entry to be claimed again.
//!
//! `cargo run -p pc --example redis --features redis`: uses `$REDIS_URL`, or starts a private
//! `redis-server` when one is installed, and says it skipped otherwise.

use std::time::Duration;

use pc::AckConsumer;
use pc::redis::RedisQueue;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The private server, if one is started, lives until the end of `main`.
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => match pc_redis::LocalServer::start() {
            Ok(server) => {
                server.ready().await?;
                (server.url().to_string(), Some(server))
            }
            Err(why) => {
                println!("skipped: no REDIS_URL and no redis-server to start ({why})");
                return Ok(());
            }
        },
    };
    let queue = RedisQueue::<String>::builder(url.as_str(), "pc-example-jobs")
        .block(Duration::from_millis(100))
        .build()?;
    let producer = queue.producer().await?;
    producer
        .send_all((1..=5).map(|n| format!("job-{n}")))
        .await?;

    let consumer = queue.consumer("worker-1").await?;
    let mut done = Vec::new();
    while done.len() < 5 {
        let delivery =
            tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery()).await??;
        let (job, ack) = delivery.into_parts();
        // The work; the entry stays pending until it is acknowledged.
        ack.ack().await?;
        done.push(job);
    }
    println!("processed and acknowledged: {done:?}");
    assert_eq!(done, ["job-1", "job-2", "job-3", "job-4", "job-5"]);
    Ok(())
}
