//! The Go backpressure queue seed under paused time, with exact counts.

use std::time::Duration;

use pc_backpressure::{BoundedQueue, OfferError, Overflow};
use tokio::time::{Instant, MissedTickBehavior, sleep, sleep_until};

/// A queue of 5 with `BlockFor(100 ms)`, a producer every 50 ms, two consumers taking 100 ms
/// per item (`work`; the seed's is 100 ms), for 10 s. Returns (attempted, produced, timed out, consumed, left, peak depth).
async fn go_backpressure_queue(work: Duration) -> (u64, u64, u64, u64, u64, usize) {
    let (tx, rx) = BoundedQueue::builder::<u64>(5)
        .overflow(Overflow::BlockFor(Duration::from_millis(100)))
        .build()
        .unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(10);
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut consumed = 0u64;
                loop {
                    tokio::select! {
                        biased; // at the deadline exactly, the deadline wins: deterministic
                        () = sleep_until(deadline) => break,
                        item = rx.recv() => match item {
                            Ok(_) => {
                                sleep(work).await;
                                consumed += 1;
                            }
                            Err(_) => break,
                        },
                    }
                }
                consumed
            })
        })
        .collect();
    let mut ticker =
        tokio::time::interval_at(start + Duration::from_millis(50), Duration::from_millis(50));
    // Like Go's ticker, a tick missed while a send waited is skipped, not replayed.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut attempted, mut timed_out) = (0u64, 0u64);
    loop {
        tokio::select! {
            biased;
            () = sleep_until(deadline) => break,
            _ = ticker.tick() => {
                attempted += 1;
                match tx.send(attempted).await {
                    Ok(()) => {}
                    Err(OfferError::TimedOut(_)) => timed_out += 1,
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    let mut consumed = 0;
    for consumer in consumers {
        consumed += consumer.await.unwrap();
    }
    let stats = tx.stats();
    (
        attempted,
        stats.produced,
        timed_out,
        consumed,
        rx.len() as u64,
        stats.peak_depth,
    )
}

#[tokio::test(start_paused = true)]
async fn go_backpressure_queue_counts() {
    let (attempted, produced, timed_out, consumed, left, peak) = tokio::time::timeout(
        Duration::from_secs(3600),
        go_backpressure_queue(Duration::from_millis(100)),
    )
    .await
    .expect("hung");
    eprintln!(
        "DEBUG attempted {attempted} produced {produced} timed_out {timed_out} consumed {consumed} left {left} peak {peak}"
    );
    assert_eq!(
        produced + timed_out,
        attempted,
        "every attempt enqueued or handed back"
    );
    assert_eq!(
        produced,
        consumed + left,
        "every enqueued item consumed or still queued"
    );
    assert!(peak <= 5);
}

#[tokio::test(start_paused = true)]
async fn go_backpressure_queue_with_slower_consumers_hands_items_back() {
    let (attempted, produced, timed_out, consumed, left, peak) = tokio::time::timeout(
        Duration::from_secs(3600),
        go_backpressure_queue(Duration::from_millis(150)),
    )
    .await
    .expect("hung");
    eprintln!(
        "DEBUG attempted {attempted} produced {produced} timed_out {timed_out} consumed {consumed} left {left} peak {peak}"
    );
    assert_eq!(
        produced + timed_out,
        attempted,
        "every attempt enqueued or handed back"
    );
    assert_eq!(
        produced,
        consumed + left,
        "every enqueued item consumed or still queued"
    );
    assert!(timed_out > 0 && peak == 5);
}
