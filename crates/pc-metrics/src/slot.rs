//! A small number per live thread, so that each thread can own a shard of counters.
//!
//! Numbers are handed out lowest-free first and given back when their thread exits, so they
//! stay as dense as the set of live threads: a runtime's workers keep low numbers however many
//! short-lived threads come and go.

use std::cell::Cell;
use std::sync::{Mutex, PoisonError};

/// Numbers given back by exited threads, and the next never-used one.
struct Free {
    returned: Vec<usize>,
    next: usize,
}

static FREE: Mutex<Free> = Mutex::new(Free {
    returned: Vec::new(),
    next: 0,
});

/// The thread's number, given back when the thread exits.
struct Slot(Cell<Option<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slot) = self.0.get() {
            FREE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .returned
                .push(slot);
        }
    }
}

thread_local! {
    static SLOT: Slot = const { Slot(Cell::new(None)) };
}

/// The calling thread's number: unique among live threads, and small.
#[inline]
pub(crate) fn current() -> usize {
    SLOT.try_with(|slot| match slot.0.get() {
        Some(n) => n,
        None => {
            let n = take();
            slot.0.set(Some(n));
            n
        }
    })
    // A thread tearing down its thread-locals has no number of its own any more.
    .unwrap_or(usize::MAX)
}

#[cold]
fn take() -> usize {
    let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
    // Lowest first, so the numbers of long-lived threads stay low.
    match free
        .returned
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
    {
        Some(i) => free.returned.swap_remove(i),
        None => {
            free.next += 1;
            free.next - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::current;

    #[test]
    fn live_threads_have_distinct_stable_numbers() {
        let here = current();
        assert_eq!(current(), here, "stable within a thread");
        let barrier = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let n = current();
                    // All four are alive at once here.
                    barrier.wait();
                    n
                })
            })
            .collect();
        let mut numbers: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        numbers.push(here);
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 5, "{numbers:?}");
    }
}
