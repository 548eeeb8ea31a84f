//! A worker pool: each job answered on its own; a panic or a timeout fails that job only.
//!
//! `cargo run -p pc --example pool`

use std::time::Duration;

use pc::pool::{JobError, WorkerPool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = WorkerPool::builder(|n: u64| async move {
        match n {
            7 => panic!("seven is unlucky"),
            13 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(n)
            }
            n if n % 5 == 0 => Err(format!("{n} is a multiple of five")),
            n => Ok(n * n),
        }
    })
    .workers(4)
    .capacity(16)
    .timeout(Duration::from_millis(50))
    .build()?;

    let mut handles = Vec::new();
    for n in 1..=15 {
        handles.push((n, pool.submit(n).await?));
    }
    let (mut squares, mut failed) = (0, Vec::new());
    for (n, handle) in handles {
        match handle.await {
            Ok(square) => {
                assert_eq!(square, n * n);
                squares += 1;
            }
            Err(JobError::Failed(why)) => failed.push(format!("{n}: {why}")),
            Err(JobError::Panicked(why)) => failed.push(format!("{n}: panicked: {why}")),
            Err(JobError::TimedOut(limit)) => failed.push(format!("{n}: over {limit:?}")),
            Err(other) => failed.push(format!("{n}: {other}")),
        }
    }
    println!("{squares} squares; failed: {failed:#?}");
    assert_eq!((squares, failed.len()), (10, 5));
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
    Ok(())
}
