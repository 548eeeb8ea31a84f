//! `Producer` and `Consumer` for async-channel's own halves, so generic code accepts them too.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{ConsumeError, ConsumeErrorKind, ProduceError, ProduceErrorKind};
use crate::{Consumer, Producer};

/// The longest pause between two attempts of `send_timeout` on a full async-channel.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(8);

/// `send` is async-channel's own: cancelling it drops the item.
///
/// `send_timeout` hands the item back on timeout. async-channel offers no way to wait for space
/// without giving the item to its send future, so this impl retries `try_send` with pauses that
/// double from 1 ms up to 8 ms until the deadline. `pc_core::channel` waits on a wake-up
/// instead; prefer it where this matters.
impl<T: Send> Producer<T> for async_channel::Sender<T> {
    fn send(&self, item: T) -> impl Future<Output = Result<(), ProduceError<T>>> + Send {
        let send = async_channel::Sender::send(self, item);
        async move {
            send.await
                .map_err(|err| ProduceError::closed(err.into_inner()))
        }
    }

    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        async_channel::Sender::try_send(self, item).map_err(|err| match err {
            async_channel::TrySendError::Full(item) => {
                ProduceError::new(item, ProduceErrorKind::Full)
            }
            async_channel::TrySendError::Closed(item) => ProduceError::closed(item),
        })
    }

    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        let deadline = crate::time::deadline(timeout);
        let mut pause = Duration::from_millis(1);
        let mut item = item;
        loop {
            match async_channel::Sender::try_send(self, item) {
                Ok(()) => return Ok(()),
                Err(async_channel::TrySendError::Closed(back)) => {
                    return Err(ProduceError::closed(back));
                }
                Err(async_channel::TrySendError::Full(back)) => item = back,
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return Err(ProduceError::new(item, ProduceErrorKind::TimedOut));
            }
            // Never past the deadline; `sleep` itself takes any duration.
            let nap = deadline.map_or(pause, |deadline| pause.min(deadline - now));
            tokio::time::sleep(nap).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    fn close(&self) -> bool {
        async_channel::Sender::close(self)
    }

    fn is_closed(&self) -> bool {
        async_channel::Sender::is_closed(self)
    }
}

impl<T: Send> Consumer<T> for async_channel::Receiver<T> {
    fn recv(&self) -> impl Future<Output = Result<T, ConsumeError>> + Send {
        let recv = async_channel::Receiver::recv(self);
        async move { recv.await.map_err(|_| ConsumeError::closed()) }
    }

    fn try_recv(&self) -> Result<T, ConsumeError> {
        async_channel::Receiver::try_recv(self).map_err(|err| match err {
            async_channel::TryRecvError::Empty => ConsumeErrorKind::Empty.into(),
            async_channel::TryRecvError::Closed => ConsumeError::closed(),
        })
    }

    fn len(&self) -> usize {
        async_channel::Receiver::len(self)
    }

    fn capacity(&self) -> Option<usize> {
        async_channel::Receiver::capacity(self)
    }

    fn is_closed(&self) -> bool {
        async_channel::Receiver::is_closed(self)
    }
}
