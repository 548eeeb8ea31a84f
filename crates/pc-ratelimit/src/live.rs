//! Limits that change while deciders read them without a lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pc_core::BuildError;

use crate::limits::Limits;
use crate::loom::{AtomicU32, AtomicU64, Ordering, fence, pause};

/// A limiter's rate and burst, changeable at run time, read on the hot path through a sequence
/// lock over the two numbers a change moves (the interval and the burst). The tick (the
/// limits' shift) is fixed for the limiter's life, so positions in time never change units: a
/// change that would need a coarser tick is refused.
pub(crate) struct LiveLimits {
    /// Even while the numbers are settled, odd while a change writes them.
    version: AtomicU64,
    interval: AtomicU64,
    burst: AtomicU32,
    /// The limits in force, whole (the exact interval a later change starts from); held by a
    /// change from start to end, so changes never interleave.
    current: Mutex<Limits>,
}

impl LiveLimits {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            version: AtomicU64::new(0),
            interval: AtomicU64::new(limits.interval),
            burst: AtomicU32::new(limits.burst),
            current: Mutex::new(limits),
        }
    }

    /// The limits in force and what `also` read while they were (a position kept in their
    /// ticks), both from the same side of any change, and the version they were read at.
    #[inline]
    pub(crate) fn read_with<R>(&self, fixed: Limits, also: impl Fn() -> R) -> (Limits, R, u64) {
        let mut turn = 0;
        loop {
            let before = self.version.load(Ordering::Acquire);
            if before & 1 == 0 {
                let interval = self.interval.load(Ordering::Relaxed);
                let burst = self.burst.load(Ordering::Relaxed);
                let also = also();
                // Orders the reads above before the check below: had any of them seen a
                // change's write, the check sees its version.
                fence(Ordering::Acquire);
                if self.version.load(Ordering::Relaxed) == before {
                    return (fixed.with_numbers(interval, burst), also, before);
                }
            }
            pause(&mut turn);
        }
    }

    /// The limits in force.
    pub(crate) fn read(&self, fixed: Limits) -> Limits {
        self.read_with(fixed, || ()).0
    }

    /// Whether no change has been published since `version` was read: limits read at it are
    /// still in force. Called after an acquiring read of a position, it also says that
    /// position is still in their ticks (a change publishes before it moves the position).
    #[inline]
    pub(crate) fn still(&self, version: u64) -> bool {
        self.version.load(Ordering::Acquire) == version
    }

    /// Starts a change: the limits in force, held until the change is published or dropped.
    pub(crate) fn begin(&self) -> MutexGuard<'_, Limits> {
        // A change holds the lock only around its arithmetic, which does not panic: a
        // poisoned lock still holds consistent limits.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `limits` in force (under the guard `begin` gave).
    pub(crate) fn publish(&self, current: &mut MutexGuard<'_, Limits>, limits: Limits) {
        let version = self.version.load(Ordering::Relaxed);
        self.version.store(version + 1, Ordering::Relaxed);
        // Orders the odd version before the numbers: a reader that sees a new number sees
        // the version move.
        fence(Ordering::Release);
        self.interval.store(limits.interval, Ordering::Relaxed);
        self.burst.store(limits.burst, Ordering::Relaxed);
        self.version.store(version + 2, Ordering::Release);
        **current = limits;
    }
}

/// Limits from `changed`, or the error for limits that need a coarser tick than the
/// limiter was built with (a burst spanning more than about 9 years at full resolution).
pub(crate) fn in_tick(
    setting: &'static str,
    changed: Result<Option<Limits>, BuildError>,
) -> Result<Limits, BuildError> {
    changed?.ok_or_else(|| BuildError::Invalid {
        setting,
        reason: "the new rate and burst span more time than this limiter's tick allows; \
                 build a new limiter for them"
            .into(),
    })
}
