//! Public types and the futures of public methods are `Send` and `Sync`.

#![allow(dead_code)]

use std::time::Duration;

use pc_ratelimit::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<TokenBucket>();
    send_sync::<TokenBucketBuilder>();
    send_sync::<BucketStats>();
    send_sync::<Gcra>();
    send_sync::<GcraBuilder>();
    send_sync::<KeyedLimiter<String>>();
    send_sync::<KeyedLimiterBuilder>();
    send_sync::<Throttled<pc_core::channel::Sender<u8>>>();
    send_sync::<Throttle<futures_util::stream::Iter<std::vec::IntoIter<u8>>>>();
    send_sync::<AcquireError>();
    send_sync::<TryAcquireError>();
}

fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

/// Limiters stay consistent across a caught panic (tests/edges.rs), so they can be used on
/// both sides of `catch_unwind`.
#[test]
fn limiters_are_unwind_safe() {
    unwind_safe::<TokenBucket>();
    unwind_safe::<Gcra>();
    unwind_safe::<KeyedLimiter<String>>();
}

fn futures_are_send(bucket: &TokenBucket, paced: &Throttled<pc_core::channel::Sender<u8>>) {
    send(&bucket.acquire(1));
    send(&bucket.acquire_timeout(1, Duration::ZERO));
    send(&pc_core::Producer::send(paced, 1));
    send(&pc_core::Producer::send_timeout(paced, 1, Duration::ZERO));
}

#[test]
fn futures_compile_as_send() {
    let bucket = TokenBucket::builder().rate(1.0).burst(1).build().unwrap();
    let (tx, _rx) = pc_core::channel::unbounded();
    futures_are_send(&bucket, &Throttled::new(tx, bucket.clone()));
}
