//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_core::{DropReason, Probe, WaitKind};

/// Fails the test instead of hanging CI when a wake-up is lost. The bound is real time and
/// generous: it is only hit by a hang, never by a slow machine.
pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), fut)
        .await
        .expect("the test hung: a wake-up was lost or an item went missing")
}

/// The same guard under paused time, where the timeout is virtual: a runtime with nothing left
/// to do jumps straight to it, so a lost wake-up fails at once instead of hanging.
pub async fn within_paused<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(365 * 24 * 3600), fut)
        .await
        .expect("the test hung: a wake-up was lost or an item went missing")
}

/// A probe that records everything it is told.
#[derive(Debug, Default)]
pub struct RecordingProbe {
    pub produced: AtomicU64,
    pub consumed: AtomicU64,
    pub dropped: Mutex<Vec<(u64, DropReason)>>,
    pub waits: Mutex<Vec<(WaitKind, Duration)>>,
    pub last_depth: AtomicU64,
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
        self.last_depth.store(len as u64, Ordering::SeqCst);
    }

    fn waited(&self, kind: WaitKind, duration: Duration) {
        self.waits.lock().unwrap().push((kind, duration));
    }
}
