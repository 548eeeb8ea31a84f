//! Every public type, and every future a public method returns, is `Send` and `Sync` where
//! a user would expect it.

#![allow(dead_code)]

use std::time::Duration;

use pc_core::channel::{Builder, Permit, Receiver, SendSink, Sender};
use pc_core::*;

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}

/// Not `Sync`: the item type is not, yet handles and errors stay `Send` with it.
struct NotSync(std::cell::Cell<u8>);

#[test]
fn types_are_send_and_sync() {
    send_sync::<Sender<NotSync>>();
    send_sync::<Receiver<NotSync>>();
    send_sync::<Permit<'static, NotSync>>();
    send_sync::<Builder>();
    send_sync::<SendSink<u32>>();
    send_sync::<SendError<u32>>();
    send_sync::<TrySendError<u32>>();
    send_sync::<SendTimeoutError<u32>>();
    send_sync::<RecvError>();
    send_sync::<TryRecvError>();
    send_sync::<RecvTimeoutError>();
    send_sync::<ReserveError>();
    send_sync::<TryReserveError>();
    send_sync::<BuildError>();
    send_sync::<DropReason>();
    send_sync::<WaitKind>();
    send_sync::<SharedProbe>();
    send_sync::<FailReason>();
    send_sync::<Ack>();
    send_sync::<Delivery<u32>>();
    send_sync::<AckError>();
    send_sync::<probe::WaitTimer<'static>>();
}

fn futures_are_send(tx: &Sender<NotSync>, rx: &Receiver<NotSync>, buf: &mut Vec<NotSync>) {
    send(&tx.send(NotSync(0.into())));
    send(&tx.send_timeout(NotSync(0.into()), Duration::ZERO));
    send(&rx.recv_delivery());
    send(&tx.send_all(Vec::<NotSync>::new()));
    send(&tx.reserve());
    send(&rx.recv());
    send(&rx.recv_timeout(Duration::ZERO));
    send(&rx.recv_batch(buf, 1, Duration::ZERO));
    send(&Producer::send(tx, NotSync(0.into())));
    send(&Producer::send_all(tx, Vec::<NotSync>::new()));
    send(&Consumer::recv(rx));
    send(&Consumer::stream(rx));
}

#[test]
fn futures_compile_as_send() {
    // The checks are at compile time; calling keeps the function from being dead.
    let (tx, rx) = channel::bounded::<NotSync>(1).unwrap();
    futures_are_send(&tx, &rx, &mut Vec::new());
}

fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

/// Handles cross `catch_unwind` as tokio's do, whatever the item and whatever the probe.
#[test]
fn handles_are_unwind_safe() {
    unwind_safe::<Sender<NotSync>>();
    unwind_safe::<Receiver<NotSync>>();
    unwind_safe::<Permit<'static, NotSync>>();
    unwind_safe::<SendSink<NotSync>>();
    unwind_safe::<Sender<std::cell::RefCell<u8>>>();
    unwind_safe::<Receiver<std::cell::RefCell<u8>>>();
}
