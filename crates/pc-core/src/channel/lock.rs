//! The channel's one lock: a mutex whose contended path yields the thread a few times before
//! it parks, and never spins without bound.
//!
//! Critical sections here last tens of nanoseconds, about as long as one `PAUSE`, so a backoff
//! that pauses loses to one that gives the core away: a holder preempted on a 2-core machine is
//! rescheduled sooner when the waiters yield. After [`YIELDS`] rounds the waiter parks in the
//! mutex itself (a futex on Linux), so a holder that stays preempted costs no CPU.
//!
//! A panic inside a critical section cannot happen in user code (items are never dropped and
//! wakers never woken under the lock), so a poisoned lock is taken as it is.

#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};

/// How many times a contended `lock` yields the thread before it parks.
#[cfg(not(loom))]
const YIELDS: usize = 4;

/// A mutex with a yield-first contended path.
#[derive(Debug, Default)]
pub(crate) struct Lock<T>(Mutex<T>);

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    /// Locks, yielding the thread up to [`YIELDS`] times while the lock is held elsewhere,
    /// then parking until it is free.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        match self.0.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    #[cfg(not(loom))]
    #[cold]
    fn lock_contended(&self) -> MutexGuard<'_, T> {
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
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
