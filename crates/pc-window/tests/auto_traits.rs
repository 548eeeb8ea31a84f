//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use pc_window::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

type Source = futures_util::stream::Iter<std::vec::IntoIter<f64>>;

#[test]
fn types_are_send_and_sync() {
    send_sync::<Window<f64, Stats>>();
    send_sync::<Window<f64, Stats, String, EventTime>>();
    send_sync::<Window<f64, Count, (), Counted>>();
    send_sync::<WindowBuilder<f64, Stats, (), ProcessingTime>>();
    send_sync::<WindowResult<String, Summary, Duration>>();
    send_sync::<Windowed<Source, Stats, (), ProcessingTime>>();
    send_sync::<Windowed<Source, Mean, u32, EventTime>>();
    send_sync::<Windowed<Source, Items<fn(&[f64]) -> f64>, (), Counted>>();
    send_sync::<Count>();
    send_sync::<Sum>();
    send_sync::<Min>();
    send_sync::<Max>();
    send_sync::<StatsAcc>();
}

fn futures_are_send(rx: &pc_core::channel::Receiver<f64>, window: Window<f64, Stats>) {
    let mut windows = window_consumer(rx, window);
    send(&windows.next());
}
