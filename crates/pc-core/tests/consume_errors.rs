//! A consumer whose backend fails: the trait's provided methods, its boxed form and its stream
//! tell a failure from the end of the items, and neither stop at a failure nor hide the close.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::dynamic::DynConsumer;
use pc_core::{ConsumeError, ConsumeErrorKind, Consumer, RecvError, RecvTimeoutError, channel};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

/// In the queue, an item that stands for a failed read of the backend.
const FAIL: u32 = u32::MAX;

/// A consumer over a channel whose `FAIL` items are failed reads; only the required methods
/// are written, so every other one is the trait's own. It keeps a sender: open until closed.
struct Flaky {
    rx: channel::Receiver<u32>,
    _open: channel::Sender<u32>,
}

fn refused() -> ConsumeError {
    ConsumeError::failed("NOGROUP the group is gone")
}

impl Consumer<u32> for Flaky {
    async fn recv(&self) -> Result<u32, ConsumeError> {
        match self.rx.recv().await? {
            FAIL => Err(refused()),
            item => Ok(item),
        }
    }

    fn try_recv(&self) -> Result<u32, ConsumeError> {
        match self.rx.try_recv()? {
            FAIL => Err(refused()),
            item => Ok(item),
        }
    }

    fn len(&self) -> usize {
        self.rx.len()
    }

    fn capacity(&self) -> Option<usize> {
        self.rx.capacity()
    }

    fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

fn flaky(items: &[u32]) -> Flaky {
    let (tx, rx) = channel::unbounded();
    for &item in items {
        tx.try_send(item).unwrap();
    }
    Flaky { rx, _open: tx }
}

#[test]
fn kinds_sources_and_equality() {
    let failed = refused();
    assert_eq!(failed.kind(), ConsumeErrorKind::Failed);
    assert!(failed.is_failed() && !failed.is_closed() && !failed.is_empty());
    assert_eq!(
        failed.to_string(),
        "the consumer's backend failed: NOGROUP the group is gone"
    );
    assert_eq!(
        failed.source().unwrap().to_string(),
        "NOGROUP the group is gone"
    );
    // A clone reports the same failure; another failure with the same words is another.
    assert_eq!(failed.clone(), failed);
    assert_ne!(refused(), failed);
    assert_eq!(ConsumeError::from(RecvError), ConsumeError::closed());
    assert_eq!(
        ConsumeError::from(RecvTimeoutError::Timeout).kind(),
        ConsumeErrorKind::TimedOut
    );
    assert!(ConsumeError::closed().source().is_none());
    assert_eq!(
        ConsumeError::closed().to_string(),
        "receiving from a closed and drained consumer"
    );
}

#[tokio::test(start_paused = true)]
async fn each_receive_tells_a_failure_from_the_close() {
    let source = flaky(&[1, FAIL, 2]);
    assert_eq!(source.recv().await, Ok(1));
    assert!(source.recv().await.unwrap_err().is_failed());
    assert_eq!(source.try_recv(), Ok(2));
    assert_eq!(
        source.try_recv().unwrap_err().kind(),
        ConsumeErrorKind::Empty
    );
    assert!(
        source
            .recv_timeout(Duration::from_millis(5))
            .await
            .unwrap_err()
            .is_timeout()
    );
    source.rx.close();
    assert_eq!(source.recv().await, Err(ConsumeError::closed()));
    assert_eq!(
        source.recv_timeout(Duration::MAX).await,
        Err(ConsumeError::closed())
    );
}

/// A failure before the first item is the batch's error; after it, the batch ends with what it
/// holds and the next call goes on.
#[tokio::test(start_paused = true)]
async fn a_batch_fails_before_its_first_item_and_ends_early_after_it() {
    let source = flaky(&[FAIL, 1, 2, FAIL, 3]);
    source.rx.close();
    let mut buf = Vec::new();
    let first = source.recv_batch(&mut buf, 10, Duration::MAX).await;
    assert!(first.unwrap_err().is_failed());
    assert!(buf.is_empty());
    assert_eq!(source.recv_batch(&mut buf, 10, Duration::MAX).await, Ok(2));
    assert_eq!(buf, [1, 2]);
    assert_eq!(source.recv_batch(&mut buf, 10, Duration::MAX).await, Ok(1));
    assert_eq!(buf, [1, 2, 3]);
    assert_eq!(
        source.recv_batch(&mut buf, 10, Duration::MAX).await,
        Err(ConsumeError::closed())
    );
}

/// A failure that comes while the batch lingers ends it too.
#[tokio::test(start_paused = true)]
async fn a_failure_during_the_linger_ends_the_batch() {
    let (tx, rx) = channel::unbounded();
    let source = Flaky {
        rx,
        _open: tx.clone(),
    };
    tx.try_send(1).unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        tx.try_send(FAIL).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        tx.try_send(2).unwrap();
    });
    let started = tokio::time::Instant::now();
    let mut buf = Vec::new();
    assert_eq!(
        source
            .recv_batch(&mut buf, 10, Duration::from_secs(1))
            .await,
        Ok(1)
    );
    assert_eq!(started.elapsed(), Duration::from_millis(10));
    assert_eq!(source.recv().await, Ok(2));
}

/// The stream carries items only: it goes past failures, and ends at the close.
#[tokio::test(start_paused = true)]
async fn a_stream_goes_past_failures_and_ends_at_the_close() {
    let source = flaky(&[FAIL, 1, FAIL, FAIL, 2, 3, FAIL]);
    source.rx.close();
    let items: Vec<u32> = source.stream().collect().await;
    assert_eq!(items, [1, 2, 3]);
}

/// A consumer that fails again at once does not hold the task that polls its stream: each
/// failure yields to the runtime first.
#[tokio::test]
async fn a_stream_over_a_consumer_failing_at_once_yields() {
    let source = flaky(&[FAIL, FAIL, 7]);
    let mut stream = spawn(source.stream());
    for _ in 0..2 {
        assert_pending!(stream.poll_next());
        // The runtime wakes a task that yielded once it gets control back.
        tokio::task::yield_now().await;
        assert!(stream.is_woken(), "it yielded, and asks to be polled again");
    }
    assert_ready_eq!(stream.poll_next(), Some(7));
}

/// The boxed consumer passes failures through as they are.
#[tokio::test(start_paused = true)]
async fn a_boxed_consumer_keeps_its_failures() {
    let source: Box<dyn DynConsumer<u32>> = flaky(&[FAIL, 4]).into_dyn();
    let failed = source.recv().await.unwrap_err();
    assert_eq!(
        failed.source().map(ToString::to_string).as_deref(),
        Some("NOGROUP the group is gone")
    );
    assert_eq!(source.recv().await, Ok(4));
}
