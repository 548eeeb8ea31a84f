//! Pacing a producer or a stream with a [`TokenBucket`].

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use pc_core::{ProduceError, ProduceErrorKind, Producer};
use tokio::time::{Instant, Sleep};

use crate::TokenBucket;
use crate::bucket::Debit;

/// A [`Producer`] that takes one permit from a [`TokenBucket`] before each send.
///
/// Several producers sharing one bucket (a clone of it) share its rate.
///
/// ```
/// use std::time::Duration;
/// use pc_core::{Producer, channel};
/// use pc_ratelimit::{Throttled, TokenBucket};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::unbounded();
/// let paced = Throttled::new(tx, TokenBucket::builder().rate(10.0).burst(1).build()?);
/// let start = tokio::time::Instant::now();
/// paced.send_all(0..5).await?;
/// assert_eq!(start.elapsed(), Duration::from_millis(400)); // one at once, then every 100 ms
/// assert_eq!(rx.len(), 5);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Throttled<P> {
    inner: P,
    bucket: TokenBucket,
}

impl<P> Throttled<P> {
    /// Paces `inner` with `bucket`.
    pub fn new(inner: P, bucket: TokenBucket) -> Self {
        Self { inner, bucket }
    }

    /// The producer inside.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The bucket that paces it.
    pub fn bucket(&self) -> &TokenBucket {
        &self.bucket
    }

    /// Takes the producer back out.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<T: Send, P: Producer<T>> Producer<T> for Throttled<P> {
    /// Waits for a permit, then for the inner producer. A permit is only counted granted once
    /// the inner producer took the item: one taken for an item it refuses (closed meanwhile),
    /// or held by a send cancelled at either wait, goes back to the bucket. The item is
    /// dropped on cancellation, as with any `send`.
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let Ok(permit) = self.bucket.hold(1, None).await else {
            // One permit is within any burst, so only a permit past the end of the bucket's
            // clock (its tick count full) is refused: it never comes, and neither does the send.
            return std::future::pending().await;
        };
        self.inner.send(item).await.map(|()| permit.spend())
    }

    /// Fails with `OverLimit` while no permit exists; a permit taken for an item the inner
    /// producer refuses goes back to the bucket, counted by neither its stats nor its probe.
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let Ok(permit) = self.bucket.try_hold(1) else {
            return Err(ProduceError::new(item, ProduceErrorKind::OverLimit));
        };
        self.inner.try_send(item).map(|()| permit.spend())
    }

    /// The timeout covers the wait for a permit and the inner send together; a permit taken
    /// for a send that then times out (or finds the producer closed) goes back to the bucket.
    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let start = Instant::now();
        let Ok(permit) = self.bucket.hold(1, Some(timeout)).await else {
            return Err(ProduceError::new(item, ProduceErrorKind::TimedOut));
        };
        let left = timeout.saturating_sub(start.elapsed());
        self.inner
            .send_timeout(item, left)
            .await
            .map(|()| permit.spend())
    }

    fn close(&self) -> bool {
        self.inner.close()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

pin_project_lite::pin_project! {
    /// A [`Stream`] whose items come out no faster than a [`TokenBucket`] allows; made by
    /// [`throttle`].
    ///
    /// An item is taken from the inner stream, then held until its permit exists. Dropping
    /// the stream while an item is held drops the item and gives its permit back.
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct Throttle<S: Stream> {
        #[pin]
        stream: S,
        // Boxed once, so `Throttle` is `Unpin` whenever the inner stream is.
        sleep: Pin<Box<Sleep>>,
        held: Option<(S::Item, Debit)>,
        bucket: TokenBucket,
    }
}

/// Paces `stream` with `bucket`: one permit per item.
///
/// ```
/// use std::time::Duration;
/// use futures_util::{StreamExt, stream};
/// use pc_ratelimit::{TokenBucket, throttle};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bucket = TokenBucket::builder().rate(4.0).burst(2).build()?;
/// let start = tokio::time::Instant::now();
/// let items: Vec<u32> = throttle(stream::iter(1..=4), bucket).collect().await;
/// assert_eq!(items, [1, 2, 3, 4]);
/// assert_eq!(start.elapsed(), Duration::from_millis(500)); // 2 at once, then every 250 ms
/// # Ok(())
/// # }
/// ```
pub fn throttle<S: Stream>(stream: S, bucket: TokenBucket) -> Throttle<S> {
    Throttle {
        stream,
        sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
        held: None,
        bucket,
    }
}

impl<S: Stream> Stream for Throttle<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        if this.held.is_none() {
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            match this.bucket.debit_one() {
                None => return Poll::Ready(Some(item)),
                Some(debit) => *this.held = Some((item, debit)),
            }
        }
        let Some((_, debit)) = this.held.as_mut() else {
            unreachable!("an item is held while the timer runs");
        };
        ready!(debit.poll_wait(this.sleep.as_mut(), cx));
        let Some((item, _)) = this.held.take() else {
            unreachable!("an item is held while the timer runs");
        };
        this.bucket.granted(1);
        Poll::Ready(Some(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = usize::from(self.held.is_some());
        let (low, high) = self.stream.size_hint();
        (
            low.saturating_add(held),
            high.and_then(|high| high.checked_add(held)),
        )
    }
}
