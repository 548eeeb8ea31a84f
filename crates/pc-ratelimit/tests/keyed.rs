//! The keyed limiter keeps one limit per key and forgets idle keys.

use std::time::Duration;

use pc_ratelimit::KeyedLimiter;

#[tokio::test(start_paused = true)]
async fn a_million_keys_then_idle_leaves_none() {
    let limiter = KeyedLimiter::builder()
        .rate(10.0)
        .burst(1)
        .idle(Duration::from_secs(30))
        .build::<u64>()
        .unwrap();
    for key in 0..1_000_000u64 {
        limiter.try_acquire(&key, 1).unwrap();
    }
    assert_eq!(limiter.len(), 1_000_000);
    assert!(
        limiter.try_acquire(&7, 1).is_err(),
        "each key has its own limit"
    );
    // Not idle long enough yet: every bucket refilled 100 ms after its use, 30 s must pass.
    tokio::time::sleep(Duration::from_secs(30)).await;
    limiter.evict_idle();
    assert_eq!(limiter.len(), 1_000_000);
    tokio::time::sleep(Duration::from_millis(100)).await;
    limiter.evict_idle();
    assert_eq!(limiter.len(), 0);
    assert!(limiter.is_empty());
    assert!(
        limiter.try_acquire(&7, 1).is_ok(),
        "an evicted key decides like a new one"
    );
}

#[tokio::test(start_paused = true)]
async fn shards_sweep_themselves_when_used() {
    let limiter = KeyedLimiter::builder()
        .rate(1.0)
        .burst(2)
        .idle(Duration::from_secs(10))
        .shards(1)
        .build::<String>()
        .unwrap();
    for key in ["a", "b", "c"] {
        limiter.try_acquire(&key.to_string(), 1).unwrap();
    }
    assert_eq!(limiter.available(&"a".to_string()), 1);
    tokio::time::sleep(Duration::from_secs(11)).await;
    limiter.try_acquire(&"d".to_string(), 1).unwrap();
    assert_eq!(limiter.len(), 1, "the sweep on use dropped a, b and c");
}

#[test]
fn bad_settings_are_build_errors() {
    let builder = || KeyedLimiter::builder().rate(1.0).burst(1);
    assert_eq!(
        builder()
            .idle(Duration::ZERO)
            .build::<u8>()
            .unwrap_err()
            .setting(),
        "idle"
    );
    assert_eq!(
        builder().shards(0).build::<u8>().unwrap_err().setting(),
        "shards"
    );
    assert_eq!(
        KeyedLimiter::builder()
            .rate(1.0)
            .build::<u8>()
            .unwrap_err()
            .setting(),
        "burst"
    );
}
