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
//! After [`YIELDS`] rounds the waiter parks in the mutex itself (a futex on Linux), so a holder
//! that stays preempted costs no CPU. `cargo bench -p pc-benches --bench lock` measures it
//! against std's `Mutex` and parking_lot's.
//!
//! # Poisoning
//!
//! A lock is taken as it is even if a thread panicked while holding it: the queues of pc never
//! run user code under their lock (items are dropped and wakers woken after the unlock), so
//! their state is never left half-changed. Keep to the same rule under a lock of your own, or
//! check your state after a panic yourself.

#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};

/// How many times a contended [`Lock::lock`] yields the thread before it parks.
pub const YIELDS: usize = 4;

/// A mutex with a yield-first contended path.
///
/// It starts a cache line pair (128 bytes: the unit in which x86 prefetches and other cores
/// steal lines), so that the lock word and the first bytes of what it guards travel together,
/// and nothing outside it (an `Arc`'s counts) shares those lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Lock<T>(Mutex<T>);

/// What [`Lock::lock`] returns: the value, locked until the guard is dropped.
pub type LockGuard<'a, T> = MutexGuard<'a, T>;

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

    /// Locks, yielding the thread up to [`YIELDS`] times while the lock is held elsewhere,
    /// then parking until it is free.
    #[cfg(not(loom))]
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        match self.0.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    #[cfg(not(loom))]
    #[cold]
    fn lock_contended(&self) -> LockGuard<'_, T> {
        for _ in 0..YIELDS {
            std::thread::yield_now();
            match self.0.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Under loom, every lock is a plain `lock`: loom explores the interleavings itself.
    #[cfg(loom)]
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::Lock;

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
