//! The decision every limiter here makes: GCRA over a theoretical arrival time (TAT).
//!
//! Time is counted in ticks of 1/16 ns since the limiter's creation ([`TICKS_PER_NANO`]), so
//! that a permit's cost need not be a whole number of nanoseconds: at 7e8 permits per second a
//! permit costs 1.43 ns, which whole nanoseconds would round to 1 (a limiter 43% too fast).
//! The cost is rounded up to a whole tick, so a limiter may run a hair slower than its rate
//! (at most one tick per permit: under 6.25% at the top rate of 1e9/s, 0.16% at 1e8/s), never
//! faster. The TAT is when the limiter would be back to a full bucket. A request for `n`
//! permits at `now` is allowed when, after paying for it, the TAT is at most `burst` intervals
//! ahead of `now`. Products are taken in `u128`, and a burst that takes longer than
//! [`MAX_REFILL`] to refill is refused when the limiter is built, so no sum overflows.
//! Everything here is pure: it takes `now` as an argument, so it is tested without a runtime.

use std::time::Duration;

use pc_core::BuildError;

/// Ticks per nanosecond of the limiters' clocks.
pub(crate) const TICKS_PER_NANO: u64 = 16;

/// The longest time a full burst may take to refill: about 9.1 years (2^58 ns). The TAT stays
/// within `now + MAX_REFILL`, far from `u64::MAX` ticks for the first 27 years of a limiter.
pub const MAX_REFILL: Duration = Duration::from_nanos(1 << 58);

const MAX_WINDOW_TICKS: u128 = (1 << 58) * TICKS_PER_NANO as u128;

/// A validated rate and burst, in the form the decision uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Ticks per permit.
    pub(crate) interval: u64,
    /// Permits that may be taken at once after a quiet period.
    pub(crate) burst: u32,
}

impl Limits {
    /// Checks `per_second` and `burst` and converts them.
    pub(crate) fn new(per_second: f64, burst: u32) -> Result<Self, BuildError> {
        Self::checked(interval_of(per_second)?, check_burst(burst)?)
    }

    /// These limits with another rate, if its burst still refills within [`MAX_REFILL`].
    pub(crate) fn with_rate(self, per_second: f64) -> Result<Self, BuildError> {
        Self::checked(interval_of(per_second)?, self.burst)
    }

    /// These limits with another burst, if it still refills within [`MAX_REFILL`].
    pub(crate) fn with_burst(self, burst: u32) -> Result<Self, BuildError> {
        Self::checked(self.interval, check_burst(burst)?)
    }

    fn checked(interval: u64, burst: u32) -> Result<Self, BuildError> {
        if u128::from(interval) * u128::from(burst) > MAX_WINDOW_TICKS {
            return Err(BuildError::Invalid {
                setting: "burst",
                reason: format!(
                    "a burst of {burst} at this rate takes more than {} days to refill",
                    MAX_REFILL.as_secs() / 86_400
                ),
            });
        }
        Ok(Self { interval, burst })
    }

    /// How far ahead of now the TAT may be: a full bucket's worth (within `MAX_WINDOW_TICKS`).
    #[inline]
    pub(crate) fn window(self) -> u64 {
        u64::from(self.burst) * self.interval
    }

    /// What `n` permits cost, in ticks (`n` at most the burst, so within the window).
    #[inline]
    pub(crate) fn cost(self, n: u32) -> u64 {
        u64::from(n) * self.interval
    }

    /// The decision for `n` permits at `now` with theoretical arrival time `tat`: `Ok(new_tat)`
    /// when allowed now, `Err(at)` with the earliest time it would be allowed. `n` is at most
    /// the burst.
    #[inline]
    pub(crate) fn check(self, tat: u64, now: u64, n: u32) -> Result<u64, u64> {
        // Within u64 while `now` is below 2^63 ticks (27 years); past that, refuse rather
        // than wrap.
        let Some(new_tat) = tat.max(now).checked_add(self.cost(n)) else {
            return Err(u64::MAX);
        };
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

    /// The rate, in permits per second.
    pub(crate) fn per_second(self) -> f64 {
        TICKS_PER_SECOND / self.interval as f64
    }

    /// Nanoseconds per permit, for `Debug`.
    pub(crate) fn interval_ns(self) -> f64 {
        self.interval as f64 / TICKS_PER_NANO as f64
    }
}

const TICKS_PER_SECOND: f64 = 1e9 * TICKS_PER_NANO as f64;

/// Ticks per permit for a rate in permits per second, rounded up.
pub(crate) fn interval_of(per_second: f64) -> Result<u64, BuildError> {
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(BuildError::Invalid {
            setting: "rate",
            reason: format!(
                "must be a finite number of permits per second above 0, got {per_second}"
            ),
        });
    }
    if per_second > 1e9 {
        return Err(BuildError::Invalid {
            setting: "rate",
            reason: format!("at most 1e9 permits per second, got {per_second}"),
        });
    }
    let exact = TICKS_PER_SECOND / per_second;
    if exact > MAX_WINDOW_TICKS as f64 {
        return Err(BuildError::Invalid {
            setting: "rate",
            reason: format!(
                "one permit every more than {} days, got {per_second} per second",
                MAX_REFILL.as_secs() / 86_400
            ),
        });
    }
    // Exactly, not in f64: the rate is `mantissa / 2^shift` (below 2^30, so `shift` > 0,
    // and above 1e-9, so `shift` < 90), and a permit costs the ceiling of
    // `TICKS_PER_SECOND * 2^shift / mantissa` ticks.
    let bits = per_second.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as u32;
    let mantissa = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
    let shift = 1075 - exponent;
    let ticks_per_second = 1_000_000_000 * u128::from(TICKS_PER_NANO);
    let interval = (ticks_per_second << shift).div_ceil(mantissa);
    Ok(u64::try_from(interval).unwrap_or(u64::MAX))
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

    const SECOND: u64 = 1_000_000_000 * TICKS_PER_NANO;

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
    fn fractional_intervals_round_up() {
        // 7e8/s: 1.43 ns a permit, 22.86 ticks, charged 23.
        assert_eq!(Limits::new(7e8, 1).unwrap().interval, 23);
        assert_eq!(Limits::new(4.4e8, 1).unwrap().interval, 37);
        assert_eq!(Limits::new(1e9, 1).unwrap().interval, 16);
        for rate in [7e8, 4.4e8, 3e8, 1e9, 1.0 / 3.0, 123_456.789] {
            let limits = Limits::new(rate, 1).unwrap();
            assert!(limits.per_second() <= rate, "{rate}");
        }
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert_eq!(
            Limits::new(1.0, 0).unwrap_err(),
            BuildError::Zero { setting: "burst" }
        );
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9, 1e-12] {
            assert_eq!(
                Limits::new(rate, 1).unwrap_err().setting(),
                "rate",
                "{rate}"
            );
        }
        // A burst that would take centuries to refill.
        assert_eq!(Limits::new(0.1, u32::MAX).unwrap_err().setting(), "burst");
        assert_eq!(Limits::new(1e-6, 1000).unwrap_err().setting(), "burst");
        // One permit in 31 years: the interval alone is past the limit.
        assert_eq!(Limits::new(1e-9, 20).unwrap_err().setting(), "rate");
        assert!(Limits::new(1000.0, u32::MAX).is_ok());
        assert_eq!(Limits::new(1.0, u32::MAX).unwrap_err().setting(), "burst");
        assert!(Limits::new(1e9, u32::MAX).is_ok());
    }
}
