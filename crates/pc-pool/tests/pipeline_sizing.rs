//! Pipeline stages that size themselves: the same controllers as the pool's, per stage.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{FutureExt, StreamExt};
use pc_core::BuildError;
use pc_pool::sizing::{Sample, Vegas};
use pc_pool::{MAX_WORKERS, Pipeline};
use support::{ms, slow_double, within};

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_adaptive_stage_grows_while_items_wait_and_hands_each_out_once_in_order() {
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let greedy = {
        let seen = Arc::clone(&seen);
        move |sample: &Sample| {
            seen.lock()
                .unwrap()
                .push((sample.workers, sample.queued, sample.min, sample.max));
            if sample.queued > 0 { usize::MAX } else { 0 }
        }
    };
    let source = futures_util::stream::iter(0..200_u32);
    let started = tokio::time::Instant::now();
    let out: Vec<_> = within(
        Pipeline::from_stream(source)
            .adaptive_stage(2, 6, 4, greedy, slow_double(&most))
            .unwrap()
            .ordered()
            .collect(),
    )
    .await;
    assert_eq!(out, (0..200).map(|n| Ok(n * 2)).collect::<Vec<_>>());
    assert_eq!(most.load(Ordering::SeqCst), 6, "grew to its most");
    // Two workers for the first 10 ms, then six: 198 items in 33 rounds of 10 ms.
    assert_eq!(started.elapsed(), ms(10 + 330));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 200, "one sample per item");
    assert!(
        seen.iter()
            .all(|&(workers, _, min, max)| (2..=6).contains(&workers) && (min, max) == (2, 6))
    );
    assert_eq!(
        seen[0],
        (2, 16, 2, 6),
        "the first sample: two workers, the input buffer full"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_adaptive_stage_shrinks_when_its_input_runs_dry_and_loses_nothing() {
    let most = Arc::new(AtomicUsize::new(0));
    let shrink = |sample: &Sample| {
        if sample.queued == 0 {
            1
        } else {
            sample.workers
        }
    };
    // The source pauses between bursts, so the stage's input runs dry between them.
    let source = futures_util::stream::iter(0..60_u32).then(|n| async move {
        if n % 20 == 0 {
            tokio::time::sleep(ms(100)).await;
        }
        n
    });
    let out: Vec<_> = within(
        Pipeline::from_stream(source)
            .adaptive_stage(1, 8, 8, shrink, slow_double(&most))
            .unwrap()
            .unordered()
            .collect(),
    )
    .await;
    let mut out: Vec<u32> = out.into_iter().map(Result::unwrap).collect();
    out.sort_unstable();
    assert_eq!(out, (0..60).map(|n| n * 2).collect::<Vec<_>>());
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "started at its fewest, never asked to grow"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_stage_controller_that_panics_is_raised_when_the_output_ends() {
    let most = Arc::new(AtomicUsize::new(0));
    let mut calls = 0;
    let breaks = move |sample: &Sample| {
        calls += 1;
        assert!(calls < 5, "the stage's controller broke");
        sample.workers
    };
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..20_u32))
        .adaptive_stage(1, 4, 4, breaks, slow_double(&most))
        .unwrap()
        .ordered();
    let mut out = Vec::new();
    let ended = std::panic::AssertUnwindSafe(within(async {
        while let Some(item) = output.next().await {
            out.push(item);
        }
    }))
    .catch_unwind()
    .await;
    assert_eq!(
        out,
        (0..20).map(|n| Ok(n * 2)).collect::<Vec<_>>(),
        "every item still out"
    );
    let panic = ended.expect_err("the controller's panic is raised at the end");
    assert_eq!(
        pc_core::task::panic_message(panic.as_ref()),
        "the stage's controller broke"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn adaptive_stage_settings_are_checked() {
    let most = Arc::new(AtomicUsize::new(0));
    let source = || Pipeline::from_stream(futures_util::stream::iter(0..1_u32));
    let err = |result: Result<Pipeline<u32, ()>, BuildError>| result.map(drop).unwrap_err();
    assert_eq!(
        err(source().adaptive_stage(0, 4, 4, Vegas::new(), slow_double(&most))),
        BuildError::Zero { setting: "min" }
    );
    assert_eq!(
        err(source().adaptive_stage(5, 4, 4, Vegas::new(), slow_double(&most))).setting(),
        "min"
    );
    assert_eq!(
        err(source().adaptive_stage(1, MAX_WORKERS + 1, 4, Vegas::new(), slow_double(&most)))
            .setting(),
        "max"
    );
    assert_eq!(
        err(source().adaptive_stage(1, 4, 0, Vegas::new(), slow_double(&most))),
        BuildError::Zero { setting: "buffer" }
    );
    assert_eq!(
        err(source().adaptive_stage(1, 4, 4, Vegas::new().smoothing(2.0), slow_double(&most)))
            .setting(),
        "smoothing"
    );
    let keyed = source().key_by(|n: &u32| *n % 2);
    assert_eq!(
        err(keyed.adaptive_stage(1, 4, 4, Vegas::new(), slow_double(&most))).setting(),
        "adaptive"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_adaptive_stage_whose_output_is_full_retires_only_after_handing_its_item_on() {
    // Grows to 8 while items wait, then asks for 1 while the next stage (one worker, a buffer
    // of one) holds everyone's outputs back: the workers over the count each still hand on
    // the item they hold.
    let mut calls = 0;
    let up_then_down = move |_: &Sample| {
        calls += 1;
        if calls < 8 { 8 } else { 1 }
    };
    let most = Arc::new(AtomicUsize::new(0));
    let out: Vec<_> = within(
        Pipeline::from_stream(futures_util::stream::iter(0..100_u32))
            .adaptive_stage(1, 8, 1, up_then_down, slow_double(&most))
            .unwrap()
            .stage(1, 1, |n: u32| async move {
                tokio::time::sleep(ms(50)).await;
                Ok(n + 1)
            })
            .unwrap()
            .ordered()
            .collect(),
    )
    .await;
    assert_eq!(out, (0..100).map(|n| Ok(n * 2 + 1)).collect::<Vec<_>>());
    assert_eq!(most.load(Ordering::SeqCst), 8);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn cancelling_a_pipeline_ends_every_worker_an_adaptive_stage_started() {
    let before = support::alive();
    let most = Arc::new(AtomicUsize::new(0));
    let greedy = |_: &Sample| usize::MAX;
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..1_000_u32))
        .adaptive_stage(1, 16, 4, greedy, slow_double(&most))
        .unwrap()
        .unordered();
    for _ in 0..50 {
        output.next().await.unwrap().unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 16);
    output.cancel().await;
    assert_eq!(support::alive(), before, "every task ended");
}
