//! Errors of the limiters' operations.

use std::error::Error;
use std::fmt;

use std::time::Duration;

use tokio::time::Instant;

/// Why [`try_acquire`](crate::TokenBucket::try_acquire) granted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not enough permits now; [`NotUntil::retry_at`] says when they will exist if nobody
    /// else takes them.
    Insufficient(NotUntil),
    /// More permits were asked for than the burst: no wait could ever satisfy it.
    OverBurst {
        /// Permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Insufficient(_) => f.write_str("not enough permits now"),
            Self::OverBurst { requested, burst } => {
                write!(
                    f,
                    "{requested} permits asked for, more than the burst of {burst}"
                )
            }
        }
    }
}

impl Error for TryAcquireError {}

/// When a refused request could succeed. Computed on demand, so that a refusal on a hot path
/// costs no clock arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUntil {
    origin: Instant,
    /// Nanoseconds past `origin`, rounded up; `u64::MAX` for 584 years or more.
    nanos: u64,
}

impl NotUntil {
    pub(crate) fn new(origin: Instant, nanos: u64) -> Self {
        Self { origin, nanos }
    }

    /// The earliest time the same request could succeed; for a permit 584 years or more
    /// away (a rate slower than that), the last instant the clock holds.
    pub fn retry_at(&self) -> Instant {
        let after = match self.nanos {
            u64::MAX => Duration::MAX,
            nanos => Duration::from_nanos(nanos),
        };
        crate::clock::after(self.origin, after)
    }

    /// How long from `now` until [`retry_at`](NotUntil::retry_at) (zero if it has passed).
    pub fn wait_from(&self, now: Instant) -> Duration {
        self.retry_at().saturating_duration_since(now)
    }
}

/// Why [`acquire`](crate::TokenBucket::acquire) or
/// [`acquire_timeout`](crate::TokenBucket::acquire_timeout) granted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// More permits were asked for than the burst: no wait could ever satisfy it.
    OverBurst {
        /// Permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
    /// The permits would not exist before the timeout.
    Timeout,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OverBurst { requested, burst } => {
                write!(
                    f,
                    "{requested} permits asked for, more than the burst of {burst}"
                )
            }
            Self::Timeout => f.write_str("the permits would not exist before the timeout"),
        }
    }
}

impl Error for AcquireError {}
