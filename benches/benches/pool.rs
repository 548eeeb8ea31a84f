//! `pc::pool` against what people write by hand: 100,000 trivial jobs on a 2-worker
//! multi-thread runtime (one worker task per core) and on `current_thread`.
//!
//! - `results`: the pool as a `Producer`, every outcome read from its results stream, against
//!   two long-lived workers on a raw async-channel of jobs answering on an async-channel.
//! - `handles`: a `JobHandle` per job, against two workers answering through a oneshot per job,
//!   and against `tokio::spawn` per job in a `JoinSet`.
//! - `pipeline`: three trivial stages, one worker each, buffers of 64, ordered output, against
//!   three hand-written tasks joined by async-channels of 64.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use pc::Producer;
use pc::pool::{JobError, JobResult, WorkerPool};
use pc_benches::Flavor;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const JOBS: u64 = 100_000;
const WORKERS: usize = 2;
const CAPACITY: usize = 1024;

async fn job(n: u64) -> Result<u64, ()> {
    Ok(n.wrapping_mul(3))
}

/// The pool as a producer; outcomes from the results stream.
async fn pool_results() -> u64 {
    let pool = WorkerPool::builder(job)
        .workers(WORKERS)
        .capacity(CAPACITY)
        .build()
        .expect("valid settings");
    let results = pool.results();
    let reader = tokio::spawn(async move {
        results
            .fold(0u64, |n, r| async move { n + u64::from(r.output.is_ok()) })
            .await
    });
    pool.send_all(0..JOBS).await.expect("open");
    pool.close_and_wait().await;
    reader.await.expect("reader")
}

/// Two workers on an async-channel of jobs, answering on an async-channel of results.
async fn channel_workers() -> u64 {
    let (jobs_tx, jobs_rx) = async_channel::bounded::<u64>(CAPACITY);
    let (out_tx, out_rx) = async_channel::unbounded::<Result<u64, ()>>();
    for _ in 0..WORKERS {
        let (jobs_rx, out_tx) = (jobs_rx.clone(), out_tx.clone());
        tokio::spawn(async move {
            while let Ok(n) = jobs_rx.recv().await {
                out_tx.send(job(n).await).await.expect("open");
            }
        });
    }
    drop(out_tx);
    let reader = tokio::spawn(async move {
        let mut ok = 0;
        while let Ok(r) = out_rx.recv().await {
            ok += u64::from(r.is_ok());
        }
        ok
    });
    for n in 0..JOBS {
        jobs_tx.send(n).await.expect("open");
    }
    drop(jobs_tx);
    reader.await.expect("reader")
}

/// The same two hand-written workers on pc's own channel: the floor under the pool's
/// results case, so the gap between the two is what the pool's machinery costs per job.
async fn pc_channel_workers() -> u64 {
    pc_workers(
        |n| n,
        |r: &Result<u64, ()>| r.is_ok(),
        |n| async move { job(n).await },
    )
    .await
}

/// A job the size of the pool's own for a `u64` input (40 bytes).
struct SizedJob {
    n: u64,
    _rest: [u64; 4],
}

/// The same workers moving items the size of the pool's: a 40-byte job in, a `JobResult`
/// out. The gap between this and `pc` is what the pool does per job beyond moving its items.
async fn pc_channel_sized_workers() -> u64 {
    pc_workers(
        |n| SizedJob { n, _rest: [n; 4] },
        |r: &JobResult<u64, ()>| r.output.is_ok(),
        |job: SizedJob| async move {
            JobResult {
                id: job.n,
                worker: 0,
                output: self::job(job.n).await.map_err(JobError::Failed),
                duration: Duration::ZERO,
            }
        },
    )
    .await
}

/// Two workers on a `pc::channel` of jobs made by `make`, answering with what `run` returns
/// on an unbounded `pc::channel`; counts the answers `ok` accepts.
async fn pc_workers<J, R, F>(
    make: fn(u64) -> J,
    ok: fn(&R) -> bool,
    run: impl Fn(J) -> F + Clone + Send + 'static,
) -> u64
where
    J: Send + 'static,
    R: Send + 'static,
    F: Future<Output = R> + Send,
{
    let (jobs_tx, jobs_rx) = pc::channel::bounded::<J>(CAPACITY).expect("valid");
    let (out_tx, out_rx) = pc::channel::unbounded::<R>();
    for _ in 0..WORKERS {
        let (jobs_rx, out_tx, run) = (jobs_rx.clone(), out_tx.clone(), run.clone());
        tokio::spawn(async move {
            while let Ok(job) = jobs_rx.recv().await {
                out_tx.send(run(job).await).await.expect("open");
            }
        });
    }
    drop(out_tx);
    drop(jobs_rx);
    let reader = tokio::spawn(async move {
        out_rx
            .fold(0u64, move |n, r| async move { n + u64::from(ok(&r)) })
            .await
    });
    for n in 0..JOBS {
        jobs_tx.send(make(n)).await.expect("open");
    }
    drop(jobs_tx);
    reader.await.expect("reader")
}

/// A handle per job, awaited by a second task in submission order.
async fn pool_handles() -> u64 {
    let pool = WorkerPool::builder(job)
        .workers(WORKERS)
        .capacity(CAPACITY)
        .build()
        .expect("valid settings");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<pc::pool::JobHandle<u64, ()>>(CAPACITY);
    let reader = tokio::spawn(async move {
        let mut ok = 0;
        while let Some(handle) = rx.recv().await {
            ok += u64::from(handle.await.is_ok());
        }
        ok
    });
    for n in 0..JOBS {
        tx.send(pool.submit(n).await.expect("open"))
            .await
            .expect("open");
    }
    drop(tx);
    let ok = reader.await.expect("reader");
    pool.close_and_wait().await;
    ok
}

/// Two workers on an async-channel of jobs, each job carrying a oneshot for its answer.
async fn oneshot_workers() -> u64 {
    type Job = (u64, oneshot::Sender<Result<u64, ()>>);
    let (jobs_tx, jobs_rx) = async_channel::bounded::<Job>(CAPACITY);
    for _ in 0..WORKERS {
        let jobs_rx = jobs_rx.clone();
        tokio::spawn(async move {
            while let Ok((n, reply)) = jobs_rx.recv().await {
                let _ = reply.send(job(n).await);
            }
        });
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<oneshot::Receiver<Result<u64, ()>>>(CAPACITY);
    let reader = tokio::spawn(async move {
        let mut ok = 0;
        while let Some(answer) = rx.recv().await {
            ok += u64::from(answer.await.expect("answered").is_ok());
        }
        ok
    });
    for n in 0..JOBS {
        let (reply, answer) = oneshot::channel();
        jobs_tx.send((n, reply)).await.expect("open");
        tx.send(answer).await.expect("open");
    }
    drop(tx);
    reader.await.expect("reader")
}

/// Three stages through the pipeline, ordered output.
async fn pipeline() -> u64 {
    use pc::pool::Pipeline;

    let out = Pipeline::from_stream(futures_util::stream::iter(0..JOBS))
        .stage(1, 64, job)
        .and_then(|p| p.stage(1, 64, job))
        .and_then(|p| p.stage(1, 64, job))
        .expect("valid settings")
        .ordered();
    out.fold(0u64, |n, r| async move { n + u64::from(r.is_ok()) })
        .await
}

/// Three tasks joined by async-channels, each applying the step.
async fn channel_stages() -> u64 {
    let (tx0, rx0) = async_channel::bounded::<u64>(64);
    let mut input = rx0;
    for _ in 0..3 {
        let (tx, rx) = async_channel::bounded::<u64>(64);
        let from = input;
        tokio::spawn(async move {
            while let Ok(n) = from.recv().await {
                let Ok(out) = job(n).await else { continue };
                if tx.send(out).await.is_err() {
                    break;
                }
            }
        });
        input = rx;
    }
    tokio::spawn(async move {
        for n in 0..JOBS {
            tx0.send(n).await.expect("open");
        }
    });
    let mut ok = 0;
    while input.recv().await.is_ok() {
        ok += 1;
    }
    ok
}

/// A task per job in a `JoinSet`.
async fn spawn_per_job() -> u64 {
    let mut set = JoinSet::new();
    for n in 0..JOBS {
        set.spawn(job(n));
    }
    let mut ok = 0;
    while let Some(done) = set.join_next().await {
        ok += u64::from(done.expect("joined").is_ok());
    }
    ok
}

fn pool(c: &mut Criterion) {
    for flavor in Flavor::ALL {
        let rt = flavor.runtime();
        for (group, cases) in [
            (
                "results",
                &[
                    "pc",
                    "async-channel-workers",
                    "pc-channel-workers",
                    "pc-channel-sized-workers",
                ][..],
            ),
            ("handles", &["pc", "oneshot-workers", "spawn-joinset"][..]),
            ("pipeline", &["pc", "channel-stages"][..]),
        ] {
            let mut g = c.benchmark_group(format!("pool-{}-{group}", flavor.tag()));
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3))
                .throughput(Throughput::Elements(JOBS));
            for &case in cases {
                g.bench_function(case, |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            let start = Instant::now();
                            for _ in 0..iters {
                                let ok = match (group, case) {
                                    ("results", "pc") => pool_results().await,
                                    ("results", "pc-channel-workers") => pc_channel_workers().await,
                                    ("results", "pc-channel-sized-workers") => {
                                        pc_channel_sized_workers().await
                                    }
                                    ("results", _) => channel_workers().await,
                                    ("pipeline", "pc") => pipeline().await,
                                    ("pipeline", _) => channel_stages().await,
                                    (_, "pc") => pool_handles().await,
                                    (_, "oneshot-workers") => oneshot_workers().await,
                                    _ => spawn_per_job().await,
                                };
                                assert_eq!(ok, JOBS, "every job answered");
                            }
                            start.elapsed()
                        })
                    })
                });
            }
            g.finish();
        }
    }
}

criterion_group!(benches, pool);
criterion_main!(benches);
