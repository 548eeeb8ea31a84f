//! The limiters at each edge of the checklist (`shared/EDGES.md`), one section per edge, and
//! the rate bound as a property over random settings.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use pc_core::{DropReason, Probe, ProduceError, ProduceErrorKind, Producer, WaitKind};
use pc_ratelimit::{Gcra, KeyedLimiter, Throttled, TokenBucket, TryAcquireError, throttle};
use proptest::prelude::*;
use support::bucket;
use tokio::time::Instant;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_ok};

/// Spawns `acquire(n)` on the bucket and returns the instant it was granted, from `start`.
fn timed_acquire(
    bucket: &TokenBucket,
    n: u32,
    start: Instant,
) -> tokio::task::JoinHandle<Duration> {
    let bucket = bucket.clone();
    tokio::spawn(async move {
        bucket.acquire(n).await.unwrap();
        start.elapsed()
    })
}

// ## 1. Cancellation at every await point

/// Defect: a cancelled waiter's refund went to newcomers; the waiter behind it kept its time.
#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_moves_the_ones_behind_it_up() {
    let start = Instant::now();
    let bucket = bucket(1.0, 5);
    bucket.try_acquire(5).unwrap();
    let a = timed_acquire(&bucket, 5, start);
    tokio::task::yield_now().await;
    let b = timed_acquire(&bucket, 1, start);
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    // One permit has refilled by 1 s: B's, at once.
    assert_eq!(b.await.unwrap(), Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bucket.try_acquire(1).is_err(), "nothing refilled since B");
    tokio::time::sleep(Duration::from_millis(500)).await;
    bucket.try_acquire(1).unwrap();
    assert_eq!(bucket.stats().granted, 7);
}

/// Defect: with burst 1, a cancellation let a newcomer be granted at the same instant as the
/// waiter behind the cancelled one.
#[tokio::test(start_paused = true)]
async fn a_cancellation_never_grants_two_permits_at_once_with_burst_one() {
    let start = Instant::now();
    let bucket = bucket(1.0, 1);
    bucket.try_acquire(1).unwrap();
    let a = timed_acquire(&bucket, 1, start);
    tokio::task::yield_now().await;
    let b = timed_acquire(&bucket, 1, start);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.abort();
    let c = timed_acquire(&bucket, 1, start);
    assert_eq!(b.await.unwrap(), Duration::from_secs(1));
    assert_eq!(c.await.unwrap(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_throttled_stream_item_refunds_its_permit() {
    let bucket = bucket(1.0, 1);
    let mut paced = throttle(futures_util::stream::iter([1, 2]), bucket.clone());
    assert_eq!(paced.next().await, Some(1));
    {
        let mut next = spawn(paced.next());
        assert_pending!(next.poll());
    }
    drop(paced);
    // The held item's permit came back: the next whole permit is at 1 s, as if unasked.
    let start = Instant::now();
    bucket.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

// ## 3. Fairness between waiters and newcomers

#[tokio::test(start_paused = true)]
async fn try_acquire_never_takes_what_a_waiter_is_owed() {
    let bucket = bucket(10.0, 2);
    bucket.try_acquire(2).unwrap();
    let mut waiter = spawn(bucket.acquire(2));
    assert_pending!(waiter.poll());
    for _ in 0..20 {
        tokio::time::advance(Duration::from_millis(9)).await;
        assert!(bucket.try_acquire(1).is_err());
    }
    // 180 ms in: both of the waiter's permits exist at 200 ms.
    tokio::time::advance(Duration::from_millis(20)).await;
    assert!(waiter.is_woken());
    assert_ready_ok!(waiter.poll());
}

// ## 4. Extreme durations

#[tokio::test(start_paused = true)]
async fn acquire_timeout_with_zero_and_max() {
    let bucket = bucket(1.0, 1);
    bucket.acquire_timeout(1, Duration::ZERO).await.unwrap();
    assert!(bucket.acquire_timeout(1, Duration::ZERO).await.is_err());
    let start = Instant::now();
    bucket.acquire_timeout(1, Duration::MAX).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let throttled = Throttled::new(
        pc_core::channel::bounded::<u32>(1).unwrap().0,
        bucket.clone(),
    );
    assert!(throttled.send_timeout(1, Duration::ZERO).await.is_err());
}

#[test]
fn keyed_idle_of_zero_is_an_error_and_max_keeps_keys() {
    let err = KeyedLimiter::builder()
        .rate(1.0)
        .burst(1)
        .idle(Duration::ZERO);
    assert_eq!(err.build::<u8>().unwrap_err().setting(), "idle");
    let keyed = KeyedLimiter::builder()
        .rate(1.0)
        .burst(1)
        .idle(Duration::MAX)
        .build::<u8>()
        .unwrap();
    keyed.try_acquire(&1, 1).unwrap();
    keyed.evict_idle();
    assert_eq!(keyed.len(), 1);
}

// ## 5. Extreme numbers

/// Walk: `shards(usize::MAX)` asked for that many locks up front; it is a typed error now.
#[test]
fn too_many_shards_are_a_typed_error() {
    let builder = || KeyedLimiter::builder().rate(1.0).burst(1);
    let err = builder().shards(usize::MAX).build::<u8>().unwrap_err();
    assert_eq!(err.setting(), "shards");
    builder()
        .shards(pc_ratelimit::MAX_SHARDS)
        .build::<u8>()
        .unwrap();
}

/// Counts what `try_acquire(1)` grants over `span_ns`, called until refused at every
/// nanosecond, and checks `burst + rate x elapsed` at every grant.
async fn grants_never_exceed(
    rate: f64,
    burst: u32,
    span_ns: u64,
    try_acquire: impl Fn() -> bool,
) -> u64 {
    let start = Instant::now();
    let mut granted = 0u64;
    for t in 0..=span_ns {
        while try_acquire() {
            granted += 1;
            let bound = f64::from(burst) + rate * t as f64 / 1e9;
            assert!(granted as f64 <= bound, "{rate}/s: {granted} by {t} ns");
        }
        tokio::time::advance(Duration::from_nanos(1)).await;
    }
    assert_eq!(start.elapsed(), Duration::from_nanos(span_ns + 1));
    granted
}

/// Defect: a `1/rate` that is not a whole number of nanoseconds was rounded to the nearest
/// one: 7e8/s granted 1e9/s, 4.4e8/s granted 5e8/s.
#[tokio::test(start_paused = true)]
async fn fractional_intervals_never_run_faster_than_the_rate() {
    for (rate, ticks) in [(7e8, 23), (4.4e8, 37), (3e8, 54)] {
        let gcra = Gcra::builder().rate(rate).burst(16).build().unwrap();
        let bucket = bucket(rate, 16);
        let keyed = KeyedLimiter::builder()
            .rate(rate)
            .burst(16)
            .build()
            .unwrap();
        // A full burst, then one permit per `ticks` sixteenths of a nanosecond: over 20 us,
        // 7e8/s allows 13,929 where a whole-nanosecond interval gave 20,016.
        let expected = 16 + 20_000 * 16 / ticks;
        let granted = grants_never_exceed(rate, 16, 20_000, || gcra.try_acquire(1).is_ok()).await;
        assert_eq!(granted, expected, "Gcra at {rate}");
        let granted = grants_never_exceed(rate, 16, 20_000, || bucket.try_acquire(1).is_ok()).await;
        assert_eq!(granted, expected, "TokenBucket at {rate}");
        let granted =
            grants_never_exceed(rate, 16, 20_000, || keyed.try_acquire(&0u8, 1).is_ok()).await;
        assert_eq!(granted, expected, "KeyedLimiter at {rate}");
    }
}

/// Defect: `burst x interval` overflowed on valid settings (a panic in debug builds), and then
/// every setting whose burst took more than about 9 years to refill was refused
/// (`rate(1e-9)` with a burst of 20, `rate(1.0)` with `burst(u32::MAX)`). Any rate above 0
/// with any burst now builds, and keeps its rate exactly: one permit every 2^30 s (34 years)
/// here, a rate a binary fraction holds exactly.
#[tokio::test(start_paused = true)]
async fn any_rate_above_zero_with_any_burst_builds_and_keeps_its_rate() {
    for (rate, burst) in [(1e-9, 20), (1.0, u32::MAX), (1e-300, u32::MAX), (1e-12, 1)] {
        assert!(
            TokenBucket::builder()
                .rate(rate)
                .burst(burst)
                .build()
                .is_ok()
        );
        assert!(Gcra::builder().rate(rate).burst(burst).build().is_ok());
        let keyed = KeyedLimiter::builder().rate(rate).burst(burst);
        assert!(keyed.build::<u8>().is_ok());
    }
    let rate = 2f64.powi(-30);
    let interval = Duration::from_secs(1 << 30);
    let start = Instant::now();
    let gcra = Gcra::builder().rate(rate).burst(20).build().unwrap();
    let slow = bucket(rate, 20);
    let keyed = KeyedLimiter::builder()
        .rate(rate)
        .burst(20)
        .idle(Duration::MAX)
        .build::<u8>()
        .unwrap();
    gcra.try_acquire_at(20, start).unwrap();
    slow.try_acquire(20).unwrap();
    keyed.try_acquire(&0, 20).unwrap();
    let Err(TryAcquireError::Insufficient(gcra_wait)) = gcra.try_acquire_at(1, start) else {
        panic!("the burst is spent");
    };
    assert_eq!(gcra_wait.retry_at(), start + interval);
    let Err(TryAcquireError::Insufficient(slow_wait)) = slow.try_acquire(1) else {
        panic!("the burst is spent");
    };
    assert_eq!(slow_wait.retry_at(), start + interval);
    assert!(keyed.try_acquire(&0, 1).is_err());
    assert!(
        gcra.try_acquire_at(1, start + interval - Duration::from_nanos(1))
            .is_err()
    );
    gcra.try_acquire_at(1, start + interval).unwrap();
    tokio::time::advance(interval - Duration::from_nanos(1)).await;
    assert!(slow.try_acquire(1).is_err());
    assert!(keyed.try_acquire(&0, 1).is_err());
    tokio::time::advance(Duration::from_nanos(1)).await;
    slow.try_acquire(1).unwrap();
    keyed.try_acquire(&0, 1).unwrap();
    assert!(keyed.try_acquire(&0, 1).is_err());

    // One a second with the largest burst: all of it at once, then one each second.
    let start = Instant::now();
    let wide = Gcra::builder().rate(1.0).burst(u32::MAX).build().unwrap();
    wide.try_acquire_at(u32::MAX, start).unwrap();
    assert!(
        wide.try_acquire_at(1, start + Duration::from_millis(999))
            .is_err()
    );
    wide.try_acquire_at(1, start + Duration::from_secs(1))
        .unwrap();
    wide.try_acquire_at(2, start + Duration::from_secs(3))
        .unwrap();
    assert!(
        wide.try_acquire_at(1, start + Duration::from_secs(3))
            .is_err()
    );

    // A rate no clock reaches the next permit of: the burst, then never again.
    let never = bucket(1e-300, 3);
    never.try_acquire(3).unwrap();
    tokio::time::advance(Duration::from_secs(1 << 40)).await;
    let Err(TryAcquireError::Insufficient(wait)) = never.try_acquire(1) else {
        panic!("no permit in 2^40 s at 1e-300/s");
    };
    assert!(wait.retry_at() > Instant::now() + Duration::from_secs(1 << 60));
    let mut forever = spawn(never.acquire_timeout(1, Duration::MAX));
    assert_pending!(forever.poll());
}

/// A bucket's burst and rate change to any value, its permits owed kept: after a burst of 10
/// is spent at one a second, a burst of `u32::MAX` has `u32::MAX - 10` available, and the
/// missing ten come back at one a second.
#[tokio::test(start_paused = true)]
async fn a_bucket_takes_any_new_burst_or_rate() {
    let bucket = bucket(1.0, 10);
    bucket.try_acquire(10).unwrap();
    bucket.set_burst(u32::MAX).unwrap();
    assert_eq!(bucket.available(), u32::MAX - 10);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(bucket.available(), u32::MAX - 9);
    bucket.set_rate(1e-12).unwrap();
    assert!(bucket.rate() <= 1e-12 && bucket.rate() > 1e-12 * (1.0 - 1e-8));
    tokio::time::advance(Duration::from_secs(1 << 30)).await;
    assert_eq!(bucket.available(), u32::MAX - 9);
    bucket.set_rate(1e9).unwrap();
    bucket.set_burst(5).unwrap();
    // Nine permits owed at the new rate: 9 ns, then the burst of 5 is back within 5 ns more.
    assert_eq!(bucket.available(), 0);
    tokio::time::advance(Duration::from_nanos(14)).await;
    assert_eq!(bucket.available(), 5);
}

#[tokio::test(start_paused = true)]
async fn the_extremes_that_fit_work_exactly() {
    // The top rate with the largest burst: all at once, then one a nanosecond.
    let top = bucket(1e9, u32::MAX);
    top.try_acquire(u32::MAX).unwrap();
    assert!(top.try_acquire(1).is_err());
    let start = Instant::now();
    top.acquire(1000).await.unwrap();
    // Ready after 1 us; tokio's timer fires on the next millisecond.
    assert_eq!(start.elapsed(), Duration::from_millis(1));
    // A slow rate: one permit in 1,000 s.
    let slow = bucket(1e-3, 2);
    slow.try_acquire(2).unwrap();
    let start = Instant::now();
    slow.acquire(2).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2000));
}

/// Defect: `acquire(0)` waited behind queued waiters, `try_acquire(0)` was refused while
/// permits were owed.
#[tokio::test(start_paused = true)]
async fn a_request_for_nothing_succeeds_at_once() {
    let bucket = bucket(1.0, 1);
    bucket.try_acquire(1).unwrap();
    let mut owed = spawn(bucket.acquire(1));
    assert_pending!(owed.poll());
    let mut nothing = spawn(bucket.acquire(0));
    assert_ready_ok!(nothing.poll());
    bucket.try_acquire(0).unwrap();
    bucket.acquire_timeout(0, Duration::ZERO).await.unwrap();
    let gcra = Gcra::builder().rate(1.0).burst(1).build().unwrap();
    gcra.try_acquire(1).unwrap();
    gcra.try_acquire(0).unwrap();
    let keyed = KeyedLimiter::builder().rate(1.0).burst(1).build().unwrap();
    keyed.try_acquire(&"k", 1).unwrap();
    keyed.try_acquire(&"k", 0).unwrap();
    drop(nothing);
    assert_eq!(bucket.stats().granted, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_ready_ok!(owed.poll());
}

/// Defect 10: `set_rate` rescaled the bucket but a waiter kept its old cost, so a later
/// cancellation refunded the old amount: at a doubled rate, a full second instead of half,
/// and a newcomer was granted at once with the bucket empty.
#[tokio::test(start_paused = true)]
async fn a_cancellation_after_set_rate_refunds_at_the_new_rate() {
    let start = Instant::now();
    let bucket = bucket(1.0, 1);
    bucket.try_acquire(1).unwrap();
    let mut waiter = spawn(bucket.acquire(1));
    assert_pending!(waiter.poll());
    bucket.set_rate(2.0).unwrap();
    assert!(waiter.is_woken(), "its time moved: it must sleep anew");
    assert_pending!(waiter.poll());
    drop(waiter);
    assert!(bucket.try_acquire(1).is_err(), "the bucket is empty");
    bucket.acquire(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn set_rate_and_set_burst_move_a_sleeping_waiter() {
    let start = Instant::now();
    let bucket = bucket(1.0, 1);
    bucket.try_acquire(1).unwrap();
    let waiter = timed_acquire(&bucket, 1, start);
    tokio::task::yield_now().await;
    bucket.set_rate(4.0).unwrap();
    assert_eq!(waiter.await.unwrap(), Duration::from_millis(250));
    // Drained again at 250 ms: the next permit is at 500 ms, until a burst of 2 makes room.
    let waiter = timed_acquire(&bucket, 1, start);
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    bucket.set_burst(2).unwrap();
    assert_eq!(waiter.await.unwrap(), Duration::from_millis(250));
}

// ## 7. Shutdown: a bucket has no task; a `Throttled` producer closed while its send waits
// for a permit still waits for it, then reports the close.

#[tokio::test(start_paused = true)]
async fn a_throttled_send_to_a_closed_producer_spends_nothing() {
    let bucket = bucket(1.0, 1);
    let (tx, rx) = pc_core::channel::bounded::<u32>(1).unwrap();
    let throttled = Throttled::new(tx, bucket.clone());
    rx.close();
    assert!(throttled.send(1).await.is_err());
    assert_eq!(bucket.available(), 1);
    let mut send = spawn(throttled.send(2));
    assert!(assert_ready!(send.poll()).is_err());
}

// ## 9. Weak memory: tested in src/gcra.rs (the loom model of `Gcra`'s compare-and-swap) and
// tests/concurrency.rs (exact counts across threads); `KeyedLimiter` and `TokenBucket` decide
// under a lock.
//
// ## 6. User code that panics
//
// A `KeyedLimiter` runs its keys' `Hash`, `Eq` and `Clone`, some of it under a shard's lock;
// `Throttled` runs the inner producer and `throttle` polls the inner stream, both in the
// caller's task, so their panics reach the caller directly.

/// A key whose `Hash` panics for 13 and whose `Clone` panics for 7.
#[derive(Debug, PartialEq, Eq)]
struct Fussy(u8);

impl std::hash::Hash for Fussy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        assert!(self.0 != 13, "cannot hash 13");
        self.0.hash(state);
    }
}

impl Clone for Fussy {
    fn clone(&self) -> Self {
        assert!(self.0 != 7, "cannot clone 7");
        Self(self.0)
    }
}

/// Walk: a key that panics in `Hash` or `Clone` fails that call alone: nothing is taken for it,
/// the shard it panicked under still serves, and every other key keeps its exact limit.
#[test]
fn a_key_that_panics_fails_that_call_alone() {
    let keyed = KeyedLimiter::builder()
        .rate(1.0)
        .burst(1)
        .shards(1)
        .build::<Fussy>()
        .unwrap();
    keyed.try_acquire(&Fussy(1), 1).unwrap();
    for fussy in [13, 7] {
        let call = std::panic::catch_unwind(|| keyed.try_acquire(&Fussy(fussy), 1));
        assert!(call.is_err(), "the key's panic reaches the caller");
    }
    assert_eq!(keyed.len(), 1, "no state for the keys that panicked");
    assert!(
        keyed.try_acquire(&Fussy(1), 1).is_err(),
        "key 1 is still spent"
    );
    keyed.try_acquire(&Fussy(2), 1).unwrap();
    assert_eq!(keyed.len(), 2);
}

// ## 2. The abandoned registration does not apply: no registration lives in a handle; a
// `TokenBucket` wait's place is in the bucket and withdrawn when the wait is dropped
// (tests/bucket.rs, `a_cancelled_wait_gives_back_exactly_what_it_paid`).

// ## 8. Bounded memory: also tested in tests/keyed.rs (one TAT per key, swept after `idle`).

/// Defect: each shard swept itself only when a key of its own was used, so keys in shards
/// nobody used any more stayed for good, against "bounded by the keys active within idle".
/// Any decision `idle` after the last sweep now sweeps every shard.
#[tokio::test(start_paused = true)]
async fn keys_in_shards_nobody_uses_are_swept_too() {
    let limiter = KeyedLimiter::builder()
        .rate(100.0)
        .burst(1)
        .idle(Duration::from_secs(10))
        .shards(64)
        .build::<u32>()
        .unwrap();
    for key in 0..1000 {
        limiter.try_acquire(&key, 1).unwrap();
    }
    assert_eq!(limiter.len(), 1000);
    tokio::time::advance(Duration::from_secs(11)).await;
    // One key, in one shard, is used from now on.
    limiter.try_acquire(&0, 1).unwrap();
    assert_eq!(limiter.len(), 1);
    // The next sweep is due 10 s after this one, not before.
    limiter.try_acquire(&1, 1).unwrap();
    tokio::time::advance(Duration::from_secs(9)).await;
    limiter.try_acquire(&2, 1).unwrap();
    assert_eq!(limiter.len(), 3);
    tokio::time::advance(Duration::from_secs(2)).await;
    limiter.try_acquire(&3, 1).unwrap();
    assert_eq!(
        limiter.len(),
        2,
        "0 and 1 idle for 11 s, 2 for 2 s, 3 just used"
    );
}

// ## 10. Promises across composition: tested in tests/throttle.rs (`Throttled` and `throttle`
// keep the rate over a producer and a stream) and the facade's tests/edges.rs.

// ## 11. Hidden order assumptions: tested in tests/bucket.rs
// (`waiters_are_served_in_arrival_order`, `try_acquire_does_not_jump_the_queue`).

// ## 12. Errors and probes that tell the truth: errors are tested in tests/bucket.rs
// (`over_burst_and_timeouts_are_immediate_errors`: `OverBurst`, `Insufficient`, `Timeout`,
// never a close); the probe against the stats, and permits spent for nothing, here.

/// Everything a probe was told, in the bucket's stats' terms.
#[derive(Debug, Default)]
struct Told {
    produced: AtomicU64,
    consumed: AtomicU64,
    dropped_full: AtomicU64,
    other_drops: AtomicU64,
    waiting: AtomicI64,
    waited_ns: AtomicU64,
}

impl Probe for Told {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
    }
    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }
    fn dropped(&self, n: u64, reason: DropReason) {
        let count = match reason {
            DropReason::Full => &self.dropped_full,
            _ => &self.other_drops,
        };
        count.fetch_add(n, Ordering::Relaxed);
    }
    fn wait_started(&self, _: WaitKind) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }
    fn wait_ended(&self, _: WaitKind) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }
    fn waited(&self, _: WaitKind, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap();
        self.waited_ns.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Told {
    /// Whether the probe heard exactly what the stats say.
    #[track_caller]
    fn agrees_with(&self, bucket: &TokenBucket, step: &str) {
        let stats = bucket.stats();
        let load = |count: &AtomicU64| count.load(Ordering::Relaxed);
        assert_eq!(load(&self.produced), stats.granted, "granted after {step}");
        assert_eq!(load(&self.consumed), stats.granted, "granted after {step}");
        assert_eq!(
            load(&self.dropped_full),
            stats.rejected,
            "refused after {step}"
        );
        assert_eq!(load(&self.other_drops), 0, "{step}");
        let waiting = self.waiting.load(Ordering::Relaxed);
        assert_eq!(waiting, stats.waiting as i64, "waiting after {step}");
        assert_eq!(
            load(&self.waited_ns),
            stats.waited.as_nanos() as u64,
            "{step}"
        );
    }
}

/// Defect: a permit `Throttled::try_send` gave back (its inner producer refused the item) was
/// taken off the stats' `granted` but not off the probe's count (the probe said 2 granted,
/// the stats 1); a cancelled wait added nothing to the stats' `waited` and its time to the
/// probe's; a refusal of `n` permits was one in the stats and `n` in the probe, a request over
/// the burst one and none. Walked over every path of the bucket and `Throttled`, the probe
/// and the stats agree after each step.
#[tokio::test(start_paused = true)]
async fn a_bucket_probe_agrees_with_its_stats_on_every_path() {
    let told = Arc::new(Told::default());
    let bucket = TokenBucket::builder()
        .rate(10.0)
        .burst(2)
        .probe(told.clone())
        .build()
        .unwrap();
    bucket.try_acquire(1).unwrap();
    told.agrees_with(&bucket, "a grant");
    assert!(bucket.try_acquire(2).is_err());
    told.agrees_with(&bucket, "a refusal of 2");
    assert!(bucket.try_acquire(3).is_err());
    assert!(bucket.acquire(3).await.is_err());
    told.agrees_with(&bucket, "requests over the burst");
    bucket.acquire(2).await.unwrap();
    told.agrees_with(&bucket, "a wait");
    {
        let mut cancelled = spawn(bucket.acquire(1));
        assert_pending!(cancelled.poll());
        tokio::time::advance(Duration::from_millis(30)).await;
        told.agrees_with(&bucket, "a wait under way");
    }
    told.agrees_with(&bucket, "a cancelled wait");
    assert!(
        bucket
            .acquire_timeout(2, Duration::from_millis(10))
            .await
            .is_err()
    );
    told.agrees_with(&bucket, "a timeout");

    // Through a producer whose inner queue is full, then closed.
    tokio::time::advance(Duration::from_secs(1)).await;
    let (tx, rx) = pc_core::channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let throttled = Throttled::new(tx, bucket.clone());
    let granted = bucket.stats().granted;
    assert_eq!(
        throttled.try_send(1).map_err(ProduceError::into_parts),
        Err((ProduceErrorKind::Full, 1))
    );
    told.agrees_with(&bucket, "an item the inner producer refused");
    assert_eq!((bucket.stats().granted, bucket.available()), (granted, 2));
    let timed_out = throttled.send_timeout(2, Duration::from_millis(50)).await;
    assert_eq!(
        timed_out.map_err(ProduceError::into_parts),
        Err((ProduceErrorKind::TimedOut, 2))
    );
    told.agrees_with(&bucket, "an inner send that timed out");
    {
        let mut cancelled = spawn(throttled.send(3));
        assert_pending!(cancelled.poll());
    }
    told.agrees_with(&bucket, "a send cancelled in the inner wait");
    assert_eq!(bucket.available(), 2);
    assert_eq!(rx.try_recv(), Ok(0));
    throttled.send(4).await.unwrap();
    told.agrees_with(&bucket, "a throttled send");
    assert_eq!(bucket.stats().granted, granted + 1);
    let items: Vec<u32> = throttle(futures_util::stream::iter([5, 6, 7]), bucket.clone())
        .collect()
        .await;
    assert_eq!(items, [5, 6, 7]);
    told.agrees_with(&bucket, "a throttled stream");
    assert_eq!(bucket.stats().granted, granted + 4);
}

/// Defect: `Throttled::send_timeout` spent its permit when the inner send then timed out: the
/// bucket was a permit short for an item that never went out.
#[tokio::test(start_paused = true)]
async fn a_throttled_send_that_times_out_inside_gives_its_permit_back() {
    let bucket = bucket(1.0, 1);
    let (tx, _rx) = pc_core::channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let throttled = Throttled::new(tx, bucket.clone());
    let timed_out = throttled.send_timeout(1, Duration::from_millis(10)).await;
    assert_eq!(
        timed_out.map_err(ProduceError::into_parts),
        Err((ProduceErrorKind::TimedOut, 1))
    );
    assert_eq!(bucket.available(), 1);
    assert_eq!(bucket.stats().granted, 0);
}

// ## The rate bound, over random settings

/// `rate` as an exact fraction `mantissa / 2^shift` (rates here are below 2^30, so the
/// exponent is negative).
fn exact(rate: f64) -> (u128, u32) {
    let bits = rate.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let shift = 1075 - exponent;
    assert!(shift > 0);
    (u128::from(mantissa), shift as u32)
}

/// Whether `granted` permits within `elapsed_ns` keep to `burst + rate x elapsed`, exactly.
fn within_bound(granted: u64, burst: u32, rate: f64, elapsed_ns: u64) -> bool {
    let Some(over) = granted.checked_sub(u64::from(burst)) else {
        return true;
    };
    let (mantissa, shift) = exact(rate);
    // over <= rate * elapsed / 1e9  <=>  over * 1e9 <= floor(mantissa * elapsed / 2^shift)
    let allowed = (mantissa * u128::from(elapsed_ns))
        .checked_shr(shift)
        .unwrap_or(0);
    u128::from(over) * 1_000_000_000 <= allowed
}

fn rates() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Log-uniform from 1e-21 to 1e9 per second: fractional intervals almost always, and
        // bursts that take from nanoseconds to far past any clock's range to refill.
        (-21.0f64..9.0).prop_map(|exp| 10f64.powf(exp)),
        prop::sample::select(vec![
            1e9,
            7e8,
            4.4e8,
            3e8,
            1.0 / 3.0,
            1.0,
            0.1,
            1e-9,
            1e-300
        ]),
    ]
}

fn bursts() -> impl Strategy<Value = u32> {
    prop_oneof![
        1u32..16,
        prop::sample::select(vec![u32::MAX, u32::MAX / 3, 1 << 20])
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No decision ever lets more than `burst + rate x elapsed` through, over any window of
    /// grants, for any rate above 0, any burst and any request sizes, and every such setting
    /// builds.
    #[test]
    fn no_decision_exceeds_burst_plus_rate_times_elapsed(
        rate in rates(),
        burst in bursts(),
        steps in prop::collection::vec((0u64..4_000, 1u32..=u32::MAX, any::<bool>()), 1..120),
    ) {
        let gcra = Gcra::builder().rate(rate).burst(burst).build().unwrap();
        let interval_ns = (1e9 / rate).max(1.0);
        let start = Instant::now();
        let mut now_ns = 0u64;
        let mut grants: Vec<(u64, u64)> = Vec::new();
        for (advance, n, whole) in steps {
            // Steps in thousandths of an interval, capped so time stays within a century.
            let step = (interval_ns * advance as f64 / 1000.0).min(1e18) as u64;
            now_ns = now_ns.saturating_add(step).min(3_000_000_000_000_000_000);
            let n = if whole { n % burst.min(64) + 1 } else { n % burst + 1 };
            if gcra.try_acquire_at(n, start + Duration::from_nanos(now_ns)).is_ok() {
                grants.push((now_ns, u64::from(n)));
            }
        }
        for i in 0..grants.len() {
            let mut sum = 0u64;
            for grant in &grants[i..] {
                sum += grant.1;
                prop_assert!(
                    within_bound(sum, burst, rate, grant.0 - grants[i].0),
                    "{} granted in {} ns at {}/s, burst {}", sum, grant.0 - grants[i].0, rate, burst
                );
            }
        }
    }
}

// ## The randomized contract test: `Throttled` runs in the facade's tests/contract.rs
// (`throttled_producer`: the bucket's permits granted equal the items that went in, after
// every step). The limiters themselves are no producers: their rate bound is the property
// test below.
