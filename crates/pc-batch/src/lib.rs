//! Batching by size, weight and linger, for streams and consumers.
//!
//! ```
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use pc_batch::{BatchExt, Batcher};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At most 3 items, at most 10 bytes, and never older than 100 ms.
//! let batcher = Batcher::builder(3, Duration::from_millis(100))
//!     .max_weight(10, |line: &String| line.len() as u64)
//!     .build()?;
//! let lines = ["a", "bb", "ccc", "dddd", "a very long line", "e"].map(String::from);
//! let batches: Vec<Vec<String>> = futures_util::stream::iter(lines).batch(batcher).collect().await;
//! assert_eq!(batches, [
//!     vec!["a", "bb", "ccc"],        // 3 items
//!     vec!["dddd"],                  // "a very long line" would pass 10 bytes...
//!     vec!["a very long line"],      // ...and is heavier than any batch: it travels alone
//!     vec!["e"],                     // the source ended: the partial batch leaves
//! ]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`Batcher`]: `max_items`, `linger` and an optional `max_weight` with a weigher, checked by
//!   [`BatcherBuilder::build`] (zero is a `BuildError`).
//! - [`BatchExt::batch`] on any `Stream`, [`batch_consumer`] on any `pc_core::Consumer`: a
//!   [`Batched`] stream of `Vec`s.
//! - [`BatchProcessor`]: callers submit single items and each awaits its own output, while a
//!   handler (a `pc_core::Stage` over `Vec<In>`) runs whole batches, at most `concurrency` at
//!   once; a batch error reaches every caller of that batch, a per-item handler fails only the
//!   failed items, and a handler returning the wrong number of results is an error to each
//!   caller, not a panic.
//! - The linger clock starts at a batch's first item and is not reset by later ones (a maximum
//!   age, not a debounce), so a quiet or trickling source still gets its batches on time; a
//!   batch closed by size or weight needs no timer. Batches are never empty; the partial batch
//!   leaves when the source ends; [`Flusher::flush`] sends it on demand.
//!
//! Time comes from `tokio::time`, so batching runs deterministically under paused time.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batcher;
mod processor;
mod stream;

pub use batcher::{Batcher, BatcherBuilder};
pub use processor::{BatchProcessor, BatchProcessorBuilder, ProcessError};
pub use stream::{BatchExt, Batched, ConsumerBatches, Flusher, batch_consumer};
