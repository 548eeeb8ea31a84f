//! Every error variant of every operation is reachable, and items come back.

mod support;

use std::time::Duration;

use pc_core::{
    BuildError, Consumer, ProduceError, ProduceErrorKind, Producer, RecvError, RecvTimeoutError,
    ReserveError, SendError, SendTimeoutError, TryRecvError, TryReserveError, TrySendError,
    channel,
};
use support::within_paused;

#[tokio::test(start_paused = true)]
async fn send_side_variants() {
    within_paused(async {
        let (tx, rx) = channel::bounded::<String>(1).unwrap();
        tx.try_send("a".into()).unwrap();

        let full = tx.try_send("b".into()).unwrap_err();
        assert!(full.is_full() && !full.is_closed());
        assert_eq!(full.into_inner(), "b");

        let timeout = tx
            .send_timeout("c".into(), Duration::from_millis(10))
            .await
            .unwrap_err();
        assert!(timeout.is_timeout());
        assert_eq!(timeout, SendTimeoutError::Timeout("c".to_string()));

        assert_eq!(tx.try_reserve().unwrap_err(), TryReserveError::Full);

        tx.close();
        assert_eq!(
            tx.try_send("d".into()),
            Err(TrySendError::Closed("d".into()))
        );
        assert_eq!(
            tx.send_timeout("e".into(), Duration::from_millis(10)).await,
            Err(SendTimeoutError::Closed("e".into()))
        );
        assert_eq!(tx.send("f".into()).await, Err(SendError("f".into())));
        assert_eq!(tx.reserve().await.unwrap_err(), ReserveError);
        assert_eq!(tx.try_reserve().unwrap_err(), TryReserveError::Closed);
        assert_eq!(
            Producer::send_all(&tx, ["g".to_string()])
                .await
                .map_err(ProduceError::into_parts),
            Err((ProduceErrorKind::Closed, "g".into()))
        );
        assert_eq!(rx.recv().await.unwrap(), "a");
    })
    .await;
}

/// Each kind of the trait's error: which are refusals, what it prints, its source, and that it
/// debugs without `T: Debug` and maps its item.
#[test]
fn produce_error_kinds() {
    struct Opaque;
    let kinds = [
        (
            ProduceErrorKind::Closed,
            false,
            "sending into a closed producer",
        ),
        (ProduceErrorKind::Full, true, "sending into a full producer"),
        (
            ProduceErrorKind::TimedOut,
            true,
            "timed out waiting for room in the producer",
        ),
        (
            ProduceErrorKind::Rejected,
            true,
            "the producer's policy rejected the item",
        ),
        (
            ProduceErrorKind::OverLimit,
            true,
            "the producer's rate limit has no permit now",
        ),
    ];
    for (kind, refusal, text) in kinds {
        let err = ProduceError::new(Opaque, kind);
        assert_eq!(err.kind(), kind);
        assert_eq!((err.is_refused(), kind.is_refusal()), (refusal, refusal));
        assert_eq!(err.is_closed(), kind == ProduceErrorKind::Closed);
        assert!(!err.is_failed());
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(err.to_string(), text);
        assert_eq!(
            format!("{err:?}"),
            format!("ProduceError {{ kind: {kind:?}, .. }}")
        );
    }
    let failed = ProduceError::failed(1u32, "connection reset");
    assert!(failed.is_failed() && !failed.is_refused() && !failed.is_closed());
    assert_eq!(
        failed.to_string(),
        "the producer's backend failed: connection reset"
    );
    let source = std::error::Error::source(&failed).expect("a source");
    assert_eq!(source.to_string(), "connection reset");
    let mapped = failed.map(|n| n.to_string());
    assert_eq!(mapped.item(), "1");
    assert!(std::error::Error::source(&mapped).is_some());
    assert_eq!(
        mapped.into_parts(),
        (ProduceErrorKind::Failed, "1".to_string())
    );
    assert_eq!(
        ProduceError::from(TrySendError::Full(2)).into_parts(),
        (ProduceErrorKind::Full, 2)
    );
    assert_eq!(
        ProduceError::from(SendTimeoutError::Timeout(3)).into_parts(),
        (ProduceErrorKind::TimedOut, 3)
    );
    assert_eq!(
        ProduceError::from(SendError(4)).into_parts(),
        (ProduceErrorKind::Closed, 4)
    );
}

#[tokio::test(start_paused = true)]
async fn send_timeout_succeeds_when_space_frees_in_time() {
    within_paused(async {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        tx.send(1).await.unwrap();
        let consumer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(rx.recv().await, Ok(1));
            rx
        });
        tx.send_timeout(2, Duration::from_millis(10)).await.unwrap();
        let rx = consumer.await.unwrap();
        assert_eq!(rx.try_recv(), Ok(2));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn recv_side_variants() {
    within_paused(async {
        let (tx, rx) = channel::bounded::<u32>(4).unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(rx.try_recv().unwrap_err().is_empty());
        let timeout = rx
            .recv_timeout(Duration::from_millis(10))
            .await
            .unwrap_err();
        assert!(timeout.is_timeout());
        tx.send(1).await.unwrap();
        tx.close();
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)).await, Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx.recv().await, Err(RecvError));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)).await,
            Err(RecvTimeoutError::Closed)
        );
        assert!(
            Consumer::recv_timeout(&rx, Duration::ZERO)
                .await
                .unwrap_err()
                .is_closed()
        );
    })
    .await;
}

#[test]
fn capacity_zero_is_a_build_error() {
    let err = channel::bounded::<u32>(0).unwrap_err();
    assert_eq!(
        err,
        BuildError::Zero {
            setting: "capacity"
        }
    );
    assert_eq!(err.setting(), "capacity");
    assert!(channel::Builder::bounded(0).build::<u32>().is_err());
    assert_eq!(
        channel::Builder::unbounded()
            .build::<u32>()
            .unwrap()
            .0
            .capacity(),
        None
    );
}

#[test]
fn errors_display_lowercase_phrases_and_debug_without_the_item() {
    struct Opaque;
    let messages = [
        SendError(Opaque).to_string(),
        TrySendError::Full(Opaque).to_string(),
        TrySendError::Closed(Opaque).to_string(),
        SendTimeoutError::Timeout(Opaque).to_string(),
        SendTimeoutError::Closed(Opaque).to_string(),
        RecvError.to_string(),
        TryRecvError::Empty.to_string(),
        TryRecvError::Closed.to_string(),
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Closed.to_string(),
        ReserveError.to_string(),
        TryReserveError::Full.to_string(),
        TryReserveError::Closed.to_string(),
    ];
    for message in messages {
        assert!(message.chars().next().unwrap().is_lowercase(), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque)), "Full(..)");
    assert_eq!(format!("{:?}", SendError(Opaque)), "SendError(..)");
    let boxed: Box<dyn std::error::Error> = Box::new(SendError(Opaque));
    assert_eq!(boxed.to_string(), "sending into a closed channel");
}
