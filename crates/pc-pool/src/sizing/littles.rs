//! Sizing from Little's law.

use std::time::Duration;

use pc_core::BuildError;
use tokio::time::Instant;

use super::round::check_ratio;
use super::{Controller, Sample};

/// Sizing from Little's law: `workers = arrival rate x mean run time / utilisation`, measured
/// over windows of time.
///
/// The arrival rate is what the window's jobs show: those finished plus the growth of the
/// queue, per second. A size is kept for at least a `cooldown` after it changed; the pool grows
/// whenever the law asks for more, and shrinks only when it asks for less than `1 - hysteresis`
/// of the size, so noise does not move it.
///
/// Every growth is a trial: when the first window after its cooldown shows throughput up by
/// less than 5% while the mean run time rose by more than 10%, the backend is saturated (more
/// workers only make each job slower) and the pool goes back to the size before, which stays a
/// ceiling for `hold`. So under overload the pool does not climb while throughput is flat.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use pc_pool::WorkerPool;
/// use pc_pool::sizing::LittlesLaw;
///
/// let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n) })
///     .workers(4)
///     .adaptive(1, 32, LittlesLaw::new().utilisation(0.7).window(Duration::from_millis(500)))
///     .build()?;
/// assert_eq!(pool.submit(7).await.unwrap().await, Ok(7));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LittlesLaw {
    utilisation: f64,
    window: Duration,
    cooldown: Duration,
    hysteresis: f64,
    hold: Duration,
    size: Option<usize>,
    current: Option<Window>,
    changed_at: Option<Instant>,
    trial: Option<Trial>,
    /// A size found to be the backend's limit, and until when it stands (`None`: for good, a
    /// hold too long for the clock).
    ceiling: Option<(usize, Option<Instant>)>,
}

/// The jobs of the window being gathered.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    queued_at_start: usize,
    finished: u64,
    run_sum: f64,
}

/// A growth on trial: the size before it and what that size achieved.
#[derive(Debug, Clone, Copy)]
struct Trial {
    from: usize,
    throughput: f64,
    mean_run: f64,
}

impl Default for LittlesLaw {
    fn default() -> Self {
        Self::new()
    }
}

impl LittlesLaw {
    /// Utilisation 0.8, window 1 s, cooldown 2 s, hysteresis 0.2, hold 30 s.
    pub fn new() -> Self {
        Self {
            utilisation: 0.8,
            window: Duration::from_secs(1),
            cooldown: Duration::from_secs(2),
            hysteresis: 0.2,
            hold: Duration::from_secs(30),
            size: None,
            current: None,
            changed_at: None,
            trial: None,
            ceiling: None,
        }
    }

    /// How busy the workers should be, above 0 and at most 1 (default 0.8).
    pub fn utilisation(mut self, utilisation: f64) -> Self {
        self.utilisation = utilisation;
        self
    }

    /// How long each measurement spans, above zero (default 1 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long a new size is kept before the next change (default 2 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How far below the size the law must ask before the pool shrinks, from 0 to below 1
    /// (default 0.2: 20% fewer workers).
    pub fn hysteresis(mut self, hysteresis: f64) -> Self {
        self.hysteresis = hysteresis;
        self
    }

    /// How long a size found to saturate the backend stays the most the pool grows to
    /// (default 30 s); then growth is tried again.
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// The size after `window`, which `sample` closed.
    fn decide(&mut self, sample: &Sample, window: Window, size: usize) -> usize {
        let elapsed = sample.at.duration_since(window.started).as_secs_f64();
        let throughput = window.finished as f64 / elapsed;
        let mean_run = window.run_sum / window.finished as f64;
        let arrivals = (window.finished as f64 + sample.queued as f64
            - window.queued_at_start as f64)
            .max(0.0);
        let cooled = self
            .changed_at
            .is_none_or(|at| sample.at.duration_since(at) >= self.cooldown);
        if !cooled {
            return size;
        }
        if let Some(trial) = self.trial.take()
            && throughput < trial.throughput * 1.05
            && mean_run > trial.mean_run * 1.1
        {
            self.ceiling = Some((trial.from, sample.at.checked_add(self.hold)));
            self.changed_at = Some(sample.at);
            return trial.from;
        }
        let ceiling = match self.ceiling {
            Some((ceiling, until)) if until.is_none_or(|until| sample.at < until) => ceiling,
            _ => usize::MAX,
        };
        let wanted = arrivals / elapsed * mean_run / self.utilisation;
        let wanted = sample.clamp(wanted.ceil()).min(ceiling.max(sample.min));
        if wanted > size {
            self.trial = Some(Trial {
                from: size,
                throughput,
                mean_run,
            });
        } else if (wanted as f64) >= size as f64 * (1.0 - self.hysteresis) {
            return size;
        }
        self.changed_at = Some(sample.at);
        wanted
    }
}

impl Controller for LittlesLaw {
    fn sample(&mut self, sample: &Sample) -> usize {
        let size = *self.size.get_or_insert(sample.workers);
        let fresh = Window {
            started: sample.at,
            queued_at_start: sample.queued,
            finished: 0,
            run_sum: 0.0,
        };
        // The first job marks the start of the first window.
        let Some(window) = self.current.as_mut() else {
            self.current = Some(fresh);
            return sample.clamp(size as f64);
        };
        window.finished += 1;
        window.run_sum += sample.run_time.as_secs_f64();
        if sample.at.duration_since(window.started) < self.window {
            return sample.clamp(size as f64);
        }
        let window = std::mem::replace(window, fresh);
        let size = sample.clamp(self.decide(sample, window, size) as f64);
        self.size = Some(size);
        size
    }

    fn validate(&self) -> Result<(), BuildError> {
        check_ratio(
            "utilisation",
            self.utilisation,
            self.utilisation > 0.0 && self.utilisation <= 1.0,
            "above 0 and at most 1",
        )?;
        check_ratio(
            "hysteresis",
            self.hysteresis,
            (0.0..1.0).contains(&self.hysteresis),
            "at least 0 and below 1",
        )?;
        if self.window.is_zero() {
            return Err(BuildError::Zero { setting: "window" });
        }
        Ok(())
    }
}
