//! Deadlines on the tokio clock where `Duration::MAX` means "no limit".
//!
//! `Instant::now() + timeout` panics when the sum does not fit in an `Instant` (it never does
//! for `Duration::MAX`), and users write `Duration::MAX` to mean "wait as long as it takes". So
//! every block turns a timeout into a deadline with [`deadline`], where `None` is "no
//! deadline", and waits for it with [`until`].
//!
//! ```
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! assert!(pc_core::time::deadline(Duration::MAX).is_none());
//! let soon = pc_core::time::deadline(Duration::from_secs(1));
//! assert_eq!(pc_core::time::until(soon, std::future::pending::<()>()).await, None);
//! assert_eq!(pc_core::time::until(None, async { 7 }).await, Some(7));
//! let far = pc_core::time::deadline_or_far(Duration::MAX);
//! assert!(far > tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 29));
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The instant `after` from now on the tokio clock, or `None` when it lies beyond what an
/// `Instant` can hold (as for `Duration::MAX`): no deadline.
pub fn deadline(after: Duration) -> Option<Instant> {
    Instant::now().checked_add(after)
}

/// The instant `after` from now, or about 30 years from now when that does not fit in an
/// `Instant` (as tokio does for its own timeouts): for a timer that must always exist, such as
/// a linger that `Duration::MAX` turns off.
pub fn deadline_or_far(after: Duration) -> Instant {
    later_or_far(Instant::now(), after)
}

/// `at + after`, or about 30 years after `at` when that does not fit in an `Instant`: the far
/// end of [`deadline_or_far`], from any instant.
pub fn later_or_far(at: Instant, after: Duration) -> Instant {
    at.checked_add(after)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365 * 30))
}

/// Runs `future` until `deadline`: `Some(output)` if it completed first, `None` if the deadline
/// passed. With no deadline it runs to completion. Requires a tokio runtime with the time driver
/// when there is a deadline.
///
/// # Cancel safety
///
/// As cancel safe as `future`: dropping this drops it.
pub async fn until<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}
