//! Errors of the limiters' operations.

use std::error::Error;
use std::fmt;

use tokio::time::Instant;

/// Why [`try_acquire`](crate::TokenBucket::try_acquire) granted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not enough permits now; they will exist at `retry_at` if nobody else takes them.
    Insufficient {
        /// The earliest time the same request could succeed.
        retry_at: Instant,
    },
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
            Self::Insufficient { .. } => f.write_str("not enough permits now"),
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
