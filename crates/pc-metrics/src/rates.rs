//! Rates over sliding windows, from samples of the counters taken at each snapshot.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::snapshot::{Rates, WindowRates};

/// The windows rates are reported over.
pub(crate) const WINDOWS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
];

/// Samples closer together than this replace each other, which bounds the history at
/// 60 s / 50 ms = 1,200 samples however often snapshots are taken.
const RESOLUTION: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    produced: u64,
    consumed: u64,
}

/// Counter samples of the last minute, oldest first, with the newest sample older than the
/// longest window kept as its baseline.
#[derive(Debug)]
pub(crate) struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// A history whose first sample is zero, now: the component starts counting here.
    pub(crate) fn new() -> Self {
        let start = Sample {
            at: Instant::now(),
            produced: 0,
            consumed: 0,
        };
        Self {
            samples: VecDeque::from([start]),
        }
    }

    /// Records the counters as of now and returns the rates over each window.
    pub(crate) fn sample(&mut self, produced: u64, consumed: u64) -> Rates {
        let now = Instant::now();
        let sample = Sample {
            at: now,
            produced,
            consumed,
        };
        let rates = Rates {
            produced: self.window_rates(&sample, |s| s.produced),
            consumed: self.window_rates(&sample, |s| s.consumed),
        };
        let replaces_last = self.samples.len() > 1
            && self
                .samples
                .back()
                .is_some_and(|last| now.duration_since(last.at) < RESOLUTION);
        if replaces_last {
            self.samples.pop_back();
        }
        self.samples.push_back(sample);
        keep_baseline(&mut self.samples, |s| s.at, now, WINDOWS[WINDOWS.len() - 1]);
        rates
    }

    fn window_rates(&self, now: &Sample, value: impl Fn(&Sample) -> u64) -> WindowRates {
        let [one, ten, sixty] = WINDOWS.map(|window| self.rate(now, window, &value));
        WindowRates {
            per_1s: one,
            per_10s: ten,
            per_60s: sixty,
        }
    }

    /// Items per second between the baseline of `window` and `now`. The baseline is the newest
    /// sample at least `window` old, or the first sample while the history is younger.
    fn rate(&self, now: &Sample, window: Duration, value: impl Fn(&Sample) -> u64) -> f64 {
        let baseline = baseline(&self.samples, |s| s.at, now.at, window);
        let span = now.at.duration_since(baseline.at).as_secs_f64();
        if span == 0.0 {
            return 0.0;
        }
        value(now).saturating_sub(value(baseline)) as f64 / span
    }
}

/// The baseline of a window in a history of samples, oldest first and never empty: the newest
/// sample at least `window` old at `now`, or the oldest while the history is younger.
pub(crate) fn baseline<S>(
    samples: &VecDeque<S>,
    at: impl Fn(&S) -> Instant,
    now: Instant,
    window: Duration,
) -> &S {
    samples
        .iter()
        .rev()
        .find(|s| now.duration_since(at(s)) >= window)
        .or_else(|| samples.front())
        .expect("the history is never empty")
}

/// Drops the samples older than the baseline of `longest` (see [`baseline`]), which stays.
pub(crate) fn keep_baseline<S>(
    samples: &mut VecDeque<S>,
    at: impl Fn(&S) -> Instant,
    now: Instant,
    longest: Duration,
) {
    while samples
        .get(1)
        .is_some_and(|next| now.duration_since(at(next)) >= longest)
    {
        samples.pop_front();
    }
}
