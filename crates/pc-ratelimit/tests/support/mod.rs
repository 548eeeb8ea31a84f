//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use pc_ratelimit::TokenBucket;

/// A bucket with valid settings.
pub fn bucket(rate: f64, burst: u32) -> TokenBucket {
    TokenBucket::builder()
        .rate(rate)
        .burst(burst)
        .build()
        .unwrap()
}
