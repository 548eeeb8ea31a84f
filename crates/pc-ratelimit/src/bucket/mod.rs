//! `TokenBucket`: burst and refill rate, waiters served in arrival order.

mod builder;
mod stats;
mod token_bucket;

pub use builder::TokenBucketBuilder;
pub use stats::BucketStats;
pub(crate) use token_bucket::Debit;
#[cfg(feature = "tower")]
pub(crate) use token_bucket::Held;
pub use token_bucket::TokenBucket;
