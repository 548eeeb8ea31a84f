//! The atomics `Gcra` decides with: std's, or loom's under `--cfg loom`, so that the models in
//! `gcra.rs` explore every interleaving of concurrent decisions and changes.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// One turn of a wait for another thread's short critical section (a change of limits): a spin
/// hint, and every 64th turn the rest of the time slice, so a waiter never holds up the thread
/// it waits for.
#[inline]
pub(crate) fn pause(turn: &mut u32) {
    #[cfg(loom)]
    {
        let _ = turn;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        *turn = turn.wrapping_add(1);
        if turn.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}
