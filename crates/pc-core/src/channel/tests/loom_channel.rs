//! Every interleaving of a few operations, under loom's memory model: no lost wake-up, no lost
//! or duplicated item, and the close protocol with outstanding permits.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p pc-core --lib --release loom_`

use loom::future::block_on;
use loom::thread;

use crate::channel;
use crate::error::{RecvError, SendError};

#[test]
fn loom_a_full_channel_wakes_its_sender() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let producer = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(block_on(rx.recv()), Ok(2));
        producer.join().unwrap();
        assert_eq!(block_on(rx.recv()), Err(RecvError));
    });
}

#[test]
fn loom_two_waiting_senders_both_get_a_slot() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        tx.try_send(0).unwrap();
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|item| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(item)).unwrap())
            })
            .collect();
        drop(tx);
        let mut got: Vec<u32> = (0..3).map(|_| block_on(rx.recv()).unwrap()).collect();
        for sender in senders {
            sender.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn loom_a_permit_out_at_close_still_delivers() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let closer = {
            let tx = tx.clone();
            thread::spawn(move || {
                tx.close();
            })
        };
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(item) = block_on(rx.recv()) {
                got.push(item);
            }
            got
        });
        let reserved = match tx.try_reserve() {
            // Reserved before the close: delivered whatever the close does meanwhile.
            Ok(permit) => {
                permit.send(7).unwrap();
                true
            }
            Err(err) => {
                assert!(err.is_closed());
                false
            }
        };
        closer.join().unwrap();
        drop(tx);
        let expected: &[u32] = if reserved { &[7] } else { &[] };
        assert_eq!(consumer.join().unwrap(), expected);
    });
}

#[test]
fn loom_the_last_receiver_leaving_wakes_a_waiting_sender() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        tx.try_send(1).unwrap();
        let producer = thread::spawn(move || block_on(tx.send(2)));
        drop(rx);
        // Nobody can ever receive: the send fails and hands the item back, and never hangs.
        assert_eq!(producer.join().unwrap(), Err(SendError(2)));
    });
}
