//! `fan_out` and `merge`: every item once, and the merged stream ends when all inputs have.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::channel;
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn go_fan_out_fan_in_through_fan_out() {
    let (tx, rx) = channel::bounded::<u64>(1).unwrap();
    let squares = pc_pool::fan_out(rx, 3, |n: u64| async move {
        sleep(Duration::from_millis(
            fastrand::Rng::with_seed(n).u64(0..100),
        ))
        .await;
        Ok::<_, ()>(n * n)
    })
    .unwrap();
    assert_eq!(squares.pool().workers(), 3);
    tokio::spawn(async move { tx.send_all(1..=10).await.unwrap() });
    let mut got: Vec<u64> = squares.map(|square| square.unwrap()).collect().await;
    got.sort_unstable();
    assert_eq!(got, (1..=10u64).map(|n| n * n).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_gathers_every_item_of_every_stream_once() {
    let receivers: Vec<_> = (0..4u64)
        .map(|producer| {
            let (tx, rx) = channel::bounded::<u64>(16).unwrap();
            tokio::spawn(async move {
                tx.send_all((0..10_000).map(|i| producer * 10_000 + i))
                    .await
                    .unwrap()
            });
            rx
        })
        .collect();
    let got: Vec<u64> =
        tokio::time::timeout(Duration::from_secs(60), pc_pool::merge(receivers).collect())
            .await
            .expect("merge hung");
    assert_eq!(got.len(), 40_000);
    assert_eq!(got.iter().copied().collect::<HashSet<_>>().len(), 40_000);
    for producer in 0..4 {
        let mine: Vec<u64> = got
            .iter()
            .copied()
            .filter(|n| n / 10_000 == producer)
            .collect();
        let expected: Vec<u64> = (0..10_000).map(|i| producer * 10_000 + i).collect();
        assert_eq!(mine, expected, "each stream's own order");
    }
}

#[tokio::test]
async fn merge_takes_streams_in_turn_and_of_none_is_empty() {
    let merged: Vec<u32> = pc_pool::merge([
        futures_util::stream::iter(vec![1, 2, 3, 4]),
        futures_util::stream::iter(vec![10]),
        futures_util::stream::iter(vec![100, 200]),
    ])
    .collect()
    .await;
    assert_eq!(merged, [1, 10, 100, 2, 200, 3, 4]);
    let none: Vec<u32> =
        pc_pool::merge(Vec::<futures_util::stream::Iter<std::vec::IntoIter<u32>>>::new())
            .collect()
            .await;
    assert!(none.is_empty());
}
