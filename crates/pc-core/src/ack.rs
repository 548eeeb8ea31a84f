//! Acknowledged delivery: items that stay owed until their consumer says it handled them.
//!
//! A durable queue (pc-redis) keeps each delivered item pending until it is acknowledged, and
//! delivers it again if it never is. [`AckConsumer::recv_delivery`] hands out a [`Delivery`]:
//! the item, how many times it was delivered, and an [`Ack`] to settle it with
//! [`ack`](Ack::ack) once handled or [`nack`](Ack::nack) to have it delivered again. The
//! in-process queues implement the trait too, with nothing to settle, so code written against
//! it runs over both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::ConsumeError;

/// A boxed future, as an [`Acker`] returns.
pub type AckFuture = Pin<Box<dyn Future<Output = Result<(), AckError>> + Send>>;

/// How a queue settles one delivery; implemented by queues whose deliveries are owed.
pub trait Acker: Send + Sync + 'static {
    /// The item was handled: forget it.
    fn ack(self: Box<Self>) -> AckFuture;
    /// The item was not handled: deliver it again (perhaps to another consumer).
    fn nack(self: Box<Self>) -> AckFuture;

    /// The item was not handled: deliver it again, not before `delay` has passed. By default
    /// [`nack`](Self::nack), for queues that cannot delay.
    fn nack_after(self: Box<Self>, delay: Duration) -> AckFuture {
        let _ = delay;
        self.nack()
    }

    /// The item is still being handled: keep it from being taken back and delivered to
    /// another consumer for another claim time, as a lease is renewed. By default nothing,
    /// for queues that never take a delivery back.
    fn touch(&self) -> AckFuture {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Settles one delivery: [`ack`](Self::ack) or [`nack`](Self::nack), once. Dropped unsettled,
/// a durable queue keeps the item pending and delivers it again after its claim time.
#[must_use = "an unsettled delivery is delivered again"]
pub struct Ack {
    count: u32,
    acker: Option<Box<dyn Acker>>,
}

impl Ack {
    /// How many times this item was delivered, this delivery included (1 the first time).
    pub fn delivery_count(&self) -> u32 {
        self.count
    }

    /// Whether settling this delivery does anything (false for in-process queues).
    pub fn is_owed(&self) -> bool {
        self.acker.is_some()
    }

    /// The item was handled.
    ///
    /// # Errors
    ///
    /// [`AckError`] if the queue could not record it; the item may then be delivered again.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may or may not have recorded the ack; either way
    /// nothing is lost: a delivery not acknowledged is delivered again after its claim time.
    pub async fn ack(self) -> Result<(), AckError> {
        match self.acker {
            Some(acker) => acker.ack().await,
            None => Ok(()),
        }
    }

    /// The item was not handled: have the queue deliver it again. For an in-process queue,
    /// which cannot take an item back, this does nothing: the item is the caller's.
    ///
    /// # Errors
    ///
    /// [`AckError`] if the queue could not record it; it is delivered again after its claim
    /// time anyway.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes leaves the delivery pending: it is delivered
    /// again after its claim time, which is what a nack asks for.
    pub async fn nack(self) -> Result<(), AckError> {
        match self.acker {
            Some(acker) => acker.nack().await,
            None => Ok(()),
        }
    }

    /// The item was not handled: have the queue deliver it again once `delay` has passed, so
    /// that a downstream outage of a few seconds does not use up its deliveries at once. A
    /// queue that cannot delay delivers it again as [`nack`](Self::nack) does; an in-process
    /// queue does nothing.
    ///
    /// # Errors
    ///
    /// As [`nack`](Self::nack).
    ///
    /// # Cancel safety
    ///
    /// As [`nack`](Self::nack).
    pub async fn nack_after(self, delay: Duration) -> Result<(), AckError> {
        match self.acker {
            Some(acker) => acker.nack_after(delay).await,
            None => Ok(()),
        }
    }

    /// The item is still being handled: renews the delivery's lease, so that the queue does
    /// not take it back and deliver it to another consumer for another claim time. Call it
    /// more often than the claim time during a long job. Nothing to do in process.
    ///
    /// # Errors
    ///
    /// [`AckError`] if the queue could not renew it, or the delivery is no longer this
    /// consumer's (its claim time passed and another took it over): the job may then run
    /// twice.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a lease renewed or not is still this delivery's, to settle.
    pub async fn touch(&self) -> Result<(), AckError> {
        match &self.acker {
            Some(acker) => acker.touch().await,
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("delivery_count", &self.count)
            .field("owed", &self.is_owed())
            .finish()
    }
}

/// One item from an [`AckConsumer`], with what settles it.
///
/// ```
/// use pc_core::{AckConsumer, channel};
///
/// # tokio_test::block_on(async {
/// let (tx, rx) = channel::bounded(4)?;
/// tx.send("job").await?;
/// let delivery = rx.recv_delivery().await?;
/// assert_eq!(delivery.delivery_count(), 1);
/// let (job, ack) = delivery.into_parts();
/// assert_eq!(job, "job");
/// ack.ack().await?; // nothing to settle in process, but the same code runs over pc-redis
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "an unsettled delivery is delivered again"]
pub struct Delivery<T> {
    item: T,
    key: Option<String>,
    ack: Ack,
}

impl<T> Delivery<T> {
    /// A delivery with nothing to settle, as in-process queues hand out.
    pub fn settled(item: T) -> Self {
        Self {
            item,
            key: None,
            ack: Ack {
                count: 1,
                acker: None,
            },
        }
    }

    /// A delivery that `acker` settles, delivered `count` times so far.
    pub fn owed(item: T, count: u32, acker: impl Acker) -> Self {
        Self {
            item,
            key: None,
            ack: Ack {
                count,
                acker: Some(Box::new(acker)),
            },
        }
    }

    /// Names the message across deliveries and resends: a durable queue's message id, which
    /// a consumer that must not act twice deduplicates by.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The item.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// What names the message across deliveries, if the queue gives it one (in-process queues
    /// deliver each item once and give none).
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// How many times this item was delivered, this delivery included.
    pub fn delivery_count(&self) -> u32 {
        self.ack.count
    }

    /// The item and what settles it, to settle after handing the item on.
    pub fn into_parts(self) -> (T, Ack) {
        (self.item, self.ack)
    }

    /// Acknowledges the delivery and returns the item.
    ///
    /// # Errors
    ///
    /// As [`Ack::ack`].
    ///
    /// # Cancel safety
    ///
    /// As [`Ack::ack`]; the item is dropped with the future.
    pub async fn ack(self) -> Result<T, AckError> {
        self.ack.ack().await?;
        Ok(self.item)
    }

    /// Renews the delivery's lease while its item is being handled (see [`Ack::touch`]).
    ///
    /// # Errors
    ///
    /// As [`Ack::touch`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn touch(&self) -> Result<(), AckError> {
        self.ack.touch().await
    }

    /// Asks for the item to be delivered again once `delay` has passed (see
    /// [`Ack::nack_after`]) and returns this copy.
    ///
    /// # Errors
    ///
    /// As [`Ack::nack`].
    ///
    /// # Cancel safety
    ///
    /// As [`Ack::nack`]; the item is dropped with the future.
    pub async fn nack_after(self, delay: Duration) -> Result<T, AckError> {
        self.ack.nack_after(delay).await?;
        Ok(self.item)
    }

    /// Asks for the item to be delivered again (see [`Ack::nack`]) and returns this copy.
    ///
    /// # Errors
    ///
    /// As [`Ack::nack`].
    ///
    /// # Cancel safety
    ///
    /// As [`Ack::nack`]; the item is dropped with the future.
    pub async fn nack(self) -> Result<T, AckError> {
        self.ack.nack().await?;
        Ok(self.item)
    }
}

impl<T: fmt::Debug> fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("item", &self.item)
            .field("key", &self.key)
            .field("ack", &self.ack)
            .finish()
    }
}

/// A consumer whose items are delivered to be acknowledged.
pub trait AckConsumer<T: Send>: Send + Sync {
    /// Receives the next delivery, waiting until one is available.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`](crate::Consumer::recv): closed once the source is closed and
    /// drained, failed when its backend failed (a later receive may succeed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no delivery.
    fn recv_delivery(&self) -> impl Future<Output = Result<Delivery<T>, ConsumeError>> + Send;
}

/// A delivery could not be settled; the message names why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError(pub String);

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not settle a delivery: {}", self.0)
    }
}

impl std::error::Error for AckError {}

impl<T: Send> AckConsumer<T> for crate::channel::Receiver<T> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        Ok(Delivery::settled(self.recv().await?))
    }
}

impl<T: Send> AckConsumer<T> for async_channel::Receiver<T> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        self.recv()
            .await
            .map(Delivery::settled)
            .map_err(|_| ConsumeError::closed())
    }
}

impl<T: Send, C: AckConsumer<T>> AckConsumer<T> for std::sync::Arc<C> {
    fn recv_delivery(&self) -> impl Future<Output = Result<Delivery<T>, ConsumeError>> + Send {
        (**self).recv_delivery()
    }
}
