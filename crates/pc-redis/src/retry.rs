//! `RetryPolicy`: how long a producer or consumer keeps trying after the server failed, and
//! how long it pauses between tries.

use std::time::Duration;

use pc_core::BuildError;
use tokio::time::Instant;

/// How a queue's producers and consumers retry after the server failed them: a pause that
/// doubles from `backoff` up to `max_backoff`, shortened at random by up to `jitter` of itself
/// (so that many clients do not come back at the same instant), for at most `attempts` tries
/// of one operation and no retry starting later than `deadline` after its first failure.
///
/// What is retried: a send or a consumer's read that lost its connection (the client connects
/// anew first), and a read the server refused (`NOGROUP` after the group was deleted,
/// `NOPERM`): each refused read fails one waiting receive and is tried again. A send the server
/// refused fails at once (the caller has the item back). When the policy gives up, a send
/// returns the last error and a consumer closes: the receive waiting for the read gets the
/// last error ([`ConsumeErrorKind::Failed`](pc_core::ConsumeErrorKind::Failed)), later ones
/// `Closed`. A success starts the count again.
///
/// The default rides out a server restart: pauses from 100 ms doubling to 2 s, jitter 0.5, no
/// limit on tries, a deadline of 30 s.
///
/// ```
/// use std::time::Duration;
/// use pc_redis::{RedisQueue, RetryPolicy};
///
/// // Give up after 5 tries or 10 s, whichever comes first.
/// let retry = RetryPolicy::default()
///     .attempts(5)
///     .deadline(Duration::from_secs(10));
/// let queue = RedisQueue::<String>::builder("redis://127.0.0.1/", "jobs")
///     .retry(retry)
///     .build()?;
/// # drop(queue);
/// # Ok::<(), pc_core::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    jitter: f64,
    deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: u32::MAX,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            jitter: 0.5,
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retry: the first failure is the end.
    pub fn never() -> Self {
        Self::default().attempts(1)
    }

    /// Tries of one operation, the first included (default: no limit). `1` retries nothing.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The first pause, doubled after each failure up to `max` (default 100 ms to 2 s).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max;
        self
    }

    /// The share of each pause drawn at random, from 0 (every pause as computed) to 1 (any
    /// pause from zero to the computed one); default 0.5.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// No retry starts later than this after an operation's first failure (default 30 s;
    /// `Duration::MAX` for none).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Checks the policy, naming the setting at fault.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if self.attempts == 0 {
            return Err(BuildError::Zero {
                setting: "retry.attempts",
            });
        }
        if self.backoff.is_zero() {
            return Err(BuildError::Zero {
                setting: "retry.backoff",
            });
        }
        if self.max_backoff < self.backoff {
            return Err(BuildError::Invalid {
                setting: "retry.max_backoff",
                reason: "must not be shorter than the first backoff".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(BuildError::Invalid {
                setting: "retry.jitter",
                reason: format!("must be within 0 and 1, not {}", self.jitter),
            });
        }
        Ok(())
    }

    /// The pause after the `failures`-th failure in a row (from 1), with `draw` in `[0, 1)`
    /// the random part: `backoff * 2^(failures - 1)`, at most `max_backoff`, less up to
    /// `jitter` of itself.
    pub(crate) fn pause(&self, failures: u32, draw: f64) -> Duration {
        let full = doubled(self.backoff, failures, self.max_backoff);
        let share = self.jitter * draw.clamp(0.0, 1.0);
        // Through seconds as `f64`; a cut too large to come back (near `Duration::MAX`) is
        // the whole pause.
        let cut = Duration::try_from_secs_f64(full.as_secs_f64() * share).unwrap_or(full);
        full.saturating_sub(cut)
    }
}

/// `first` doubled for each of the `n - 1` times after the first (`n` from 1), at most `max`:
/// the pause of a backoff, which saturates rather than overflows.
pub(crate) fn doubled(first: Duration, n: u32, max: Duration) -> Duration {
    let factor = 1u32 << n.saturating_sub(1).min(31);
    first.saturating_mul(factor).min(max)
}

/// One operation's failures in a row under a [`RetryPolicy`].
#[derive(Debug)]
pub(crate) struct Retrying {
    policy: RetryPolicy,
    failures: u32,
    since: Option<Instant>,
}

impl Retrying {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            since: None,
        }
    }

    /// Counts a failure: the pause before the next try, or `None` when the policy gives up.
    pub(crate) fn failed(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.policy.attempts
            || now.saturating_duration_since(since) >= self.policy.deadline
        {
            return None;
        }
        Some(self.policy.pause(self.failures, fastrand::f64()))
    }

    /// The operation succeeded: the next failure is a first one.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pauses_double_up_to_the_most_and_jitter_shortens_them() {
        let policy = RetryPolicy::default()
            .backoff(100 * MS, 1000 * MS)
            .jitter(0.5);
        let full: Vec<_> = (1..=6).map(|n| policy.pause(n, 0.0)).collect();
        assert_eq!(
            full,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(policy.pause(1, 1.0), 50 * MS);
        assert_eq!(policy.pause(2, 0.5), 150 * MS);
        // Far past any doubling that fits, still the most.
        assert_eq!(policy.pause(u32::MAX, 0.0), 1000 * MS);
        let most = RetryPolicy::default().backoff(Duration::MAX, Duration::MAX);
        assert_eq!(most.pause(40, 0.0), Duration::MAX);
    }

    #[test]
    fn a_policy_is_checked_setting_by_setting() {
        let zero = |policy: RetryPolicy| match policy.check() {
            Err(BuildError::Zero { setting }) => setting,
            other => panic!("{other:?}"),
        };
        let invalid = |policy: RetryPolicy| match policy.check() {
            Err(BuildError::Invalid { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(RetryPolicy::default().check(), Ok(()));
        assert_eq!(RetryPolicy::never().check(), Ok(()));
        assert_eq!(zero(RetryPolicy::default().attempts(0)), "retry.attempts");
        assert_eq!(
            zero(RetryPolicy::default().backoff(Duration::ZERO, MS)),
            "retry.backoff"
        );
        assert_eq!(
            invalid(RetryPolicy::default().backoff(2 * MS, MS)),
            "retry.max_backoff"
        );
        for jitter in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
            assert_eq!(
                invalid(RetryPolicy::default().jitter(jitter)),
                "retry.jitter"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_end_at_the_attempts_or_the_deadline_and_a_success_starts_again() {
        let policy = RetryPolicy::default().backoff(MS, MS).jitter(0.0);
        let mut three = Retrying::new(policy.attempts(3));
        assert_eq!(three.failed(), Some(MS));
        assert_eq!(three.failed(), Some(MS));
        assert_eq!(three.failed(), None);
        three.succeeded();
        assert_eq!(three.failed(), Some(MS));

        let mut timed = Retrying::new(policy.deadline(10 * MS));
        assert_eq!(timed.failed(), Some(MS));
        tokio::time::advance(9 * MS).await;
        assert_eq!(timed.failed(), Some(MS));
        tokio::time::advance(MS).await;
        assert_eq!(timed.failed(), None);

        let mut once = Retrying::new(RetryPolicy::never());
        assert_eq!(once.failed(), None);
    }
}
