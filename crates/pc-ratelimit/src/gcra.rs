//! `Gcra`: the token bucket's decision, lock-free, for the hot path.

use std::fmt;

use pc_core::{BuildError, SharedProbe};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::error::TryAcquireError;
use crate::limits::Limits;
use crate::loom::{AtomicU64, Ordering};
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
    /// Set by [`GcraBuilder::fast_clock`]: the TSC clock and its reading at `clock`'s origin.
    fast: Option<(quanta::Clock, u64)>,
    tat: AtomicU64,
    limits: Limits,
    probe: Option<SharedProbe>,
}

// One compare-and-swap decides; no user code runs in between: consistent across a caught panic.
impl std::panic::UnwindSafe for Gcra {}
impl std::panic::RefUnwindSafe for Gcra {}

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
        let decided = match &self.fast {
            Some((tsc, origin)) => self.decide(
                n,
                self.limits
                    .ticks_of_nanos(tsc.delta_as_nanos(*origin, tsc.raw())),
            ),
            None => self.decide(n, self.clock.now(self.limits)),
        };
        if let Some(probe) = &self.probe {
            crate::report_decision(probe, n, &decided);
        }
        decided
    }

    /// [`try_acquire`](Gcra::try_acquire) as if it were `now`: for callers that already read
    /// the clock, and for tests.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Gcra::try_acquire).
    pub fn try_acquire_at(&self, n: u32, now: Instant) -> Result<(), TryAcquireError> {
        let decided = self.decide(n, self.clock.ticks(now, self.limits));
        if let Some(probe) = &self.probe {
            crate::report_decision(probe, n, &decided);
        }
        decided
    }

    #[inline]
    fn decide(&self, n: u32, now: u64) -> Result<(), TryAcquireError> {
        if n == 0 {
            // Nothing asked, nothing taken, whatever is owed.
            return Ok(());
        }
        if n > self.limits.burst {
            return Err(TryAcquireError::OverBurst {
                requested: n,
                burst: self.limits.burst,
            });
        }
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let new_tat = self.limits.check(tat, now, n).map_err(|at| {
                TryAcquireError::Insufficient(self.clock.not_until(at, self.limits))
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
        let now = self.clock.now(self.limits);
        self.limits.available(self.tat.load(Ordering::Acquire), now)
    }
}

impl fmt::Debug for Gcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gcra")
            .field("interval_ns", &self.limits.interval_ns())
            .field("burst", &self.limits.burst)
            .field("fast_clock", &self.fast.is_some())
            .field("available", &self.available())
            .finish()
    }
}

/// Settings for a [`Gcra`]: a rate and a burst, both required, and an optional probe.
#[derive(Clone, Default)]
pub struct GcraBuilder {
    settings: RateSettings,
    fast_clock: bool,
    probe: Option<SharedProbe>,
}

impl fmt::Debug for GcraBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcraBuilder")
            .field("settings", &self.settings)
            .field("fast_clock", &self.fast_clock)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl GcraBuilder {
    crate::settings::rate_and_burst_setters!();

    /// Reports each decision to `probe`: permits granted as produced and consumed (they pass
    /// straight through), permits refused for want of tokens as dropped with
    /// [`DropReason::Full`](pc_core::DropReason::Full) (the caller was turned away).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Reads time for [`Gcra::try_acquire`] from the CPU's time-stamp counter (through
    /// quanta) instead of the tokio clock: a few nanoseconds instead of a system call's worth,
    /// for decisions on a hot path. That clock does not stop when tokio's time is paused, so
    /// tests under paused time use [`Gcra::try_acquire_at`] or leave this off (the default).
    pub fn fast_clock(mut self, fast: bool) -> Self {
        self.fast_clock = fast;
        self
    }

    /// Builds the limiter.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` or `burst`.
    pub fn build(self) -> Result<Gcra, BuildError> {
        let limits = self.settings.limits()?;
        let clock = Clock::new();
        let fast = self.fast_clock.then(|| {
            let tsc = quanta::Clock::new();
            let origin = tsc.raw();
            (tsc, origin)
        });
        Ok(Gcra {
            clock,
            fast,
            tat: AtomicU64::new(0),
            limits,
            probe: self.probe,
        })
    }
}

#[cfg(all(test, loom))]
mod loom_gcra {
    use std::sync::Arc;

    use loom::thread;
    use tokio::time::Instant;

    use super::Gcra;

    /// Two threads race for the one permit of a burst of 1, and a third asks for 0: exactly one
    /// of the two gets it, whatever the interleaving of their compare-and-swaps; a request for
    /// nothing always succeeds. Run with `LOOM_MAX_PREEMPTIONS=2`.
    #[test]
    fn loom_two_deciders_share_one_permit() {
        loom::model(|| {
            let gcra = Arc::new(Gcra::builder().rate(1.0).burst(1).build().unwrap());
            let at = Instant::now();
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    let gcra = Arc::clone(&gcra);
                    thread::spawn(move || gcra.try_acquire_at(1, at).is_ok())
                })
                .collect();
            assert!(gcra.try_acquire_at(0, at).is_ok());
            let won: usize = racers
                .into_iter()
                .map(|r| usize::from(r.join().unwrap()))
                .sum();
            assert_eq!(won, 1);
            assert!(gcra.try_acquire_at(1, at).is_err());
        });
    }
}
