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
    pub fn bounded(capacity: usize) -> Self {
        Self {
            capacity: Some(capacity),
            probe: None,
        }
    }

    /// A channel without a limit: sends never wait.
    pub fn unbounded() -> Self {
        Self {
            capacity: None,
            probe: None,
        }
    }

    /// Reports sends, receives, depth, waits for space and items stranded at teardown to
    /// `probe`.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Builds the channel.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a bounded capacity of 0.
    pub fn build<T>(self) -> Result<(Sender<T>, Receiver<T>), BuildError> {
        if self.capacity == Some(0) {
            return Err(BuildError::Zero {
                setting: "capacity",
            });
        }
        Ok(make(self.capacity, self.probe))
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

/// Builds a channel from settings already validated.
pub(super) fn make<T>(
    capacity: Option<usize>,
    probe: Option<SharedProbe>,
) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(capacity, probe));
    let sender = Sender {
        chan: Arc::clone(&chan),
    };
    (sender, Receiver::new(chan))
}
