//! Rate-limit decisions: `Gcra::try_acquire` against governor's `check()` on 1 and 2 threads,
//! `TokenBucket::try_acquire` and `acquire` against leaky-bucket's.
//!
//! Every limiter gets the same quota: 1,000,000 permits per second, burst 1,000. A decision
//! takes a few nanoseconds, so after the first burst most are refusals: the steady state of a
//! limiter on a hot path.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pc::ratelimit::{Gcra, TokenBucket};

const RATE: u32 = 1_000_000;
const BURST: u32 = 1_000;
/// Decisions per thread per measured iteration in the threaded cases.
const PER_THREAD: u64 = 100_000;

fn governor() -> governor::DefaultDirectRateLimiter {
    let quota = governor::Quota::per_second(NonZeroU32::new(RATE).expect("positive"))
        .allow_burst(NonZeroU32::new(BURST).expect("positive"));
    governor::RateLimiter::direct(quota)
}

fn gcra() -> Gcra {
    // The TSC clock, as governor uses: what is compared is the decision, not the clock.
    Gcra::builder()
        .rate(f64::from(RATE))
        .burst(BURST)
        .fast_clock(true)
        .build()
        .expect("valid")
}

fn token_bucket() -> TokenBucket {
    TokenBucket::builder()
        .rate(f64::from(RATE))
        .burst(BURST)
        .build()
        .expect("valid")
}

fn leaky_bucket() -> leaky_bucket::RateLimiter {
    // 1,000 permits every millisecond is the same million per second.
    leaky_bucket::RateLimiter::builder()
        .max(BURST as usize)
        .initial(BURST as usize)
        .refill(1_000)
        .interval(Duration::from_millis(1))
        .build()
}

/// Runs `decide` `PER_THREAD` times on each of `threads` threads at once.
fn threaded(threads: usize, decide: Arc<dyn Fn() -> bool + Send + Sync>) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let decide = Arc::clone(&decide);
            std::thread::spawn(move || {
                let mut allowed = 0u64;
                for _ in 0..PER_THREAD {
                    allowed += u64::from(decide());
                }
                allowed
            })
        })
        .collect();
    for handle in handles {
        std::hint::black_box(handle.join().expect("thread"));
    }
    start.elapsed()
}

fn gcra_vs_governor(c: &mut Criterion) {
    let mut g = c.benchmark_group("gcra-1thread");
    g.throughput(Throughput::Elements(1));
    let ours = gcra();
    g.bench_function("pc", |b| b.iter(|| ours.try_acquire(1).is_ok()));
    let theirs = governor();
    g.bench_function("governor", |b| b.iter(|| theirs.check().is_ok()));
    g.finish();

    {
        let threads = 2usize;
        let mut g = c.benchmark_group(format!("gcra-{threads}threads"));
        g.throughput(Throughput::Elements(PER_THREAD * threads as u64));
        g.sample_size(20);
        let ours = Arc::new(gcra());
        g.bench_function("pc", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let ours = Arc::clone(&ours);
                        threaded(threads, Arc::new(move || ours.try_acquire(1).is_ok()))
                    })
                    .sum()
            })
        });
        let theirs = Arc::new(governor());
        g.bench_function("governor", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let theirs = Arc::clone(&theirs);
                        threaded(threads, Arc::new(move || theirs.check().is_ok()))
                    })
                    .sum()
            })
        });
        g.finish();
    }
}

fn token_bucket_vs_leaky_bucket(c: &mut Criterion) {
    let mut g = c.benchmark_group("bucket-try_acquire");
    g.throughput(Throughput::Elements(1));
    let ours = token_bucket();
    g.bench_function("pc", |b| b.iter(|| ours.try_acquire(1).is_ok()));
    let theirs = leaky_bucket();
    g.bench_function("leaky-bucket", |b| b.iter(|| theirs.try_acquire(1)));
    g.finish();

    // `acquire` with permits to spare: the cost of the call, not of waiting.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("bucket-acquire");
    g.throughput(Throughput::Elements(1));
    let ours = TokenBucket::builder()
        .rate(1e9)
        .burst(u32::MAX)
        .build()
        .expect("valid");
    g.bench_function("pc", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ours.acquire(1).await.expect("under the burst");
                }
                start.elapsed()
            })
        })
    });
    let theirs = leaky_bucket::RateLimiter::builder()
        .max(usize::MAX / 2)
        .initial(usize::MAX / 2)
        .build();
    g.bench_function("leaky-bucket", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    theirs.acquire(1).await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, gcra_vs_governor, token_bucket_vs_leaky_bucket);
criterion_main!(benches);
