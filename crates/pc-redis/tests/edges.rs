//! pc-redis at each edge of the checklist (`shared/EDGES.md`) that applies to a queue across
//! processes, one section per edge. Tests with a server start a private one and run in real
//! time (bounded loops, generous deadlines); each skips, saying so, without `redis-server`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};

use pc_core::task::panic_message;
use pc_core::{AckConsumer, BuildError, ConsumeError, Consumer, FailReason, Probe, Producer};
use pc_redis::{Codec, CodecError, RedisQueue, RedisSendError, WhenFull};
use support::{Server, blocked_reads, dead_reasons, len, pending};

// ## 4. Extreme durations, checked when the queue is built

#[test]
fn durations_out_of_range_are_build_errors() {
    let builder = || RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs");
    let zero_backoff = builder()
        .max_len(10)
        .when_full(WhenFull::Block {
            backoff: Duration::ZERO,
            max_backoff: Duration::from_millis(10),
        })
        .build()
        .unwrap_err();
    assert_eq!(zero_backoff, BuildError::Zero { setting: "backoff" });
    let inverted = builder()
        .when_full(WhenFull::Block {
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(1),
        })
        .build()
        .unwrap_err();
    assert_eq!(inverted.setting(), "max_backoff");
    // Redis cannot wait `Duration::MAX`: a typed error, not an overflow in a task.
    let never = builder().claim_idle(Duration::MAX).build().unwrap_err();
    assert_eq!(never.setting(), "claim_idle");
    let block = builder()
        .block(Duration::MAX)
        .claim_idle(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert_eq!(block.setting(), "block");
    // Counts Redis cannot take are typed errors, not a read that fails forever.
    let batch = builder().batch(usize::MAX).build().unwrap_err();
    assert_eq!(batch.setting(), "batch");
    let max_len = builder().max_len(usize::MAX).build().unwrap_err();
    assert_eq!(max_len.setting(), "max_len");
    builder()
        .batch(i64::MAX as usize)
        .max_len(i64::MAX as usize)
        .outbox(usize::MAX)
        .max_deliveries(u32::MAX)
        .build()
        .unwrap();
    // The largest backoff doubles without overflowing.
    builder()
        .max_len(1)
        .when_full(WhenFull::Block {
            backoff: Duration::MAX,
            max_backoff: Duration::MAX,
        })
        .build()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_of_zero_and_max_on_a_live_queue() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "edges")
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c0").await.unwrap();
    assert!(
        Consumer::recv_timeout(&consumer, Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    Producer::send_timeout(&producer, 7, Duration::MAX)
        .await
        .unwrap();
    // Real time: a generous bound on what `Duration::MAX` waits for here, one message.
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        Consumer::recv_timeout(&consumer, Duration::MAX),
    )
    .await
    .expect("the message came");
    assert_eq!(got, Ok(7));
    let mut buf = Vec::new();
    assert_eq!(
        Consumer::recv_batch(&consumer, &mut buf, 0, Duration::MAX).await,
        Ok(0)
    );
}

// ## 6. User code that panics
//
// The codec is the one callback on items (with the items' `Serialize`/`Deserialize` under the
// serde codecs). A panic there is that item's codec error: handed back to a caller, counted as
// dropped by the outbox, and dead-lettered by a consumer, like any item that does not encode or
// decode. The probe is the other: one that panics in a consumer's reader task is raised to a
// receive.

/// Writes numbers as text; cannot encode 13 or decode 21.
#[derive(Debug, Clone, Copy)]
struct Touchy;

impl Codec<u32> for Touchy {
    fn encode(&self, item: &u32) -> Result<Vec<u8>, CodecError> {
        assert!(*item != 13, "cannot encode 13");
        Ok(item.to_string().into_bytes())
    }

    fn decode(&self, bytes: &[u8]) -> Result<u32, CodecError> {
        let text = std::str::from_utf8(bytes).map_err(|e| CodecError(e.to_string()))?;
        let item: u32 = text.parse().map_err(|_| CodecError(text.to_string()))?;
        assert!(item != 21, "cannot decode 21");
        Ok(item)
    }
}

/// Walk: a codec that panicked took down the outbox's task when it encoded there (every later
/// `try_send` was stranded), and panicked the consumer on every read of the entry (the entry
/// stayed pending, to panic again at each reclaim). A panic is now that item's codec error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codec_that_panics_fails_that_item_alone() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .codec(Touchy)
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    match producer.send(13).await {
        Err(RedisSendError::Codec(13, error)) => {
            assert_eq!(error.0, "the codec panicked: cannot encode 13");
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
    // Through the trait, a failure rather than a close, with the codec's error as its source.
    for failed in [
        Producer::send(&producer, 13).await.unwrap_err(),
        Producer::send_timeout(&producer, 13, Duration::from_secs(10))
            .await
            .unwrap_err(),
    ] {
        assert!(failed.is_failed() && !Producer::is_closed(&producer));
        let source = std::error::Error::source(&failed).expect("the codec's error");
        assert_eq!(
            source.to_string(),
            "codec: the codec panicked: cannot encode 13"
        );
        assert_eq!(failed.into_inner(), 13);
    }
    // Through the outbox: 13 is counted dropped and the task goes on to 14.
    Producer::try_send(&producer, 13).unwrap();
    Producer::try_send(&producer, 14).unwrap();
    producer.send(21).await.unwrap();
    producer.send(22).await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    let mut got = Vec::new();
    // Real time, bounded: two items to come, each well within the deadline.
    for _ in 0..2 {
        let item = tokio::time::timeout(Duration::from_secs(10), Consumer::recv(&consumer))
            .await
            .expect("an item within the deadline")
            .unwrap();
        got.push(item);
    }
    got.sort_unstable();
    assert_eq!(got, [14, 22]);
    let nothing = Consumer::recv_timeout(&consumer, Duration::from_millis(300)).await;
    assert!(nothing.unwrap_err().is_timeout(), "21 is not delivered");
    assert_eq!(len(&server, "{jobs}:dead").await, 1);
    assert_eq!(
        dead_reasons(&server, "{jobs}:dead").await,
        ["undecodable: codec: the codec panicked: cannot decode 21"]
    );
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Fails on every dead letter.
#[derive(Debug)]
struct PanickyProbe;

impl Probe for PanickyProbe {
    fn failed(&self, _: u64, _: FailReason) {
        panic!("the probe failed");
    }
}

/// The reads are a task of the consumer's own: a panic there (a probe's, since the codec's are
/// items' errors) must not end them silently, leaving receives to wait for ever. It is raised
/// to the receive that waits, and the consumer is closed from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_reader_is_raised_to_the_receive() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .codec(Touchy)
        .probe(Arc::new(PanickyProbe))
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    // 21 does not decode: its dead letter calls the probe.
    producer.send(21).await.unwrap();
    // Real time, bounded: one entry on a local server is read well within the deadline.
    let deadline = Duration::from_secs(10);
    let raised = tokio::time::timeout(
        deadline,
        std::panic::AssertUnwindSafe(Consumer::recv(&consumer)).catch_unwind(),
    )
    .await
    .expect("the receive ends");
    let payload = raised.expect_err("the reader's panic is raised");
    assert_eq!(panic_message(&*payload), "the probe failed");
    assert!(Consumer::is_closed(&consumer));
    assert_eq!(Consumer::recv(&consumer).await, Err(ConsumeError::closed()));
    // The dead letter itself was written before the probe heard of it.
    assert_eq!(len(&server, "{jobs}:dead").await, 1);
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Panics in `backlog`, the one probe call a partitioned consumer's readers make unasked.
struct PanickyBacklog;

impl Probe for PanickyBacklog {
    fn backlog(&self, _: usize, _: u64, _: Option<u64>) {
        panic!("the backlog probe failed");
    }
}

/// Walk: a partitioned consumer forwards each partition's deliveries from a task; a panic
/// raised there (by the partition's reader) ended that task only, and the partition, still
/// held, was never read again. Now it ends the consumer and is raised to a receive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_partition_is_raised_to_the_receive() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .probe(Arc::new(PanickyBacklog))
        .backlog_every(Duration::from_millis(50))
        .block(Duration::from_millis(50))
        .partitioned(2)
        .build()
        .unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    // Real time, bounded: the first report comes at once.
    let raised = tokio::time::timeout(
        Duration::from_secs(10),
        std::panic::AssertUnwindSafe(Consumer::recv(&consumer)).catch_unwind(),
    )
    .await
    .expect("the receive ends");
    let payload = raised.expect_err("the partition's panic is raised");
    assert_eq!(panic_message(&*payload), "the backlog probe failed");
    assert_eq!(Consumer::recv(&consumer).await, Err(ConsumeError::closed()));
}

// ## 7. Shutdown in every state

/// Walk: `close_and_flush` took the outbox task's handle out before awaiting it, so a call
/// cancelled halfway and made again returned at once while the outbox was still sending. Every
/// call now waits for the outbox's task, whoever else waits too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_flush_cancelled_then_called_again_sends_everything() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .outbox(512)
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    for n in 0..500 {
        Producer::try_send(&producer, n).unwrap();
    }
    // Polled once, then dropped.
    assert!(producer.close_and_flush().now_or_never().is_none());
    // Real time, bounded: 500 entries on a local server take well under the deadline.
    tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(producer.close_and_flush(), producer.close_and_flush())
    })
    .await
    .expect("the outbox flushed");
    assert_eq!(len(&server, "jobs").await, 500);
}

/// A partitioned consumer closed while a receive waits: the receive ends, and by then every
/// partition is given up, so a consumer that joins next holds them all at once rather than a
/// lease (here 60 s) later. Dropped instead of closed, it gives them up the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_consumer_closed_or_dropped_gives_its_partitions_up() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .partitioned(4)
        .lease(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = Arc::new(queue.consumer("first").await.unwrap());
    assert_eq!(first.partitions(), vec![0, 1, 2, 3]);
    let waiting = tokio::spawn({
        let first = Arc::clone(&first);
        async move { first.recv_delivery().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.close();
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the receive ends")
        .unwrap();
    assert_eq!(ended, Err(ConsumeError::closed()));
    assert!(first.partitions().is_empty());

    let second = queue.consumer("second").await.unwrap();
    assert_eq!(second.partitions(), vec![0, 1, 2, 3]);
    drop(second);
    // Given up by the dropped consumer's task, on this runtime: bounded wait.
    let deadline = std::time::Instant::now()
        .checked_add(Duration::from_secs(10))
        .unwrap();
    loop {
        let third = queue.consumer("third").await.unwrap();
        if third.partitions() == vec![0, 1, 2, 3] {
            break;
        }
        third.close();
        assert!(std::time::Instant::now() < deadline, "never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ## 1. Cancellation at every await point: tested in tests/compose.rs (1,000 cancelled reads
// lose nothing) and tests/kill.rs (a consumer killed mid-read).

// ## 2. The abandoned registration

/// Walk: a receive held the consumer's reading lock across its blocking read, so a stream
/// polled once and then kept idle held it for as long as it lived, and every other receive
/// waited behind it. Reads are now the reader task's: a receive only waits for what it fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_polled_once_and_kept_holds_back_no_other() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    // A stream polled once, as the losing branch of a `select!`, then kept and never polled
    // again.
    let mut stream = Box::pin(Consumer::stream(&consumer));
    assert!(stream.next().now_or_never().is_none());
    producer.send(1).await.unwrap();
    // Real time, bounded: one message on a local server comes well within the deadline.
    let deadline = Duration::from_secs(10);
    let got = tokio::time::timeout(deadline, Consumer::recv(&consumer))
        .await
        .expect("a receive is not held back by the idle stream");
    assert_eq!(got, Ok(1));
    // What the idle stream asked for is fetched, and `try_recv` and `len` see it.
    producer.send(2).await.unwrap();
    let fetched = tokio::time::timeout(deadline, async {
        while Consumer::len(&consumer) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(fetched.is_ok(), "the entry is fetched for the idle stream");
    assert_eq!(Consumer::try_recv(&consumer), Ok(2));
    // The idle stream still works when polled again.
    producer.send(3).await.unwrap();
    let next = tokio::time::timeout(deadline, stream.next()).await;
    assert_eq!(next.expect("the stream gets the next message"), Some(3));
    drop(stream);
    // Each message delivered once: 2's ack goes with the next read, then nothing is pending.
    producer.send(4).await.unwrap();
    let got = tokio::time::timeout(deadline, Consumer::recv(&consumer)).await;
    assert_eq!(got.expect("the last message came"), Ok(4));
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// The reader task ends with its consumer, giving up a blocking read under way: dropped,
/// nothing of the consumer stays behind (its task, its two connections' tasks); closed while a
/// receive waits, the receive ends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_closed_or_dropped_mid_read_ends_its_reader() {
    let Some(server) = Server::start().await else {
        return;
    };
    // Reads that block longer than the deadlines below: only a read given up ends in time.
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_secs(60))
        .claim_idle(Duration::from_secs(240))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let runtime = tokio::runtime::Handle::current();
    let before = runtime.metrics().num_alive_tasks();
    // Real time, bounded: each wait below ends well within the deadline on a local server.
    let deadline = Duration::from_secs(10);
    {
        let consumer = queue.consumer("c").await.unwrap();
        // A receive starts the reader's blocking read, then goes.
        assert!(Consumer::recv(&consumer).now_or_never().is_none());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back = tokio::time::timeout(deadline, async {
        while runtime.metrics().num_alive_tasks() > before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "the dropped consumer's tasks end");
    assert_eq!(
        blocked_reads(&server).await,
        0,
        "its read ended on the server"
    );
    let consumer = queue.consumer("c").await.unwrap();
    let (closed, ()) = tokio::join!(
        tokio::time::timeout(deadline, Consumer::recv(&consumer)),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            consumer.close();
        }
    );
    assert_eq!(
        closed.expect("the receive ends"),
        Err(ConsumeError::closed())
    );
    assert!(Consumer::is_closed(&consumer));
    // The end seen, the read under way has ended on the server too: no entry sent from now on
    // can reach this consumer. (A read only dropped stayed blocked there until its connection
    // closed, and took the next entry when that came first.)
    assert_eq!(
        blocked_reads(&server).await,
        0,
        "the closed reader's read ended"
    );
    // Sent after the close: left to another consumer, never fetched by this one.
    producer.send(1).await.unwrap();
    let other = queue.consumer("d").await.unwrap();
    let got = tokio::time::timeout(deadline, Consumer::recv(&other)).await;
    assert_eq!(got.expect("the other consumer gets it"), Ok(1));
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Walk: a consumer closed during a blocking read dropped the read's future, but the server
/// kept the read blocked until the reader's connection closed; an entry sent before the server
/// saw that close went to the closed consumer, pending there a claim time (4 minutes in the
/// test above) before another could have it: seen once in `cargo xtask ci` under load, as the
/// test above timing out. Now the read is ended on the server before the reader finishes, and
/// so before a receive sees the end. This checks that state; the race itself depends on when
/// the server sees a connection close, so without the fix this check fails only when the
/// server is slow to see it (it passed 6 runs of 6 on an idle machine).
///
/// The consumer lives on a runtime of its own that is not driven once its receive has seen
/// the end, so nothing of the consumer's moves while the server is asked.
#[test]
fn a_consumer_closed_mid_read_ends_the_read_on_the_server() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let (consumers, checks) = (runtime(), runtime());
    let Some(server) = checks.block_on(Server::start()) else {
        return;
    };
    // Real time, bounded: the read reaches a local server within milliseconds.
    let deadline = Duration::from_secs(10);
    let consumer = consumers.block_on(async {
        let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
            .block(Duration::from_secs(60))
            .claim_idle(Duration::from_secs(240))
            .build()
            .unwrap();
        let consumer = queue.consumer("c").await.unwrap();
        // A receive waits until the reader's read blocks on the server, then goes.
        let reading = tokio::time::timeout(deadline, async {
            while blocked_reads(&server).await == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        tokio::select! {
            got = Consumer::recv(&consumer) => panic!("nothing was sent: {got:?}"),
            read = reading => read.expect("the reader's read blocks on the server"),
        }
        consumer
    });
    consumer.close();
    let ended = consumers
        .block_on(async { tokio::time::timeout(deadline, Consumer::recv(&consumer)).await });
    assert_eq!(
        ended.expect("the receive ends"),
        Err(ConsumeError::closed())
    );
    assert_eq!(
        checks.block_on(blocked_reads(&server)),
        0,
        "the closed consumer's read still blocks on the server"
    );
}

/// A partitioned consumer's stream polled once and kept holds back no other receive: it
/// watches the partitions' deliveries rather than waiting in line for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_receive_polled_once_and_kept_holds_back_no_other() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .partitioned(2)
        .build()
        .unwrap();
    let consumer = queue.consumer("only").await.unwrap();
    let mut kept = Box::pin(consumer.stream());
    assert!(kept.next().now_or_never().is_none());
    queue
        .producer()
        .await
        .unwrap()
        .send_all(0..2)
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery())
            .await
            .expect("delivered while the other receive is kept")
            .unwrap();
        got.push(*delivery.item());
        delivery.ack().await.unwrap();
    }
    got.sort_unstable();
    assert_eq!(got, vec![0, 1]);
    drop(kept);
}

// ## 3. Fairness does not apply in-process: Redis serves reads of one group in arrival order;
// reclaim of idle entries is tested in tests/queue.rs (`a_dead_consumers_entries_are_reclaimed`).

// ## 5. Extreme numbers: tested in `durations_out_of_range_are_build_errors` above (counts
// above `i64::MAX`, an outbox of `usize::MAX`, `u32::MAX` deliveries).

// ## 8. Bounded memory

/// A consumer buffers at most a batch per read, its replay of its own pending entries too: a
/// consumer that comes back to thousands of them does not fetch them all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_buffers_one_batch_at_a_time() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .batch(2)
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    producer.send_all(0..5).await.unwrap();
    // Real time, bounded: five entries on a local server take well under the deadline.
    let deadline = Duration::from_secs(10);
    {
        // Taken and dropped unsettled: all five stay pending under `c`.
        let consumer = queue.consumer("c").await.unwrap();
        for _ in 0..5 {
            let delivery = tokio::time::timeout(deadline, consumer.recv_delivery()).await;
            drop(delivery.expect("a delivery").unwrap());
        }
    }
    assert_eq!(pending(&server, "jobs", "pc").await, 5);
    let consumer = queue.consumer("c").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        let delivery = tokio::time::timeout(deadline, consumer.recv_delivery())
            .await
            .expect("a replayed delivery")
            .unwrap();
        assert!(Consumer::len(&consumer) < 2, "one batch at a time");
        // A replay is not a delivery: the count stays.
        assert_eq!(delivery.delivery_count(), 1);
        got.push(delivery.ack().await.unwrap());
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

// Also tested in tests/backpressure.rs (a capped stream never holds more than `max_len`) and
// tests/producer.rs (`a_full_outbox_hands_the_item_back`).

// ## 9. Weak memory does not apply: shared state is under locks or in Redis; the kill tests
// (tests/kill.rs, tests/crash.rs) run across processes.

// ## 10. Promises across composition: tested in tests/contract.rs (the queue among the
// producer-consumer contract) and tests/compose.rs (a pool over a Redis consumer).

// ## 11. Hidden order assumptions: tested in tests/producer.rs
// (`try_send_goes_through_the_outbox_in_order`); order is the stream's.

/// A send that waits for replicas no server has fails with its item, saying how many
/// confirmed; the settings are checked when built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_no_replica_confirms_fails_with_its_item() {
    for (replicas, timeout, setting) in [
        (0, Duration::from_secs(1), "replicas"),
        (1, Duration::ZERO, "replicas"),
        (1, Duration::from_secs(3601), "replicas"),
    ] {
        let built = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
            .replicas(replicas, timeout)
            .build();
        let refused = match built {
            Err(BuildError::Zero { setting } | BuildError::Invalid { setting, .. }) => setting,
            other => panic!("expected a build error, got {other:?}"),
        };
        assert_eq!(refused, setting);
    }
    let built = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .cluster_nodes(["not a url"])
        .build();
    assert!(matches!(
        built,
        Err(BuildError::Invalid {
            setting: "cluster_nodes",
            ..
        })
    ));

    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .replicas(1, Duration::from_millis(100))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let Err(RedisSendError::Server(item, error)) = producer.send(7).await else {
        panic!("no replica can confirm");
    };
    assert_eq!(item, 7);
    let said = error.to_string();
    assert!(
        said.contains("replicas did not confirm") && said.contains("0 of 1"),
        "{said}"
    );
    let Err(RedisSendError::Server(first, _)) = producer.send_all([8, 9]).await else {
        panic!("no replica can confirm a pipeline");
    };
    assert_eq!(first, 8);
    // The entries were added all the same: the master has them.
    assert_eq!(len(&server, "jobs").await, 3);
}

// ## 12. Errors that tell the truth: tested in tests/backpressure.rs (a full capped stream
// reports `Full`, never a close), tests/queue.rs (dead letters with their reason),
// tests/retry.rs (refused reads and outages end, after the retry policy, in an error a receive
// or send sees, a probe count and a log line) and tests/tls.rs (certificates that do not parse
// are build errors naming `tls`; a server from an unknown authority, for another name, or
// refusing the client's certificate, is a `Connect` error carrying rustls' reason).

// ## The randomized contract test does not apply here: it runs under paused time, where a
// wait for a server's reply leaves the runtime idle, the clock jumps, and every timeout
// fires at once. The queue keeps the same promises in real time in tests/contract.rs (the
// producer-consumer contract over a local server).
