//! Redis Streams behind the `pc` traits: the same producers and consumers across processes and
//! machines, on a durable, shared queue.
//!
//! A [`RedisQueue`] names a stream and a consumer group. [`RedisProducer::send`] adds entries
//! (`XADD`), within an optional cap checked in the same server-side script, so a full stream
//! blocks, rejects or drops on purpose ([`WhenFull`]) and is never trimmed behind a consumer's
//! back unless asked to. A [`RedisConsumer`] is a member of the group: it implements
//! [`AckConsumer`](pc_core::AckConsumer), so each item arrives as a [`Delivery`](pc_core::Delivery)
//! that stays pending until acked; nacked, or left by a consumer that died, it is delivered
//! again, and after `max_deliveries` it goes to a dead-letter stream with its reason. Delivery
//! is at least once: consumers that must not act twice deduplicate by
//! [`Delivery::key`](pc_core::Delivery::key), the producer's message id.
//!
//! A `pc_pool::WorkerPool` runs over a consumer unchanged with `build_over_acked`, acking each
//! job's delivery when the job succeeds.
//!
//! For production: [`RetryPolicy`] says how long producers and consumers ride out a failing
//! server before they give up, visibly; `ack_batch` sends acks together (several times the
//! throughput of an ack per round trip); a delivery can be nacked with a delay
//! ([`Ack::nack_after`](pc_core::Ack::nack_after), or `nack_backoff` for every nack) and a long
//! job keeps its delivery with [`Ack::touch`](pc_core::Ack::touch). With the `tls` feature,
//! `rediss://` URLs connect over TLS (rustls), with a `Tls` of certificates when the system's
//! roots do not hold the server's authority or the server checks its clients.
//!
//! On a Redis Cluster, a queue follows its stream's master from any node and through
//! failovers, and `replicas` makes each send wait until replicas hold it; a
//! [`PartitionedQueue`] spreads one queue over the cluster's masters, routing by key and
//! sharing the partitions among the group's consumers.
//!
//! [`RedisGcra`] is a rate limit per key shared by every process on the server: the decision
//! of `pc_ratelimit::Gcra`, made by a script on the server's clock in one round trip.
//!
//! ```no_run
//! use pc_core::AckConsumer;
//! use pc_redis::{RedisQueue, WhenFull};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queue = RedisQueue::<u64>::builder("redis://127.0.0.1/", "orders")
//!     .group("billing")
//!     .max_len(100_000)
//!     .when_full(WhenFull::Reject)
//!     .build()?;
//! let producer = queue.producer().await?;
//! producer.send_all(1..=3).await?;
//!
//! let consumer = queue.consumer("billing-1").await?;
//! for _ in 0..3 {
//!     let (order, ack) = consumer.recv_delivery().await?.into_parts();
//!     println!("billing order {order}");
//!     ack.ack().await?;
//! }
//! # Ok(())
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acks;
mod backlog;
mod codec;
mod consumer;
mod error;
mod lease;
mod limiter;
mod link;
#[cfg(feature = "test-util")]
mod local;
mod partition;
mod producer;
mod retry;
mod settings;
mod tls;

pub use backlog::Backlog;
pub use codec::{Binary, Codec, CodecError, Json};
pub use consumer::RedisConsumer;
pub use error::{RedisError, RedisSendError};
pub use limiter::{RedisGcra, RedisGcraBuilder, RedisLimitError};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use local::{LocalCluster, LocalServer};
pub use partition::{
    PartitionedConsumer, PartitionedProducer, PartitionedQueue, PartitionedQueueBuilder,
};
pub use producer::RedisProducer;
pub use retry::RetryPolicy;
pub use settings::{RedisQueue, RedisQueueBuilder, WhenFull};
#[cfg(feature = "tls")]
pub use tls::Tls;
