//! The decision every limiter here makes: GCRA over a theoretical arrival time (TAT).
//!
//! Time is counted in ticks since the limiter's creation. The interval between permits is first
//! computed exactly in fine ticks of 1/16 ns ([`FINE_PER_NANO`]), so that a permit's cost need
//! not be a whole number of nanoseconds: at 7e8 permits per second a permit costs 1.43 ns,
//! which whole nanoseconds would round to 1 (a limiter 43% too fast). The cost is rounded up,
//! so a limiter may run a hair slower than its rate (at most one fine tick per permit: under
//! 6.25% at the top rate of 1e9/s, 0.16% at 1e8/s), never faster.
//!
//! A limiter's own tick is `2^shift` fine ticks, the smallest for which a full burst's refill
//! (the window) spans at most 2^62 ticks: fine ticks for every burst that refills within
//! 9 years, coarser ones (each rounding the interval up by less than one part in 2^29) for
//! slower rates and bigger bursts. The TAT, `now` and every sum of them then fit in a `u64`,
//! which the lock-free [`Gcra`](crate::Gcra) swaps atomically, for any rate above 0 and any
//! burst: a permit that takes longer than any `Instant` can reach ([`NEVER`]) is charged
//! exactly that, which decides the same way (the burst never refills). A request for `n`
//! permits at `now` is allowed when, after paying for it, the TAT is at most the window ahead
//! of `now`. Everything here is pure: it takes `now` as an argument, so it is tested without a
//! runtime.

use std::time::Duration;

use pc_core::BuildError;

/// Fine ticks per nanosecond: the resolution in which intervals are computed.
pub(crate) const FINE_PER_NANO: u128 = 16;

const FINE_PER_SECOND: u128 = 1_000_000_000 * FINE_PER_NANO;

/// The longest interval charged, in fine ticks: 2^93 ns, about 314 billion years. It is more
/// than the span from any limiter's creation to the last instant the clock can hold (2^63
/// seconds), so a limiter charged this never refills a permit, exactly as a slower one would
/// not.
const NEVER: u128 = 1 << 97;

/// The longest window, in a limiter's own ticks: a quarter of `u64`'s range, so that
/// `now + window + cost` fits for the first 2^63 ticks of a limiter (at least 18 years).
const MAX_WINDOW: u128 = 1 << 62;

/// A validated rate and burst, in the form the decision uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Ticks per permit.
    pub(crate) interval: u64,
    /// Permits that may be taken at once after a quiet period.
    pub(crate) burst: u32,
    /// A tick is `2^shift` fine ticks.
    shift: u32,
    /// Nanoseconds to ticks: multiply by `up`, then shift right by `down` (one of the two
    /// does nothing): `2^4 / 2^shift` as two integer steps, worked out once.
    up: u64,
    down: u32,
    /// Fine ticks per permit, rounded up (at most [`NEVER`]): kept so that a new burst picks
    /// its tick from the exact interval.
    fine: Fine,
}

/// A `u128` kept as two words, so that [`Limits`] stays aligned to 8 bytes, as small as the
/// hot path that copies it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fine {
    high: u64,
    low: u64,
}

impl Fine {
    fn new(value: u128) -> Self {
        Self {
            high: (value >> 64) as u64,
            low: value as u64,
        }
    }

    fn get(self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }
}

impl Limits {
    /// Checks `per_second` and `burst` and converts them.
    pub(crate) fn new(per_second: f64, burst: u32) -> Result<Self, BuildError> {
        Ok(Self::fitted(
            fine_interval(per_second)?,
            check_burst(burst)?,
        ))
    }

    /// These limits with another rate.
    pub(crate) fn with_rate(self, per_second: f64) -> Result<Self, BuildError> {
        Ok(Self::fitted(fine_interval(per_second)?, self.burst))
    }

    /// These limits with another burst.
    pub(crate) fn with_burst(self, burst: u32) -> Result<Self, BuildError> {
        Ok(Self::fitted(self.fine.get(), check_burst(burst)?))
    }

    /// The finest tick in which `burst` permits of `fine` fine ticks each span at most
    /// [`MAX_WINDOW`] ticks. Found within 98 steps: at `shift` 97 an interval is one tick.
    fn fitted(fine: u128, burst: u32) -> Self {
        let mut shift = 0;
        loop {
            if let Some(limits) = Self::in_tick(fine, burst, shift) {
                return limits;
            }
            shift += 1;
        }
    }

    /// `burst` permits of `fine` fine ticks each, in ticks of `2^shift` fine ticks, if they
    /// span at most [`MAX_WINDOW`] of them.
    fn in_tick(fine: u128, burst: u32, shift: u32) -> Option<Self> {
        let interval = fine.div_ceil(1 << shift);
        interval
            .checked_mul(u128::from(burst))
            .filter(|window| *window <= MAX_WINDOW)?;
        Some(Self {
            interval: u64::try_from(interval).ok()?,
            burst,
            shift,
            up: (FINE_PER_NANO as u64) >> shift.min(4),
            down: shift.saturating_sub(4),
            fine: Fine::new(fine),
        })
    }

    /// These limits with another rate, in the same tick: positions kept in these limits'
    /// ticks stay valid. `None` when the new rate and burst need a coarser tick.
    pub(crate) fn rate_in_tick(self, per_second: f64) -> Result<Option<Self>, BuildError> {
        Ok(Self::in_tick(
            fine_interval(per_second)?,
            self.burst,
            self.shift,
        ))
    }

    /// These limits with another burst, in the same tick (as [`rate_in_tick`](Self::rate_in_tick)).
    pub(crate) fn burst_in_tick(self, burst: u32) -> Result<Option<Self>, BuildError> {
        Ok(Self::in_tick(
            self.fine.get(),
            check_burst(burst)?,
            self.shift,
        ))
    }

    /// These limits with the interval and burst a reader of [`LiveLimits`](crate::live::LiveLimits)
    /// found, in the same tick.
    #[inline]
    pub(crate) fn with_numbers(self, interval: u64, burst: u32) -> Self {
        Self {
            interval,
            burst,
            ..self
        }
    }

    /// How far ahead of now the TAT may be: a full bucket's worth (within [`MAX_WINDOW`]).
    #[inline]
    pub(crate) fn window(&self) -> u64 {
        u64::from(self.burst) * self.interval
    }

    /// What `n` permits cost, in ticks (`n` at most the burst, so within the window).
    #[inline]
    pub(crate) fn cost(&self, n: u32) -> u64 {
        u64::from(n) * self.interval
    }

    /// The decision for `n` permits at `now` with theoretical arrival time `tat`: `Ok(new_tat)`
    /// when allowed now, `Err(at)` with the earliest time it would be allowed. `n` is at most
    /// the burst.
    #[inline]
    pub(crate) fn check(&self, tat: u64, now: u64, n: u32) -> Result<u64, u64> {
        // Within u64 while `now` is below 2^63 ticks; past that, refuse rather than wrap.
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
    pub(crate) fn available(&self, tat: u64, now: u64) -> u32 {
        let used = tat.saturating_sub(now);
        let free = self.window().saturating_sub(used) / self.interval;
        u32::try_from(free).unwrap_or(u32::MAX)
    }

    /// Nanoseconds in this limiter's ticks, rounded down (saturating): the hot path of a
    /// decision on the TSC clock, in `u64` arithmetic alone at fine ticks.
    #[inline]
    pub(crate) fn ticks_of_nanos(&self, nanos: u64) -> u64 {
        if self.shift == 0 {
            // Fine ticks (every limiter whose burst refills within 9 years): a constant shift.
            return nanos.saturating_mul(FINE_PER_NANO as u64);
        }
        // A tick is 2^shift fine ticks and a nanosecond 2^4 of them: multiply by what is left
        // of 2^4, then divide by what is left of 2^shift (one of the two is 1), in `u64`.
        nanos.saturating_mul(self.up) >> self.down
    }

    /// A span of time in this limiter's ticks, rounded down (saturating).
    #[inline]
    pub(crate) fn ticks_of(&self, span: Duration) -> u64 {
        if self.shift == 0 {
            // Fine ticks, in `u64` arithmetic: saturates past 36 years.
            const FINE_PER_SECOND_U64: u64 = FINE_PER_SECOND as u64;
            let fine = span
                .as_secs()
                .checked_mul(FINE_PER_SECOND_U64)
                .and_then(|fine| fine.checked_add(u64::from(span.subsec_nanos()) << 4));
            return fine.unwrap_or(u64::MAX);
        }
        // At most 2^94 ns, so 2^98 fine ticks: the shift cannot overflow (FINE_PER_NANO is
        // 2^4), and no overflow-checked 128-bit multiply (a library call) is needed.
        fine_to_ticks(span.as_nanos() << 4, self.shift)
    }

    /// The span of `ticks`, rounded up to a whole nanosecond (saturating at `Duration::MAX`),
    /// so that a wait until it never ends early.
    #[inline]
    pub(crate) fn span_of(self, ticks: u64) -> Duration {
        span_of(ticks, self.shift)
    }

    /// The tick's size, as `span_of` takes it: what a refusal keeps to say when to retry.
    #[inline]
    pub(crate) fn shift(self) -> u32 {
        self.shift
    }

    /// A position `at` in these limits' ticks, moved to `to`'s, where `now` and `now_to` are
    /// the same instant in each. Permits owed ahead of now stay owed, each at `to`'s interval
    /// (rounded up, so a change never makes a limiter faster); positions behind now stay
    /// behind it by the same span, or as far as the origin.
    pub(crate) fn rescale(self, to: Self, at: u64, now: u64, now_to: u64) -> u64 {
        if at <= now {
            return now_to.saturating_sub(to.ticks_of(self.span_of(now - at)));
        }
        let owed =
            (u128::from(at - now) * u128::from(to.interval)).div_ceil(u128::from(self.interval));
        now_to.saturating_add(u64::try_from(owed).unwrap_or(u64::MAX))
    }

    /// The cost `cost` of some permits at these limits, at `to`'s.
    pub(crate) fn rescale_cost(self, to: Self, cost: u64) -> u64 {
        let permits = u128::from(cost / self.interval);
        u64::try_from(permits * u128::from(to.interval)).unwrap_or(u64::MAX)
    }

    /// Fine ticks per permit as charged.
    fn charged(self) -> f64 {
        self.interval as f64 * (1u128 << self.shift) as f64
    }

    /// The rate, in permits per second.
    pub(crate) fn per_second(self) -> f64 {
        FINE_PER_SECOND as f64 / self.charged()
    }

    /// Nanoseconds per permit, for `Debug`.
    pub(crate) fn interval_ns(self) -> f64 {
        self.charged() / FINE_PER_NANO as f64
    }
}

/// The span of `ticks` of `2^shift` fine ticks, rounded up to a whole nanosecond (saturating
/// at `Duration::MAX`), so that a wait until it never ends early.
#[inline]
pub(crate) fn span_of(ticks: u64, shift: u32) -> Duration {
    match shift.checked_sub(4) {
        // FINE_PER_NANO is 2^4: fine ticks and up to 16 of them a tick, in `u64`.
        None => Duration::from_nanos(ticks.div_ceil(1 << (4 - shift))),
        Some(up) => {
            let ticks = u128::from(ticks);
            if ticks.leading_zeros() < up {
                return Duration::MAX;
            }
            let nanos = ticks << up;
            match u64::try_from(nanos) {
                Ok(nanos) => Duration::from_nanos(nanos),
                Err(_) => {
                    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
                    if secs == u64::MAX {
                        return Duration::MAX;
                    }
                    Duration::new(secs, (nanos % 1_000_000_000) as u32)
                }
            }
        }
    }
}

/// Nanoseconds in `ticks` of `2^shift` fine ticks, rounded up, saturating at `u64::MAX` (past
/// 584 years): integer steps alone, for a refusal on the hot path.
#[inline]
pub(crate) fn nanos_of(ticks: u64, shift: u32) -> u64 {
    if shift == 0 {
        return ticks.div_ceil(FINE_PER_NANO as u64);
    }
    match shift.checked_sub(4) {
        // FINE_PER_NANO is 2^4.
        None => ticks.div_ceil(1 << (4 - shift)),
        Some(up) if ticks.leading_zeros() >= up => ticks << up,
        Some(_) => u64::MAX,
    }
}

/// Fine ticks in ticks of `2^shift` fine ticks, rounded down, saturating at `u64::MAX`.
#[inline]
fn fine_to_ticks(fine: u128, shift: u32) -> u64 {
    u64::try_from(fine >> shift).unwrap_or(u64::MAX)
}

/// Fine ticks per permit for a rate in permits per second, rounded up, at most [`NEVER`].
pub(crate) fn fine_interval(per_second: f64) -> Result<u128, BuildError> {
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
    if FINE_PER_SECOND as f64 / per_second >= NEVER as f64 {
        return Ok(NEVER);
    }
    // Exactly, not in f64: the rate is `mantissa / 2^shift` (below 2^30 and above 2^-64
    // here, so 0 < `shift` < 117), and a permit costs the ceiling of
    // `FINE_PER_SECOND * 2^shift / mantissa` fine ticks, below 2^98. The numerator can pass
    // 2^128, so the division is done in two steps: by the first up to 2^93 of the shift, then
    // the rest of the shift applied to quotient and remainder.
    let bits = per_second.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as u32;
    let mantissa = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
    let shift = 1075 - exponent;
    let first = shift.min(93);
    let rest = shift - first;
    let numerator = FINE_PER_SECOND << first;
    let (quotient, remainder) = (numerator / mantissa, numerator % mantissa);
    let interval = (quotient << rest) + (remainder << rest).div_ceil(mantissa);
    Ok(interval.min(NEVER))
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

    const SECOND: u64 = 1_000_000_000 * 16;

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
        for rate in [
            0.0,
            -1.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            2e9,
            -f64::MIN_POSITIVE,
        ] {
            assert_eq!(
                Limits::new(rate, 1).unwrap_err().setting(),
                "rate",
                "{rate}"
            );
        }
    }

    /// Any rate above 0 with any burst: the window fits, the tick is as fine as it can be, and
    /// the charged rate is never above the one asked for, nor below it by more than one part
    /// in 2^29 (or a fine tick a permit, at the top rates).
    #[test]
    fn every_rate_and_burst_fits() {
        for rate in [
            1e9, 7e8, 1.0, 0.1, 1e-6, 1e-9, 1e-12, 1e-18, 1.2e-19, 1e-19, 1e-300,
        ] {
            for burst in [1, 20, 1000, 1 << 20, u32::MAX] {
                let limits = Limits::new(rate, burst).unwrap();
                assert!(u128::from(limits.window()) <= MAX_WINDOW, "{rate} {burst}");
                assert!(limits.interval >= 1);
                if limits.shift > 0 {
                    // One tick finer would not fit.
                    let finer = limits.fine.get().div_ceil(1 << (limits.shift - 1));
                    assert!(finer * u128::from(burst) > MAX_WINDOW, "{rate} {burst}");
                }
                if limits.fine.get() < NEVER {
                    assert!(limits.per_second() <= rate, "{rate} {burst}");
                    let slack = if limits.shift == 0 { 0.07 } else { 1e-8 };
                    assert!(
                        limits.per_second() >= rate * (1.0 - slack),
                        "{rate} {burst}"
                    );
                } else {
                    assert!(rate <= 1.27e-19, "{rate}");
                }
            }
        }
        // At the top rate even the largest burst spans fine ticks.
        assert_eq!(Limits::new(1e9, u32::MAX).unwrap().shift, 0);
        assert_eq!(Limits::new(1.0, u32::MAX).unwrap().shift, 4);
        assert_eq!(Limits::new(1e-300, u32::MAX).unwrap().shift, 67);
    }

    #[test]
    fn intervals_are_exact_down_to_the_slowest_rates() {
        // 2^-40 per second: 2^40 s a permit, 2^40 x 1.6e10 fine ticks exactly.
        let rate = 2f64.powi(-40);
        assert_eq!(
            fine_interval(rate).unwrap(),
            (1u128 << 40) * FINE_PER_SECOND
        );
        // 3 per 2^60 s, rounded up.
        let rate = 3.0 * 2f64.powi(-60);
        assert_eq!(
            fine_interval(rate).unwrap(),
            ((1u128 << 60) * FINE_PER_SECOND).div_ceil(3)
        );
        assert_eq!(fine_interval(1e-300).unwrap(), NEVER);
        assert_eq!(fine_interval(f64::MIN_POSITIVE).unwrap(), NEVER);
    }

    #[test]
    fn spans_round_trip_never_early() {
        for (rate, burst) in [(7e8, 1), (1.0, u32::MAX), (1e-300, u32::MAX), (3.0, 7)] {
            let limits = Limits::new(rate, burst).unwrap();
            for ticks in [0, 1, 17, 1 << 40, u64::MAX / 2] {
                let span = limits.span_of(ticks);
                if span < Duration::MAX {
                    // Rounded up to the nanosecond, so reading it back gives at least `ticks`.
                    assert!(limits.ticks_of(span) >= ticks, "{rate} {ticks}");
                }
            }
        }
        let coarse = Limits::new(1e-300, u32::MAX).unwrap();
        assert_eq!(coarse.span_of(u64::MAX), Duration::MAX);
        assert_eq!(
            u128::from(coarse.ticks_of(Duration::MAX)),
            (Duration::MAX.as_nanos() * 16) >> 67
        );
        let fine = Limits::new(1.0, 1).unwrap();
        assert_eq!(fine.ticks_of(Duration::MAX), u64::MAX);
        assert_eq!(fine.span_of(17), Duration::from_nanos(2));
    }

    #[test]
    fn both_clocks_read_the_same_ticks() {
        for (rate, burst) in [
            (1e9, 1),
            (1.0, u32::MAX),
            (0.3, 1 << 20),
            (1e-300, u32::MAX),
        ] {
            let limits = Limits::new(rate, burst).unwrap();
            for nanos in [0, 1, 15, 16, 999_999_937, 1 << 40, u64::MAX / 3, u64::MAX] {
                assert_eq!(
                    limits.ticks_of_nanos(nanos),
                    limits.ticks_of(Duration::from_nanos(nanos)),
                    "{rate} {burst} {nanos}"
                );
            }
        }
    }

    #[test]
    fn a_rescale_keeps_the_permits_owed() {
        let old = Limits::new(1.0, 10).unwrap();
        let new = old.with_burst(u32::MAX).unwrap();
        assert!(new.shift > old.shift);
        // Three permits owed at 1 s of time: still three, at the new tick.
        let now = 5 * SECOND;
        let now_new = new.ticks_of(Duration::from_secs(5));
        let tat = old.rescale(new, now + 3 * old.interval, now, now_new);
        assert_eq!(tat, now_new + 3 * new.interval);
        assert_eq!(old.rescale_cost(new, 2 * old.interval), 2 * new.interval);
        // Behind now: a full bucket stays full.
        assert!(old.rescale(new, now - SECOND, now, now_new) <= now_new);
        assert_eq!(
            new.available(old.rescale(new, 0, now, now_new), now_new),
            u32::MAX
        );
    }
}
