//! Publishes snapshots to the [`metrics`] facade, so an application's exporter (Prometheus,
//! StatsD, ...) receives the toolkit's numbers next to its own.
//!
//! Names and labels are those of the Prometheus rendering: counters are set to their absolute
//! value, gauges to theirs, and each latency quantile is a gauge `pc_wait_seconds` with labels
//! `kind` and `quantile`.
//!
//! ```
//! use pc_core::Probe;
//! use pc_metrics::{Metrics, bridge};
//!
//! let metrics = Metrics::new("jobs");
//! metrics.produced(3);
//! // With a recorder installed (`metrics::set_global_recorder`), this reaches the exporter.
//! bridge::publish(&[metrics.snapshot()]);
//! ```

use metrics::{Label, counter, gauge};

use crate::snapshot::{MetricsSnapshot, Summary};

/// Publishes each snapshot to the `metrics` recorder in scope.
pub fn publish(snapshots: &[MetricsSnapshot]) {
    for s in snapshots {
        let base = labels(s);
        let with = |extra: &[(&'static str, String)]| {
            let mut all = base.clone();
            all.extend(extra.iter().map(|(k, v)| Label::new(*k, v.clone())));
            all
        };
        counter!("pc_produced_total", base.clone()).absolute(s.produced);
        counter!("pc_consumed_total", base.clone()).absolute(s.consumed);
        for (reason, n) in &s.dropped {
            counter!("pc_dropped_total", with(&[("reason", reason.clone())])).absolute(*n);
        }
        for (reason, n) in &s.failed {
            counter!("pc_failed_total", with(&[("reason", reason.clone())])).absolute(*n);
        }
        gauge!("pc_depth", base.clone()).set(s.depth as f64);
        gauge!("pc_depth_peak", base.clone()).set(s.peak_depth as f64);
        gauge!("pc_in_flight", base.clone()).set(s.in_flight as f64);
        for (side, n) in s.waiting_by_side() {
            gauge!("pc_waiting", with(&[("side", side.to_owned())])).set(n as f64);
        }
        for (direction, window, rate) in s.rates_by_window() {
            let labels = with(&[
                ("direction", direction.to_owned()),
                ("window", window.to_owned()),
            ]);
            gauge!("pc_rate_per_second", labels).set(rate);
        }
        for (kind, summary) in &s.latency {
            quantiles(
                "pc_wait_seconds",
                &with(&[("kind", kind.clone())]),
                summary,
                1e-9,
            );
        }
        if let Some(summary) = &s.batch_sizes {
            quantiles("pc_batch_size", &base, summary, 1.0);
        }
        for b in &s.backlog {
            let labels = with(&[("partition", b.partition.to_string())]);
            gauge!("pc_backlog_pending", labels.clone()).set(b.pending as f64);
            if let Some(lag) = b.lag {
                gauge!("pc_backlog_lag", labels).set(lag as f64);
            }
        }
    }
}

fn quantiles(name: &'static str, labels: &[Label], s: &Summary, scale: f64) {
    for (quantile, value) in [
        ("0.5", s.p50),
        ("0.9", s.p90),
        ("0.99", s.p99),
        ("1", s.max),
    ] {
        let mut all = labels.to_vec();
        all.push(Label::new("quantile", quantile));
        gauge!(name, all).set(value as f64 * scale);
    }
}

fn labels(s: &MetricsSnapshot) -> Vec<Label> {
    std::iter::once(Label::new("queue", s.name.clone()))
        .chain(
            s.labels
                .iter()
                .map(|(k, v)| Label::new(k.clone(), v.clone())),
        )
        .collect()
}
