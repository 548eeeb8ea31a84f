//! The decision every limiter here makes: GCRA over a theoretical arrival time (TAT).
//!
//! Time is nanoseconds since the limiter's creation. A permit costs `interval` nanoseconds; the
//! TAT is when the limiter would be back to a full bucket. A request for `n` permits at `now`
//! is allowed when, after paying for it, the TAT is at most `burst` intervals ahead of `now`.
//! Everything here is pure: it takes `now` as an argument, so it is tested without a runtime.

use pc_core::BuildError;

/// A validated rate and burst, in the form the decision uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Nanoseconds per permit.
    pub(crate) interval: u64,
    /// Permits that may be taken at once after a quiet period.
    pub(crate) burst: u32,
}

impl Limits {
    /// Checks `per_second` and `burst` and converts them.
    pub(crate) fn new(per_second: f64, burst: u32) -> Result<Self, BuildError> {
        Ok(Self {
            interval: interval_of(per_second)?,
            burst: check_burst(burst)?,
        })
    }

    /// How far ahead of now the TAT may be: a full bucket's worth.
    #[inline]
    pub(crate) fn window(self) -> u64 {
        u64::from(self.burst) * self.interval
    }

    /// The decision for `n` permits at `now` with theoretical arrival time `tat`: `Ok(new_tat)`
    /// when allowed now, `Err(at)` with the earliest time it would be allowed.
    #[inline]
    pub(crate) fn check(self, tat: u64, now: u64, n: u32) -> Result<u64, u64> {
        let new_tat = tat.max(now) + u64::from(n) * self.interval;
        let allowed_from = new_tat.saturating_sub(self.window());
        if allowed_from <= now {
            Ok(new_tat)
        } else {
            Err(allowed_from)
        }
    }

    /// Whole permits available at `now`.
    pub(crate) fn available(self, tat: u64, now: u64) -> u32 {
        let used = tat.saturating_sub(now);
        let free = self.window().saturating_sub(used) / self.interval;
        u32::try_from(free).unwrap_or(u32::MAX)
    }
}

/// Nanoseconds per permit for a rate in permits per second.
pub(crate) fn interval_of(per_second: f64) -> Result<u64, BuildError> {
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(BuildError::Invalid {
            setting: "rate",
            reason: format!(
                "must be a finite number of permits per second above 0, got {per_second}"
            ),
        });
    }
    let interval = 1e9 / per_second;
    if interval < 1.0 {
        return Err(BuildError::Invalid {
            setting: "rate",
            reason: format!("at most 1e9 permits per second, got {per_second}"),
        });
    }
    // Rates below one permit in ~584 years saturate; nobody waits that long.
    Ok(interval.round().min(u64::MAX as f64 / 4.0) as u64)
}

pub(crate) fn check_burst(burst: u32) -> Result<u32, BuildError> {
    if burst == 0 {
        Err(BuildError::Zero { setting: "burst" })
    } else {
        Ok(burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_full_bucket_allows_the_burst_then_one_per_interval() {
        let limits = Limits::new(2.0, 5).unwrap();
        assert_eq!(limits.interval, SECOND / 2);
        let mut tat = 0;
        for _ in 0..5 {
            tat = limits.check(tat, 0, 1).unwrap();
        }
        assert_eq!(limits.check(tat, 0, 1), Err(SECOND / 2));
        assert_eq!(limits.available(tat, 0), 0);
        assert_eq!(limits.available(tat, SECOND), 2);
        tat = limits.check(tat, SECOND / 2, 1).unwrap();
        assert_eq!(limits.check(tat, SECOND / 2, 1), Err(SECOND));
    }

    #[test]
    fn a_long_idle_gives_no_more_than_the_burst() {
        let limits = Limits::new(10.0, 3).unwrap();
        assert_eq!(limits.available(0, 3600 * SECOND), 3);
        assert_eq!(
            limits.check(0, 3600 * SECOND, 4),
            Err(3600 * SECOND + SECOND / 10)
        );
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert_eq!(
            Limits::new(1.0, 0).unwrap_err(),
            BuildError::Zero { setting: "burst" }
        );
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
            assert_eq!(
                Limits::new(rate, 1).unwrap_err().setting(),
                "rate",
                "{rate}"
            );
        }
    }
}
