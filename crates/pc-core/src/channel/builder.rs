//! `Builder`: a channel's settings, validated at build time.

use std::fmt;

use super::chan::Chan;
use super::receiver::Receiver;
use super::sender::Sender;
use crate::build_error::BuildError;
use crate::loom::Arc;
use crate::probe::SharedProbe;

/// Settings for a channel: bounded or unbounded, and an optional [`Probe`](crate::Probe).
///
/// ```
/// use std::sync::Arc;
/// use pc_core::{Probe, channel};
///
/// #[derive(Debug)]
/// struct Quiet;
/// impl Probe for Quiet {}
///
/// let (tx, rx) = channel::Builder::bounded(64).probe(Arc::new(Quiet)).build::<u8>()?;
/// assert_eq!(tx.capacity(), Some(64));
/// # drop(rx);
/// # Ok::<(), pc_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    capacity: Option<usize>,
    probe: Option<SharedProbe>,
}

impl Builder {
    /// A channel that holds at most `capacity` items; senders wait (or fail, for `try_send`)
    /// while it is full.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, _rx) = channel::Builder::bounded(8).build::<u32>()?;
    /// assert_eq!(tx.capacity(), Some(8));
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        Self {
            capacity: Some(capacity),
            probe: None,
        }
    }

    /// A channel without a limit: sends never wait.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, _rx) = channel::Builder::unbounded().build::<u32>()?;
    /// assert_eq!(tx.capacity(), None);
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn unbounded() -> Self {
        Self {
            capacity: None,
            probe: None,
        }
    }

    /// Reports sends, receives, depth, waits for space and for items, and items stranded at
    /// teardown to `probe`. A probe that reads the depth itself
    /// ([`Probe::read_depth`](crate::Probe::read_depth)) gets the queue's length on demand
    /// instead of a report on every change.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use pc_core::{Probe, channel};
    ///
    /// #[derive(Debug, Default)]
    /// struct Sent(AtomicU64);
    /// impl Probe for Sent {
    ///     fn produced(&self, n: u64) {
    ///         self.0.fetch_add(n, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let sent = Arc::new(Sent::default());
    /// let (tx, _rx) = channel::Builder::bounded(4).probe(sent.clone()).build::<u8>()?;
    /// tx.try_send(1)?;
    /// assert_eq!(sent.0.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Builds the channel.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a bounded capacity of 0.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::Builder::bounded(1).build::<String>()?;
    /// tx.try_send("built".to_string())?;
    /// assert_eq!(rx.try_recv()?, "built");
    /// assert!(channel::Builder::bounded(0).build::<u8>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build<T: Send + 'static>(self) -> Result<(Sender<T>, Receiver<T>), BuildError> {
        check_capacity(self.capacity)?;
        Ok(match self.probe {
            Some(probe) => make_probed(self.capacity, probe),
            None => make(self.capacity),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

/// A bounded capacity must be at least 1.
pub(super) fn check_capacity(capacity: Option<usize>) -> Result<(), BuildError> {
    match capacity {
        Some(0) => Err(BuildError::Zero {
            setting: "capacity",
        }),
        _ => Ok(()),
    }
}

/// Builds a channel with no probe from settings already validated.
pub(super) fn make<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    halves(Arc::new(Chan::new(capacity, None, false)))
}

/// Builds a channel with a probe, offering it the queue's length to read on demand.
#[cfg(not(loom))]
fn make_probed<T: Send + 'static>(
    capacity: Option<usize>,
    probe: SharedProbe,
) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new_cyclic(|chan: &std::sync::Weak<Chan<T>>| {
        let reads = probe.read_depth(Arc::new(QueueLen(chan.clone())));
        Chan::new(capacity, Some(probe), !reads)
    });
    halves(chan)
}

/// Under loom (no `Weak`), the probe hears every change.
#[cfg(loom)]
fn make_probed<T: Send + 'static>(
    capacity: Option<usize>,
    probe: SharedProbe,
) -> (Sender<T>, Receiver<T>) {
    halves(Arc::new(Chan::new(capacity, Some(probe), true)))
}

fn halves<T>(chan: Arc<Chan<T>>) -> (Sender<T>, Receiver<T>) {
    let sender = Sender {
        chan: Arc::clone(&chan),
    };
    (sender, Receiver::new(chan))
}

/// A channel's length, for a probe that reads it on demand; does not keep the channel alive.
#[cfg(not(loom))]
struct QueueLen<T>(std::sync::Weak<Chan<T>>);

#[cfg(not(loom))]
impl<T: Send + 'static> crate::probe::DepthSource for QueueLen<T> {
    fn depth(&self) -> Option<usize> {
        self.0.upgrade().map(|chan| chan.len())
    }
}
