//! Which item comes out next: strict levels, keys, weighted shares and aging, exactly.

mod support;

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::Duration;

use pc_priority::{PriorityChannel, Scheduling};
use support::within_paused;

/// C# example 2: 5 levels, 5 producers x 50 items, one consumer.
#[tokio::test(start_paused = true)]
async fn seed_example_two_delivers_all_250_once_while_producing() {
    within_paused(async {
        let (tx, rx) = PriorityChannel::builder(5).capacity(200).build().unwrap();
        let producers: Vec<_> = (0..5usize)
            .map(|level| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 1..=50 {
                        tx.send(format!("Priority-{level}-Message-{i}"), level)
                            .await
                            .unwrap();
                        // Higher priority items are produced less often, as in the seed.
                        tokio::time::sleep(Duration::from_millis(10 * (5 - level as u64))).await;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut by_level: HashMap<usize, Vec<String>> = HashMap::new();
        while let Ok((message, level)) = rx.recv().await {
            by_level.entry(level).or_default().push(message);
        }
        for producer in producers {
            producer.await.unwrap();
        }
        for level in 0..5 {
            let expected: Vec<String> = (1..=50)
                .map(|i| format!("Priority-{level}-Message-{i}"))
                .collect();
            assert_eq!(
                by_level[&level], expected,
                "level {level}: all 50, in order"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn seed_example_two_queued_first_comes_out_level_by_level() {
    let (tx, rx) = PriorityChannel::builder(5).capacity(250).build().unwrap();
    // Producers interleave their sends; consumption starts once all 250 are queued.
    for i in 1..=50 {
        for level in [4, 2, 0, 3, 1] {
            tx.send((level, i), level).await.unwrap();
        }
    }
    assert_eq!(tx.len(), 250);
    assert!((0..5).all(|level| tx.level_len(level) == Some(50)));
    tx.close();
    let mut got = Vec::new();
    while let Ok((item, level)) = rx.recv().await {
        assert_eq!(item.0, level);
        got.push(item);
    }
    let expected: Vec<(usize, i32)> = (0..5)
        .flat_map(|level| (1..=50).map(move |i| (level, i)))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn keys_come_out_smallest_first_and_fifo_among_equals() {
    let (tx, rx) = PriorityChannel::by_key(0u64).build().unwrap();
    let keys = [5u64, 1, 5, 3, 1, 9, 3, 5];
    for (n, key) in keys.iter().enumerate() {
        tx.send(n, *key).await.unwrap();
    }
    tx.close();
    let mut got = Vec::new();
    while let Ok(item) = rx.recv().await {
        got.push(item);
    }
    assert_eq!(
        got,
        [
            (1, 1),
            (4, 1),
            (3, 3),
            (6, 3),
            (0, 5),
            (2, 5),
            (7, 5),
            (5, 9)
        ]
    );
}

#[tokio::test]
async fn reversed_keys_come_out_largest_first() {
    let (tx, rx) = PriorityChannel::by_key(Reverse(0)).build().unwrap();
    for score in [3, 8, 1, 8] {
        tx.try_send(score, Reverse(score)).unwrap();
    }
    let order: Vec<i32> = (0..4).map(|_| rx.try_recv().unwrap().0).collect();
    assert_eq!(order, [8, 8, 3, 1]);
}

#[tokio::test]
async fn weighted_shares_follow_the_weights_while_every_level_is_backlogged() {
    let (tx, rx) = PriorityChannel::builder(3)
        .scheduling(Scheduling::Weighted(vec![4, 2, 1]))
        .build()
        .unwrap();
    for level in 0..3 {
        for n in 0..10_000 {
            tx.try_send(n, level).unwrap();
        }
    }
    let mut served = [0usize; 3];
    let mut next = [0; 3];
    for _ in 0..7_000 {
        let (n, level) = rx.try_recv().unwrap();
        assert_eq!(n, next[level], "FIFO within level {level}");
        next[level] += 1;
        served[level] += 1;
    }
    // Deficit round robin is exact here: 1,000 rounds of 4 + 2 + 1.
    assert_eq!(served, [4_000, 2_000, 1_000]);
    for (level, share) in [4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0].into_iter().enumerate() {
        let got = served[level] as f64 / 7_000.0;
        assert!(
            (got - share).abs() <= 0.02,
            "level {level}: {got} vs {share}"
        );
    }
}

#[tokio::test]
async fn weighted_skips_empty_levels_and_gives_their_turn_away() {
    let (tx, rx) = PriorityChannel::builder(3)
        .scheduling(Scheduling::Weighted(vec![2, 5, 1]))
        .build()
        .unwrap();
    for n in 0..4 {
        tx.try_send(n, 0).unwrap();
        tx.try_send(10 + n, 2).unwrap();
    }
    let order: Vec<(i32, usize)> = (0..8).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(
        order,
        [
            (0, 0),
            (1, 0),
            (10, 2),
            (2, 0),
            (3, 0),
            (11, 2),
            (12, 2),
            (13, 2)
        ]
    );
}

#[tokio::test]
async fn weighted_lowest_level_is_served_under_a_flood_of_the_highest() {
    let (tx, rx) = PriorityChannel::builder(2)
        .scheduling(Scheduling::Weighted(vec![3, 1]))
        .build()
        .unwrap();
    tx.try_send(-1, 1).unwrap();
    let mut position = None;
    for n in 0..100 {
        tx.try_send(n, 0).unwrap();
        tx.try_send(n, 0).unwrap();
        let (item, level) = rx.try_recv().unwrap();
        if level == 1 {
            assert_eq!(item, -1);
            position = Some(n);
        }
    }
    assert_eq!(position, Some(3), "served after one quantum of level 0");
}

/// One tick per millisecond: two high items arrive, one item is received. The high level never
/// empties, so a strict channel would never serve the low item.
async fn flood(scheduling: Scheduling, low_at_tick: u64, ticks: u64) -> Option<Duration> {
    let (tx, rx) = PriorityChannel::builder(2)
        .scheduling(scheduling)
        .build()
        .unwrap();
    let mut sent_low = None;
    for tick in 0..ticks {
        tx.try_send(tick, 0).unwrap();
        tx.try_send(tick, 0).unwrap();
        if tick == low_at_tick {
            tx.try_send(u64::MAX, 1).unwrap();
            sent_low = Some(tokio::time::Instant::now());
        }
        let (item, level) = rx.try_recv().unwrap();
        if level == 1 {
            assert_eq!(item, u64::MAX);
            return sent_low.map(|at| at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

#[tokio::test(start_paused = true)]
async fn aging_serves_a_low_item_within_the_aging_time_under_a_flood() {
    let aging = Duration::from_millis(100);
    let waited = flood(Scheduling::Aging(aging), 50, 1_000).await;
    // Served at the first receive once it has waited one period, and not before.
    assert_eq!(waited, Some(aging));
    assert_eq!(
        flood(Scheduling::Strict, 50, 1_000).await,
        None,
        "strict starves it"
    );
}

#[tokio::test(start_paused = true)]
async fn aging_raises_an_item_one_level_per_period() {
    let (tx, rx) = PriorityChannel::builder(3)
        .scheduling(Scheduling::Aging(Duration::from_millis(10)))
        .build()
        .unwrap();
    tx.try_send("old low", 2).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    tx.try_send("middle", 1).unwrap();
    tx.try_send("high", 0).unwrap();
    // "old low" now competes at level 1 and is older than "middle", but "high" is above both.
    assert_eq!(rx.try_recv().unwrap(), ("high", 0));
    assert_eq!(rx.try_recv().unwrap(), ("old low", 2));
    tokio::time::sleep(Duration::from_millis(5)).await;
    tx.try_send("new high", 0).unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    tx.try_send("late middle", 1).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // "middle" waited two periods: it competes at 0 and is older than "new high". "late
    // middle" competes at 0 too, but arrived after "new high".
    assert_eq!(rx.try_recv().unwrap(), ("middle", 1));
    assert_eq!(rx.try_recv().unwrap(), ("new high", 0));
    assert_eq!(rx.try_recv().unwrap(), ("late middle", 1));
}
