//! tower middleware over pc's limiters, whose clones share one limiter.
//!
//! A `tower::Service` is cloned to be used from many tasks (`Buffer`, a server's per-connection
//! clone). tower's own `RateLimit` keeps its state in each clone, so under four clones four
//! times the rate gets through. Here every clone of a [`RateLimit`] draws from one
//! [`TokenBucket`], and every clone of a [`KeyedRateLimit`] from one [`KeyedLimiter`]: the limit
//! holds however the service is cloned.
//!
//! - [`RateLimitLayer`] waits: `poll_ready` is pending until the bucket grants this clone a
//!   permit (in arrival order among all clones), then until the inner service is ready. A
//!   permit held by a clone that is dropped before `call` goes back to the bucket.
//! - [`KeyedRateLimitLayer`] refuses: `call` takes a permit for the request's key, or answers
//!   at once with [`OverLimit`] (boxed, as tower's `LoadShed` answers `Overloaded`), whose
//!   cause says when the key has a permit again.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use pc_ratelimit::TokenBucket;
//! use pc_ratelimit::tower::RateLimitLayer;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bucket = TokenBucket::builder().rate(10.0).burst(2).build()?;
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(bucket.clone()))
//!     .service_fn(|n: u32| async move { Ok::<_, Infallible>(n * 2) });
//! let start = tokio::time::Instant::now();
//! let mut clones = [service.clone(), service.clone(), service];
//! for (n, service) in (0..).zip(clones.iter_mut()) {
//!     assert_eq!(service.ready().await?.call(n).await?, n * 2);
//! }
//! // Three clones, one bucket: two at once, the third 100 ms later.
//! assert_eq!(start.elapsed(), Duration::from_millis(100));
//! assert_eq!(bucket.stats().granted, 3);
//! # Ok(())
//! # }
//! ```

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::bucket::Held;
use crate::error::TryAcquireError;
use crate::{KeyedLimiter, TokenBucket};

/// The error type of [`KeyedRateLimit`]: tower's usual boxed error.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Wraps services in a [`RateLimit`] drawing from one [`TokenBucket`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: TokenBucket,
}

impl RateLimitLayer {
    /// Every service this layer wraps, and every clone of those, draws from `bucket`.
    pub fn new(bucket: TokenBucket) -> Self {
        Self { bucket }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, self.bucket.clone())
    }
}

/// A service that calls its inner service once per permit of a shared [`TokenBucket`].
///
/// `poll_ready` waits for a permit (queued in arrival order with every other user of the
/// bucket), then for the inner service; `call` spends the permit. A clone starts without a
/// permit and draws from the same bucket. A permit held when the service is dropped, or taken
/// for a `call` that never comes, goes back to the bucket, uncounted.
///
/// A bucket whose next permit lies past the end of its clock (a rate near zero with a long
/// queue) never grants it: `poll_ready` stays pending, as the wait it stands for would.
pub struct RateLimit<S> {
    inner: S,
    bucket: TokenBucket,
    permit: Permit,
}

/// Where a [`RateLimit`] stands with its next permit.
enum Permit {
    /// None asked for yet.
    None,
    /// Waiting for the bucket; `None` at the end means "never".
    Waiting(Pin<Box<dyn Future<Output = Option<Held<'static>>> + Send>>),
    /// Taken, for the next `call`.
    Held(Held<'static>),
}

impl<S> RateLimit<S> {
    /// Wraps `inner`, drawing one permit of `bucket` per call.
    pub fn new(inner: S, bucket: TokenBucket) -> Self {
        Self {
            inner,
            bucket,
            permit: Permit::None,
        }
    }

    /// The bucket it draws from.
    pub fn bucket(&self) -> &TokenBucket {
        &self.bucket
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Takes the inner service back out (a permit held goes back to the bucket).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for RateLimit<S> {
    /// The same inner service and bucket; the permit, if any, stays with the original.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.bucket.clone())
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("bucket", &self.bucket)
            .field("holds_permit", &matches!(self.permit, Permit::Held(_)))
            .finish()
    }
}

impl<S: Service<Req>, Req> Service<Req> for RateLimit<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        loop {
            match &mut self.permit {
                Permit::None => {
                    let bucket = self.bucket.clone();
                    self.permit = Permit::Waiting(Box::pin(async move {
                        bucket.hold(1, None).await.ok().map(Held::into_owned)
                    }));
                }
                Permit::Waiting(wait) => match ready!(wait.as_mut().poll(cx)) {
                    Some(held) => self.permit = Permit::Held(held),
                    // Never granted: pending for good, as the wait it stands for.
                    None => return Poll::Pending,
                },
                Permit::Held(_) => return self.inner.poll_ready(cx),
            }
        }
    }

    /// Spends the permit `poll_ready` took and calls the inner service.
    ///
    /// # Panics
    ///
    /// If `poll_ready` has not returned `Ready(Ok(()))` since the last call, as tower's
    /// contract allows.
    fn call(&mut self, request: Req) -> S::Future {
        match std::mem::replace(&mut self.permit, Permit::None) {
            Permit::Held(held) => held.spend(),
            _ => panic!("RateLimit::call before poll_ready returned Ready"),
        }
        self.inner.call(request)
    }
}

/// Wraps services in a [`KeyedRateLimit`] drawing from one [`KeyedLimiter`], the key of each
/// request given by `key`.
pub struct KeyedRateLimitLayer<K, F> {
    limiter: Arc<KeyedLimiter<K>>,
    key: F,
}

impl<K, F: Clone> Clone for KeyedRateLimitLayer<K, F> {
    fn clone(&self) -> Self {
        Self {
            limiter: Arc::clone(&self.limiter),
            key: self.key.clone(),
        }
    }
}

impl<K, F> fmt::Debug for KeyedRateLimitLayer<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimitLayer")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<K, F> KeyedRateLimitLayer<K, F> {
    /// Every service this layer wraps, and every clone of those, draws from `limiter`, one
    /// permit of the key `key(&request)` per request.
    pub fn new(limiter: Arc<KeyedLimiter<K>>, key: F) -> Self {
        Self { limiter, key }
    }
}

impl<S, K, F: Clone> Layer<S> for KeyedRateLimitLayer<K, F> {
    type Service = KeyedRateLimit<S, K, F>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedRateLimit {
            inner,
            limiter: Arc::clone(&self.limiter),
            key: self.key.clone(),
        }
    }
}

/// A service that takes one permit of the request's key per call, or answers [`OverLimit`] at
/// once when the key has none; clones share the limiter. Made by [`KeyedRateLimitLayer`].
///
/// `poll_ready` is the inner service's: the key is only known with the request. A refused
/// request does not call the inner service.
pub struct KeyedRateLimit<S, K, F> {
    inner: S,
    limiter: Arc<KeyedLimiter<K>>,
    key: F,
}

impl<S: Clone, K, F: Clone> Clone for KeyedRateLimit<S, K, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limiter: Arc::clone(&self.limiter),
            key: self.key.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F> fmt::Debug for KeyedRateLimit<S, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, Req> Service<Req> for KeyedRateLimit<S, K, F>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone,
    F: Fn(&Req) -> K,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = KeyedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = (self.key)(&request);
        let state = match self.limiter.try_acquire(&key, 1) {
            Ok(()) => Keyed::Called {
                inner: self.inner.call(request),
            },
            Err(cause) => Keyed::Refused {
                refusal: Some(OverLimit { cause }),
            },
        };
        KeyedFuture { state }
    }
}

pin_project! {
    /// The response of a [`KeyedRateLimit`]: the inner service's, or an [`OverLimit`] at once.
    pub struct KeyedFuture<F> {
        #[pin]
        state: Keyed<F>,
    }
}

pin_project! {
    #[project = KeyedProjection]
    enum Keyed<F> {
        // The key had a permit: the inner call.
        Called {
            #[pin]
            inner: F,
        },
        // The key had none.
        Refused {
            refusal: Option<OverLimit>,
        },
    }
}

impl<F> fmt::Debug for KeyedFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refused = matches!(self.state, Keyed::Refused { .. });
        f.debug_struct("KeyedFuture")
            .field("refused", &refused)
            .finish()
    }
}

impl<F, T, E> Future for KeyedFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            KeyedProjection::Called { inner } => inner.poll(cx).map_err(Into::into),
            KeyedProjection::Refused { refusal } => {
                let refusal = refusal
                    .take()
                    .expect("a KeyedFuture polled after it completed");
                Poll::Ready(Err(Box::new(refusal)))
            }
        }
    }
}

/// A request refused because its key had no permit; [`cause`](OverLimit::cause) says until
/// when (as [`KeyedLimiter::try_acquire`] does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    cause: TryAcquireError,
}

impl OverLimit {
    /// Why the key had no permit, with the instant it has one again.
    pub fn cause(&self) -> &TryAcquireError {
        &self.cause
    }
}

impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "over the rate limit of the request's key: {}",
            self.cause
        )
    }
}

impl Error for OverLimit {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}
