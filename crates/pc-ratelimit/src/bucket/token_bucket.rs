//! The token bucket itself.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pc_core::{BuildError, DropReason, SharedProbe, WaitKind};
use tokio::time::Instant;

use super::builder::TokenBucketBuilder;
use super::stats::{BucketStats, Counters};
use crate::clock::Clock;
use crate::error::{AcquireError, TryAcquireError};
use crate::limits::{Limits, check_burst, interval_of};

/// A token bucket: `burst` permits at most, refilled at `rate` per second.
///
/// Permits are computed from the time elapsed at each call; there is no refill task. A waiting
/// [`acquire`](TokenBucket::acquire) pays for its permits up front and sleeps exactly until they
/// exist, so waiters are served in arrival order: a request for 5 is never starved by a stream
/// of 1s, and [`try_acquire`](TokenBucket::try_acquire) cannot jump the queue. Cloning gives
/// another handle to the same bucket.
///
/// ```
/// use std::time::Duration;
/// use pc_ratelimit::TokenBucket;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bucket = TokenBucket::builder().rate(2.0).burst(5).build()?;
/// let start = tokio::time::Instant::now();
/// bucket.acquire(5).await?; // a full bucket: at once
/// bucket.acquire(1).await?; // then one permit every 500 ms
/// assert_eq!(start.elapsed(), Duration::from_millis(500));
/// assert!(bucket.try_acquire(1).is_err());
/// assert_eq!(bucket.stats().granted, 6);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokenBucket {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    state: Mutex<State>,
    counters: Counters,
    probe: Option<SharedProbe>,
}

impl Inner {
    /// Counts `n` permits granted; the probe sees them pass straight through.
    fn granted(&self, n: u32) {
        self.counters.granted(n);
        if let Some(probe) = &self.probe {
            probe.produced(u64::from(n));
            probe.consumed(u64::from(n));
        }
    }

    /// Counts a request for `n` permits refused for want of tokens (or time).
    fn refused(&self, n: u32) {
        self.counters.rejected();
        if let Some(probe) = &self.probe {
            probe.dropped(u64::from(n), DropReason::Full);
        }
    }
}

#[derive(Debug)]
struct State {
    /// When the bucket would be full again, in nanoseconds since `clock`'s origin.
    tat: u64,
    limits: Limits,
}

/// What taking permits did: granted at once, or paid for and ready at a later time.
enum Taken {
    Now,
    Later(Debit),
}

impl TokenBucket {
    /// Starts the settings of a bucket; `rate` and `burst` are required.
    pub fn builder() -> TokenBucketBuilder {
        TokenBucketBuilder::default()
    }

    pub(super) fn new(limits: Limits, probe: Option<SharedProbe>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: Clock::new(),
                state: Mutex::new(State { tat: 0, limits }),
                counters: Counters::default(),
                probe,
            }),
        }
    }

    /// Takes `n` permits if they exist now and nobody is waiting ahead.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::Insufficient`] with the earliest time the request could succeed, or
    /// [`TryAcquireError::OverBurst`] when `n` is more than the burst.
    pub fn try_acquire(&self, n: u32) -> Result<(), TryAcquireError> {
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        let limits = state.limits;
        if n > limits.burst {
            drop(state);
            self.inner.counters.rejected();
            return Err(TryAcquireError::OverBurst {
                requested: n,
                burst: limits.burst,
            });
        }
        match limits.check(state.tat, now, n) {
            Ok(tat) => {
                state.tat = tat;
                drop(state);
                self.inner.granted(n);
                Ok(())
            }
            Err(at) => {
                drop(state);
                self.inner.refused(n);
                Err(TryAcquireError::Insufficient(
                    self.inner.clock.not_until(at),
                ))
            }
        }
    }

    /// Takes `n` permits, sleeping exactly until they exist.
    ///
    /// # Errors
    ///
    /// [`AcquireError::OverBurst`] at once when `n` is more than the burst; never a hang.
    ///
    /// # Cancel safety
    ///
    /// A cancelled wait gives back exactly the permits it had paid for. Waiters queued behind
    /// it keep their place and wake no later than before.
    pub async fn acquire(&self, n: u32) -> Result<(), AcquireError> {
        match self.take(n, None)? {
            Taken::Now => Ok(()),
            Taken::Later(debit) => {
                debit.wait().await;
                Ok(())
            }
        }
    }

    /// Takes `n` permits if they will exist within `timeout`, sleeping until they do.
    ///
    /// When they cannot exist in time the call fails at once rather than after the timeout:
    /// the time they would exist is known up front.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] or [`AcquireError::OverBurst`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](TokenBucket::acquire).
    pub async fn acquire_timeout(&self, n: u32, timeout: Duration) -> Result<(), AcquireError> {
        match self.take(n, Some(timeout))? {
            Taken::Now => Ok(()),
            Taken::Later(debit) => {
                debit.wait().await;
                Ok(())
            }
        }
    }

    /// Whole permits available now (0 while anyone waits).
    pub fn available(&self) -> u32 {
        let now = self.inner.clock.now();
        let state = self.inner.lock();
        state.limits.available(state.tat, now)
    }

    /// Changes the refill rate from now on: the permits missing now refill at the new rate.
    /// Waiters already asleep keep the time they were given.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a rate that is 0, negative, not finite or above 1e9/s.
    pub fn set_rate(&self, per_second: f64) -> Result<(), BuildError> {
        let interval = interval_of(per_second)?;
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        if state.tat > now {
            // The same number of missing permits, each now costing the new interval.
            let missing = u128::from(state.tat - now);
            let rescaled = missing * u128::from(interval) / u128::from(state.limits.interval);
            state.tat = now + u64::try_from(rescaled).unwrap_or(u64::MAX / 4);
        }
        state.limits.interval = interval;
        Ok(())
    }

    /// Changes the burst from now on.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a burst of 0.
    pub fn set_burst(&self, burst: u32) -> Result<(), BuildError> {
        let burst = check_burst(burst)?;
        self.inner.lock().limits.burst = burst;
        Ok(())
    }

    /// The refill rate, in permits per second.
    pub fn rate(&self) -> f64 {
        1e9 / self.inner.lock().limits.interval as f64
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        self.inner.lock().limits.burst
    }

    /// What the bucket has done so far.
    pub fn stats(&self) -> BucketStats {
        self.inner.counters.snapshot()
    }

    /// Gives back `n` permits taken for something that then did not happen.
    pub(crate) fn give_back(&self, n: u32) {
        let inner = &self.inner;
        let mut state = inner.lock();
        state.tat = state
            .tat
            .saturating_sub(u64::from(n) * state.limits.interval);
        drop(state);
        inner.counters.ungranted(n);
    }

    /// Takes one permit for a throttled item, or pays for it and says when it is ready.
    pub(crate) fn debit_one(&self) -> Option<Debit> {
        match self.take(1, None) {
            Ok(Taken::Now) | Err(_) => None,
            Ok(Taken::Later(debit)) => Some(debit),
        }
    }

    /// The one place permits are taken: granted now, paid for now and ready later, or refused.
    fn take(&self, n: u32, within: Option<Duration>) -> Result<Taken, AcquireError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut state = inner.lock();
        let limits = state.limits;
        if n > limits.burst {
            drop(state);
            inner.counters.rejected();
            return Err(AcquireError::OverBurst {
                requested: n,
                burst: limits.burst,
            });
        }
        let ready_at = match limits.check(state.tat, now, n) {
            Ok(tat) => {
                state.tat = tat;
                drop(state);
                inner.granted(n);
                return Ok(Taken::Now);
            }
            Err(at) => at,
        };
        let too_late = within.is_some_and(|within| {
            ready_at - now > u64::try_from(within.as_nanos()).unwrap_or(u64::MAX)
        });
        if too_late {
            drop(state);
            inner.refused(n);
            return Err(AcquireError::Timeout);
        }
        // Pay now: the debt puts every later request behind this one.
        let cost = u64::from(n) * limits.interval;
        state.tat = state.tat.max(now) + cost;
        drop(state);
        inner.counters.start_waiting();
        if let Some(probe) = &inner.probe {
            probe.wait_started(WaitKind::Throttled);
        }
        Ok(Taken::Later(Debit {
            bucket: self.clone(),
            n,
            cost,
            ready_at: inner.clock.instant(ready_at),
            started: inner.clock.instant(now),
            settled: false,
        }))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limits = self.inner.lock().limits;
        f.debug_struct("TokenBucket")
            .field("interval_ns", &limits.interval)
            .field("burst", &limits.burst)
            .field("available", &self.available())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Permits paid for and ready at `ready_at`. Dropped before [`Debit::wait`] completes, it
/// gives the permits back.
pub(crate) struct Debit {
    bucket: TokenBucket,
    n: u32,
    cost: u64,
    ready_at: Instant,
    started: Instant,
    settled: bool,
}

impl Debit {
    pub(crate) fn ready_at(&self) -> Instant {
        self.ready_at
    }

    /// Sleeps until the permits exist, then counts them granted.
    pub(crate) async fn wait(mut self) {
        tokio::time::sleep_until(self.ready_at).await;
        self.settle();
    }

    /// Counts the permits granted; call once `ready_at` has passed.
    pub(crate) fn settle(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let inner = &self.bucket.inner;
        let waited = self.ready_at.saturating_duration_since(self.started);
        inner.granted(self.n);
        inner.counters.stop_waiting(waited);
        if let Some(probe) = &inner.probe {
            probe.waited(WaitKind::Throttled, waited);
            probe.wait_ended(WaitKind::Throttled);
        }
    }
}

impl Drop for Debit {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let inner = &self.bucket.inner;
        let mut state = inner.lock();
        state.tat = state.tat.saturating_sub(self.cost);
        drop(state);
        inner.counters.stop_waiting(Duration::ZERO);
        if let Some(probe) = &inner.probe {
            // Cancelled: the wait ends now, having lasted this long.
            probe.waited(WaitKind::Throttled, self.started.elapsed());
            probe.wait_ended(WaitKind::Throttled);
        }
    }
}

impl fmt::Debug for Debit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debit")
            .field("n", &self.n)
            .field("ready_at", &self.ready_at)
            .field("settled", &self.settled)
            .finish()
    }
}
