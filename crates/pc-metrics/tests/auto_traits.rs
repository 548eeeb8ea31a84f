//! Public types are `Send` and `Sync`, so metrics can be shared by every task.

use pc_metrics::*;

fn send_sync<T: Send + Sync>() {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<Metrics>();
    send_sync::<Registry>();
    send_sync::<Reporter>();
    send_sync::<ReporterHandle>();
    send_sync::<MetricsSnapshot>();
    send_sync::<Summary>();
    send_sync::<Latency>();
}
