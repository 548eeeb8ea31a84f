//! GCRA against a token-bucket model, and the rate bound over every window, for any sequence
//! of requests at any times.

use std::time::Duration;

use pc_ratelimit::{Gcra, TokenBucket};
use proptest::prelude::*;
use tokio::time::Instant;

proptest! {
    #[test]
    fn gcra_matches_a_token_bucket_and_never_exceeds_the_rate(
        rate in prop::sample::select(vec![1u64, 2, 4, 5, 10, 100, 1000]),
        burst in 1u32..8,
        steps in prop::collection::vec((0u64..3_000, 1u32..10), 1..200),
    ) {
        let gcra = Gcra::builder().rate(rate as f64).burst(burst).build().unwrap();
        let start = Instant::now();
        let interval = 1_000_000_000 / rate; // exact for these rates
        // The model: credit in nanoseconds, refilled continuously, capped at a full bucket.
        let full = u64::from(burst) * interval;
        let mut credit = full;
        let mut now_ms = 0u64;
        let mut grants: Vec<(u64, u32)> = Vec::new();
        for (advance_ms, n) in steps {
            credit = (credit + advance_ms * 1_000_000).min(full);
            now_ms += advance_ms;
            let at = start + Duration::from_millis(now_ms);
            let expected = n <= burst && credit >= u64::from(n) * interval;
            let got = gcra.try_acquire_at(n, at).is_ok();
            prop_assert_eq!(got, expected, "at {} ms asking {}", now_ms, n);
            if got {
                credit -= u64::from(n) * interval;
                grants.push((now_ms, n));
            }
        }
        // Over any window [t_i, t_j]: granted <= burst + rate x window.
        for i in 0..grants.len() {
            let mut sum = 0u64;
            for j in i..grants.len() {
                sum += u64::from(grants[j].1);
                let window_ms = grants[j].0 - grants[i].0;
                prop_assert!(sum <= u64::from(burst) + rate * window_ms / 1000);
            }
        }
    }
}

proptest! {
    #[test]
    fn token_bucket_matches_the_same_model_under_paused_time(
        rate in prop::sample::select(vec![1u64, 2, 4, 5, 10, 100]),
        burst in 1u32..8,
        steps in prop::collection::vec((0u64..3_000, 1u32..10), 1..100),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let bucket = TokenBucket::builder().rate(rate as f64).burst(burst).build().unwrap();
            let interval = 1_000_000_000 / rate;
            let full = u64::from(burst) * interval;
            let mut credit = full;
            for (advance_ms, n) in steps {
                tokio::time::advance(Duration::from_millis(advance_ms)).await;
                credit = (credit + advance_ms * 1_000_000).min(full);
                let expected = n <= burst && credit >= u64::from(n) * interval;
                prop_assert_eq!(bucket.try_acquire(n).is_ok(), expected);
                if expected {
                    credit -= u64::from(n) * interval;
                }
                prop_assert_eq!(u64::from(bucket.available()), credit / interval);
            }
            Ok(())
        })?;
    }
}
