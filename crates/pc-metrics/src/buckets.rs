//! The fixed buckets of the exported histograms, and quantiles estimated from them.
//!
//! Every latency and every batch size is counted in one bucket of a fixed, documented set, as
//! well as in the exact-to-two-figures histogram that gives the since-start quantiles. The
//! fixed buckets are what Prometheus aggregates across replicas (`_bucket{le=..}`), and what
//! the last minute's quantiles are estimated from: counts of two moments subtract exactly.

/// Upper bounds of the latency buckets, in nanoseconds: 1-2.5-5 steps from 1 µs to 10 s,
/// then 30 s and 60 s. A wait of exactly a bound counts in that bound's bucket (`le`, "less
/// than or equal"); a longer one than the last bound counts in the bucket above it (`+Inf`).
pub const LATENCY_BUCKETS_NS: [u64; 24] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
];

/// Upper bounds of the batch-size buckets, in items: 1-2-5 steps from 1 to 10,000.
pub const BATCH_SIZE_BUCKETS: [u64; 13] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000,
];

/// The bucket of `value` among `bounds`: the first bound at or above it, or `bounds.len()`
/// (the `+Inf` bucket) past the last.
pub(crate) fn bucket_of(bounds: &[u64], value: u64) -> usize {
    bounds.partition_point(|bound| *bound < value)
}

/// The `q`-quantile (0..=1) of the values counted in `counts` (one per bound of `bounds`, then
/// the `+Inf` bucket), estimated as Prometheus' `histogram_quantile` does: linearly within the
/// bucket the rank falls in, from the bound below it (0 for the first). A rank in the `+Inf`
/// bucket gives the last bound. Never above `max`, the largest value known to be recorded.
/// `None` when nothing is counted.
pub(crate) fn quantile(bounds: &[u64], counts: &[u64], q: f64, max: u64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut below = 0u64;
    for (index, &count) in counts.iter().enumerate() {
        if count == 0 || ((below + count) as f64) < rank {
            below += count;
            continue;
        }
        let Some(&upper) = bounds.get(index) else {
            return Some(bounds.last().copied().unwrap_or(0).min(max));
        };
        let lower = index.checked_sub(1).map_or(0, |i| bounds[i]);
        let within = (rank - below as f64) / count as f64;
        let estimate = lower as f64 + (upper - lower) as f64 * within;
        return Some((estimate.round() as u64).min(max));
    }
    // Rounding left the rank past the last count: the largest bucket with values holds it.
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS, bucket_of, quantile};

    #[test]
    fn bounds_rise_strictly() {
        for bounds in [&LATENCY_BUCKETS_NS[..], &BATCH_SIZE_BUCKETS[..]] {
            assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }

    #[test]
    fn a_value_counts_in_the_first_bucket_whose_bound_holds_it() {
        let bounds = [10, 20, 50];
        assert_eq!(bucket_of(&bounds, 0), 0);
        assert_eq!(bucket_of(&bounds, 10), 0);
        assert_eq!(bucket_of(&bounds, 11), 1);
        assert_eq!(bucket_of(&bounds, 50), 2);
        assert_eq!(bucket_of(&bounds, 51), 3);
        assert_eq!(bucket_of(&bounds, u64::MAX), 3);
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let bounds = [10, 20, 50];
        // 10 values in (10, 20]: the median is halfway through that bucket.
        assert_eq!(quantile(&bounds, &[0, 10, 0, 0], 0.5, 20), Some(15));
        // 4 in the first bucket, 4 in the second: the 0.75 rank is halfway through the second.
        assert_eq!(quantile(&bounds, &[4, 4, 0, 0], 0.75, 20), Some(15));
        // Never past the largest value recorded.
        assert_eq!(quantile(&bounds, &[0, 0, 10, 0], 1.0, 33), Some(33));
        // A rank in the +Inf bucket: the last bound, or the max if lower.
        assert_eq!(quantile(&bounds, &[1, 0, 0, 9], 0.9, u64::MAX), Some(50));
        assert_eq!(quantile(&bounds, &[0; 4], 0.5, 0), None);
        // The lowest rank is the first value's bucket, not below it.
        assert_eq!(quantile(&bounds, &[0, 0, 3, 0], 0.0, 50), Some(30));
    }
}
