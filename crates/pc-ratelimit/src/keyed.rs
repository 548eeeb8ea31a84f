//! `KeyedLimiter`: one limit per key, with idle keys evicted.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pc_core::{BuildError, SharedProbe};

use crate::clock::Clock;
use crate::error::TryAcquireError;
use crate::limits::Limits;
use crate::live;
use crate::settings::RateSettings;

/// One rate limit per key (a tenant, a host), in shards so that keys rarely contend.
///
/// A key's state is its theoretical arrival time alone. Once that is `idle` in the past the
/// key's bucket is full, exactly like a key never seen, so evicting it changes no decision.
/// The first decision `idle` after the last sweep sweeps every shard, the ones nobody uses
/// any more included, and [`evict_idle`](KeyedLimiter::evict_idle) sweeps them all at once.
/// Memory stays bounded by the keys active within twice `idle`, however many keys come and
/// go.
///
/// ```
/// use pc_ratelimit::KeyedLimiter;
///
/// let per_tenant = KeyedLimiter::builder().rate(1.0).burst(2).build()?;
/// assert!(per_tenant.try_acquire(&"acme", 2).is_ok());
/// assert!(per_tenant.try_acquire(&"acme", 1).is_err()); // acme spent its burst
/// assert!(per_tenant.try_acquire(&"globex", 1).is_ok()); // other tenants are unaffected
/// assert_eq!(per_tenant.len(), 2);
/// # Ok::<(), pc_core::BuildError>(())
/// ```
pub struct KeyedLimiter<K> {
    clock: Clock,
    /// The limits it was built with: their tick (shift) is the limiter's for life; the rate
    /// and burst in force are each shard's (all the same once a change is done).
    fixed: Limits,
    /// The limits in force, whole; held by a change from start to end.
    current: Mutex<Limits>,
    idle: u64,
    /// When every shard was last swept, in ticks.
    last_sweep: AtomicU64,
    hasher: RandomState,
    shards: Box<[Mutex<Shard<K>>]>,
    probe: Option<SharedProbe>,
}

// A key's `Hash`, `Eq` or `Clone` that panics leaves every shard as it was (see `lock`), and the
// probe is only told what was decided: a limiter stays consistent across a caught panic.
impl<K> std::panic::UnwindSafe for KeyedLimiter<K> {}
impl<K> std::panic::RefUnwindSafe for KeyedLimiter<K> {}

#[derive(Debug)]
struct Shard<K> {
    tats: HashMap<K, u64>,
    /// The limits its keys' positions count in.
    limits: Limits,
}

impl KeyedLimiter<()> {
    /// Starts the settings; `rate` and `burst` are required. The key type comes from `build`.
    pub fn builder() -> KeyedLimiterBuilder {
        KeyedLimiterBuilder::default()
    }
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// Takes `n` of `key`'s permits if they exist now.
    ///
    /// # Errors
    ///
    /// As [`Gcra::try_acquire`](crate::Gcra::try_acquire), for this key.
    pub fn try_acquire(&self, key: &K, n: u32) -> Result<(), TryAcquireError> {
        let decided = self.decide(key, n);
        if let Some(probe) = &self.probe {
            crate::report_decision(probe, n, &decided);
        }
        decided
    }

    fn decide(&self, key: &K, n: u32) -> Result<(), TryAcquireError> {
        if n == 0 {
            // Nothing asked, nothing taken, whatever is owed.
            return Ok(());
        }
        let now = self.clock.now(self.fixed);
        self.sweep_if_due(now);
        let mut shard = self.shard(key);
        let limits = shard.limits;
        if n > limits.burst {
            return Err(TryAcquireError::OverBurst {
                requested: n,
                burst: limits.burst,
            });
        }
        let tat = shard.tats.get(key).copied().unwrap_or(0);
        match limits.check(tat, now, n) {
            Ok(new_tat) => {
                match shard.tats.get_mut(key) {
                    Some(slot) => *slot = new_tat,
                    None => {
                        shard.tats.insert(key.clone(), new_tat);
                    }
                }
                Ok(())
            }
            Err(at) => Err(TryAcquireError::Insufficient(
                self.clock.not_until(at, limits),
            )),
        }
    }

    /// Whole permits `key` has now.
    pub fn available(&self, key: &K) -> u32 {
        let now = self.clock.now(self.fixed);
        let shard = self.shard(key);
        let tat = shard.tats.get(key).copied().unwrap_or(0);
        shard.limits.available(tat, now)
    }

    /// The rate in force per key, in permits per second (as charged: the interval rounded up
    /// to the limiter's tick).
    pub fn rate(&self) -> f64 {
        lock_limits(&self.current).per_second()
    }

    /// The burst in force per key.
    pub fn burst(&self) -> u32 {
        lock_limits(&self.current).burst
    }

    /// Changes every key's rate from now on, while other threads decide. Each key's permits
    /// owed ahead of now stay owed, each at the new interval (as
    /// [`TokenBucket::set_rate`](crate::TokenBucket::set_rate) does): a change never lets a
    /// burst through and never forgets what was taken. The shards change one after another,
    /// each under its lock, so every key moves at once with its position; the cost is one pass
    /// over the keys held.
    ///
    /// ```
    /// use pc_ratelimit::KeyedLimiter;
    ///
    /// let per_tenant = KeyedLimiter::builder().rate(100.0).burst(2).build()?;
    /// assert!(per_tenant.try_acquire(&"acme", 2).is_ok());
    /// per_tenant.set_rate(0.001)?; // acme's two permits now cost 1,000 s each
    /// assert_eq!(per_tenant.available(&"acme"), 0);
    /// assert_eq!(per_tenant.available(&"globex"), 2); // a full bucket stays full
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` for a rate that is not finite and positive, or one whose
    /// burst spans more time than the limiter's tick allows. The limits are unchanged.
    pub fn set_rate(&self, per_second: f64) -> Result<(), BuildError> {
        self.change(|limits| live::in_tick("rate", limits.rate_in_tick(per_second)))
    }

    /// Changes every key's burst from now on, as [`set_rate`](Self::set_rate) changes the
    /// rate: permits owed stay owed.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `burst` for 0, or for a burst that spans more time than the
    /// limiter's tick allows. The limits are unchanged.
    pub fn set_burst(&self, burst: u32) -> Result<(), BuildError> {
        self.change(|limits| live::in_tick("burst", limits.burst_in_tick(burst)))
    }

    /// Puts new limits in force, shard by shard, each key's position moved into them.
    fn change(
        &self,
        new: impl FnOnce(Limits) -> Result<Limits, BuildError>,
    ) -> Result<(), BuildError> {
        let mut current = lock_limits(&self.current);
        let (old, limits) = (*current, new(*current)?);
        let now = self.clock.now(self.fixed);
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for tat in shard.tats.values_mut() {
                // Both limits count in the same tick: `now` is the same instant in each.
                *tat = old.rescale(limits, *tat, now, now);
            }
            shard.limits = limits;
        }
        *current = limits;
        Ok(())
    }

    /// Keys held now (active within the idle time, or not swept yet).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).tats.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sweeps every shard now, dropping keys idle for longer than the idle time.
    pub fn evict_idle(&self) {
        let now = self.clock.now(self.fixed);
        self.last_sweep.fetch_max(now, Ordering::Relaxed);
        self.sweep_all(now);
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        lock(&self.shards[index])
    }

    /// Sweeps every shard if the last sweep is `idle` old: one caller does it, the others go
    /// on (one atomic load when it is not due).
    fn sweep_if_due(&self, now: u64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= self.idle
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sweep_all(now);
        }
    }

    /// Sweeps the shards one after another, holding one lock at a time.
    fn sweep_all(&self, now: u64) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            // A key whose bucket has been full for `idle` decides exactly like an unknown key.
            shard
                .tats
                .retain(|_, tat| tat.saturating_add(self.idle) > now);
            if shard.tats.capacity() > 4 * shard.tats.len() + 64 {
                shard.tats.shrink_to_fit();
            }
        }
    }
}

fn lock_limits(limits: &Mutex<Limits>) -> MutexGuard<'_, Limits> {
    // Held only around arithmetic that does not panic.
    limits.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock<K>(shard: &Mutex<Shard<K>>) -> MutexGuard<'_, Shard<K>> {
    // Only the keys' `Hash`, `Eq` and `Clone` can panic under the lock, and the map is left as
    // it was when they do (tests/edges.rs), so a poisoned shard is still consistent.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K> fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limits = *lock_limits(&self.current);
        f.debug_struct("KeyedLimiter")
            .field("interval_ns", &limits.interval_ns())
            .field("burst", &limits.burst)
            .field("idle_ns", &self.fixed.span_of(self.idle).as_nanos())
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// The most shards a [`KeyedLimiter`] takes: each is a lock allocated at once.
pub const MAX_SHARDS: usize = 1 << 16;

/// Settings for a [`KeyedLimiter`]: rate and burst per key (required), idle time, shards and an
/// optional probe.
#[derive(Clone)]
pub struct KeyedLimiterBuilder {
    settings: RateSettings,
    idle: Duration,
    shards: usize,
    probe: Option<SharedProbe>,
}

impl fmt::Debug for KeyedLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiterBuilder")
            .field("settings", &self.settings)
            .field("idle", &self.idle)
            .field("shards", &self.shards)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl Default for KeyedLimiterBuilder {
    fn default() -> Self {
        Self {
            settings: RateSettings::default(),
            idle: Duration::from_secs(60),
            shards: 64,
            probe: None,
        }
    }
}

impl KeyedLimiterBuilder {
    crate::settings::rate_and_burst_setters!();

    /// How long a key stays after its bucket is full again (default 60 s).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Reports each decision, over all keys, to `probe`, as
    /// [`GcraBuilder::probe`](crate::GcraBuilder::probe) does.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// How many independently locked shards hold the keys (default 64).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// Builds the limiter.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate`, `burst`, `idle` (0) or `shards` (0, or above
    /// [`MAX_SHARDS`]).
    pub fn build<K: Hash + Eq + Clone>(self) -> Result<KeyedLimiter<K>, BuildError> {
        let limits = self.settings.limits()?;
        if self.idle.is_zero() {
            return Err(BuildError::Zero { setting: "idle" });
        }
        if self.shards == 0 {
            return Err(BuildError::Zero { setting: "shards" });
        }
        if self.shards > MAX_SHARDS {
            return Err(BuildError::Invalid {
                setting: "shards",
                reason: format!("at most {MAX_SHARDS} shards"),
            });
        }
        let clock = Clock::new();
        let shards = (0..self.shards)
            .map(|_| {
                Mutex::new(Shard {
                    tats: HashMap::new(),
                    limits,
                })
            })
            .collect();
        Ok(KeyedLimiter {
            clock,
            fixed: limits,
            current: Mutex::new(limits),
            idle: limits.ticks_of(self.idle),
            last_sweep: AtomicU64::new(0),
            hasher: RandomState::new(),
            shards,
            probe: crate::settings::described(self.probe),
        })
    }
}
