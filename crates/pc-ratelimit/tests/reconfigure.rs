//! Limits changed while a limiter runs: `set_rate` and `set_burst` on `Gcra` and
//! `KeyedLimiter`. What was taken stays owed, and no change lets a burst through: the total
//! admitted over a change stays within the old rate before it and the new one after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_core::BuildError;
use pc_ratelimit::{Gcra, KeyedLimiter};

const MS: Duration = Duration::from_millis(1);

/// Asks `acquire` for one permit every millisecond for `span`; the permits granted.
async fn every_ms(span: Duration, mut acquire: impl FnMut() -> bool) -> u64 {
    let mut granted = 0;
    for _ in 0..span.as_millis() {
        granted += u64::from(acquire());
        tokio::time::advance(MS).await;
    }
    granted
}

/// The most a limiter of `burst` may grant over `before` at `old` per second, then `after`
/// at `new`: its burst, each rate over its span, and one permit of rounding.
fn most(burst: u32, (old, before): (f64, Duration), (new, after): (f64, Duration)) -> u64 {
    (f64::from(burst) + old * before.as_secs_f64() + new * after.as_secs_f64()).floor() as u64 + 1
}

#[tokio::test(start_paused = true)]
async fn a_gcra_slowed_down_admits_within_the_old_rate_then_the_new() {
    let gcra = Gcra::builder().rate(100.0).burst(10).build().unwrap();
    let before = every_ms(Duration::from_secs(1), || gcra.try_acquire(1).is_ok()).await;
    gcra.set_rate(10.0).unwrap();
    assert_eq!((gcra.rate(), gcra.burst()), (10.0, 10));
    let after = every_ms(Duration::from_secs(1), || gcra.try_acquire(1).is_ok()).await;
    // The burst and one per 10 ms before. At the change the bucket is empty, 10 permits owed
    // at 10 ms each; at 100 ms each they fill the new window exactly, so after it the
    // limiter grants one per 100 ms, no more.
    assert_eq!((before, after), (109, 10));
    let bound = most(
        10,
        (100.0, Duration::from_secs(1)),
        (10.0, Duration::from_secs(1)),
    );
    assert!(before + after <= bound);
}

#[tokio::test(start_paused = true)]
async fn a_gcra_sped_up_keeps_the_time_it_charged_and_then_runs_at_the_new_rate() {
    let gcra = Gcra::builder().rate(10.0).burst(10).build().unwrap();
    let before = every_ms(Duration::from_secs(1), || gcra.try_acquire(1).is_ok()).await;
    gcra.set_rate(100.0).unwrap();
    let after = every_ms(Duration::from_secs(1), || gcra.try_acquire(1).is_ok()).await;
    // The burst and one per 100 ms before. At the change 900 ms are owed (9 permits at
    // 100 ms each); they keep that time, so the first permit at the new rate comes once the
    // debt is within the new 100 ms window (811 ms after the change), then one per 10 ms.
    assert_eq!((before, after), (19, 19));
    let bound = most(
        10,
        (10.0, Duration::from_secs(1)),
        (100.0, Duration::from_secs(1)),
    );
    assert!(before + after <= bound);
}

#[tokio::test(start_paused = true)]
async fn a_gcra_burst_changed_keeps_what_is_owed() {
    let gcra = Gcra::builder().rate(100.0).burst(10).build().unwrap();
    assert!(gcra.try_acquire(10).is_ok());
    gcra.set_burst(2).unwrap();
    // 10 permits owed at 10 ms each, a window of 2: the next one fits 90 ms from now.
    assert_eq!(gcra.available(), 0);
    tokio::time::advance(89 * MS).await;
    assert!(gcra.try_acquire(1).is_err());
    tokio::time::advance(MS).await;
    assert!(gcra.try_acquire(1).is_ok());
    // A larger burst is room from now on, not permits handed out.
    gcra.set_burst(50).unwrap();
    assert_eq!(gcra.available(), 48);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_limiter_changed_moves_every_keys_debt_to_the_new_rate() {
    let limiter = KeyedLimiter::builder()
        .rate(100.0)
        .burst(10)
        .build()
        .unwrap();
    let mut before = 0;
    let mut after = 0;
    for (phase, granted) in [(0, &mut before), (1, &mut after)] {
        if phase == 1 {
            limiter.set_rate(10.0).unwrap();
            assert_eq!((limiter.rate(), limiter.burst()), (10.0, 10));
        }
        *granted = every_ms(Duration::from_secs(1), || {
            u64::from(limiter.try_acquire(&"a", 1).is_ok())
                + u64::from(limiter.try_acquire(&"b", 1).is_ok())
                == 2
        })
        .await;
    }
    assert_eq!((before, after), (109, 10), "per key, as a single limiter");
    let bound = most(
        10,
        (100.0, Duration::from_secs(1)),
        (10.0, Duration::from_secs(1)),
    );
    assert!(before + after <= bound);
    // Sped up, each key's debt is re-costed at the new interval (as the token bucket does).
    limiter.set_rate(1000.0).unwrap();
    tokio::time::advance(10 * MS).await;
    assert!(limiter.try_acquire(&"a", 1).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_keyed_burst_changed_keeps_what_is_owed() {
    let limiter = KeyedLimiter::builder()
        .rate(100.0)
        .burst(10)
        .build()
        .unwrap();
    assert!(limiter.try_acquire(&"a", 10).is_ok());
    limiter.set_burst(2).unwrap();
    assert_eq!(limiter.available(&"a"), 0);
    assert_eq!(limiter.available(&"fresh"), 2);
    assert!(limiter.try_acquire(&"a", 3).is_err(), "over the new burst");
    tokio::time::advance(89 * MS).await;
    assert_eq!(limiter.available(&"a"), 0);
    tokio::time::advance(MS).await;
    assert_eq!(limiter.available(&"a"), 1);
}

#[test]
fn changes_are_checked_and_a_refused_one_changes_nothing() {
    let gcra = Gcra::builder().rate(1.0).burst(10).build().unwrap();
    let keyed = KeyedLimiter::builder()
        .rate(1.0)
        .burst(10)
        .build::<u8>()
        .unwrap();
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(gcra.set_rate(bad).unwrap_err().setting(), "rate");
        assert_eq!(keyed.set_rate(bad).unwrap_err().setting(), "rate");
    }
    assert_eq!(
        gcra.set_burst(0),
        Err(BuildError::Zero { setting: "burst" })
    );
    assert_eq!(
        keyed.set_burst(0),
        Err(BuildError::Zero { setting: "burst" })
    );
    // Ten permits a billion seconds apart span more than the tick this limiter was built
    // with; so does a burst of u32::MAX at one a second.
    assert_eq!(gcra.set_rate(1e-9).unwrap_err().setting(), "rate");
    assert_eq!(gcra.set_burst(u32::MAX).unwrap_err().setting(), "burst");
    assert_eq!(keyed.set_rate(1e-9).unwrap_err().setting(), "rate");
    assert_eq!((gcra.rate(), gcra.burst()), (1.0, 10));
    assert_eq!((keyed.rate(), keyed.burst()), (1.0, 10));
    // A limiter built for slow rates takes them.
    let slow = Gcra::builder().rate(1e-9).burst(10).build().unwrap();
    slow.set_rate(2e-9).unwrap();
    slow.set_burst(20).unwrap();
    assert_eq!(slow.burst(), 20);
}

/// Three threads take permits one at a time from `gcra` (which never refills during the
/// test) until they find it empty many times in a row, while this thread makes change after
/// change (`change` with the change's number); the permits they got, and the changes made.
fn race(gcra: &Arc<Gcra>, change: impl Fn(u64)) -> (u64, u64) {
    let granted = Arc::new(AtomicU64::new(0));
    let deciders_left = Arc::new(AtomicU64::new(3));
    let deciders: Vec<_> = (0..3)
        .map(|_| {
            let (gcra, granted, left) = (gcra.clone(), granted.clone(), deciders_left.clone());
            std::thread::spawn(move || {
                let mut refused = 0;
                while refused < 10_000 {
                    if gcra.try_acquire(1).is_ok() {
                        granted.fetch_add(1, Ordering::Relaxed);
                        refused = 0;
                    } else {
                        refused += 1;
                    }
                }
                left.fetch_sub(1, Ordering::Release);
            })
        })
        .collect();
    let mut changes = 0;
    while deciders_left.load(Ordering::Acquire) > 0 {
        change(changes);
        changes += 1;
    }
    for decider in deciders {
        decider.join().unwrap();
    }
    (granted.load(Ordering::Relaxed), changes)
}

#[test]
fn changes_racing_decisions_neither_lose_nor_add_a_permit() {
    // One permit per 10^9 s: exactly the burst is granted, however the decisions interleave
    // with changes that keep the interval (each one sealing the position, publishing limits
    // and moving the position into them). A decision that landed on a position a change then
    // overwrote would be a permit granted twice.
    const BURST: u32 = 200_000;
    let gcra = Arc::new(Gcra::builder().rate(1e-9).burst(BURST).build().unwrap());
    let (granted, changes) = race(&gcra, |n| {
        if n % 2 == 0 {
            gcra.set_burst(BURST).unwrap();
        } else {
            gcra.set_rate(1e-9).unwrap();
        }
    });
    assert!(changes > 0);
    assert_eq!(granted, u64::from(BURST), "after {changes} changes");
    assert!(gcra.try_acquire(1).is_err());
}

#[test]
fn rate_changes_racing_decisions_never_add_a_permit() {
    // The interval changes back and forth: permits owed are re-costed when it grows (fewer
    // permits from then on), kept when it shrinks; never more than the burst in all.
    const BURST: u32 = 200_000;
    let gcra = Arc::new(Gcra::builder().rate(1e-9).burst(BURST).build().unwrap());
    let (granted, changes) = race(&gcra, |n| {
        let rate = if n % 2 == 0 { 2e-9 } else { 1e-9 };
        gcra.set_rate(rate).unwrap();
    });
    assert!(changes > 0);
    assert!(
        granted <= u64::from(BURST),
        "{granted} after {changes} changes"
    );
}
