//! `AdaptiveRate`: an AIMD pacer driven by occupancy, and `AdaptiveProducer`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pc_core::probe::WaitTimer;
use pc_core::time::later_or_far;
use pc_core::{BuildError, ProduceError, ProduceErrorKind, Producer, SharedProbe, WaitKind};
use tokio::time::Instant;

/// A producer pacer: sends are spaced `1 / rate` apart, and the rate adapts to how full the
/// downstream queue is: additive increase while occupancy is below the low mark,
/// multiplicative decrease while it is above the high mark, within `[min, max]`, at most once
/// per adjustment interval.
///
/// Pacing is by deadline: [`pace`](AdaptiveRate::pace) sleeps until this send's slot, with no
/// refill timer and no polling.
///
/// ```
/// use std::time::Duration;
/// use pc_backpressure::AdaptiveRate;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rate = AdaptiveRate::builder().initial(100.0).min(10.0).max(1000.0).build()?;
/// let start = tokio::time::Instant::now();
/// for _ in 0..3 {
///     rate.pace(0.5).await; // occupancy between the marks: the rate holds
/// }
/// assert_eq!(start.elapsed(), Duration::from_millis(20)); // 10 ms apart
/// rate.pace(0.95).await; // above the high mark: the rate halves
/// assert_eq!(rate.rate(), 50.0);
/// # Ok(())
/// # }
/// ```
pub struct AdaptiveRate {
    settings: AdaptiveRateBuilder,
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    rate: f64,
    next: Instant,
    /// What the slots so far ran ahead of whole nanoseconds, in (-1, 0] ns: each interval is
    /// rounded up to whole nanoseconds with this carried, so that `n` slots span at least `n`
    /// exact intervals (never faster than the rate) and at most one nanosecond more.
    credit: f64,
    /// The last slot taken and the credit before it, so that it can be given back.
    last: Option<(Instant, f64)>,
    last_adjust: Instant,
}

impl PaceState {
    /// Takes the slot at `slot` and moves `next` one interval of the current rate on.
    fn take(&mut self, slot: Instant) {
        self.last = Some((slot, self.credit));
        let exact = 1e9 / self.rate + self.credit;
        let whole = exact.ceil();
        // A rate too slow for a `Duration` (or for f64 nanoseconds) waits as far as time goes.
        let after = if whole < u64::MAX as f64 {
            self.credit = exact - whole;
            Duration::from_nanos(whole as u64)
        } else {
            self.credit = 0.0;
            Duration::MAX
        };
        self.next = later_or_far(slot, after);
    }
}

impl AdaptiveRate {
    /// Starts the settings (see [`AdaptiveRateBuilder`] for the defaults).
    pub fn builder() -> AdaptiveRateBuilder {
        AdaptiveRateBuilder::default()
    }

    /// Adjusts the rate to `occupancy` (0.0 to 1.0), then waits for this send's slot.
    ///
    /// # Cancel safety
    ///
    /// A cancelled wait keeps its slot taken: later sends are not sped up by it.
    pub async fn pace(&self, occupancy: f64) {
        let slot = self.take_slot(occupancy, Instant::now());
        self.wait_for(slot).await;
    }

    /// Sleeps until `slot`, reporting the wait to the probe as throttled when there is one.
    async fn wait_for(&self, slot: Instant) {
        if slot > Instant::now() {
            let _waiting = WaitTimer::timed(self.settings.probe.as_ref(), WaitKind::Throttled);
            tokio::time::sleep_until(slot).await;
        }
    }

    /// The current rate, in sends per second.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// Adjusts to `occupancy` at `now`, takes the next slot and returns when it starts.
    fn take_slot(&self, occupancy: f64, now: Instant) -> Instant {
        let mut state = self.lock();
        self.adjust(&mut state, occupancy, now);
        let slot = state.next.max(now);
        state.take(slot);
        slot
    }

    /// Adjusts the rate to `occupancy` at `now`, at most once per adjustment interval.
    fn adjust(&self, state: &mut PaceState, occupancy: f64, now: Instant) {
        let s = &self.settings;
        if now.saturating_duration_since(state.last_adjust) >= s.adjust_every {
            let adjusted = if occupancy < s.low {
                Some(state.rate + s.increase)
            } else if occupancy > s.high {
                Some(state.rate * s.decrease)
            } else {
                None
            };
            if let Some(rate) = adjusted {
                state.rate = rate.clamp(s.min, s.max);
                state.last_adjust = now;
            }
        }
    }

    /// Takes this send's slot if it has come by `now` (adjusting to `occupancy` first), all
    /// under one lock, so that two callers cannot both pass the check: the slot taken, or
    /// `None` with nothing taken.
    fn try_take_slot(&self, occupancy: f64, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        if state.next > now {
            return None;
        }
        self.adjust(&mut state, occupancy, now);
        let slot = state.next.max(now);
        state.take(slot);
        Some(slot)
    }

    /// Gives back `slot`, taken for a send that did not happen, unless a later send took the
    /// one after it.
    fn give_back(&self, slot: Instant) {
        let mut state = self.lock();
        if let Some((last, credit)) = state.last
            && last == slot
        {
            state.next = slot;
            state.credit = credit;
            state.last = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, PaceState> {
        // No code panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for AdaptiveRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveRate")
            .field("settings", &self.settings)
            .field("rate", &self.rate())
            .finish()
    }
}

/// Settings for an [`AdaptiveRate`]. Defaults: initial 100/s within 1 to 10,000/s, +10/s below
/// occupancy 0.2, x0.5 above 0.8, at most one adjustment per 100 ms, no probe.
#[derive(Clone)]
pub struct AdaptiveRateBuilder {
    initial: f64,
    min: f64,
    max: f64,
    increase: f64,
    decrease: f64,
    low: f64,
    high: f64,
    adjust_every: Duration,
    probe: Option<SharedProbe>,
}

impl fmt::Debug for AdaptiveRateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveRateBuilder")
            .field("initial", &self.initial)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("increase", &self.increase)
            .field("decrease", &self.decrease)
            .field("low", &self.low)
            .field("high", &self.high)
            .field("adjust_every", &self.adjust_every)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl Default for AdaptiveRateBuilder {
    fn default() -> Self {
        Self {
            initial: 100.0,
            min: 1.0,
            max: 10_000.0,
            increase: 10.0,
            decrease: 0.5,
            low: 0.2,
            high: 0.8,
            adjust_every: Duration::from_millis(100),
            probe: None,
        }
    }
}

impl AdaptiveRateBuilder {
    /// Reports each wait for a send's slot to `probe` as a
    /// [`WaitKind::Throttled`](pc_core::WaitKind::Throttled) wait (timed, and counted while it
    /// lasts).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// The starting rate, in sends per second.
    pub fn initial(mut self, per_second: f64) -> Self {
        self.initial = per_second;
        self
    }

    /// The lowest rate.
    pub fn min(mut self, per_second: f64) -> Self {
        self.min = per_second;
        self
    }

    /// The highest rate.
    pub fn max(mut self, per_second: f64) -> Self {
        self.max = per_second;
        self
    }

    /// Added to the rate per adjustment while occupancy is below the low mark.
    pub fn increase(mut self, per_second: f64) -> Self {
        self.increase = per_second;
        self
    }

    /// The rate is multiplied by this (between 0 and 1) per adjustment above the high mark.
    pub fn decrease(mut self, factor: f64) -> Self {
        self.decrease = factor;
        self
    }

    /// The occupancy marks, as fractions of the capacity.
    pub fn marks(mut self, high: f64, low: f64) -> Self {
        self.high = high;
        self.low = low;
        self
    }

    /// The least time between two adjustments.
    pub fn adjust_every(mut self, every: Duration) -> Self {
        self.adjust_every = every;
        self
    }

    /// Builds the pacer.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the setting: rates that are not finite and above 0, `min`
    /// above `max` or `initial` outside them, a `decrease` outside (0, 1), marks outside
    /// `0 <= low < high <= 1`.
    pub fn build(self) -> Result<AdaptiveRate, BuildError> {
        let invalid = |setting, reason: &str| {
            Err(BuildError::Invalid {
                setting,
                reason: reason.to_string(),
            })
        };
        let positive = |rate: f64| rate.is_finite() && rate > 0.0;
        if !positive(self.min) || !positive(self.max) || self.min > self.max {
            return invalid("min", "min and max must be finite, above 0, and min <= max");
        }
        if !(self.min..=self.max).contains(&self.initial) {
            return invalid("initial", "must lie between min and max");
        }
        if !(self.increase.is_finite() && self.increase >= 0.0) {
            return invalid(
                "increase",
                "must be a finite number of sends per second, 0 or more",
            );
        }
        if !(self.decrease > 0.0 && self.decrease < 1.0) {
            return invalid("decrease", "must lie strictly between 0 and 1");
        }
        if !(0.0 <= self.low && self.low < self.high && self.high <= 1.0) {
            return invalid("marks", "need 0 <= low < high <= 1");
        }
        let now = Instant::now();
        let state = PaceState {
            rate: self.initial,
            next: now,
            credit: 0.0,
            last: None,
            last_adjust: now.checked_sub(self.adjust_every).unwrap_or(now),
        };
        if let Some(probe) = &self.probe {
            probe.described(pc_core::BlockKind::AdaptiveProducer, None);
        }
        Ok(AdaptiveRate {
            settings: self,
            state: Mutex::new(state),
        })
    }
}

/// Any [`Producer`] paced by an [`AdaptiveRate`] that reads the occupancy of the queue
/// downstream through a closure (for a [`Sender`](crate::Sender): `move || tx.occupancy()`).
pub struct AdaptiveProducer<P> {
    inner: P,
    rate: Arc<AdaptiveRate>,
    occupancy: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl<P> AdaptiveProducer<P> {
    /// Paces `inner` with `rate`, reading occupancy (0.0 to 1.0) from `occupancy`.
    pub fn new(
        inner: P,
        rate: Arc<AdaptiveRate>,
        occupancy: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            rate,
            occupancy: Box::new(occupancy),
        }
    }

    /// The pacer.
    pub fn rate(&self) -> &AdaptiveRate {
        &self.rate
    }

    /// The producer inside.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }
}

impl<P> fmt::Debug for AdaptiveProducer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveProducer")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// A slot taken for one send: given back when dropped unused (the send failed or was
/// cancelled), unless a later send has taken the one after it already.
struct Slot<'a> {
    rate: &'a AdaptiveRate,
    at: Instant,
    used: bool,
}

impl<'a> Slot<'a> {
    fn new(rate: &'a AdaptiveRate, at: Instant) -> Self {
        Self {
            rate,
            at,
            used: false,
        }
    }

    /// Keeps the slot if `sent` succeeded.
    fn settle<R, E>(mut self, sent: Result<R, E>) -> Result<R, E> {
        self.used = sent.is_ok();
        sent
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.used {
            self.rate.give_back(self.at);
        }
    }
}

impl<T: Send, P: Producer<T>> Producer<T> for AdaptiveProducer<P> {
    /// Waits for this send's slot, then for the inner producer. A slot taken for a send that
    /// fails or is cancelled is given back, unless a later send has taken the next one.
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let slot = Slot::new(
            &self.rate,
            self.rate.take_slot((self.occupancy)(), Instant::now()),
        );
        self.rate.wait_for(slot.at).await;
        slot.settle(self.inner.send(item).await)
    }

    /// `Closed` once the inner producer is closed; otherwise sends only if this send's slot
    /// has come: `OverLimit`, with no slot taken, before then. The check and the taking are one
    /// step, so concurrent callers never pass it together; a slot taken for an item the inner
    /// producer refuses is given back.
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let now = Instant::now();
        let occupancy = (self.occupancy)();
        let Some(at) = self.rate.try_take_slot(occupancy, now) else {
            return Err(ProduceError::new(item, ProduceErrorKind::OverLimit));
        };
        Slot::new(&self.rate, at).settle(self.inner.try_send(item))
    }

    /// Paces, then sends, within `timeout` in all (`Duration::MAX`: no limit). `Closed` at
    /// once on a closed producer, before any wait for a slot.
    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        if self.inner.is_closed() {
            return Err(ProduceError::closed(item));
        }
        let now = Instant::now();
        let deadline = pc_core::time::deadline(timeout);
        if deadline.is_some_and(|deadline| self.rate.lock().next > deadline) {
            return Err(ProduceError::new(item, ProduceErrorKind::TimedOut));
        }
        let slot = Slot::new(&self.rate, self.rate.take_slot((self.occupancy)(), now));
        self.rate.wait_for(slot.at).await;
        let left = timeout.saturating_sub(now.elapsed());
        slot.settle(self.inner.send_timeout(item, left).await)
    }

    fn close(&self) -> bool {
        self.inner.close()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}
