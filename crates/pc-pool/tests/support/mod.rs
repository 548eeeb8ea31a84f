//! Helpers the pool's tests share.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A stage that takes 10 ms an item and records the most items it ran at once.
pub(crate) fn slow_double(
    most: &Arc<AtomicUsize>,
) -> impl Fn(u32) -> futures_util::future::BoxFuture<'static, Result<u32, ()>> + Send + Sync + 'static
{
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::clone(most);
    move |n: u32| {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most));
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(ms(10)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(n * 2)
        })
    }
}
