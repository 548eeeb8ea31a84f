//! Settling deliveries: what `nack_after` and `touch` do for a queue that cannot delay or
//! lease (its `Acker` does not say), and in process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_core::{AckConsumer, AckFuture, Acker, Delivery, channel};

/// Records what each delivery was settled with.
struct Record(Arc<Mutex<Vec<&'static str>>>);

impl Acker for Record {
    fn ack(self: Box<Self>) -> AckFuture {
        self.0.lock().unwrap().push("ack");
        Box::pin(async { Ok(()) })
    }

    fn nack(self: Box<Self>) -> AckFuture {
        self.0.lock().unwrap().push("nack");
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_queue_that_cannot_delay_nacks_at_once_and_has_no_lease_to_renew() {
    let settled = Arc::new(Mutex::new(Vec::new()));
    let delivery = Delivery::owed(7, 1, Record(Arc::clone(&settled)));
    delivery.touch().await.unwrap();
    assert!(
        settled.lock().unwrap().is_empty(),
        "a touch settles nothing"
    );
    assert_eq!(delivery.nack_after(Duration::MAX).await, Ok(7));
    let (_, ack) = Delivery::owed(8, 2, Record(Arc::clone(&settled))).into_parts();
    ack.touch().await.unwrap();
    ack.nack_after(Duration::ZERO).await.unwrap();
    assert_eq!(*settled.lock().unwrap(), ["nack", "nack"]);
}

#[tokio::test]
async fn in_process_a_delayed_nack_and_a_touch_do_nothing() {
    let (tx, rx) = channel::bounded(2).unwrap();
    tx.send(1).await.unwrap();
    let delivery = rx.recv_delivery().await.unwrap();
    delivery.touch().await.unwrap();
    assert_eq!(delivery.nack_after(Duration::from_secs(1)).await, Ok(1));
    assert!(
        rx.is_empty(),
        "an in-process queue cannot take an item back"
    );
}
