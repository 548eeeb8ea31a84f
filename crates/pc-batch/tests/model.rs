//! For any items, sizes and weights: batches keep every item once and in order, are never
//! empty, and respect both limits (an item heavier than the limit alone).

use std::time::Duration;

use futures_util::StreamExt;
use pc_batch::{BatchExt, Batcher};
use proptest::prelude::*;

proptest! {
    #[test]
    fn batches_partition_the_input_within_the_limits(
        items in proptest::collection::vec(0u64..20, 0..200),
        max_items in 1usize..12,
        max_weight in proptest::option::of(1u64..40),
    ) {
        let mut builder = Batcher::builder(max_items, Duration::from_secs(1));
        if let Some(max) = max_weight {
            builder = builder.max_weight(max, |n: &u64| *n);
        }
        let batcher = builder.build().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let batches: Vec<Vec<u64>> = rt.block_on(
            futures_util::stream::iter(items.clone()).batch(batcher).collect(),
        );
        let flat: Vec<u64> = batches.iter().flatten().copied().collect();
        prop_assert_eq!(&flat, &items);
        for (i, batch) in batches.iter().enumerate() {
            prop_assert!(!batch.is_empty());
            prop_assert!(batch.len() <= max_items);
            if let Some(max) = max_weight {
                let weight: u64 = batch.iter().sum();
                prop_assert!(weight <= max || batch.len() == 1, "batch {} weighs {}", i, weight);
                // A batch closed early would have fit the next item: only size, weight or the
                // end close one, on an in-memory source.
                if let Some(next) = batches.get(i + 1) {
                    prop_assert!(
                        batch.len() == max_items || weight + next[0] > max || weight == max
                            || next[0] > max,
                        "batch {} closed early", i
                    );
                }
            } else if i + 1 < batches.len() {
                prop_assert_eq!(batch.len(), max_items);
            }
        }
    }
}
