//! `Gcra`: the token bucket's decision, lock-free, for the hot path.

use std::fmt;

use crossbeam_utils::CachePadded;
use pc_core::{BuildError, SharedProbe};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::error::TryAcquireError;
use crate::limits::Limits;
use crate::live::{self, LiveLimits};
use crate::loom::{AtomicU64, Ordering, pause};
use crate::settings::RateSettings;

/// The theoretical arrival time while a change of limits moves it: never a real one (a limiter
/// reaches at most `2^63 + 2^62` ticks).
const SEALED: u64 = u64::MAX;

/// The generic cell rate algorithm: the same decision as [`TokenBucket::try_acquire`](crate::TokenBucket::try_acquire),
/// made with one compare-and-swap on an atomic theoretical arrival time. It does not wait;
/// pair it with the `retry_at` it returns, or use [`TokenBucket`](crate::TokenBucket) for
/// first-come-first-served waiting.
///
/// [`set_rate`](Gcra::set_rate) and [`set_burst`](Gcra::set_burst) change the limits while it
/// decides, without a lock on the decision's path.
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
    /// On a cache line of its own: under contention every decision's compare-and-swap moves
    /// it between cores, and the limits read beside it need not move with it.
    tat: CachePadded<AtomicU64>,
    /// The limits it was built with: their tick (shift) is the limiter's for life; the rate
    /// and burst in force are `live`'s.
    fixed: Limits,
    live: LiveLimits,
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
        let decided = self.decide(n, self.now());
        if let Some(probe) = &self.probe {
            crate::report_decision(probe, n, &decided);
        }
        decided
    }

    /// Now, in the limiter's ticks, on the clock it decides by (the TSC one if set).
    #[inline]
    fn now(&self) -> u64 {
        match &self.fast {
            Some((tsc, origin)) => self
                .fixed
                .ticks_of_nanos(tsc.delta_as_nanos(*origin, tsc.raw())),
            None => self.clock.now(self.fixed),
        }
    }

    /// [`try_acquire`](Gcra::try_acquire) as if it were `now`: for callers that already read
    /// the clock, and for tests.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Gcra::try_acquire).
    pub fn try_acquire_at(&self, n: u32, now: Instant) -> Result<(), TryAcquireError> {
        let decided = self.decide(n, self.clock.ticks(now, self.fixed));
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
        let mut turn = 0;
        let (mut limits, mut tat, mut version) = self.read();
        loop {
            if tat == SEALED {
                // A change is moving the position into the new limits: a few instructions.
                pause(&mut turn);
                (limits, tat, version) = self.read();
                continue;
            }
            if n > limits.burst {
                return Err(TryAcquireError::OverBurst {
                    requested: n,
                    burst: limits.burst,
                });
            }
            let new_tat = limits
                .check(tat, now, n)
                .map_err(|at| TryAcquireError::Insufficient(self.clock.not_until(at, limits)))?;
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                // Another decision moved it: the limits still hold unless a change came in
                // between (one load to tell, instead of reading everything again).
                Err(actual) if actual != SEALED && self.live.still(version) => tat = actual,
                Err(_) => (limits, tat, version) = self.read(),
            }
        }
    }

    /// The limits in force, the position, and the limits' version, from the same side of any
    /// change.
    #[inline]
    fn read(&self) -> (Limits, u64, u64) {
        self.live
            .read_with(self.fixed, || self.tat.load(Ordering::Acquire))
    }

    /// Whole permits available now.
    pub fn available(&self) -> u32 {
        let now = self.now();
        let mut turn = 0;
        loop {
            match self.read() {
                (_, SEALED, _) => pause(&mut turn),
                (limits, tat, _) => return limits.available(tat, now),
            }
        }
    }

    /// The rate in force, in permits per second (as charged: the interval rounded up to the
    /// limiter's tick).
    pub fn rate(&self) -> f64 {
        self.live.read(self.fixed).per_second()
    }

    /// The burst in force.
    pub fn burst(&self) -> u32 {
        self.live.read(self.fixed).burst
    }

    /// Changes the rate from now on, while other threads decide. Permits already owed stay
    /// owed: each at the new interval when the new rate is slower, at the time they were
    /// charged when it is faster (the faster rate applies to the permits taken from now). So
    /// a change never lets a burst through and never forgets what was taken.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pc_ratelimit::Gcra;
    /// use tokio::time::Instant;
    ///
    /// let gcra = Gcra::builder().rate(10.0).burst(1).build()?;
    /// let start = Instant::now();
    /// assert!(gcra.try_acquire_at(1, start).is_ok());
    /// gcra.set_rate(1.0)?; // the permit just taken now costs a second
    /// assert!(gcra.try_acquire_at(1, start + Duration::from_millis(500)).is_err());
    /// assert!(gcra.try_acquire_at(1, start + Duration::from_secs(1)).is_ok());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` for a rate that is not finite and positive, or one whose
    /// burst spans more time than the limiter's tick allows (a rate and burst the builder
    /// would have given a coarser tick: about 9 years of burst). The limits are unchanged.
    pub fn set_rate(&self, per_second: f64) -> Result<(), BuildError> {
        self.change(|limits| live::in_tick("rate", limits.rate_in_tick(per_second)))
    }

    /// Changes the burst from now on, while other threads decide; permits owed stay owed. A
    /// larger burst is room to take more at once from now, a smaller one takes room away
    /// (a bucket fuller than the new burst waits until it drains below it).
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `burst` for 0, or for a burst that spans more time than the
    /// limiter's tick allows. The limits are unchanged.
    pub fn set_burst(&self, burst: u32) -> Result<(), BuildError> {
        self.change(|limits| live::in_tick("burst", limits.burst_in_tick(burst)))
    }

    /// Puts new limits in force: the position is sealed (no decision can land on it), the
    /// limits published, then the position moved into them.
    ///
    /// A decision reads the limits and the position together and lands with a
    /// compare-and-swap on the position. One that read them before the change can land after
    /// it only on a position equal to the one it read. Under a new interval the position moves
    /// strictly forward (and decisions only move it forward), so such a decision never lands:
    /// it reads again. Under the same interval (a burst changed) the position keeps its value
    /// and meaning, and a decision that lands is one that took effect just before the change.
    fn change(
        &self,
        new: impl FnOnce(Limits) -> Result<Limits, BuildError>,
    ) -> Result<(), BuildError> {
        let mut current = self.live.begin();
        let (old, limits) = (*current, new(*current)?);
        let now = self.now();
        let sealed = self.tat.swap(SEALED, Ordering::AcqRel);
        self.live.publish(&mut current, limits);
        // Both limits count in the same tick: `now` is the same instant in each. Owed permits
        // re-costed when that costs more; kept at their time when it would cost less.
        let mut moved = old.rescale(limits, sealed, now, now).max(sealed);
        if moved == sealed && limits.interval != old.interval {
            // One tick (1/16 ns or so) more owed, so that the position has moved.
            moved += 1;
        }
        let moved = moved.min(SEALED - 1);
        self.tat.store(moved, Ordering::Release);
        Ok(())
    }
}

impl fmt::Debug for Gcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limits = self.live.read(self.fixed);
        f.debug_struct("Gcra")
            .field("interval_ns", &limits.interval_ns())
            .field("burst", &limits.burst)
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
            tat: CachePadded::new(AtomicU64::new(0)),
            fixed: limits,
            live: LiveLimits::new(limits),
            probe: crate::settings::described(self.probe),
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

    /// A decision taking the whole burst races a change of the limits, one keeping the
    /// interval (a burst) and one changing it (a rate): whatever the interleaving of the
    /// decision's reads and compare-and-swap with the seal, the publication and the move, the
    /// decision succeeds once and what it took stays owed, so nothing is left at that instant.
    /// Run with `LOOM_MAX_PREEMPTIONS=2`.
    #[test]
    fn loom_a_change_neither_loses_nor_doubles_a_decision() {
        for rate_change in [false, true] {
            loom::model(move || {
                let gcra = Arc::new(Gcra::builder().rate(1.0).burst(2).build().unwrap());
                let at = Instant::now();
                let decider = {
                    let gcra = Arc::clone(&gcra);
                    thread::spawn(move || gcra.try_acquire_at(2, at).is_ok())
                };
                if rate_change {
                    gcra.set_rate(0.5).unwrap();
                } else {
                    gcra.set_burst(2).unwrap();
                }
                assert!(decider.join().unwrap(), "a full bucket grants its burst");
                assert!(gcra.try_acquire_at(1, at).is_err(), "the burst stays taken");
            });
        }
    }
}
