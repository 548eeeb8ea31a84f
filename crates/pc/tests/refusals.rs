//! Through the `Producer` trait, a refusal by policy is told from a close: generic code that
//! skips refused items and stops at a close moves every item it can, over every block that
//! refuses (a bounded queue that rejects, a priority channel that sheds, a throttled producer).

use std::time::Duration;

use pc::backpressure::{BoundedQueue, Overflow};
use pc::priority::{PriorityChannel, WhenFull};
use pc::ratelimit::{Throttled, TokenBucket};
use pc::{ProduceErrorKind, Producer, channel};

/// What generic code saw: the items taken, the items refused (handed back, with their kind),
/// and the item that met a close, if one did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    sent: Vec<u32>,
    refused: Vec<(ProduceErrorKind, u32)>,
    closed_at: Option<u32>,
}

/// The pattern the trait's errors are for: a refusal skips that item, a close stops.
fn pump(to: &impl Producer<u32>, items: impl IntoIterator<Item = u32>) -> Tally {
    let mut tally = Tally::default();
    for item in items {
        match to.try_send(item) {
            Ok(()) => tally.sent.push(item),
            Err(refused) if refused.is_refused() => tally.refused.push(refused.into_parts()),
            Err(other) => {
                assert!(other.is_closed(), "{other}");
                tally.closed_at = Some(other.into_inner());
                break;
            }
        }
    }
    tally
}

fn refused(
    kind: ProduceErrorKind,
    items: impl IntoIterator<Item = u32>,
) -> Vec<(ProduceErrorKind, u32)> {
    items.into_iter().map(|item| (kind, item)).collect()
}

/// Defect: a `BoundedQueue` under `Reject` handed a rejected item back from `Producer::send` in
/// a `SendError`, the same as a close, so generic code stopped at the first rejection.
#[tokio::test(start_paused = true)]
async fn a_rejecting_queue_refuses_and_then_closes() {
    let (tx, rx) = BoundedQueue::builder(2)
        .overflow(Overflow::Reject)
        .build()
        .unwrap();
    let mut sent = Vec::new();
    let mut rejected = Vec::new();
    for item in 0..5 {
        match Producer::send(&tx, item).await {
            Ok(()) => sent.push(item),
            Err(err) => {
                assert!(!err.is_closed(), "a rejection is not a close");
                rejected.push(err.into_parts());
            }
        }
    }
    assert_eq!(sent, [0, 1]);
    assert_eq!(rejected, refused(ProduceErrorKind::Rejected, 2..5));
    assert_eq!(
        pump(&tx, 5..7),
        Tally {
            refused: refused(ProduceErrorKind::Rejected, 5..7),
            ..Tally::default()
        }
    );
    assert_eq!(rx.recv().await, Ok(0));
    assert!(Producer::close(&tx));
    assert_eq!(
        pump(&tx, 7..9),
        Tally {
            closed_at: Some(7),
            ..Tally::default()
        }
    );
    assert_eq!(rx.recv().await, Ok(1));
    assert!(rx.recv().await.is_err());
}

/// A priority channel that sheds: a lowest-priority item finds nothing below it to shed, so a
/// full channel refuses it (`Full`); a close stops the pump.
#[tokio::test(start_paused = true)]
async fn a_shedding_priority_channel_refuses_and_then_closes() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(2)
        .when_full(WhenFull::ShedLowest)
        .build()
        .unwrap();
    assert_eq!(
        pump(&tx, 0..4),
        Tally {
            sent: vec![0, 1],
            refused: refused(ProduceErrorKind::Full, 2..4),
            closed_at: None,
        }
    );
    // A higher priority sheds the oldest low one; the trait's sends go on being refused.
    tx.try_send(10, 0).unwrap();
    assert_eq!(
        pump(&tx, 4..5).refused,
        refused(ProduceErrorKind::Full, 4..5)
    );
    assert!(Producer::close(&tx));
    assert_eq!(pump(&tx, 5..7).closed_at, Some(5));
    assert_eq!(rx.recv().await, Ok((10, 0)));
    assert_eq!(rx.recv().await, Ok((1, 1)));
    assert!(rx.recv().await.is_err());
}

/// A throttled producer: past its burst, no permit (`OverLimit`) while the channel has room;
/// permits come back with time; a close stops the pump.
#[tokio::test(start_paused = true)]
async fn a_throttled_producer_refuses_and_then_closes() {
    let (tx, rx) = channel::bounded::<u32>(16).unwrap();
    let bucket = TokenBucket::builder().rate(1.0).burst(2).build().unwrap();
    let paced = Throttled::new(tx, bucket);
    assert_eq!(
        pump(&paced, 0..4),
        Tally {
            sent: vec![0, 1],
            refused: refused(ProduceErrorKind::OverLimit, 2..4),
            closed_at: None,
        }
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        pump(&paced, 4..6),
        Tally {
            sent: vec![4],
            refused: refused(ProduceErrorKind::OverLimit, 5..6),
            closed_at: None,
        }
    );
    assert!(Producer::close(&paced));
    assert_eq!(pump(&paced, 6..8).closed_at, Some(6));
    let mut got = Vec::new();
    while let Ok(item) = rx.recv().await {
        got.push(item);
    }
    assert_eq!(got, [0, 1, 4]);
}
