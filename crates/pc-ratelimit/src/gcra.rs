//! `Gcra`: the token bucket's decision, lock-free, for the hot path.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use pc_core::BuildError;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::error::TryAcquireError;
use crate::limits::Limits;
use crate::settings::RateSettings;

/// The generic cell rate algorithm: the same decision as [`TokenBucket::try_acquire`](crate::TokenBucket::try_acquire),
/// made with one compare-and-swap on an atomic theoretical arrival time. It does not wait;
/// pair it with the `retry_at` it returns, or use [`TokenBucket`](crate::TokenBucket) for
/// first-come-first-served waiting.
///
/// ```
/// use pc_ratelimit::Gcra;
///
/// let gcra = Gcra::builder().rate(100.0).burst(10).build()?;
/// assert!((0..10).all(|_| gcra.try_acquire(1).is_ok()));
/// assert!(gcra.try_acquire(1).is_err()); // the burst is spent; 10 ms to the next permit
/// # Ok::<(), pc_core::BuildError>(())
/// ```
pub struct Gcra {
    clock: Clock,
    tat: AtomicU64,
    limits: Limits,
}

impl Gcra {
    /// Starts the settings; `rate` and `burst` are required.
    pub fn builder() -> GcraBuilder {
        GcraBuilder::default()
    }

    /// Takes `n` permits if they exist now.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::Insufficient`] with the earliest time the request could succeed, or
    /// [`TryAcquireError::OverBurst`].
    #[inline]
    pub fn try_acquire(&self, n: u32) -> Result<(), TryAcquireError> {
        self.try_acquire_at(n, Instant::now())
    }

    /// [`try_acquire`](Gcra::try_acquire) as if it were `now`: for callers that already read
    /// the clock, and for tests.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Gcra::try_acquire).
    pub fn try_acquire_at(&self, n: u32, now: Instant) -> Result<(), TryAcquireError> {
        if n > self.limits.burst {
            return Err(TryAcquireError::OverBurst {
                requested: n,
                burst: self.limits.burst,
            });
        }
        let now = self.clock.nanos(now);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let new_tat =
                self.limits
                    .check(tat, now, n)
                    .map_err(|at| TryAcquireError::Insufficient {
                        retry_at: self.clock.instant(at),
                    })?;
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Whole permits available now.
    pub fn available(&self) -> u32 {
        let now = self.clock.now();
        self.limits.available(self.tat.load(Ordering::Acquire), now)
    }
}

impl fmt::Debug for Gcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gcra")
            .field("interval_ns", &self.limits.interval)
            .field("burst", &self.limits.burst)
            .field("available", &self.available())
            .finish()
    }
}

/// Settings for a [`Gcra`]: a rate and a burst, both required.
#[derive(Debug, Clone, Default)]
pub struct GcraBuilder {
    settings: RateSettings,
}

impl GcraBuilder {
    /// Permits per second: any finite rate above 0.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.settings.per_second = Some(per_second);
        self
    }

    /// The most permits taken at once after a quiet period.
    pub fn burst(mut self, burst: u32) -> Self {
        self.settings.burst = Some(burst);
        self
    }

    /// Builds the limiter.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` or `burst`.
    pub fn build(self) -> Result<Gcra, BuildError> {
        Ok(Gcra {
            clock: Clock::new(),
            tat: AtomicU64::new(0),
            limits: self.settings.limits()?,
        })
    }
}
