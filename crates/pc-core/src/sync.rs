//! The lock under pc's queues: a mutex whose contended path yields the thread a few times
//! before it parks, and never spins without bound.
//!
//! The channel of this crate and the priority channel of `pc-priority` keep all their state
//! behind one [`Lock`] each; a block of your own with short critical sections can do the same.
//!
//! ```
//! use std::sync::Arc;
//! use pc_core::sync::Lock;
//!
//! let count = Arc::new(Lock::new(0u64));
//! let threads: Vec<_> = (0..2)
//!     .map(|_| {
//!         let count = Arc::clone(&count);
//!         std::thread::spawn(move || {
//!             for _ in 0..1_000 {
//!                 *count.lock() += 1;
//!             }
//!         })
//!     })
//!     .collect();
//! for thread in threads {
//!     thread.join().unwrap();
//! }
//! assert_eq!(*count.lock(), 2_000);
//! ```
//!
//! # Why yield first
//!
//! Critical sections in a queue last tens of nanoseconds, about as long as one `PAUSE`
//! instruction on current x86 cores, so a backoff that pauses loses to one that gives the core
//! away: a holder preempted on a 2-core machine is rescheduled sooner when the waiters yield.
//! After [`YIELDS`] rounds the waiter parks on a condition variable beside the lock, so a
//! holder that stays preempted costs no CPU. `cargo bench -p pc-benches --bench lock` measures
//! it against std's `Mutex` and parking_lot's.
//!
//! # One atomic per critical section
//!
//! The lock word is locked with a compare-and-swap and unlocked with a plain release store
//! (std's and parking_lot's mutexes use a second atomic read-modify-write to unlock, so that
//! the unlock learns whether anyone parked). Here the unlock reads the count of parked threads
//! after its store, without a fence: a thread that counts itself in the same few nanoseconds
//! may not be seen, and then sleeps until [`PARK_LIMIT`] has passed and looks again. A missed
//! wake-up costs that thread at most that long, only on the contended path, and never strands
//! it; the uncontended lock and unlock cost one atomic instruction between them.
//!
//! # Poisoning
//!
//! A lock is taken as it is even if a thread panicked while holding it: the queues of pc never
//! run user code under their lock (items are dropped and wakers woken after the unlock), so
//! their state is never left half-changed. Keep to the same rule under a lock of your own, or
//! check your state after a panic yourself.

#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex, PoisonError};
#[cfg(not(loom))]
use std::time::Duration;

#[cfg(not(loom))]
use spin::mutex::{SpinMutex, SpinMutexGuard};

#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};

/// How many times a contended [`Lock::lock`] yields the thread before it parks.
pub const YIELDS: usize = 4;

/// The longest a parked [`Lock::lock`] sleeps before it looks at the lock again, woken or not.
///
/// An unlock wakes a parked thread when it sees one counted; it reads that count right after
/// its release store, without a fence (which would cost every unlock what it saves), so in a
/// window of a few nanoseconds a thread that counted itself just then is not seen (see the
/// module's docs). It sleeps at most this long before it tries again: a missed wake-up delays
/// it, never strands it.
#[cfg(not(loom))]
pub const PARK_LIMIT: Duration = Duration::from_micros(100);

/// A mutex with a yield-first contended path.
///
/// It starts a cache line pair (128 bytes: the unit in which x86 prefetches and other cores
/// steal lines), so that the lock word and the first bytes of what it guards travel together,
/// and nothing outside it (an `Arc`'s counts) shares those lines.
///
/// The lock word is a spin mutex's: locked with a compare-and-swap, unlocked with one release
/// store, where std's `Mutex` swaps on unlock too (one atomic read-modify-write per critical
/// section saved). Its waiters never spin on it: they yield, then park on a condition
/// variable beside it.
#[cfg(not(loom))]
#[repr(C, align(128))]
pub struct Lock<T> {
    parking: Parking,
    word: SpinMutex<T>,
}

/// Where contended lockers park: read by every unlock (the count only), so it sits on the lock
/// word's line.
#[cfg(not(loom))]
#[derive(Default)]
struct Parking {
    /// Threads parked or about to park.
    sleepers: AtomicUsize,
    parked: Mutex<()>,
    wake: Condvar,
}

#[cfg(not(loom))]
impl Parking {
    /// Wakes one parked thread; under the parking mutex, so that a thread between its last
    /// look at the lock and its wait cannot miss it.
    #[cold]
    fn wake_one(&self) {
        let _parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        self.wake.notify_one();
    }
}

/// What [`Lock::lock`] returns: the value, locked until the guard is dropped.
#[cfg(not(loom))]
pub struct LockGuard<'a, T> {
    // Dropped first: the unlock, then the look for parked threads.
    guard: SpinMutexGuard<'a, T>,
    _unparker: Unparker<'a>,
}

/// Wakes a parked thread, if any, once the guard beside it has unlocked.
#[cfg(not(loom))]
struct Unparker<'a>(&'a Parking);

#[cfg(not(loom))]
impl Drop for Unparker<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.0.sleepers.load(Ordering::Relaxed) != 0 {
            self.0.wake_one();
        }
    }
}

#[cfg(not(loom))]
impl<T> std::ops::Deref for LockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

#[cfg(not(loom))]
impl<T> std::ops::DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(not(loom))]
impl<T: std::fmt::Debug> std::fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.guard, f)
    }
}

#[cfg(not(loom))]
impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

#[cfg(not(loom))]
impl<T: std::fmt::Debug> std::fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Lock");
        match self.word.try_lock() {
            Some(value) => out.field("data", &*value),
            None => out.field("data", &format_args!("<locked>")),
        };
        out.finish_non_exhaustive()
    }
}

#[cfg(not(loom))]
impl<T> Lock<T> {
    /// A lock around `value`.
    pub fn new(value: T) -> Self {
        Self {
            parking: Parking::default(),
            word: SpinMutex::new(value),
        }
    }

    /// The value, for its owner: no lock needed.
    pub fn into_inner(self) -> T {
        self.word.into_inner()
    }

    /// Locks, yielding the thread up to [`YIELDS`] times while the lock is held elsewhere,
    /// then parking until it is free.
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        match self.word.try_lock() {
            Some(guard) => self.guard(guard),
            None => self.lock_contended(),
        }
    }

    #[inline]
    fn guard<'a>(&'a self, guard: SpinMutexGuard<'a, T>) -> LockGuard<'a, T> {
        LockGuard {
            guard,
            _unparker: Unparker(&self.parking),
        }
    }

    #[cold]
    fn lock_contended(&self) -> LockGuard<'_, T> {
        for _ in 0..YIELDS {
            std::thread::yield_now();
            if let Some(guard) = self.word.try_lock() {
                return self.guard(guard);
            }
        }
        let parking = &self.parking;
        loop {
            // Counted before the last look, so an unlock after that look wakes this thread.
            parking.sleepers.fetch_add(1, Ordering::SeqCst);
            let parked = parking
                .parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let taken = match self.word.try_lock() {
                Some(guard) => Some(guard),
                None => {
                    let parked = parking
                        .wake
                        .wait_timeout(parked, PARK_LIMIT)
                        .unwrap_or_else(PoisonError::into_inner);
                    drop(parked);
                    self.word.try_lock()
                }
            };
            parking.sleepers.fetch_sub(1, Ordering::SeqCst);
            if let Some(guard) = taken {
                return self.guard(guard);
            }
        }
    }
}

/// A mutex with a yield-first contended path (under loom: loom's mutex).
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct Lock<T>(Mutex<T>);

/// What [`Lock::lock`] returns: the value, locked until the guard is dropped.
#[cfg(loom)]
pub type LockGuard<'a, T> = MutexGuard<'a, T>;

#[cfg(loom)]
impl<T> Lock<T> {
    /// A lock around `value`.
    pub fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    /// The value, for its owner: no lock needed.
    pub fn into_inner(self) -> T {
        self.0
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Under loom, every lock is a plain `lock`: loom explores the interleavings itself.
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(all(test, not(loom)))]
impl<T> Lock<T> {
    /// Threads parked now, or about to park.
    fn sleepers(&self) -> usize {
        self.parking.sleepers.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
impl<T> LockGuard<'_, T> {
    /// Unlocks without looking for parked threads: the unlock that missed a thread counting
    /// itself, made on purpose.
    fn unlock_unseen(self) {
        let LockGuard { guard, _unparker } = self;
        drop(guard);
        std::mem::forget(_unparker);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::Lock;

    /// Real threads: waits (bounded) until `lock` has a parked thread.
    fn until_parked<T>(lock: &Lock<T>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock.sleepers() == 0 {
            assert!(Instant::now() < deadline, "the waiter never parked");
            std::thread::yield_now();
        }
    }

    /// Real threads: joins `thread`, failing (rather than hanging) if it is still running
    /// after a generous deadline.
    fn join_within<T>(thread: std::thread::JoinHandle<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the waiter never took the lock");
            std::thread::yield_now();
        }
        thread.join().expect("the waiter ran")
    }

    #[test]
    fn a_parked_waiter_takes_the_lock_when_it_is_released() {
        let lock = Arc::new(Lock::new(0u32));
        let held = lock.lock();
        let waiter = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                let mut value = lock.lock();
                *value += 1;
                *value
            })
        };
        until_parked(&lock);
        drop(held);
        assert_eq!(join_within(waiter), 1);
        assert_eq!(lock.sleepers(), 0);
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn a_wake_up_the_unlock_missed_delays_the_waiter_but_never_strands_it() {
        let lock = Arc::new(Lock::new(0u32));
        let held = lock.lock();
        let waiter = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                *lock.lock() += 1;
            })
        };
        until_parked(&lock);
        held.unlock_unseen();
        join_within(waiter);
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn contended_increments_all_land() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }

    #[test]
    fn a_poisoned_lock_is_taken_as_it_is() {
        let lock = Arc::new(Lock::new(1u32));
        let holder = Arc::clone(&lock);
        let _ = std::thread::spawn(move || {
            let _guard = holder.lock();
            panic!("poisons the lock");
        })
        .join();
        assert_eq!(*lock.lock(), 1);
    }
}
