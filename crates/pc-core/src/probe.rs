//! The one observability hook every `pc` block reports through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Receives what a queue, limiter, batcher or pool does, as it happens.
///
/// Every method has an empty default, so an implementation overrides only what it needs.
/// Builders take an `Arc<dyn Probe>` (see [`SharedProbe`]); a component built without one pays
/// nothing but a branch. Calls happen on the hot path, from many tasks at once: keep them cheap
/// and never block or await in them.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use pc_core::{Probe, channel};
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicU64);
///
/// impl Probe for Count {
///     fn produced(&self, n: u64) {
///         self.0.fetch_add(n, Ordering::Relaxed);
///     }
/// }
///
/// # tokio_test::block_on(async {
/// let probe = Arc::new(Count::default());
/// let (tx, rx) = channel::Builder::bounded(8).probe(probe.clone()).build::<u32>()?;
/// tx.send(1).await?;
/// tx.send(2).await?;
/// assert_eq!(probe.0.load(Ordering::Relaxed), 2);
/// # assert_eq!(rx.recv().await?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Probe: Send + Sync + 'static {
    /// `n` items entered the component.
    fn produced(&self, n: u64) {
        let _ = n;
    }

    /// `n` items left the component to a consumer.
    fn consumed(&self, n: u64) {
        let _ = n;
    }

    /// `n` items were dropped on purpose, for `reason`.
    fn dropped(&self, n: u64, reason: DropReason) {
        let _ = (n, reason);
    }

    /// The component now holds `len` items.
    fn depth(&self, len: usize) {
        let _ = len;
    }

    /// Something waited for `duration`; `kind` says what.
    fn waited(&self, kind: WaitKind, duration: Duration) {
        let _ = (kind, duration);
    }
}

/// How builders hold a probe.
pub type SharedProbe = Arc<dyn Probe>;

/// Why an item was dropped rather than delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full and the incoming item was discarded.
    Full,
    /// The queue was full and its oldest item was evicted for a newer one.
    Oldest,
    /// A lower-priority item was shed to make room for a higher-priority one.
    Shed,
    /// The item waited longer than it was allowed to.
    Expired,
    /// The item arrived too late for the window it belonged to.
    Late,
    /// The component was closed or torn down while holding the item.
    Closed,
}

impl DropReason {
    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Oldest => "oldest",
            Self::Shed => "shed",
            Self::Expired => "expired",
            Self::Late => "late",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a reported wait was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// Time an item spent queued, from send to receive.
    Queue,
    /// Time a producer spent waiting for space.
    SendBlocked,
    /// Time spent waiting on a rate limit.
    Throttled,
    /// Time spent processing an item or a batch.
    Processing,
}

impl WaitKind {
    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::SendBlocked => "send_blocked",
            Self::Throttled => "throttled",
            Self::Processing => "processing",
        }
    }
}

impl fmt::Display for WaitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
