//! The last minute of the fixed-bucket histograms, from samples taken at each snapshot.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::rates::{baseline, keep_baseline};

/// How far back the recent quantiles look.
pub(crate) const RECENT: Duration = Duration::from_secs(60);

/// Samples closer together than this replace the newest one, which bounds the history at
/// 60 s / 5 s + 2 = 14 samples however often snapshots are taken.
const SPACING: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Sample {
    at: Instant,
    /// Bucket counts per histogram (empty: nothing recorded yet).
    counts: Vec<Vec<u64>>,
}

/// Bucket counts of the last minute, oldest first, with the newest sample at least a minute
/// old kept as the baseline.
#[derive(Debug)]
pub(crate) struct RecentHistory {
    samples: VecDeque<Sample>,
}

impl RecentHistory {
    /// A history whose first sample is empty, now: the component starts counting here.
    pub(crate) fn new() -> Self {
        let start = Sample {
            at: Instant::now(),
            counts: Vec::new(),
        };
        Self {
            samples: VecDeque::from([start]),
        }
    }

    /// Records the bucket counts of every histogram as of now and returns, for each, the
    /// counts added since the baseline: the newest sample at least [`RECENT`] old, or the
    /// start while the history is younger. Once a minute has passed the window spans from
    /// 60 s back to less than 65 s, or to less than 60 s plus the snapshots' period when that
    /// is longer than 5 s.
    pub(crate) fn sample(&mut self, counts: Vec<Vec<u64>>) -> Vec<Vec<u64>> {
        let now = Instant::now();
        let baseline = baseline(&self.samples, |s| s.at, now, RECENT);
        let recent = counts
            .iter()
            .enumerate()
            .map(|(index, now)| match baseline.counts.get(index) {
                Some(then) if !then.is_empty() => now
                    .iter()
                    .zip(then)
                    .map(|(n, t)| n.saturating_sub(*t))
                    .collect(),
                _ => now.clone(),
            })
            .collect();
        // The newest sample stays only once it is `SPACING` past the one before it; until then
        // each snapshot takes its place, so kept samples lie at least `SPACING` apart.
        let len = self.samples.len();
        let replaces_newest = len > 1
            && self.samples[len - 1]
                .at
                .duration_since(self.samples[len - 2].at)
                < SPACING;
        if replaces_newest {
            self.samples.pop_back();
        }
        self.samples.push_back(Sample { at: now, counts });
        keep_baseline(&mut self.samples, |s| s.at, now, RECENT);
        recent
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RecentHistory;

    #[tokio::test(start_paused = true)]
    async fn the_window_spans_the_last_minute_and_the_history_stays_small() {
        let mut history = RecentHistory::new();
        // One value per second into bucket 0, a snapshot every second for three minutes: the
        // window is the start while younger than a minute, then 60 s plus up to 4 s (kept
        // samples lie 5 s apart).
        for second in 1..=180u64 {
            tokio::time::advance(Duration::from_secs(1)).await;
            let recent = history.sample(vec![vec![second, 0]]);
            let expected = if second < 60 { second } else { 60 + second % 5 };
            assert_eq!(recent, vec![vec![expected, 0]], "at {second} s");
            assert!(history.len() <= 14, "at {second} s: {}", history.len());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_histogram_that_appears_later_counts_from_zero() {
        let mut history = RecentHistory::new();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(history.sample(vec![vec![], vec![3]]), vec![vec![], vec![3]]);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            history.sample(vec![vec![2], vec![5]]),
            vec![vec![2], vec![5]]
        );
    }
}
