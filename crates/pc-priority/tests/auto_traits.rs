//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use std::time::Duration;

use pc_core::{Consumer, Producer};
use pc_priority::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<PrioritySender<String>>();
    send_sync::<PriorityReceiver<String>>();
    send_sync::<PrioritySender<String, ByKey<u64>>>();
    send_sync::<PriorityReceiver<String, ByKey<u64>>>();
    send_sync::<Permit<'static, String>>();
    send_sync::<PriorityChannelBuilder<String, Levels>>();
    send_sync::<PriorityChannelBuilder<String, ByKey<u64>>>();
    send_sync::<Scheduling>();
    send_sync::<WhenFull>();
    send_sync::<SendError<String>>();
    send_sync::<TrySendError<String>>();
    send_sync::<SendTimeoutError<String>>();
    send_sync::<ReserveError>();
    send_sync::<TryReserveError>();
    send_sync::<UnknownLevel>();
}

fn futures_are_send(tx: &PrioritySender<String>, rx: &PriorityReceiver<String>) {
    send(&tx.send(String::new(), 0));
    send(&tx.send_timeout(String::new(), 0, Duration::ZERO));
    send(&tx.reserve(0));
    send(&rx.recv());
    send(&rx.recv_timeout(Duration::ZERO));
    send(&Producer::send(tx, String::new()));
    send(&Consumer::recv(rx));
}

fn keyed_futures_are_send(
    tx: &PrioritySender<String, ByKey<u64>>,
    rx: &PriorityReceiver<String, ByKey<u64>>,
) {
    send(&tx.send(String::new(), 0));
    send(&tx.reserve(0));
    send(&rx.recv());
}
