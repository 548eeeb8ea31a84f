//! Pipelines: the Go seed's two, order, error policies, backpressure and cancellation, with
//! every item counted.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::BuildError;
use pc_pool::{OnError, Pipeline, PipelineError};
use tokio::time::sleep;

use support::ms;

type Never = std::convert::Infallible;

#[tokio::test(start_paused = true)]
async fn go_basic_pipeline_generate_square_to_string_prefix() {
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(1..=5u64))
        .stage(1, 1, |n: u64| async move { Ok::<_, Never>(n * n) })
        .unwrap()
        .stage(1, 1, |n: u64| async move { Ok(n.to_string()) })
        .unwrap()
        .stage(1, 1, |s: String| async move { Ok(format!("Result: {s}")) })
        .unwrap()
        .ordered()
        .collect()
        .await;
    let expected: Vec<Result<String, PipelineError<Never>>> =
        [1, 4, 9, 16, 25].map(|n| Ok(format!("Result: {n}"))).into();
    assert_eq!(out, expected);
}

/// The Go seed's pipeline with errors: parse, double, format; the error travels on in place.
fn go_error_pipeline(on_error: OnError) -> pc_pool::PipelineOutput<String, String> {
    let inputs = ["1", "2", "invalid", "4", "5"].map(String::from);
    Pipeline::from_stream(futures_util::stream::iter(inputs))
        .on_error(on_error)
        .stage(2, 2, |s: String| async move {
            s.parse::<i64>()
                .map_err(|err| format!("parse {s:?}: {err}"))
        })
        .unwrap()
        .stage(2, 2, |n: i64| async move { Ok(n * 2) })
        .unwrap()
        .stage(2, 2, |n: i64| async move { Ok(format!("Result: {n}")) })
        .unwrap()
        .ordered()
}

#[tokio::test(start_paused = true)]
async fn go_error_pipeline_forwards_the_one_error_in_order() {
    let out: Vec<_> = go_error_pipeline(OnError::Forward).collect().await;
    assert_eq!(
        out,
        [
            Ok("Result: 2".to_string()),
            Ok("Result: 4".to_string()),
            Err(PipelineError::Stage(
                "parse \"invalid\": invalid digit found in string".to_string()
            )),
            Ok("Result: 8".to_string()),
            Ok("Result: 10".to_string()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn skipping_counts_the_error_and_keeps_the_rest_in_order() {
    let mut output = go_error_pipeline(OnError::Skip);
    let mut out = Vec::new();
    while let Some(item) = output.next().await {
        out.push(item.unwrap());
    }
    assert_eq!(out, ["Result: 2", "Result: 4", "Result: 8", "Result: 10"]);
    assert_eq!(output.skipped(), 1);
}

#[tokio::test(start_paused = true)]
async fn stopping_ends_every_stage_after_the_error() {
    let seen = Arc::new(AtomicU64::new(0));
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..1000u64))
        .on_error(OnError::Stop)
        .stage(1, 1, {
            let seen = seen.clone();
            move |n: u64| {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::Relaxed);
                    sleep(ms(1)).await;
                    if n == 10 { Err("ten") } else { Ok(n) }
                }
            }
        })
        .unwrap()
        .ordered();
    let mut out = Vec::new();
    while let Some(item) = output.next().await {
        out.push(item);
    }
    assert_eq!(out.last(), Some(&Err(PipelineError::Stage("ten"))));
    let oks: Vec<u64> = out
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(
        oks,
        (0..10).collect::<Vec<_>>(),
        "everything before the error, in order"
    );
    assert_eq!(
        seen.load(Ordering::Relaxed),
        11,
        "nothing after the error ran"
    );
    output.cancel().await;
}

#[tokio::test(start_paused = true)]
async fn unordered_output_keeps_every_item_and_ordered_restores_the_order() {
    // Item n takes (n * 7) % 10 ms: with 4 workers they finish out of order.
    let stage = |n: u64| async move {
        sleep(ms((n * 7) % 10)).await;
        Ok::<_, Never>(n)
    };
    let mut unordered: Vec<u64> = Pipeline::from_stream(futures_util::stream::iter(0..200u64))
        .stage(4, 8, stage)
        .unwrap()
        .unordered()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_ne!(
        unordered,
        (0..200).collect::<Vec<_>>(),
        "finished out of order"
    );
    unordered.sort_unstable();
    assert_eq!(unordered, (0..200).collect::<Vec<_>>());
    let ordered: Vec<u64> = Pipeline::from_stream(futures_util::stream::iter(0..200u64))
        .stage(4, 8, stage)
        .unwrap()
        .ordered()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(ordered, (0..200).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_slow_last_stage_holds_every_stage_to_its_buffer() {
    let started = Arc::new(AtomicU64::new(0));
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..1000u64))
        .stage(1, 2, {
            let started = started.clone();
            move |n: u64| {
                let started = started.clone();
                async move {
                    started.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, Never>(n)
                }
            }
        })
        .unwrap()
        .stage(1, 1, |n: u64| async move {
            sleep(ms(100)).await;
            Ok(n)
        })
        .unwrap()
        .ordered();
    assert_eq!(output.next().await, Some(Ok(0)));
    sleep(ms(1000)).await;
    // With the output not read: item 1 waits in the slow stage's buffer of 1, the slow stage
    // holds item 2, items 3 and 4 fill the fast stage's buffer of 2, and the fast stage holds
    // item 5. It ran six items, and no more however long the wait.
    assert_eq!(started.load(Ordering::Relaxed), 6);
    sleep(ms(10_000)).await;
    assert_eq!(started.load(Ordering::Relaxed), 6);
    output.cancel().await;
}

#[tokio::test(start_paused = true)]
async fn from_a_consumer_and_cancelled_leaves_no_task() {
    let before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let (tx, rx) = pc_core::channel::bounded::<u64>(8).unwrap();
    let mut output = Pipeline::from_consumer(rx)
        .stage(3, 4, |n: u64| async move { Ok::<_, Never>(n + 1) })
        .unwrap()
        .unordered();
    tx.send_all(0..5).await.unwrap();
    let mut got: Vec<u64> = Vec::new();
    for _ in 0..5 {
        got.push(output.next().await.unwrap().unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    output.cancel().await;
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        before
    );
}

#[tokio::test]
async fn zero_concurrency_or_buffer_is_a_build_error() {
    let source = || Pipeline::<u64, Never>::from_stream(futures_util::stream::iter(0..1u64));
    let stage = |n: u64| async move { Ok::<_, Never>(n) };
    assert_eq!(
        source().stage(0, 1, stage).unwrap_err(),
        BuildError::Zero {
            setting: "concurrency"
        }
    );
    assert_eq!(
        source().stage(1, 0, stage).unwrap_err(),
        BuildError::Zero { setting: "buffer" }
    );
}

#[tokio::test(start_paused = true)]
async fn per_key_order_holds_while_keys_go_in_parallel() {
    // 300 items of 6 keys, each stage taking a different, seeded time per item.
    let items: Vec<(u64, u64)> = (0..300).map(|i| (i % 6, i)).collect();
    let delay = |salt: u64, i: u64| ms(fastrand::Rng::with_seed(i * 31 + salt).u64(1..20));
    let start = tokio::time::Instant::now();
    let out: Vec<(u64, u64)> = Pipeline::from_stream(futures_util::stream::iter(items.clone()))
        .key_by(|&(key, _): &(u64, u64)| key)
        .stage(3, 4, move |(key, i): (u64, u64)| async move {
            sleep(delay(1, i)).await;
            Ok::<_, Never>((key, i))
        })
        .unwrap()
        .stage(3, 4, move |(key, i): (u64, u64)| async move {
            sleep(delay(2, i)).await;
            Ok((key, i))
        })
        .unwrap()
        .unordered()
        .map(Result::unwrap)
        .collect()
        .await;
    let elapsed = tokio::time::Instant::now() - start;
    assert_eq!(out.len(), 300);
    assert_ne!(out, items, "keys interleave differently than the source");
    for key in 0..6 {
        let mine: Vec<u64> = out
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|&(_, i)| i)
            .collect();
        let expected: Vec<u64> = (0..300).filter(|i| i % 6 == key).collect();
        assert_eq!(mine, expected, "key {key} in its source order");
    }
    // One worker per stage would take the sum of both stages' times for every item.
    let serial: Duration = (0..300).map(|i| delay(1, i).max(delay(2, i))).sum();
    assert!(
        elapsed < serial,
        "keys went in parallel: {elapsed:?} against {serial:?}"
    );
}
