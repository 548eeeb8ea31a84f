//! The built-in controllers, fed samples by hand: each decision checked against the rule its
//! docs state.

use std::time::Duration;

use pc_pool::sizing::{Aimd, Controller, Gradient2, LittlesLaw, Sample, Vegas};
use tokio::time::Instant;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A job of a pool of `workers` (bounds 1 to 64) that ran `run`, with `in_flight` running.
fn job(at: Instant, workers: usize, run: Duration, in_flight: usize) -> Sample {
    let mut sample = Sample::new(at, run);
    sample.workers = workers;
    sample.in_flight = in_flight;
    sample.min = 1;
    sample.max = 64;
    sample
}

/// Feeds one round (as many jobs as workers, at least 8) to a controller running `workers`;
/// every answer before the last keeps the size, the last is returned.
fn round(
    controller: &mut impl Controller,
    workers: usize,
    run: Duration,
    in_flight: usize,
    failed: bool,
) -> usize {
    let at = Instant::now();
    let jobs = workers.max(8);
    for n in 1..jobs {
        let kept = controller.sample(&job(at, workers, run, in_flight));
        assert_eq!(kept, workers, "job {n} of a round of {jobs} keeps the size");
    }
    let mut last = job(at, workers, run, in_flight);
    last.failed = failed;
    controller.sample(&last)
}

#[test]
fn aimd_adds_one_per_busy_round_and_backs_off_on_slow_or_failed_rounds() {
    let mut aimd = Aimd::new();
    assert_eq!(round(&mut aimd, 4, ms(10), 4, false), 5);
    assert_eq!(round(&mut aimd, 5, ms(10), 5, false), 6);
    // 15 ms is the threshold (1.5 x 10 ms): not above it.
    assert_eq!(round(&mut aimd, 6, ms(15), 6, false), 7);
    // Above it: 7 x 0.9 = 6.3.
    assert_eq!(round(&mut aimd, 7, ms(16), 7, false), 6);
    // A failure backs off too: 6.3 x 0.9 = 5.67.
    assert_eq!(round(&mut aimd, 6, ms(10), 6, true), 6);
    // Less than half the workers busy: holds (5.67).
    assert_eq!(round(&mut aimd, 6, ms(10), 2, false), 6);
    // Busy enough (3 x 2 >= 5.67): grows to 6.67.
    assert_eq!(round(&mut aimd, 6, ms(10), 3, false), 7);
}

#[test]
fn aimd_with_a_timeout_ignores_the_lowest_run_time() {
    let mut aimd = Aimd::new().timeout(ms(100)).backoff(0.5);
    assert_eq!(round(&mut aimd, 8, ms(1), 8, false), 9);
    assert_eq!(round(&mut aimd, 9, ms(99), 9, false), 10);
    assert_eq!(round(&mut aimd, 10, ms(101), 10, false), 5);
}

#[test]
fn aimd_stays_within_the_bounds() {
    let mut aimd = Aimd::new();
    let at = Instant::now();
    let mut size = 1;
    for _ in 0..1000 {
        let mut sample = job(at, size, ms(10), size);
        sample.max = 3;
        size = aimd.sample(&sample);
        assert!((1..=3).contains(&size));
    }
    assert_eq!(size, 3);
    for _ in 0..1000 {
        let mut sample = job(at, size, ms(10), size);
        sample.failed = true;
        sample.min = 2;
        size = aimd.sample(&sample);
        assert!((2..=64).contains(&size));
    }
    assert_eq!(size, 2);
}

#[test]
fn vegas_grows_by_beta_without_delay_holds_between_alpha_and_beta_and_shrinks_above() {
    let mut vegas = Vegas::new();
    // No delay over the lowest run time: 8 + 6 x max(1, log10 8) = 14.
    assert_eq!(round(&mut vegas, 8, ms(10), 8, false), 14);
    // Twice as slow: queue = ceil(14 x 0.5) = 7 > beta (6 x 1.146): 14 - 1.146 = 12.85.
    assert_eq!(round(&mut vegas, 14, ms(20), 14, false), 13);
    // queue = ceil(12.85 x (1 - 10/15)) = 5, within [alpha 3.33, beta 6.65]: holds.
    assert_eq!(round(&mut vegas, 13, ms(15), 13, false), 13);
    // A failure: 12.85 - log10(12.85) = 11.74.
    assert_eq!(round(&mut vegas, 13, ms(10), 13, true), 12);
    // queue = ceil(11.74 x (1 - 10/11)) = 2, below alpha (3.2): + 1.07 = 12.81.
    assert_eq!(round(&mut vegas, 12, ms(11), 12, false), 13);
    // Not busy (5 x 2 < 12.81): holds, however fast.
    assert_eq!(round(&mut vegas, 13, ms(10), 5, false), 13);
}

#[test]
fn vegas_grows_a_pool_of_jobs_that_take_no_time() {
    let mut vegas = Vegas::new();
    assert_eq!(round(&mut vegas, 8, Duration::ZERO, 8, false), 14);
    assert_eq!(round(&mut vegas, 14, Duration::ZERO, 14, false), 21);
}

#[test]
fn gradient2_grows_by_the_queue_size_smoothed_and_shrinks_when_jobs_slow_down() {
    let mut gradient = Gradient2::new();
    // gradient 1: new = 8 + 4, smoothed: 8 x 0.8 + 12 x 0.2 = 8.8.
    assert_eq!(round(&mut gradient, 8, ms(10), 8, false), 9);
    // 8.8 x 0.8 + 12.8 x 0.2 = 9.6.
    assert_eq!(round(&mut gradient, 9, ms(10), 9, false), 10);
    // Four times slower than the long-term average: gradient 0.5, new = 4.8 + 4 = 8.8,
    // smoothed 9.6 x 0.8 + 8.8 x 0.2 = 9.44.
    assert_eq!(round(&mut gradient, 10, ms(40), 10, false), 9);
    // Not busy: holds.
    assert_eq!(round(&mut gradient, 9, ms(10), 4, false), 9);
}

#[test]
fn gradient2_does_not_grow_a_pool_whose_jobs_keep_slowing_down() {
    // Each round a worker more makes the jobs slower in proportion (a backend past its
    // knee): the long-term average lags, the gradient falls, and the size stops climbing.
    let mut gradient = Gradient2::new();
    let mut size = 8;
    let mut largest = size;
    for _ in 0..2000 {
        let run = Duration::from_micros(10_000 * size.max(8) as u64 / 8);
        size = round(&mut gradient, size, run, size, false);
        largest = largest.max(size);
    }
    // Settles where tolerance x drift = 1.875 over the lowest run time, less what the queue
    // size adds: 8 x 1.875 / (1 - 4 / n) = n at n = 19.
    assert!(
        largest <= 20,
        "grew to {largest} while every job got slower"
    );
    assert_eq!(size, 19);
}

/// Feeds a controller one job every `every` from `start` for `span`, each run `run`, with
/// `queued` going from `queued.0` to `queued.1` over the span; returns the last answer and the
/// time after the span.
fn steady(
    controller: &mut LittlesLaw,
    (start, span, every): (Instant, Duration, Duration),
    workers: &mut usize,
    run: Duration,
    queued: (usize, usize),
) -> Instant {
    let jobs = (span.as_nanos() / every.as_nanos()) as u32;
    for n in 1..=jobs {
        let at = start + every * n;
        let mut sample = job(at, *workers, run, *workers);
        sample.queued = queued.0 + (queued.1 - queued.0) * n as usize / jobs as usize;
        *workers = controller.sample(&sample);
    }
    start + every * jobs
}

#[test]
fn littles_law_sizes_for_the_arrival_rate_with_a_cooldown_and_hysteresis() {
    let mut law = LittlesLaw::new();
    let mut workers = 2;
    let t0 = Instant::now();
    // The first job only starts the window.
    let first = job(t0, workers, ms(50), 2);
    assert_eq!(law.sample(&first), 2);
    // 100 jobs a second of 50 ms: 100 x 0.05 / 0.8 = 6.25 workers.
    let t1 = steady(
        &mut law,
        (t0, ms(1000), ms(10)),
        &mut workers,
        ms(50),
        (0, 0),
    );
    assert_eq!(workers, 7);
    // Half the load within the cooldown: kept.
    let t2 = steady(
        &mut law,
        (t1, ms(1000), ms(20)),
        &mut workers,
        ms(50),
        (0, 0),
    );
    assert_eq!(workers, 7);
    // After it: 50 x 0.05 / 0.8 = 3.125, below 7 x 0.8: shrinks to 4.
    let t3 = steady(
        &mut law,
        (t2, ms(1000), ms(20)),
        &mut workers,
        ms(50),
        (0, 0),
    );
    assert_eq!(workers, 4);
    // A little more than that (4 x 0.8 = 3.2 <= 3.75): not worth a change.
    let _ = steady(
        &mut law,
        (t3, ms(3000), ms(16)),
        &mut workers,
        ms(50),
        (0, 0),
    );
    assert_eq!(workers, 4);
}

#[test]
fn littles_law_counts_a_growing_queue_as_arrivals() {
    let mut law = LittlesLaw::new();
    let mut workers = 4;
    let t0 = Instant::now();
    law.sample(&job(t0, workers, ms(10), 4));
    // 400 finished and 400 more queued in a second: 800 x 0.01 / 0.8 = 10.
    let _ = steady(
        &mut law,
        (t0, ms(1000), ms(2) + ms(1) / 2),
        &mut workers,
        ms(10),
        (0, 400),
    );
    assert_eq!(workers, 10);
}

#[test]
fn littles_law_takes_back_a_growth_that_only_slowed_jobs_down() {
    let mut law = LittlesLaw::new().hold(ms(10_000));
    let mut workers = 8;
    let t0 = Instant::now();
    law.sample(&job(t0, workers, ms(10), 8));
    // Saturated at 8: 800 a second finish while the queue grows by 100 a second, so the
    // law asks for 900 x 0.01 / 0.8 = 11.25.
    let mut at = steady(
        &mut law,
        (t0, ms(1000), ms(1) + ms(1) / 4),
        &mut workers,
        ms(10),
        (0, 100),
    );
    assert_eq!(workers, 12);
    // 12 workers: the same 800 a second, each job 1.5 times slower, the queue still growing.
    // After the cooldown the growth is taken back, and 8 stays the ceiling for the hold.
    let mut queued = 100;
    let mut second = |law: &mut LittlesLaw, workers: &mut usize, run| {
        at = steady(
            law,
            (at, ms(1000), ms(1) + ms(1) / 4),
            workers,
            run,
            (queued, queued + 100),
        );
        queued += 100;
    };
    second(&mut law, &mut workers, ms(15));
    assert_eq!(workers, 12, "within the cooldown");
    second(&mut law, &mut workers, ms(15));
    assert_eq!(workers, 8, "flat throughput, slower jobs: taken back");
    // Taken back at 3 s, held until 13 s.
    for n in 4..=12 {
        second(&mut law, &mut workers, ms(10));
        assert_eq!(workers, 8, "held, at {n} s");
    }
    // The hold over, growth is tried again.
    second(&mut law, &mut workers, ms(10));
    assert_eq!(workers, 12);
}

#[test]
fn controllers_survive_extreme_settings() {
    let at = Instant::now();
    let mut law = LittlesLaw::new()
        .hold(Duration::MAX)
        .cooldown(Duration::MAX)
        .window(Duration::MAX);
    let mut aimd = Aimd::new().timeout(Duration::MAX);
    let mut gradient = Gradient2::new().queue_size(u32::MAX).long_window(u32::MAX);
    for n in 0..100 {
        let sample = job(at + ms(n), 4, Duration::MAX, 4);
        assert!((1..=64).contains(&law.sample(&sample)));
        assert!((1..=64).contains(&aimd.sample(&sample)));
        assert!((1..=64).contains(&gradient.sample(&sample)));
    }
    assert_eq!(gradient.sample(&job(at, 4, ms(1), 4)), 64);
}
