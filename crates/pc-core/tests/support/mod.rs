//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_core::{DropReason, Probe, WaitKind};

/// Fails the test instead of hanging CI when a wake-up is lost. The bound is real time and
/// generous: it is only hit by a hang, never by a slow machine.
pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), fut)
        .await
        .expect("the test hung: a wake-up was lost or an item went missing")
}

/// The same guard for tests under paused time, where a timeout is virtual: a runtime with
/// nothing left to do jumps straight to it, so a lost wake-up fails at once instead of hanging.
/// A year of virtual time is far beyond anything a test waits for on purpose.
pub async fn within_paused<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(365 * 24 * 3600), fut)
        .await
        .expect("the test hung: a wake-up was lost or an item went missing")
}

/// `n` tasks, each receiving from `rx` until the channel is closed and drained; each returns
/// what it received, in order.
pub fn drainers<T: Send + 'static>(
    rx: &pc_core::channel::Receiver<T>,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Vec<T>>> {
    (0..n)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(item) = rx.recv().await {
                    got.push(item);
                }
                got
            })
        })
        .collect()
}

/// An item that counts how many times it is dropped.
#[derive(Debug)]
pub struct Counted {
    pub id: u64,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    pub fn new(id: u64, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            drops: Arc::clone(drops),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A probe that records everything it is told.
#[derive(Debug, Default)]
pub struct RecordingProbe {
    pub produced: AtomicU64,
    pub consumed: AtomicU64,
    pub dropped: Mutex<Vec<(u64, DropReason)>>,
    pub depths: Mutex<Vec<usize>>,
    pub waits: Mutex<Vec<(WaitKind, Duration)>>,
}

impl Probe for RecordingProbe {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::SeqCst);
    }

    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::SeqCst);
    }

    fn dropped(&self, n: u64, reason: DropReason) {
        self.dropped.lock().unwrap().push((n, reason));
    }

    fn depth(&self, len: usize) {
        self.depths.lock().unwrap().push(len);
    }

    fn waited(&self, kind: WaitKind, duration: Duration) {
        self.waits.lock().unwrap().push((kind, duration));
    }
}
