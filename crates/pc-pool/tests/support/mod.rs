//! Helpers the pool's tests share.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A real-time bound for tests on a multi-thread runtime: a lost wake-up fails, not hangs.
pub(crate) async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("the pool hung")
}

/// Tasks alive on this runtime.
pub(crate) fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}
