//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use std::time::Duration;

use pc_backpressure::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<Sender<String>>();
    send_sync::<Receiver<String>>();
    send_sync::<BoundedQueueBuilder<String>>();
    send_sync::<BoundedQueue>();
    send_sync::<Overflow>();
    send_sync::<Pressure>();
    send_sync::<QueueStats>();
    send_sync::<OfferError<String>>();
    send_sync::<AdaptiveRate>();
    send_sync::<AdaptiveRateBuilder>();
    send_sync::<AdaptiveProducer<Sender<String>>>();
}

fn futures_are_send(
    tx: &Sender<String>,
    rx: &Receiver<String>,
    paced: &AdaptiveProducer<Sender<String>>,
    rate: &AdaptiveRate,
) {
    send(&tx.send(String::new()));
    send(&rx.recv());
    send(&rate.pace(0.5));
    send(&pc_core::Producer::send(tx, String::new()));
    send(&pc_core::Producer::send_timeout(
        tx,
        String::new(),
        Duration::ZERO,
    ));
    send(&pc_core::Producer::send(paced, String::new()));
    send(&pc_core::Consumer::recv(rx));
}

#[tokio::test]
async fn futures_compile_as_send() {
    let (tx, rx) = BoundedQueue::builder::<String>(1).build().unwrap();
    let rate = std::sync::Arc::new(AdaptiveRate::builder().build().unwrap());
    let paced = AdaptiveProducer::new(tx.clone(), std::sync::Arc::clone(&rate), || 0.0);
    futures_are_send(&tx, &rx, &paced, &rate);
}
