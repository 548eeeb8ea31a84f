//! A registry that collects many named metrics, for one report or one scrape.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::metrics::Metrics;
use crate::shard::lock;
use crate::snapshot::MetricsSnapshot;

/// Collects [`Metrics`] by name and labels; cloning shares the registry.
///
/// ```
/// use pc_metrics::Registry;
///
/// let registry = Registry::new();
/// let high = registry.metrics_with("jobs", [("level", "0")]);
/// let low = registry.metrics_with("jobs", [("level", "1")]);
/// // Asking again gives the same metrics.
/// assert!(std::sync::Arc::ptr_eq(&high, &registry.metrics_with("jobs", [("level", "0")])));
/// # let _ = low;
/// let text = registry.render_prometheus();
/// assert!(text.contains(r#"pc_produced_total{queue="jobs",level="1"} 0"#));
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    entries: Arc<Mutex<Vec<Arc<Metrics>>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics named `name` with no labels, made on first use.
    pub fn metrics(&self, name: &str) -> Arc<Metrics> {
        self.metrics_with(name, [] as [(&str, &str); 0])
    }

    /// The metrics named `name` with exactly `labels`, made on first use.
    pub fn metrics_with<'a>(
        &self,
        name: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Arc<Metrics> {
        let labels: BTreeMap<String, String> = labels
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut entries = lock(&self.entries);
        if let Some(found) = entries
            .iter()
            .find(|m| m.name() == name && *m.labels() == labels)
        {
            return found.clone();
        }
        let made = Metrics::with_labels(name, labels);
        entries.push(made.clone());
        made
    }

    /// Adds metrics made elsewhere (replacing none: two entries may share a name).
    pub fn register(&self, metrics: Arc<Metrics>) {
        lock(&self.entries).push(metrics);
    }

    /// A snapshot of every entry, in the order they were added.
    pub fn snapshot(&self) -> Vec<MetricsSnapshot> {
        let entries = lock(&self.entries).clone();
        entries.iter().map(|m| m.snapshot()).collect()
    }

    /// Every entry in the Prometheus text format, each family once.
    pub fn render_prometheus(&self) -> String {
        crate::prometheus::render(&self.snapshot())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &lock(&self.entries).len())
            .finish()
    }
}

impl fmt::Display for Registry {
    /// Every entry's table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for snapshot in self.snapshot() {
            write!(f, "{snapshot}")?;
        }
        Ok(())
    }
}

/// Renders snapshots taken elsewhere in the Prometheus text format, each family once.
pub fn render_prometheus(snapshots: &[MetricsSnapshot]) -> String {
    crate::prometheus::render(snapshots)
}
