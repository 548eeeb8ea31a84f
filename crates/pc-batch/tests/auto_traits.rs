//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use futures_util::StreamExt;
use pc_batch::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<Batcher<String>>();
    send_sync::<BatcherBuilder<String>>();
    send_sync::<Flusher>();
    send_sync::<BatchProcessor<String, String, std::io::Error>>();
    send_sync::<BatchProcessorBuilder<String>>();
    send_sync::<ProcessError<String, std::io::Error, String>>();
    send_sync::<Batched<futures_util::stream::Iter<std::vec::IntoIter<String>>>>();
}

fn futures_are_send(rx: &pc_core::channel::Receiver<String>, batcher: Batcher<String>) {
    let mut batches = batch_consumer(rx, batcher);
    send(&batches.next());
}

fn processor_futures_are_send(processor: &BatchProcessor<String, String, std::io::Error>) {
    send(&processor.process(String::new()));
    send(&processor.close());
}
