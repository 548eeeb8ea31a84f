//! A limiter's time origin on the tokio clock (pausable in tests), and conversions between
//! instants and the limiter's ticks (see [`Limits`]).

use std::time::Duration;

use tokio::time::Instant;

use crate::limits::Limits;

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

    /// `at` as ticks of `limits` since the origin (0 for anything earlier).
    #[inline]
    pub(crate) fn ticks(self, at: Instant, limits: Limits) -> u64 {
        limits.ticks_of(at.saturating_duration_since(self.base))
    }

    pub(crate) fn now(self, limits: Limits) -> u64 {
        self.ticks(Instant::now(), limits)
    }

    /// A refusal's retry time, from ticks of `limits` since the origin.
    #[inline]
    pub(crate) fn not_until(self, ticks: u64, limits: Limits) -> crate::error::NotUntil {
        crate::error::NotUntil::new(self.base, crate::limits::nanos_of(ticks, limits.shift()))
    }

    /// Ticks since the origin, back to an instant: the first whole nanosecond at or after them,
    /// so a wait until it never ends early.
    pub(crate) fn instant(self, ticks: u64, limits: Limits) -> Instant {
        after(self.base, limits.span_of(ticks))
    }
}

/// `origin + span`, or the last instant the clock holds when that is past it.
pub(crate) fn after(origin: Instant, span: Duration) -> Instant {
    origin.checked_add(span).unwrap_or_else(|| {
        // Seconds past the origin that still fit, by bisection: at most 64 steps, and only
        // for spans of hundreds of billions of years.
        let (mut fits, mut overflows) = (0u64, span.as_secs());
        while overflows - fits > 1 {
            let mid = fits + (overflows - fits) / 2;
            if origin.checked_add(Duration::from_secs(mid)).is_some() {
                fits = mid;
            } else {
                overflows = mid;
            }
        }
        origin + Duration::from_secs(fits)
    })
}
