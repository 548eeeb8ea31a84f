//! Any sequence of non-blocking operations on a channel behaves like a simple model: a FIFO
//! queue, a capacity shared by queued items and outstanding permits, and a close that waits
//! for outstanding permits before receivers see it.

use std::collections::VecDeque;

use pc_core::channel::{self, Permit};
use pc_core::{TryRecvError, TryReserveError, TrySendError};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    TrySend,
    TryRecv,
    TryReserve,
    PermitSend(usize),
    PermitDrop(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::TrySend),
        4 => Just(Op::TryRecv),
        2 => Just(Op::TryReserve),
        2 => any::<usize>().prop_map(Op::PermitSend),
        1 => any::<usize>().prop_map(Op::PermitDrop),
        1 => Just(Op::Close),
    ]
}

proptest! {
    #[test]
    fn channel_behaves_like_the_model(capacity in 1usize..6, ops in prop::collection::vec(op(), 0..120)) {
        let (tx, rx) = channel::bounded::<u32>(capacity).unwrap();
        let mut permits: Vec<Permit<'_, u32>> = Vec::new();
        let mut queue = VecDeque::new();
        let mut closed = false;
        let mut next = 0u32;

        for op in ops {
            let used = queue.len() + permits.len();
            match op {
                Op::TrySend => {
                    next += 1;
                    let result = tx.try_send(next);
                    if closed {
                        prop_assert_eq!(result, Err(TrySendError::Closed(next)));
                    } else if used == capacity {
                        prop_assert_eq!(result, Err(TrySendError::Full(next)));
                    } else {
                        prop_assert_eq!(result, Ok(()));
                        queue.push_back(next);
                    }
                }
                Op::TryRecv => {
                    let expected = match queue.pop_front() {
                        Some(item) => Ok(item),
                        None if closed && permits.is_empty() => Err(TryRecvError::Closed),
                        None => Err(TryRecvError::Empty),
                    };
                    prop_assert_eq!(rx.try_recv(), expected);
                }
                Op::TryReserve => match tx.try_reserve() {
                    Ok(permit) => {
                        prop_assert!(!closed && used < capacity);
                        permits.push(permit);
                    }
                    Err(TryReserveError::Closed) => prop_assert!(closed),
                    Err(TryReserveError::Full) => prop_assert!(!closed && used == capacity),
                    Err(other) => prop_assert!(false, "unexpected {:?}", other),
                },
                Op::PermitSend(i) if !permits.is_empty() => {
                    next += 1;
                    let permit = permits.swap_remove(i % permits.len());
                    prop_assert_eq!(permit.send(next), Ok(()));
                    queue.push_back(next);
                }
                Op::PermitDrop(i) if !permits.is_empty() => {
                    drop(permits.swap_remove(i % permits.len()));
                }
                Op::PermitSend(_) | Op::PermitDrop(_) => {}
                Op::Close => {
                    prop_assert_eq!(tx.close(), !closed);
                    closed = true;
                }
            }
            prop_assert_eq!(rx.len(), queue.len());
            prop_assert_eq!(tx.is_closed(), closed);
        }
    }
}
