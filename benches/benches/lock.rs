//! The lock under pc's queues (`pc::sync::Lock`, yield-first contended path) against std's
//! `Mutex` and parking_lot's, on a critical section as short as a queue's: push one item to a
//! `VecDeque` and pop one. 100,000 critical sections per iteration, shared by 1, 2 or 4 threads
//! (on 2 cores, 4 threads means holders get preempted, the case the contended path is for).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use pc::sync::Lock;
use pc_benches::{MESSAGES, group};

/// A lock as the bench needs it: run `f` on the guarded queue.
trait BenchLock: Sync + Sized {
    fn new(queue: VecDeque<u64>) -> Self;
    fn with(&self, f: impl FnOnce(&mut VecDeque<u64>));
}

impl BenchLock for Lock<VecDeque<u64>> {
    fn new(queue: VecDeque<u64>) -> Self {
        Lock::new(queue)
    }
    fn with(&self, f: impl FnOnce(&mut VecDeque<u64>)) {
        f(&mut self.lock());
    }
}

impl BenchLock for Mutex<VecDeque<u64>> {
    fn new(queue: VecDeque<u64>) -> Self {
        Mutex::new(queue)
    }
    fn with(&self, f: impl FnOnce(&mut VecDeque<u64>)) {
        f(&mut self.lock().expect("not poisoned"));
    }
}

impl BenchLock for parking_lot::Mutex<VecDeque<u64>> {
    fn new(queue: VecDeque<u64>) -> Self {
        parking_lot::Mutex::new(queue)
    }
    fn with(&self, f: impl FnOnce(&mut VecDeque<u64>)) {
        f(&mut self.lock());
    }
}

/// `threads` threads share `MESSAGES` critical sections on one lock; returns the time taken.
fn contend<L: BenchLock>(threads: u64) -> Duration {
    let lock = L::new((0..64).collect());
    let per_thread = MESSAGES / threads;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for i in 0..per_thread {
                    lock.with(|queue| {
                        queue.push_back(i);
                        let head = queue.pop_front().expect("never empty");
                        std::hint::black_box(head);
                    });
                }
            });
        }
    });
    start.elapsed()
}

fn bench<L: BenchLock>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, threads: u64) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| contend::<L>(threads)).sum())
    });
}

fn lock(c: &mut Criterion) {
    for threads in [1, 2, 4] {
        let mut g = group(c, &format!("lock-{threads}t"));
        bench::<Lock<VecDeque<u64>>>(&mut g, "pc", threads);
        bench::<Mutex<VecDeque<u64>>>(&mut g, "std", threads);
        bench::<parking_lot::Mutex<VecDeque<u64>>>(&mut g, "parking_lot", threads);
        g.finish();
    }
}

criterion_group!(benches, lock);
criterion_main!(benches);
