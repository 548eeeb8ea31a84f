//! Windowed aggregation for streams and consumers: tumbling, sliding and session windows, by
//! count, processing time or event time, optionally per key.
//!
//! ```
//! use futures_util::StreamExt;
//! use pc_window::{Stats, Window, WindowExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The last 4 readings, every 2 readings.
//! let window = Window::sliding_count(4, 2).aggregate(Stats).build()?;
//! let readings = futures_util::stream::iter([1.0, 5.0, 3.0, 7.0, 2.0, 4.0]);
//! let results: Vec<_> = readings.window(window).collect().await;
//! let means: Vec<(u64, u64, f64)> = results.iter().map(|r| (r.start, r.end, r.value.mean)).collect();
//! assert_eq!(means, [
//!     (0, 2, 3.0),   // the first windows start before the stream: cut at item 0
//!     (0, 4, 4.0),
//!     (2, 6, 4.0),
//!     (4, 8, 3.0),   // the stream ended: the last windows fire with what they hold
//! ]);
//! # Ok(())
//! # }
//! ```
//!
//! On the tokio clock, a window fires when its end passes, whether or not more items come:
//!
//! ```
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use pc_window::{Max, Window, WindowExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, rx) = pc_core::channel::unbounded::<u32>();
//! let window = Window::tumbling(Duration::from_secs(1)).aggregate(Max).build()?;
//! let mut maxima = rx.window(window);
//! let origin = tokio::time::Instant::now();
//! tx.send_all([3, 9, 4]).await?;
//! // No more items, yet the window [0 s, 1 s) fires at 1 s.
//! let first = maxima.next().await.unwrap();
//! assert_eq!((first.count, first.value), (3, Some(9)));
//! assert_eq!(first.end, origin + Duration::from_secs(1));
//! assert_eq!(tokio::time::Instant::now(), origin + Duration::from_secs(1));
//! # drop(tx);
//! # assert!(maxima.next().await.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! Use it to summarise a stream over time: a rate per second, a moving average, a
//! per-user session, the maximum latency per minute per endpoint.
//!
//! - [`Window`]: the settings, from [`Window::tumbling`], [`Window::sliding`],
//!   [`Window::session`] (on the tokio clock, or on each item's timestamp after
//!   [`WindowBuilder::event_time`]), [`Window::tumbling_count`] and [`Window::sliding_count`];
//!   checked by [`WindowBuilder::build`] (zero sizes and a slide larger than the size are
//!   `BuildError`s).
//! - [`WindowExt::window`] on any `Stream`, [`window_consumer`] on any `pc_core::Consumer`: a
//!   [`Windowed`] stream of [`WindowResult`] `{ key, start, end, count, value }`.
//! - [`Aggregate`] folds a window incrementally (init, add, merge, finish); built in:
//!   [`Count`], [`Sum`], [`Mean`], [`Min`], [`Max`], [`Stats`]; [`Aggregate::of`] aggregates a
//!   part of each item, and [`Items`] runs any function over the window's items.
//! - Sliding windows share partial aggregates: the stream is cut into panes of
//!   `gcd(size, slide)`, each folded once, and a two-stacks queue merges panes into windows, so
//!   an item costs O(1) amortized however many windows overlap, and no inverse is needed.
//! - Windows fire when their end passes: on the tokio clock by a timer even if no item comes;
//!   on event time when the watermark (the largest timestamp minus the allowed
//!   out-of-orderness) passes, or after an idle timeout; all at once when the source ends.
//!   Empty windows never fire. Late items are counted, reported to the probe and handed to an
//!   optional hook; within the allowed lateness they update their windows instead.
//! - [`WindowBuilder::key_by`] keeps independent windows per key.
//!
//! Time comes from `tokio::time`, so windows run deterministically under paused time.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
mod engine;
mod panes;
mod stream;
mod window;

pub use aggregate::{
    Aggregate, ArrivalOrder, Count, Items, Max, Mean, Min, Of, Stats, StatsAcc, Sum, Summary,
};
pub use stream::{ConsumerWindows, ResultOf, WindowExt, WindowResult, Windowed, window_consumer};
pub use window::{Counted, Domain, EventTime, MAX_PANES, ProcessingTime, Window, WindowBuilder};
