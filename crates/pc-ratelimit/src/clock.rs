//! Ticks (1/16 ns, see [`TICKS_PER_NANO`]) since a limiter's creation, on the tokio clock
//! (pausable in tests).

use std::time::Duration;

use tokio::time::Instant;

use crate::limits::TICKS_PER_NANO;

/// A limiter's time origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// `at` as ticks since the origin (0 for anything earlier).
    pub(crate) fn ticks(self, at: Instant) -> u64 {
        ticks_of(at.saturating_duration_since(self.base))
    }

    pub(crate) fn now(self) -> u64 {
        self.ticks(Instant::now())
    }

    /// A refusal's retry time, from ticks since the origin.
    #[inline]
    pub(crate) fn not_until(self, ticks: u64) -> crate::error::NotUntil {
        crate::error::NotUntil::new(self.base, nanos_after(ticks))
    }

    /// Ticks since the origin, back to an instant: the first whole nanosecond at or after them,
    /// so a wait until it never ends early.
    pub(crate) fn instant(self, ticks: u64) -> Instant {
        self.base + Duration::from_nanos(nanos_after(ticks))
    }
}

/// A span of time in ticks, saturating.
pub(crate) fn ticks_of(span: Duration) -> u64 {
    u64::try_from(span.as_nanos().saturating_mul(u128::from(TICKS_PER_NANO))).unwrap_or(u64::MAX)
}

/// Nanoseconds in a number of ticks, rounded up.
pub(crate) fn nanos_after(ticks: u64) -> u64 {
    ticks.div_ceil(TICKS_PER_NANO)
}
