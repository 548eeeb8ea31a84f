//! What the queue's load tests share: every policy, a deadline for real-time runs, and the
//! count of every item.

#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use pc_backpressure::Overflow;
use pc_core::DropReason;

/// Every overflow policy, `BlockFor` with a wait short enough to time out under load.
pub(crate) const EVERY_POLICY: [Overflow; 5] = [
    Overflow::Block,
    Overflow::BlockFor(Duration::from_micros(50)),
    Overflow::Reject,
    Overflow::DropIncoming,
    Overflow::DropOldest,
];

/// Runs `fut` on real time with a generous deadline: only a hang (a lost wake-up) reaches it.
pub(crate) async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), fut)
        .await
        .expect("hung")
}

/// Every one of `sent` items delivered, handed back or dropped, and none twice.
pub(crate) fn assert_every_item_once(
    delivered: &[u64],
    handed_back: &[u64],
    dropped: &[(u64, DropReason)],
    sent: usize,
) {
    let mut all: Vec<u64> = delivered.iter().chain(handed_back).copied().collect();
    all.extend(dropped.iter().map(|(item, _)| *item));
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "an item was counted twice");
    assert_eq!(all.len(), sent, "delivered + handed back + dropped = sent");
}
