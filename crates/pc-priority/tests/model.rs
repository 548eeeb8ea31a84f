//! Every non-blocking operation, in any order, against a plain model of a strict priority queue
//! with a capacity and shedding.

use std::collections::VecDeque;

use pc_priority::{PriorityChannel, TryReserveError, TrySendError, WhenFull};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    Recv,
    Reserve(usize),
    UsePermit,
    DropPermit,
    CloseLevel(usize),
}

fn op(levels: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..levels + 1).prop_map(Op::Send),
        4 => Just(Op::Recv),
        1 => (0..levels).prop_map(Op::Reserve),
        1 => Just(Op::UsePermit),
        1 => Just(Op::DropPermit),
        1 => (0..levels).prop_map(Op::CloseLevel),
    ]
}

/// The model: one FIFO per level, a count of reserved slots, closed levels.
struct Model {
    queues: Vec<VecDeque<u32>>,
    closed: Vec<bool>,
    reserved: usize,
    capacity: usize,
    shed: bool,
}

impl Model {
    fn len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Whether an item of `level` is admitted, shedding the oldest lowest item below it.
    fn admit(&mut self, level: usize) -> Result<Option<u32>, &'static str> {
        if level >= self.queues.len() {
            return Err("unknown");
        }
        if self.closed[level] {
            return Err("closed");
        }
        if self.len() + self.reserved < self.capacity {
            return Ok(None);
        }
        if self.shed
            && let Some(lowest) = (level + 1..self.queues.len())
                .rev()
                .find(|l| !self.queues[*l].is_empty())
        {
            return Ok(self.queues[lowest].pop_front());
        }
        Err("full")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_model(
        (levels, ops) in (1usize..5)
            .prop_flat_map(|levels| (Just(levels), proptest::collection::vec(op(levels), 1..80))),
        capacity in 1usize..6,
        shed in any::<bool>(),
    ) {
        let (tx, rx) = PriorityChannel::builder(levels)
            .capacity(capacity)
            .when_full(if shed { WhenFull::ShedLowest } else { WhenFull::Wait })
            .build()
            .unwrap();
        let mut model = Model {
            queues: vec![VecDeque::new(); levels],
            closed: vec![false; levels],
            reserved: 0,
            capacity,
            shed,
        };
        let mut permits = Vec::new();
        let mut next = 0u32;
        for op in ops {
            match op {
                Op::Send(level) => {
                    next += 1;
                    let got = tx.try_send(next, level);
                    match model.admit(level) {
                        Ok(_) if level < levels => {
                            prop_assert!(got.is_ok());
                            model.queues[level].push_back(next);
                        }
                        Ok(_) => unreachable!("admitted only known levels"),
                        Err("unknown") => prop_assert!(matches!(got, Err(TrySendError::UnknownLevel(n)) if n == next)),
                        Err("closed") => prop_assert!(matches!(got, Err(TrySendError::Closed(n)) if n == next)),
                        Err(_) => prop_assert!(matches!(got, Err(TrySendError::Full(n)) if n == next)),
                    }
                }
                Op::Recv => {
                    let expected = (0..levels)
                        .find_map(|l| model.queues[l].pop_front().map(|item| (item, l)));
                    prop_assert_eq!(rx.try_recv().ok(), expected);
                }
                Op::Reserve(level) => {
                    let got = tx.try_reserve(level);
                    match model.admit(level) {
                        Ok(_) => {
                            model.reserved += 1;
                            permits.push(got.unwrap());
                        }
                        Err("closed") => prop_assert!(matches!(got, Err(TryReserveError::Closed))),
                        Err(_) => prop_assert!(matches!(got, Err(TryReserveError::Full))),
                    }
                }
                Op::UsePermit => {
                    if let Some(permit) = permits.pop() {
                        next += 1;
                        let level = *permit.priority();
                        permit.send(next).unwrap();
                        model.reserved -= 1;
                        model.queues[level].push_back(next);
                    }
                }
                Op::DropPermit => {
                    if permits.pop().is_some() {
                        model.reserved -= 1;
                    }
                }
                Op::CloseLevel(level) => {
                    let was_open = !model.closed[level];
                    model.closed[level] = true;
                    // Closing every level closes the channel, which refuses every level.
                    prop_assert_eq!(tx.close_level(level), Ok(was_open));
                }
            }
            prop_assert_eq!(tx.len(), model.len());
            for level in 0..levels {
                prop_assert_eq!(tx.level_len(level), Some(model.queues[level].len()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Keyed channels, heap (waiting) and ordered map (shedding) alike: smallest key first,
    /// FIFO among equal keys, and shedding takes the oldest of the largest key below the sender.
    #[test]
    fn keyed_matches_the_model(
        ops in proptest::collection::vec(prop_oneof![3 => (0u8..5).prop_map(Some), 2 => Just(None)], 1..100),
        capacity in 1usize..8,
        shed in any::<bool>(),
    ) {
        let (tx, rx) = PriorityChannel::by_key(0u8)
            .capacity(capacity)
            .when_full(if shed { WhenFull::ShedLowest } else { WhenFull::Wait })
            .build()
            .unwrap();
        // (key, arrival, item), kept sorted by (key, arrival).
        let mut model: Vec<(u8, u32)> = Vec::new();
        let mut next = 0u32;
        for op in ops {
            match op {
                Some(key) => {
                    next += 1;
                    let got = tx.try_send(next, key);
                    if model.len() < capacity {
                        prop_assert!(got.is_ok());
                    } else if shed && model.last().is_some_and(|(lowest, _)| *lowest > key) {
                        prop_assert!(got.is_ok());
                        let lowest = model.last().unwrap().0;
                        let oldest = model.iter().position(|(k, _)| *k == lowest).unwrap();
                        model.remove(oldest);
                    } else {
                        prop_assert!(matches!(got, Err(TrySendError::Full(n)) if n == next));
                        continue;
                    }
                    let at = model.partition_point(|(k, _)| *k <= key);
                    model.insert(at, (key, next));
                }
                None => {
                    let expected = (!model.is_empty()).then(|| {
                        let (key, item) = model.remove(0);
                        (item, key)
                    });
                    prop_assert_eq!(rx.try_recv().ok(), expected);
                }
            }
            prop_assert_eq!(tx.len(), model.len());
        }
    }
}
