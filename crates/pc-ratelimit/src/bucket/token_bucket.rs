//! The token bucket itself.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pc_core::{BuildError, DropReason, SharedProbe, WaitKind};
use tokio::time::{Instant, Sleep};

use super::builder::TokenBucketBuilder;
use super::stats::{BucketStats, Counters};
use crate::clock::Clock;
use crate::error::{AcquireError, TryAcquireError};
use crate::limits::Limits;

/// A token bucket: `burst` permits at most, refilled at `rate` per second.
///
/// Permits are computed from the time elapsed at each call; there is no refill task. A waiting
/// [`acquire`](TokenBucket::acquire) pays for its permits up front and sleeps exactly until they
/// exist, so waiters are served in arrival order: a request for 5 is never starved by a stream
/// of 1s, and [`try_acquire`](TokenBucket::try_acquire) cannot take what a waiter is owed. A
/// cancelled wait refunds its payment to the waiters behind it, who move up (and wake
/// earlier), not to newcomers. A request for 0 permits takes nothing and succeeds at once.
/// Cloning gives another handle to the same bucket.
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

// No user code runs under the bucket's lock: consistent across a caught panic.
impl std::panic::UnwindSafe for TokenBucket {}
impl std::panic::RefUnwindSafe for TokenBucket {}

struct Inner {
    clock: Clock,
    state: Mutex<State>,
    counters: Counters,
    probe: Option<SharedProbe>,
}

impl Inner {
    /// Counts `n` permits granted; the probe sees them pass straight through.
    fn granted(&self, n: u32) {
        if n == 0 {
            return;
        }
        self.counters.granted(n);
        if let Some(probe) = &self.probe {
            probe.produced(u64::from(n));
            probe.consumed(u64::from(n));
        }
    }

    /// Counts a request for `n` permits refused for want of tokens (or time).
    fn refused(&self, n: u32) {
        self.counters.rejected(n);
        if let Some(probe) = &self.probe {
            probe.dropped(u64::from(n), DropReason::Full);
        }
    }
}

#[derive(Debug)]
struct State {
    /// When the bucket would be full again, in ticks since `clock`'s origin, counting every
    /// permit granted and every permit a waiter has paid for.
    tat: u64,
    limits: Limits,
    /// Waits paid for and not yet over, in arrival order (ids increasing).
    waiters: VecDeque<Waiting>,
    next_id: u64,
}

/// One paid-for wait, kept in the bucket so that a cancellation ahead of it moves it up.
#[derive(Debug)]
struct Waiting {
    id: u64,
    /// Ticks paid, refunded if the wait is cancelled.
    cost: u64,
    /// The TAT right after this wait paid: its permits exist from `paid_to - window`.
    paid_to: u64,
    /// The task to wake when this wait's time moves.
    waker: Option<Waker>,
}

impl State {
    /// Gives `cost` back to the TAT and to every waiter from `index` on (each paid after the
    /// permits refunded, so each moves up by exactly that), and returns their wakers.
    fn refund(&mut self, index: usize, cost: u64) -> Vec<Waker> {
        self.tat = self.tat.saturating_sub(cost);
        self.waiters
            .range_mut(index..)
            .filter_map(|behind| {
                behind.paid_to = behind.paid_to.saturating_sub(cost);
                behind.waker.take()
            })
            .collect()
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.waiters.binary_search_by_key(&id, |w| w.id).ok()
    }

    /// When the permits of the wait at `index` exist, in ticks.
    fn ready_at(&self, index: usize) -> u64 {
        self.waiters[index]
            .paid_to
            .saturating_sub(self.limits.window())
    }

    /// The wakers of every waiter, whose times just moved.
    fn wakers(&mut self) -> Vec<Waker> {
        self.waiters
            .iter_mut()
            .filter_map(|w| w.waker.take())
            .collect()
    }
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
                state: Mutex::new(State {
                    tat: 0,
                    limits,
                    waiters: VecDeque::new(),
                    next_id: 0,
                }),
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
        self.try_take(n)?;
        self.inner.granted(n);
        Ok(())
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
        self.hold(n, None).await.map(Held::spend)
    }

    /// Takes `n` permits if they will exist within `timeout`, sleeping until they do.
    ///
    /// When they cannot exist in time the call fails at once rather than after the timeout:
    /// the time they would exist is known up front.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] or [`AcquireError::OverBurst`]. A `timeout` of
    /// `Duration::MAX` never times out.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](TokenBucket::acquire).
    pub async fn acquire_timeout(&self, n: u32, timeout: Duration) -> Result<(), AcquireError> {
        self.hold(n, Some(timeout)).await.map(Held::spend)
    }

    /// [`try_acquire`](TokenBucket::try_acquire), the permits held until spent or given back.
    pub(crate) fn try_hold(&self, n: u32) -> Result<Held<'_>, TryAcquireError> {
        self.try_take(n).map(|()| self.held(n))
    }

    /// Takes `n` permits if they exist now, counting a refusal; the caller counts the grant.
    #[inline(always)]
    fn try_take(&self, n: u32) -> Result<(), TryAcquireError> {
        if n == 0 {
            return Ok(());
        }
        let at = Instant::now();
        let mut state = self.inner.lock();
        let limits = state.limits;
        if n > limits.burst {
            return Err(TryAcquireError::OverBurst {
                requested: n,
                burst: limits.burst,
            });
        }
        match limits.check(state.tat, self.inner.clock.ticks(at, limits), n) {
            Ok(tat) => {
                state.tat = tat;
                Ok(())
            }
            Err(ready_at) => {
                drop(state);
                self.inner.refused(n);
                Err(TryAcquireError::Insufficient(
                    self.inner.clock.not_until(ready_at, limits),
                ))
            }
        }
    }

    /// [`acquire_timeout`](TokenBucket::acquire_timeout) (`None`: no timeout), the permits
    /// held until spent or given back.
    pub(crate) async fn hold(
        &self,
        n: u32,
        within: Option<Duration>,
    ) -> Result<Held<'_>, AcquireError> {
        if let Taken::Later(debit) = self.take(n, within)? {
            debit.wait().await;
        }
        Ok(self.held(n))
    }

    /// Counts `n` permits granted, paid for by a [`Debit`] whose wait is over.
    pub(crate) fn granted(&self, n: u32) {
        self.inner.granted(n);
    }

    fn held(&self, n: u32) -> Held<'_> {
        Held {
            bucket: Cow::Borrowed(self),
            n,
        }
    }

    /// Whole permits available now (0 while anyone waits).
    pub fn available(&self) -> u32 {
        let at = Instant::now();
        let state = self.inner.lock();
        let now = self.inner.clock.ticks(at, state.limits);
        state.limits.available(state.tat, now)
    }

    /// Changes the refill rate from now on: the permits missing now, granted or owed to
    /// waiters, refill at the new rate, and waiters wake at their new times.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a rate that is 0, negative, not finite or above 1e9/s.
    pub fn set_rate(&self, per_second: f64) -> Result<(), BuildError> {
        self.change(|limits| limits.with_rate(per_second))
    }

    /// Changes the burst from now on; waiters wake at their new times.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a burst of 0.
    pub fn set_burst(&self, burst: u32) -> Result<(), BuildError> {
        self.change(|limits| limits.with_burst(burst))
    }

    /// Puts new limits in place: every position is moved to the new limits' ticks, the
    /// permits owed ahead of now each costing the new interval, and every waiter is woken to
    /// find its new time.
    fn change(
        &self,
        new: impl FnOnce(Limits) -> Result<Limits, BuildError>,
    ) -> Result<(), BuildError> {
        let at = Instant::now();
        let inner = &self.inner;
        let mut state = inner.lock();
        let (old, limits) = (state.limits, new(state.limits)?);
        let (now, now_new) = (inner.clock.ticks(at, old), inner.clock.ticks(at, limits));
        state.tat = old.rescale(limits, state.tat, now, now_new);
        for waiting in &mut state.waiters {
            waiting.paid_to = old.rescale(limits, waiting.paid_to, now, now_new);
            waiting.cost = old.rescale_cost(limits, waiting.cost);
        }
        state.limits = limits;
        let wakers = state.wakers();
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// The refill rate, in permits per second.
    pub fn rate(&self) -> f64 {
        self.inner.lock().limits.per_second()
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        self.inner.lock().limits.burst
    }

    /// What the bucket has done so far.
    pub fn stats(&self) -> BucketStats {
        self.inner.counters.snapshot()
    }

    /// Takes one permit for a throttled item, or pays for it and says when it is ready; the
    /// permit is counted granted once the item goes out.
    pub(crate) fn debit_one(&self) -> Option<Debit> {
        match self.take(1, None) {
            Ok(Taken::Now) => {
                self.held(1).spend();
                None
            }
            // Past the clock's horizon, no permit exists to count or to wait for.
            Err(_) => None,
            Ok(Taken::Later(debit)) => Some(debit),
        }
    }

    /// The one place permits are taken: granted now, paid for now and ready later, or refused.
    fn take(&self, n: u32, within: Option<Duration>) -> Result<Taken, AcquireError> {
        if n == 0 {
            return Ok(Taken::Now);
        }
        let inner = &self.inner;
        let at = Instant::now();
        let mut state = inner.lock();
        let limits = state.limits;
        let now = inner.clock.ticks(at, limits);
        if n > limits.burst {
            return Err(AcquireError::OverBurst {
                requested: n,
                burst: limits.burst,
            });
        }
        let ready_at = match limits.check(state.tat, now, n) {
            Ok(tat) => {
                state.tat = tat;
                return Ok(Taken::Now);
            }
            Err(at) => at,
        };
        let too_late = within.is_some_and(|within| ready_at - now > limits.ticks_of(within));
        if too_late || ready_at == u64::MAX {
            drop(state);
            inner.refused(n);
            return Err(AcquireError::Timeout);
        }
        // Pay now: the debt puts every later request behind this one.
        let cost = limits.cost(n);
        state.tat = state.tat.max(now) + cost;
        let id = state.next_id;
        state.next_id += 1;
        let paid_to = state.tat;
        state.waiters.push_back(Waiting {
            id,
            cost,
            paid_to,
            waker: None,
        });
        drop(state);
        inner.counters.start_waiting();
        if let Some(probe) = &inner.probe {
            probe.wait_started(WaitKind::Throttled);
        }
        Ok(Taken::Later(Debit {
            bucket: self.clone(),
            id,
            n,
            started: at,
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
            .field("interval_ns", &limits.interval_ns())
            .field("burst", &limits.burst)
            .field("available", &self.available())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Permits paid for and ready once the bucket says so. Dropped before [`Debit::wait`]
/// completes, it gives the permits back to the waiters behind it.
pub(crate) struct Debit {
    bucket: TokenBucket,
    id: u64,
    n: u32,
    started: Instant,
    settled: bool,
}

impl Debit {
    /// Sleeps until the permits exist (however often their time moves), then counts them
    /// granted.
    pub(crate) async fn wait(mut self) {
        let mut sleep = pin!(tokio::time::sleep_until(self.started));
        poll_fn(|cx| self.poll_wait(sleep.as_mut(), cx)).await;
    }

    /// Polls for the permits with `sleep` as the timer, counting them granted when they exist.
    pub(crate) fn poll_wait(
        &mut self,
        mut sleep: Pin<&mut Sleep>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.settled {
            return Poll::Ready(());
        }
        let inner = &self.bucket.inner;
        loop {
            let at = Instant::now();
            let mut state = inner.lock();
            let limits = state.limits;
            let now = inner.clock.ticks(at, limits);
            let Some(index) = state.position(self.id) else {
                unreachable!("a wait not settled is in the queue");
            };
            let ready_at = state.ready_at(index);
            if ready_at <= now {
                state.waiters.remove(index);
                drop(state);
                self.settle(inner.clock.instant(ready_at, limits).max(self.started));
                return Poll::Ready(());
            }
            let waker = &mut state.waiters[index].waker;
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
            drop(state);
            let wake_at = inner.clock.instant(ready_at, limits);
            if sleep.deadline() != wake_at {
                sleep.as_mut().reset(wake_at);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Counts the permits granted, the wait having ended at `ready`.
    fn settle(&mut self, ready: Instant) {
        self.settled = true;
        let inner = &self.bucket.inner;
        let waited = ready.saturating_duration_since(self.started);
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
        let mut wakers = Vec::new();
        if let Some(index) = state.position(self.id) {
            let Waiting { cost, .. } = state.waiters.remove(index).expect("found just now");
            wakers = state.refund(index, cost);
        }
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
        // Cancelled: the wait ends now, having lasted this long.
        let waited = self.started.elapsed();
        inner.counters.stop_waiting(waited);
        if let Some(probe) = &inner.probe {
            probe.waited(WaitKind::Throttled, waited);
            probe.wait_ended(WaitKind::Throttled);
        }
    }
}

impl fmt::Debug for Debit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debit")
            .field("id", &self.id)
            .field("n", &self.n)
            .field("settled", &self.settled)
            .finish()
    }
}

/// Permits taken and not yet counted: [`Held::spend`] counts them granted; dropped unspent,
/// they go back to the bucket (to the waiters queued since, who move up) and were never
/// granted, for the stats and the probe alike.
///
/// It borrows the bucket, or holds a handle of it once [`into_owned`](Held::into_owned).
#[derive(Debug)]
pub(crate) struct Held<'a> {
    bucket: Cow<'a, TokenBucket>,
    n: u32,
}

impl Held<'_> {
    /// Counts the permits granted.
    #[inline]
    pub(crate) fn spend(mut self) {
        self.bucket.inner.granted(self.n);
        // Spent: nothing to give back when it drops.
        self.n = 0;
    }

    /// The same permits with a handle of the bucket instead of a borrow, for a holder that
    /// outlives the borrow (a tower service between `poll_ready` and `call`).
    #[cfg(feature = "tower")]
    pub(crate) fn into_owned(mut self) -> Held<'static> {
        let bucket = TokenBucket::clone(&self.bucket);
        // Moved out: this one drops holding nothing.
        let n = std::mem::take(&mut self.n);
        Held {
            bucket: Cow::Owned(bucket),
            n,
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.n == 0 {
            return;
        }
        let inner = &self.bucket.inner;
        let mut state = inner.lock();
        let cost = state.limits.cost(self.n);
        let wakers = state.refund(0, cost);
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }
}
