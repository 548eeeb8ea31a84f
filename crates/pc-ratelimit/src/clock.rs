//! Nanoseconds since a limiter's creation, on the tokio clock (pausable in tests).

use tokio::time::Instant;

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

    /// `at` as nanoseconds since the origin (0 for anything earlier).
    pub(crate) fn nanos(self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn now(self) -> u64 {
        self.nanos(Instant::now())
    }

    /// A refusal's retry time, as nanoseconds since the origin.
    #[inline]
    pub(crate) fn not_until(self, nanos: u64) -> crate::error::NotUntil {
        crate::error::NotUntil::new(self.base, nanos)
    }

    /// Nanoseconds since the origin, back to an instant.
    pub(crate) fn instant(self, nanos: u64) -> Instant {
        self.base + std::time::Duration::from_nanos(nanos)
    }
}
