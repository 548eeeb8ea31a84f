//! A task that reports a registry as `tracing` events at a fixed period.

use std::time::Duration;

use pc_core::BuildError;
use pc_core::task::TaskGroup;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::registry::Registry;
use crate::snapshot::MetricsSnapshot;

/// The `tracing` target of the reporter's events.
pub const TARGET: &str = "pc_metrics";

/// Reports every entry of a [`Registry`] as one `tracing` event (target [`TARGET`], level
/// INFO) per period. Each report is also a snapshot, so it keeps the sliding rates fed.
///
/// ```
/// use std::time::Duration;
/// use pc_metrics::{Registry, Reporter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pc_core::BuildError> {
/// let registry = Registry::new();
/// let reporter = Reporter::new(registry.clone(), Duration::from_secs(10))?.spawn();
/// // ... run the application ...
/// reporter.stop().await;
/// # Ok::<(), pc_core::BuildError>(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Reporter {
    registry: Registry,
    every: Duration,
    bridge: bool,
}

impl Reporter {
    /// Reports `registry` every `every` (the first report after one period).
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] if `every` is zero.
    pub fn new(registry: Registry, every: Duration) -> Result<Self, BuildError> {
        if every.is_zero() {
            return Err(BuildError::Zero { setting: "every" });
        }
        Ok(Self {
            registry,
            every,
            bridge: false,
        })
    }

    /// Also publishes each report to the `metrics` facade (see [`crate::bridge`]).
    #[cfg(feature = "metrics-rs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics-rs")))]
    pub fn to_metrics_rs(mut self) -> Self {
        self.bridge = true;
        self
    }

    /// Starts reporting on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> ReporterHandle {
        let (stop, mut stopped) = watch::channel(false);
        let tasks = TaskGroup::new(tokio::runtime::Handle::current());
        tasks.spawn(async move {
            // `Duration::MAX` reports never (the first tick is as far as tokio's timer goes).
            let first = pc_core::time::deadline_or_far(self.every);
            let mut ticker = tokio::time::interval_at(first, self.every);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Told to stop, or the handle is gone.
                    _ = stopped.wait_for(|stop| *stop) => break,
                    _ = ticker.tick() => self.report_once(),
                }
            }
        });
        ReporterHandle { stop, tasks }
    }

    /// Takes one snapshot of every entry and reports it now.
    pub fn report_once(&self) {
        let snapshots = self.registry.snapshot();
        for snapshot in &snapshots {
            emit(snapshot);
        }
        #[cfg(feature = "metrics-rs")]
        if self.bridge {
            crate::bridge::publish(&snapshots);
        }
        let _ = self.bridge;
    }
}

fn emit(s: &MetricsSnapshot) {
    let p99 = |kind: pc_core::WaitKind| s.latency_of(kind).map_or(0.0, |l| l.p99.as_secs_f64());
    tracing::info!(
        target: TARGET,
        queue = %s.name,
        produced = s.produced,
        consumed = s.consumed,
        dropped = s.dropped_total(),
        failed = s.failed_total(),
        depth = s.depth,
        peak_depth = s.peak_depth,
        in_flight = s.in_flight,
        waiting_producers = s.waiting_producers,
        waiting_consumers = s.waiting_consumers,
        produced_per_s_1s = s.rates.produced.per_1s,
        consumed_per_s_1s = s.rates.consumed.per_1s,
        consumed_per_s_60s = s.rates.consumed.per_60s,
        processing_p99_s = p99(pc_core::WaitKind::Processing),
        queue_p99_s = p99(pc_core::WaitKind::Queue),
        "metrics"
    );
}

/// The running reporter; [`stop`](Self::stop) ends it. Dropping the handle stops it too (the
/// task ends at once).
#[derive(Debug)]
pub struct ReporterHandle {
    stop: watch::Sender<bool>,
    tasks: TaskGroup,
}

impl ReporterHandle {
    /// Stops reporting and waits until the reporter's task has ended.
    ///
    /// # Panics
    ///
    /// With the task's own panic, if it panicked: a reporter never fails silently. (Re-raised
    /// once, by the call that finds it.)
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and callable again and at once from many tasks: each call returns only once
    /// the task has ended.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        self.tasks.wait().await;
        self.tasks.raise_panic();
    }
}
