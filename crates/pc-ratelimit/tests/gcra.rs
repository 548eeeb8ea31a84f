//! GCRA on either clock: the burst, then refusals that say when to retry.

use std::time::Duration;

use pc_ratelimit::{Gcra, TryAcquireError};
use tokio::time::Instant;

#[test]
fn the_fast_clock_decides_like_the_tokio_clock() {
    for fast in [false, true] {
        let gcra = Gcra::builder()
            .rate(1.0)
            .burst(3)
            .fast_clock(fast)
            .build()
            .unwrap();
        assert_eq!(gcra.available(), 3);
        gcra.try_acquire(3).unwrap();
        let before = Instant::now();
        let Err(TryAcquireError::Insufficient(not_until)) = gcra.try_acquire(1) else {
            panic!("the burst is spent");
        };
        // About 1 s from now: one permit's interval, less the instants this test took.
        let wait = not_until.wait_from(before);
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            gcra.try_acquire(4),
            Err(TryAcquireError::OverBurst {
                requested: 4,
                burst: 3
            })
        );
    }
}

#[test]
fn try_acquire_at_is_exact() {
    let gcra = Gcra::builder().rate(4.0).burst(2).build().unwrap();
    let t0 = Instant::now();
    gcra.try_acquire_at(2, t0).unwrap();
    let Err(TryAcquireError::Insufficient(not_until)) = gcra.try_acquire_at(1, t0) else {
        panic!("the burst is spent");
    };
    assert_eq!(not_until.wait_from(t0), Duration::from_millis(250));
    assert!(gcra.try_acquire_at(1, not_until.retry_at()).is_ok());
    assert!(gcra.try_acquire_at(1, not_until.retry_at()).is_err());
}
