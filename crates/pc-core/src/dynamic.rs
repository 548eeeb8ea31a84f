//! Object-safe companions of [`Producer`] and [`Consumer`], for a queue chosen at run time.
//!
//! `Producer` and `Consumer` return `impl Future`, so they cannot be trait objects. Every
//! producer is also a [`DynProducer`] and every consumer a [`DynConsumer`], whose methods return
//! boxed futures; [`Producer::into_dyn`] and [`Consumer::into_dyn`] box one, and the boxes
//! (`Box<dyn DynProducer<T>>`, `Arc<dyn DynConsumer<T>>`, `&dyn ...`) are a `Producer` and a
//! `Consumer` again, so generic code takes them like any other.
//!
//! The `dyn_` methods are what the boxes call; code that holds a box calls the usual
//! `send`, `recv` and so on through the traits. Each call through a box allocates its future.
//!
//! ```
//! use pc_core::dynamic::{DynConsumer, DynProducer};
//! use pc_core::{Consumer, Producer, channel};
//!
//! /// The queue is a setting: bounded or not, chosen at run time.
//! fn open(bound: Option<usize>) -> (Box<dyn DynProducer<u32>>, Box<dyn DynConsumer<u32>>) {
//!     match bound {
//!         Some(capacity) => {
//!             let (tx, rx) = channel::bounded(capacity).expect("a capacity above 0");
//!             (tx.into_dyn(), rx.into_dyn())
//!         }
//!         None => {
//!             let (tx, rx) = channel::unbounded();
//!             (tx.into_dyn(), rx.into_dyn())
//!         }
//!     }
//! }
//!
//! # tokio_test::block_on(async {
//! for bound in [Some(4), None] {
//!     let (tx, rx) = open(bound);
//!     tx.send(1).await?;
//!     tx.close();
//!     assert_eq!(rx.recv().await, Ok(1));
//!     assert!(rx.recv().await.is_err());
//! }
//! # Ok::<(), pc_core::ProduceError<u32>>(())
//! # }).unwrap();
//! ```

use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};

use crate::error::{ConsumeError, ProduceError};
use crate::{Consumer, Producer};

/// [`Producer`] with boxed futures: object safe, so a `Box<dyn DynProducer<T>>` can hold any
/// producer. Implemented for every `Producer`; the box implements `Producer` again.
pub trait DynProducer<T: Send>: Send + Sync {
    /// [`Producer::send`], boxed.
    fn dyn_send<'a>(&'a self, item: T) -> BoxFuture<'a, Result<(), ProduceError<T>>>
    where
        T: 'a;

    /// [`Producer::try_send`].
    ///
    /// # Errors
    ///
    /// As [`Producer::try_send`].
    fn dyn_try_send(&self, item: T) -> Result<(), ProduceError<T>>;

    /// [`Producer::send_timeout`], boxed.
    fn dyn_send_timeout<'a>(
        &'a self,
        item: T,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), ProduceError<T>>>
    where
        T: 'a;

    /// [`Producer::close`].
    fn dyn_close(&self) -> bool;

    /// [`Producer::is_closed`].
    fn dyn_is_closed(&self) -> bool;
}

impl<T: Send, P: Producer<T>> DynProducer<T> for P {
    fn dyn_send<'a>(&'a self, item: T) -> BoxFuture<'a, Result<(), ProduceError<T>>>
    where
        T: 'a,
    {
        self.send(item).boxed()
    }

    fn dyn_try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        self.try_send(item)
    }

    fn dyn_send_timeout<'a>(
        &'a self,
        item: T,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), ProduceError<T>>>
    where
        T: 'a,
    {
        self.send_timeout(item, timeout).boxed()
    }

    fn dyn_close(&self) -> bool {
        self.close()
    }

    fn dyn_is_closed(&self) -> bool {
        self.is_closed()
    }
}

/// The boxed producer is a producer: `Box<dyn DynProducer<T>>`, `Arc<..>` and `&..` through
/// the forwarding impls.
impl<T: Send> Producer<T> for dyn DynProducer<T> + '_ {
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        self.dyn_send(item).await
    }

    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        self.dyn_try_send(item)
    }

    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        self.dyn_send_timeout(item, timeout).await
    }

    fn close(&self) -> bool {
        self.dyn_close()
    }

    fn is_closed(&self) -> bool {
        self.dyn_is_closed()
    }
}

/// [`Consumer`] with boxed futures and stream: object safe, so a `Box<dyn DynConsumer<T>>` can
/// hold any consumer. Implemented for every `Consumer`; the box implements `Consumer` again,
/// with the consumer's own `recv_timeout`, `recv_batch` and `stream`.
pub trait DynConsumer<T: Send>: Send + Sync {
    /// [`Consumer::recv`], boxed.
    fn dyn_recv<'a>(&'a self) -> BoxFuture<'a, Result<T, ConsumeError>>
    where
        T: 'a;

    /// [`Consumer::try_recv`].
    ///
    /// # Errors
    ///
    /// As [`Consumer::try_recv`].
    fn dyn_try_recv(&self) -> Result<T, ConsumeError>;

    /// [`Consumer::len`].
    fn dyn_len(&self) -> usize;

    /// [`Consumer::capacity`].
    fn dyn_capacity(&self) -> Option<usize>;

    /// [`Consumer::is_closed`].
    fn dyn_is_closed(&self) -> bool;

    /// [`Consumer::recv_timeout`], boxed.
    fn dyn_recv_timeout<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, Result<T, ConsumeError>>
    where
        T: 'a;

    /// [`Consumer::recv_batch`], boxed.
    fn dyn_recv_batch<'a>(
        &'a self,
        buf: &'a mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> BoxFuture<'a, Result<usize, ConsumeError>>
    where
        T: 'a;

    /// [`Consumer::stream`], boxed.
    fn dyn_stream<'a>(&'a self) -> BoxStream<'a, T>
    where
        T: 'a;
}

impl<T: Send, C: Consumer<T>> DynConsumer<T> for C {
    fn dyn_recv<'a>(&'a self) -> BoxFuture<'a, Result<T, ConsumeError>>
    where
        T: 'a,
    {
        self.recv().boxed()
    }

    fn dyn_try_recv(&self) -> Result<T, ConsumeError> {
        self.try_recv()
    }

    fn dyn_len(&self) -> usize {
        self.len()
    }

    fn dyn_capacity(&self) -> Option<usize> {
        self.capacity()
    }

    fn dyn_is_closed(&self) -> bool {
        self.is_closed()
    }

    fn dyn_recv_timeout<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, Result<T, ConsumeError>>
    where
        T: 'a,
    {
        self.recv_timeout(timeout).boxed()
    }

    fn dyn_recv_batch<'a>(
        &'a self,
        buf: &'a mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> BoxFuture<'a, Result<usize, ConsumeError>>
    where
        T: 'a,
    {
        self.recv_batch(buf, max, linger).boxed()
    }

    fn dyn_stream<'a>(&'a self) -> BoxStream<'a, T>
    where
        T: 'a,
    {
        self.stream().boxed()
    }
}

/// The boxed consumer is a consumer: `Box<dyn DynConsumer<T>>`, `Arc<..>` and `&..` through
/// the forwarding impls.
impl<T: Send> Consumer<T> for dyn DynConsumer<T> + '_ {
    async fn recv(&self) -> Result<T, ConsumeError> {
        self.dyn_recv().await
    }

    fn try_recv(&self) -> Result<T, ConsumeError> {
        self.dyn_try_recv()
    }

    fn len(&self) -> usize {
        self.dyn_len()
    }

    fn capacity(&self) -> Option<usize> {
        self.dyn_capacity()
    }

    fn is_closed(&self) -> bool {
        self.dyn_is_closed()
    }

    async fn recv_timeout(&self, timeout: Duration) -> Result<T, ConsumeError> {
        self.dyn_recv_timeout(timeout).await
    }

    async fn recv_batch(
        &self,
        buf: &mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> Result<usize, ConsumeError> {
        self.dyn_recv_batch(buf, max, linger).await
    }

    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        self.dyn_stream()
    }
}
