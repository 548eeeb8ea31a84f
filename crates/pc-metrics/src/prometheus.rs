//! The Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use crate::buckets::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS};
use crate::snapshot::{MetricsSnapshot, Summary};

/// One metric family: its name, type, help, and how to write each snapshot's series.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    series: fn(&MetricsSnapshot, &mut Series<'_>),
}

/// Writes the series of one family for one snapshot, with the snapshot's labels first.
struct Series<'a> {
    out: &'a mut String,
    family: &'static str,
    labels: String,
}

impl Series<'_> {
    fn value(&mut self, suffix: &str, extra: &[(&str, &str)], value: impl std::fmt::Display) {
        let mut labels = self.labels.clone();
        for (key, val) in extra {
            if !labels.is_empty() {
                labels.push(',');
            }
            let _ = write!(labels, "{key}=\"{}\"", escape(val));
        }
        let _ = writeln!(self.out, "{}{suffix}{{{labels}}} {value}", self.family);
    }

    /// A histogram's series: a cumulative `_bucket` per bound (`le` in the unit of the family:
    /// the bound divided by `per_unit`) and `+Inf`, then `_sum` and `_count`.
    fn histogram(&mut self, extra: &[(&str, &str)], s: &Summary, bounds: &[u64], per_unit: f64) {
        let mut below = 0;
        for (bound, count) in bounds.iter().zip(&s.buckets) {
            below += count;
            let le = (*bound as f64 / per_unit).to_string();
            let mut labels = extra.to_vec();
            labels.push(("le", &le));
            self.value("_bucket", &labels, below);
        }
        let mut labels = extra.to_vec();
        labels.push(("le", "+Inf"));
        self.value("_bucket", &labels, s.count);
        self.value("_sum", extra, s.sum as f64 / per_unit);
        self.value("_count", extra, s.count);
    }
}

/// Nanoseconds per second: the wait family is in seconds.
const NANOS_PER_SECOND: f64 = 1e9;

const FAMILIES: &[Family] = &[
    Family {
        name: "pc_produced_total",
        kind: "counter",
        help: "Items that entered the component.",
        series: |s, w| w.value("", &[], s.produced),
    },
    Family {
        name: "pc_consumed_total",
        kind: "counter",
        help: "Items handed to a consumer, or finished by a pool.",
        series: |s, w| w.value("", &[], s.consumed),
    },
    Family {
        name: "pc_dropped_total",
        kind: "counter",
        help: "Items dropped on purpose, by reason.",
        series: |s, w| {
            for (reason, n) in &s.dropped {
                w.value("", &[("reason", reason)], n);
            }
        },
    },
    Family {
        name: "pc_failed_total",
        kind: "counter",
        help: "Items whose processing failed, by reason.",
        series: |s, w| {
            for (reason, n) in &s.failed {
                w.value("", &[("reason", reason)], n);
            }
        },
    },
    Family {
        name: "pc_block_info",
        kind: "gauge",
        help: "The kind of block that reports under the name, as 1 labelled with it.",
        series: |s, w| {
            if let Some(kind) = &s.kind {
                w.value("", &[("kind", kind)], 1);
            }
        },
    },
    Family {
        name: "pc_capacity",
        kind: "gauge",
        help: "The most items the component holds, for bounded ones.",
        series: |s, w| {
            if let Some(capacity) = s.capacity {
                w.value("", &[], capacity);
            }
        },
    },
    Family {
        name: "pc_backlog_pending",
        kind: "gauge",
        help: "A shared queue's entries delivered and not yet acknowledged, by partition, as its server last counted them.",
        series: |s, w| {
            for b in &s.backlog {
                w.value("", &[("partition", &b.partition.to_string())], b.pending);
            }
        },
    },
    Family {
        name: "pc_backlog_lag",
        kind: "gauge",
        help: "A shared queue's entries not yet delivered to its group, by partition, where its server could tell.",
        series: |s, w| {
            for b in &s.backlog {
                if let Some(lag) = b.lag {
                    w.value("", &[("partition", &b.partition.to_string())], lag);
                }
            }
        },
    },
    Family {
        name: "pc_depth",
        kind: "gauge",
        help: "Items held by the component, as last reported.",
        series: |s, w| w.value("", &[], s.depth),
    },
    Family {
        name: "pc_depth_peak",
        kind: "gauge",
        help: "The largest depth reported.",
        series: |s, w| w.value("", &[], s.peak_depth),
    },
    Family {
        name: "pc_in_flight",
        kind: "gauge",
        help: "Items produced but neither consumed nor dropped yet.",
        series: |s, w| w.value("", &[], s.in_flight),
    },
    Family {
        name: "pc_waiting",
        kind: "gauge",
        help: "Callers waiting right now, by side.",
        series: |s, w| {
            for (side, n) in s.waiting_by_side() {
                w.value("", &[("side", side)], n);
            }
        },
    },
    Family {
        name: "pc_rate_per_second",
        kind: "gauge",
        help: "Items per second over a sliding window, by direction.",
        series: |s, w| {
            for (direction, window, rate) in s.rates_by_window() {
                w.value("", &[("direction", direction), ("window", window)], rate);
            }
        },
    },
    Family {
        name: "pc_wait_seconds",
        kind: "histogram",
        help: "Wait and processing times, by kind.",
        series: |s, w| {
            for (kind, summary) in &s.latency {
                w.histogram(
                    &[("kind", kind)],
                    summary,
                    &LATENCY_BUCKETS_NS,
                    NANOS_PER_SECOND,
                );
            }
        },
    },
    Family {
        name: "pc_batch_size",
        kind: "histogram",
        help: "Items per batch formed.",
        series: |s, w| {
            if let Some(summary) = &s.batch_sizes {
                w.histogram(&[], summary, &BATCH_SIZE_BUCKETS, 1.0);
            }
        },
    },
];

/// Renders `snapshots` as one exposition: each family once, with one series per snapshot,
/// labelled `queue="<name>"` plus the snapshot's own labels.
pub(crate) fn render(snapshots: &[MetricsSnapshot]) -> String {
    let mut out = String::new();
    for family in FAMILIES {
        let mut body = String::new();
        for snapshot in snapshots {
            let mut series = Series {
                out: &mut body,
                family: family.name,
                labels: labels_of(snapshot),
            };
            (family.series)(snapshot, &mut series);
        }
        if body.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        out.push_str(&body);
    }
    out
}

fn labels_of(snapshot: &MetricsSnapshot) -> String {
    let mut labels = format!("queue=\"{}\"", escape(&snapshot.name));
    for (key, value) in &snapshot.labels {
        let _ = write!(labels, ",{}=\"{}\"", sanitize(key), escape(value));
    }
    labels
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Makes a label name valid: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn sanitize(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::{escape, sanitize};

    #[test]
    fn label_values_are_escaped_and_names_sanitized() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(sanitize("level"), "level");
        assert_eq!(sanitize("0-x"), "_0_x");
        assert_eq!(sanitize(""), "_");
    }
}
