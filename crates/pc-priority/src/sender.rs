//! The sending half.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pc_core::{ProduceError, ProduceErrorKind, Producer, WaitKind};
use tokio::time::Instant;

use crate::error::{ReserveError, SendError, SendTimeoutError, TryReserveError, TrySendError};
use crate::shared::{Admission, Rejected, Shared, Side, Wait};
use crate::store::{Levels, Refusal, Store};

/// The sending half of a priority channel. Clone it for more producers; the channel closes when
/// the last sender is dropped.
///
/// Every send names a priority: a level (`usize`, 0 first) for a [`Levels`] channel, a key for a
/// [`ByKey`](crate::ByKey) one. As a [`Producer`], it sends at the channel's default priority.
pub struct PrioritySender<T: Send, S: Store = Levels> {
    pub(crate) shared: Arc<Shared<T, S>>,
}

impl<T: Send, S: Store> PrioritySender<T, S> {
    /// Changes the capacity of a bounded channel while it runs (across all priorities). Room it
    /// adds is taken at once by the senders and reservations waiting for it; room it takes
    /// away is never made by shedding: what is queued stays, and sends wait (or, under
    /// [`WhenFull::ShedLowest`](crate::WhenFull::ShedLowest), shed as on any full channel)
    /// until the excess has drained. `len()` may exceed `capacity()` until then.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`](pc_core::BuildError::Zero) for 0,
    /// [`BuildError::Invalid`](pc_core::BuildError::Invalid) on an unbounded channel.
    ///
    /// ```
    /// use pc_priority::PriorityChannel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = PriorityChannel::builder(2).capacity(1).build()?;
    /// tx.try_send("a", 1)?;
    /// tx.set_capacity(2)?;
    /// tx.try_send("b", 0)?;
    /// tx.set_capacity(1)?; // nothing is shed: both drain first
    /// assert!(tx.try_send("c", 0).is_err());
    /// assert_eq!(rx.recv().await?, ("b", 0));
    /// assert_eq!(rx.recv().await?, ("a", 1));
    /// tx.try_send("c", 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), pc_core::BuildError> {
        if self.shared.capacity().is_none() {
            return Err(pc_core::BuildError::Invalid {
                setting: "capacity",
                reason: "an unbounded channel has no capacity to change".into(),
            });
        }
        if capacity == 0 {
            return Err(pc_core::BuildError::Zero {
                setting: "capacity",
            });
        }
        self.shared.set_capacity(capacity);
        Ok(())
    }

    /// Sends `item` at `priority`, waiting for space while the channel is full.
    ///
    /// With [`WhenFull::ShedLowest`](crate::WhenFull::ShedLowest), a full channel first sheds
    /// the oldest item of the lowest priority below `priority`, and waits only if there is none.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] or [`SendError::UnknownLevel`], holding the item.
    ///
    /// # Cancel safety
    ///
    /// Cancelling drops the item, which was not enqueued. [`reserve`](Self::reserve) waits for
    /// space without holding an item; [`send_timeout`](Self::send_timeout) hands it back.
    pub async fn send(&self, item: T, priority: S::Priority) -> Result<(), SendError<T>> {
        self.push_waiting(item, priority, None)
            .await
            .map_err(|(item, why)| send_error(item, why))
    }

    /// Sends `item` at `priority` if there is space now (or, with shedding, something lower to
    /// shed).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`], [`TrySendError::Closed`] or [`TrySendError::UnknownLevel`],
    /// holding the item.
    pub fn try_send(&self, item: T, priority: S::Priority) -> Result<(), TrySendError<T>> {
        self.shared
            .try_push(item, priority, None)
            .map_err(|Rejected { item, why, .. }| match why {
                Admission::Full => TrySendError::Full(item),
                Admission::Refused(Refusal::Unknown) => TrySendError::UnknownLevel(item),
                _ => TrySendError::Closed(item),
            })
    }

    /// Sends `item` at `priority`, waiting at most `timeout` for space.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`], [`SendTimeoutError::Closed`] or
    /// [`SendTimeoutError::UnknownLevel`], holding the item.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send): cancelling drops the item.
    pub async fn send_timeout(
        &self,
        item: T,
        priority: S::Priority,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        // `Duration::MAX` (or any timeout past what an `Instant` holds): no deadline.
        let deadline = pc_core::time::deadline(timeout);
        self.push_waiting(item, priority, deadline)
            .await
            .map_err(|(item, why)| match why {
                Admission::Full => SendTimeoutError::Timeout(item),
                why => match send_error(item, why) {
                    SendError::UnknownLevel(item) => SendTimeoutError::UnknownLevel(item),
                    other => SendTimeoutError::Closed(other.into_inner()),
                },
            })
    }

    /// Pushes `item`, waiting for space until `deadline` if there is one; hands the item back
    /// with the reason it could not be pushed (`Full` when the deadline passed).
    async fn push_waiting(
        &self,
        mut item: T,
        mut priority: S::Priority,
        deadline: Option<Instant>,
    ) -> Result<(), (T, Admission<T, S::Priority>)> {
        let mut wait = Wait::new(&self.shared, Side::Senders);
        let mut blocked = None;
        loop {
            match self.shared.try_push(item, priority, Some(&mut wait)) {
                Ok(()) => return Ok(()),
                Err(Rejected {
                    item: back,
                    priority: at,
                    why: Admission::Full,
                }) => {
                    blocked.get_or_insert_with(|| self.shared.wait_timer(WaitKind::SendBlocked));
                    match deadline {
                        None => wait.wait().await,
                        Some(deadline) => {
                            if tokio::time::timeout_at(deadline, wait.wait())
                                .await
                                .is_err()
                            {
                                return Err((back, Admission::Full));
                            }
                        }
                    }
                    item = back;
                    priority = at;
                }
                Err(rejected) => return Err((rejected.item, rejected.why)),
            }
        }
    }

    /// Waits for a slot for one item of `priority` and holds it in a [`Permit`], so the wait
    /// can be cancelled without losing an item.
    ///
    /// # Errors
    ///
    /// [`ReserveError::Closed`] or [`ReserveError::UnknownLevel`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled wait holds no slot and no item.
    pub async fn reserve(&self, priority: S::Priority) -> Result<Permit<'_, T, S>, ReserveError> {
        let mut wait = Wait::new(&self.shared, Side::Senders);
        let mut blocked = None;
        loop {
            match self.shared.try_reserve(&priority, Some(&mut wait)) {
                Admission::Now(_) => return Ok(Permit::new(&self.shared, priority)),
                Admission::Full => {
                    blocked.get_or_insert_with(|| self.shared.wait_timer(WaitKind::SendBlocked));
                    wait.wait().await;
                }
                Admission::Refused(Refusal::Unknown) => return Err(ReserveError::UnknownLevel),
                Admission::Closed | Admission::Refused(Refusal::LevelClosed) => {
                    return Err(ReserveError::Closed);
                }
            }
        }
    }

    /// Holds a slot for one item of `priority` if one is free now.
    ///
    /// # Errors
    ///
    /// [`TryReserveError::Full`], [`TryReserveError::Closed`] or
    /// [`TryReserveError::UnknownLevel`].
    pub fn try_reserve(&self, priority: S::Priority) -> Result<Permit<'_, T, S>, TryReserveError> {
        match self.shared.try_reserve(&priority, None) {
            Admission::Now(_) => Ok(Permit::new(&self.shared, priority)),
            Admission::Full => Err(TryReserveError::Full),
            Admission::Refused(Refusal::Unknown) => Err(TryReserveError::UnknownLevel),
            Admission::Closed | Admission::Refused(Refusal::LevelClosed) => {
                Err(TryReserveError::Closed)
            }
        }
    }

    /// The priority this sender uses as a [`Producer`].
    pub fn default_priority(&self) -> &S::Priority {
        &self.shared.default_priority
    }
}

crate::handle::handle_accessors!(PrioritySender);

impl<T: Send, S: Store> Clone for PrioritySender<T, S> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send, S: Store> Drop for PrioritySender<T, S> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl<T: Send, S: Store> PrioritySender<T, S> {
    /// A send that said closed (or unknown level) as the trait's kind: `Closed` only when the
    /// whole channel is, a closed or missing level being a refusal of this item.
    fn refused(&self, closed: bool, item: T) -> ProduceError<T> {
        if closed && self.shared.is_closed() {
            ProduceError::closed(item)
        } else {
            ProduceError::new(item, ProduceErrorKind::Rejected)
        }
    }
}

impl<T: Send, S: Store> fmt::Debug for PrioritySender<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PrioritySender").field(&self.shared).finish()
    }
}

/// Sends at the channel's default priority (see [`PrioritySender::default_priority`]).
///
/// Errors come as a [`ProduceError`] whose kind tells the channel's close (`Closed`) from a
/// refusal while it is open: `Full` and `TimedOut` as the channel's own, and `Rejected` when
/// the default priority's level was closed on its own (or the store has no such level).
impl<T: Send, S: Store> Producer<T> for PrioritySender<T, S> {
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        PrioritySender::send(self, item, self.shared.default_priority.clone())
            .await
            .map_err(|err| self.refused(err.is_closed(), err.into_inner()))
    }

    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        PrioritySender::try_send(self, item, self.shared.default_priority.clone()).map_err(|err| {
            match err {
                TrySendError::Full(item) => ProduceError::new(item, ProduceErrorKind::Full),
                other => self.refused(other.is_closed(), other.into_inner()),
            }
        })
    }

    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        let priority = self.shared.default_priority.clone();
        PrioritySender::send_timeout(self, item, priority, timeout)
            .await
            .map_err(|err| match err {
                SendTimeoutError::Timeout(item) => {
                    ProduceError::new(item, ProduceErrorKind::TimedOut)
                }
                other => self.refused(other.is_closed(), other.into_inner()),
            })
    }

    fn close(&self) -> bool {
        self.shared.close()
    }

    fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

/// A slot reserved by [`PrioritySender::reserve`] or [`PrioritySender::try_reserve`] for one
/// item of a given priority.
///
/// [`send`](Permit::send) enqueues without waiting; dropping the permit unused gives the slot
/// back. A permit keeps the channel open for receivers: after a close they wait for outstanding
/// permits before they report the channel closed.
#[must_use = "a permit holds a slot until it is used or dropped"]
pub struct Permit<'a, T: Send, S: Store = Levels> {
    shared: &'a Shared<T, S>,
    priority: Option<S::Priority>,
}

impl<'a, T: Send, S: Store> Permit<'a, T, S> {
    fn new(shared: &'a Shared<T, S>, priority: S::Priority) -> Self {
        Self {
            shared,
            priority: Some(priority),
        }
    }

    /// The priority the item will be queued at.
    pub fn priority(&self) -> &S::Priority {
        self.priority.as_ref().expect("a permit not used yet")
    }

    /// Enqueues `item` into the reserved slot, without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] holding the item only if every receiver has been dropped. A close
    /// after the reservation does not make this fail.
    pub fn send(mut self, item: T) -> Result<(), SendError<T>> {
        let priority = self.priority.take().expect("a permit not used yet");
        self.shared
            .push_reserved(item, priority)
            .map_err(SendError::Closed)
    }
}

impl<T: Send, S: Store> Drop for Permit<'_, T, S> {
    fn drop(&mut self) {
        if self.priority.is_some() {
            self.shared.release_reserved();
        }
    }
}

impl<T: Send, S: Store> fmt::Debug for Permit<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("priority", &self.priority)
            .finish()
    }
}

fn send_error<T, P>(item: T, why: Admission<T, P>) -> SendError<T> {
    match why {
        Admission::Refused(Refusal::Unknown) => SendError::UnknownLevel(item),
        _ => SendError::Closed(item),
    }
}
