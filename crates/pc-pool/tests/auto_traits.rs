//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use pc_pool::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

type Stage = fn(u32) -> std::future::Ready<Result<u32, String>>;

#[test]
fn types_are_send_and_sync() {
    send_sync::<WorkerPool<u32, Stage>>();
    send_sync::<WorkerPoolBuilder<Stage>>();
    send_sync::<JobHandle<u32, String>>();
    send_sync::<JobResult<u32, String>>();
    send_sync::<JobError<String>>();
    send_sync::<Pipeline<u32, String>>();
    send_sync::<PipelineOutput<u32, String>>();
    send_sync::<PipelineError<String>>();
    send_sync::<OnError>();
    send_sync::<Balance>();
    send_sync::<FanOut<u32, Stage>>();
    send_sync::<Merge<pc_core::channel::Receiver<u32>>>();
}

fn futures_are_send(pool: &WorkerPool<u32, Stage>) {
    send(&pool.submit(1));
    send(&pool.close());
    send(&pool.shutdown(std::time::Duration::ZERO));
    send(&pool.abort());
    send(&pc_core::Producer::send(pool, 1));
}

fn pipeline_futures_are_send(output: &mut PipelineOutput<u32, String>) {
    send(&futures_util::StreamExt::next(output));
    send(&output.cancel());
}
