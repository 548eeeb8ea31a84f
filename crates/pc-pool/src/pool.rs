//! `WorkerPool`: N worker tasks running one stage over a bounded job queue.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::task::AtomicWaker;
use pc_core::task::{TaskGroup, drop_caught, panic_message};
use pc_core::{
    Ack, AckConsumer, BuildError, Consumer, Delivery, DropReason, FailReason, ProduceError,
    Producer, SendError, SharedProbe, Stage, TrySendError, WaitKind, channel,
};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::attempt::{self, Attempt, Deadline};
use crate::error::JobError;
use crate::headcount::Headcount;
use crate::sizing::{Adaptive, Controller, Finished, Sizer};

/// How a job's outcome travels: to its own handle, or to the results stream.
pub(crate) enum Reply<O, E> {
    Handle(oneshot::Sender<Result<O, JobError<E>>>),
    Stream,
}

/// A queued job.
pub(crate) struct Job<In, O, E> {
    pub(crate) id: u64,
    input: In,
    reply: Reply<O, E>,
    /// What few jobs carry, boxed so that the common job stays small: every job is moved
    /// through the queue and the worker's future several times.
    extras: Option<Box<Extras>>,
}

/// The parts of a job that only a probe or an acknowledged source needs.
#[derive(Default)]
struct Extras {
    /// When the job was queued; read only with a probe, for its queue wait.
    queued_at: Option<Instant>,
    /// What settles the job's delivery, for jobs from an acknowledged source.
    ack: Option<Ack>,
    /// The job's span, made as it was queued (its parent the caller's span), with
    /// [`spans`](WorkerPoolBuilder::spans).
    span: Option<Box<tracing::Span>>,
}

/// One finished job, as the [`results`](WorkerPool::results) stream reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult<O, E> {
    /// The job's number, in submission order from 0.
    pub id: u64,
    /// The worker that ran it, from 0.
    pub worker: usize,
    /// What it produced.
    pub output: Result<O, JobError<E>>,
    /// How long it ran (zero if it was cancelled before it started).
    pub duration: Duration,
}

/// How jobs reach the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Balance {
    /// One queue every worker takes from: a job waits only while every worker is busy. The
    /// default, and the best for most loads.
    #[default]
    Shared,
    /// Each worker has a queue of its own and jobs go to them in turn (the Go seed's load
    /// balancer): the same share for each, whatever the jobs cost.
    RoundRobin,
    /// Each worker has a queue of its own, and each job goes to the shorter queue of two
    /// workers picked at random ("power of two choices"): long jobs do not pile up behind
    /// each other.
    LeastLoaded,
}

type Outcome<S, In> = Result<<S as Stage<In>>::Output, JobError<<S as Stage<In>>::Error>>;
pub(crate) type QueuedJob<S, In> = Job<In, <S as Stage<In>>::Output, <S as Stage<In>>::Error>;
type ResultOf<S, In> = JobResult<<S as Stage<In>>::Output, <S as Stage<In>>::Error>;

/// What the pool and its workers share.
pub(crate) struct Shared<In, S: Stage<In>> {
    stage: S,
    pub(crate) intake: channel::Sender<QueuedJob<S, In>>,
    queue: channel::Receiver<QueuedJob<S, In>>,
    results: channel::Sender<ResultOf<S, In>>,
    timeout: Option<Duration>,
    blocking: bool,
    balance: Balance,
    cancel: Cancel,
    next_id: AtomicU64,
    cancelled: AtomicU64,
    /// Deliveries the source could not settle (they will be delivered again).
    ack_errors: AtomicU64,
    /// Workers running, and how many there should be.
    headcount: Headcount,
    next_worker: AtomicUsize,
    stopped: watch::Sender<bool>,
    probe: Option<SharedProbe>,
    /// Boxed: the common pool has none, and the fields its workers read stay close together.
    sizing: Option<Box<Sizer>>,
    /// Whether each job runs in a span of its own.
    spans: bool,
}

impl<In, S: Stage<In>> Shared<In, S> {
    /// A job with the next number.
    #[inline]
    pub(crate) fn job(&self, input: In, reply: Reply<S::Output, S::Error>) -> QueuedJob<S, In> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The queue wait is read only by a probe or the sizing: spans alone need no clock.
        let timed = self.probe.is_some() || self.sizing.is_some();
        let extras = (timed || self.spans).then(|| {
            Box::new(Extras {
                queued_at: timed.then(Instant::now),
                ack: None,
                span: self.spans.then(|| Box::new(crate::attempt::job_span(id))),
            })
        });
        Job {
            id,
            input,
            reply,
            extras,
        }
    }

    /// Reports a job entering the pool: its queue, or the feeder's hands.
    pub(crate) fn queued_one(&self) {
        if let Some(probe) = &self.probe {
            probe.produced(1);
        }
    }

    /// Sends a job's outcome where it belongs.
    fn deliver(
        &self,
        id: u64,
        worker: usize,
        reply: Reply<S::Output, S::Error>,
        output: Outcome<S, In>,
        duration: Duration,
    ) {
        if matches!(output, Err(JobError::Cancelled)) {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        match reply {
            // A caller that dropped its handle no longer wants the outcome: dropped here, where
            // a `Drop` of user code that panics must not take the worker down.
            Reply::Handle(tx) => {
                if let Err(unwanted) = tx.send(output) {
                    drop_caught(unwanted);
                }
            }
            // The pool keeps a receiver of the unbounded results channel: this cannot fail.
            Reply::Stream => drop(self.results.try_send(JobResult {
                id,
                worker,
                output,
                duration,
            })),
        }
    }
}

/// A pool of worker tasks, each running the same [`Stage`] on one job at a time.
///
/// Jobs wait in a bounded queue; [`submit`](Self::submit) waits for room and returns a
/// [`JobHandle`] that resolves to that job's own outcome. As a [`Producer`] (`send`,
/// `try_send`), the pool takes jobs whose outcomes go to the [`results`](Self::results)
/// stream instead. A panic, an error or a timeout fails its job only; the worker carries on.
///
/// Stopping: [`close_and_wait`](Self::close_and_wait) stops intake and waits for every queued job;
/// [`shutdown`](Self::shutdown) waits a grace period, then cancels what is left;
/// [`abort`](Self::abort) cancels at once; so does cancelling the builder's token. Every job
/// ends exactly once, with its output, its error, or [`JobError::Cancelled`]. Dropping the pool
/// closes it: queued jobs still run, then the workers end.
pub struct WorkerPool<In, S: Stage<In>> {
    shared: Arc<Shared<In, S>>,
    results: channel::Receiver<ResultOf<S, In>>,
    /// Every task of the pool (workers, and the feeder, dispatcher and token relay where there
    /// are): the pool has stopped when the group is empty.
    tasks: TaskGroup,
}

impl<In, S: Stage<In>> fmt::Debug for WorkerPool<In, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("workers", &self.workers())
            .field("queued", &self.queued())
            .field("closed", &self.shared.intake.is_closed())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`WorkerPool`].
pub struct WorkerPoolBuilder<S> {
    stage: S,
    workers: usize,
    capacity: usize,
    timeout: Option<Duration>,
    blocking: bool,
    balance: Balance,
    cancel: Option<CancellationToken>,
    probe: Option<SharedProbe>,
    adaptive: Option<Adaptive>,
    spans: bool,
}

impl<S> fmt::Debug for WorkerPoolBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPoolBuilder")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity)
            .field("timeout", &self.timeout)
            .field("blocking", &self.blocking)
            .field(
                "adaptive",
                &self
                    .adaptive
                    .as_ref()
                    .map(|adaptive| adaptive.min..=adaptive.max),
            )
            .field("spans", &self.spans)
            .finish_non_exhaustive()
    }
}

impl<S> WorkerPoolBuilder<S> {
    /// How many workers run jobs at once (default: the machine's available parallelism).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many jobs may wait in the queue (default 1024); `submit` waits for room beyond it.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Stops a job that runs longer than `timeout`: it fails with [`JobError::TimedOut`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs each job on tokio's blocking pool (`spawn_blocking`, the job's future driven there),
    /// for stages that compute for long stretches without awaiting: the runtime's workers stay
    /// free. A job that times out or is cancelled is answered at once, but its thread runs on
    /// to the job's end (code between awaits cannot be stopped), and that outcome is dropped.
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// How jobs reach the workers (default [`Balance::Shared`]). With a queue per worker, each
    /// holds `capacity / workers` jobs (at least one) besides the pool's intake, and the pool
    /// cannot be resized.
    pub fn balance(mut self, balance: Balance) -> Self {
        self.balance = balance;
        self
    }

    /// Cancels the pool when `token` is cancelled, as [`WorkerPool::abort`] does.
    pub fn cancel_token(mut self, token: &CancellationToken) -> Self {
        self.cancel = Some(token.child_token());
        self
    }

    /// Sizes the pool as it runs: after each job, `controller` (see [`sizing`](crate::sizing))
    /// says how many workers to run, and the pool resizes to that, kept between `min` and
    /// `max`. It starts with [`workers`](Self::workers) brought within those bounds.
    ///
    /// A controller that panics stops sizing the pool, which keeps its size; the panic is
    /// re-raised by [`close_and_wait`](WorkerPool::close_and_wait),
    /// [`shutdown`](WorkerPool::shutdown) and [`abort`](WorkerPool::abort).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use pc_pool::WorkerPool;
    /// use pc_pool::sizing::Vegas;
    ///
    /// let pool = WorkerPool::builder(|n: u64| async move {
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    ///     Ok::<_, std::io::Error>(n)
    /// })
    /// .workers(1)
    /// .adaptive(1, 16, Vegas::new())
    /// .build()?;
    /// let handles: Vec<_> = futures_util::future::join_all((0..400).map(|n| pool.submit(n))).await;
    /// for handle in handles {
    ///     handle?.await?;
    /// }
    /// // Jobs queued and ran no slower with more workers: the pool grew to its bound.
    /// assert_eq!(pool.workers(), 16);
    /// # Ok(()) }
    /// ```
    pub fn adaptive(mut self, min: usize, max: usize, controller: impl Controller) -> Self {
        self.adaptive = Some(Adaptive::new(min, max, controller));
        self
    }

    /// Reports jobs queued (`produced`), finished (`consumed`), their run time
    /// (`waited(Processing)`) and cancelled jobs (`dropped` with `DropReason::Closed`).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Runs each job in a `tracing` span of its own: `job` (target `pc_pool`, level INFO), with
    /// fields `id` (the job's number), `worker` and `outcome` (`ok`, or the failure as
    /// [`FailReason::as_str`](pc_core::FailReason::as_str) names it: `error`, `panicked`,
    /// `timed_out`, `cancelled`). The span is made when the job is queued, so the span current
    /// in the caller of `submit`, `send` or `try_send` is its parent, and what the stage logs
    /// falls within it. Off by default: a span per job costs about as much as the job itself
    /// when the stage is trivial.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use pc_pool::WorkerPool;
    /// use tracing::Instrument;
    ///
    /// let pool = WorkerPool::builder(|n: u32| async move {
    ///     tracing::info!(n, "working"); // within the job's span
    ///     Ok::<_, std::io::Error>(n)
    /// })
    /// .spans()
    /// .build()?;
    /// let handle = pool
    ///     .submit(7)
    ///     .instrument(tracing::info_span!("request", user = "ada")) // the job's parent
    ///     .await?;
    /// assert_eq!(handle.await?, 7);
    /// # Ok(()) }
    /// ```
    pub fn spans(mut self) -> Self {
        self.spans = true;
        self
    }

    /// Checks the settings and starts the workers on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for zero `workers`, `capacity` or `timeout`;
    /// [`BuildError::Invalid`] for more than [`MAX_WORKERS`] workers, and (setting `runtime`)
    /// when called outside a tokio runtime. Any capacity up to `usize::MAX` works. With
    /// [`adaptive`](Self::adaptive): [`BuildError::Zero`] (setting `min`) for a `min` of zero,
    /// [`BuildError::Invalid`] for `min` above `max`, `max` above [`MAX_WORKERS`], a queue per
    /// worker ([`balance`](Self::balance)), or what the controller's
    /// [`validate`](crate::sizing::Controller::validate) refuses.
    pub fn build<In>(self) -> Result<WorkerPool<In, S>, BuildError>
    where
        In: Send + 'static,
        S: Stage<In> + 'static,
        S::Output: 'static,
        S::Error: 'static,
    {
        if self.workers == 0 {
            return Err(BuildError::Zero { setting: "workers" });
        }
        if self.workers > MAX_WORKERS {
            return Err(too_many("workers"));
        }
        let workers = match &self.adaptive {
            Some(adaptive) => {
                adaptive.check()?;
                if self.balance != Balance::Shared {
                    return Err(BuildError::Invalid {
                        setting: "adaptive",
                        reason: "a pool with a queue per worker cannot be resized".into(),
                    });
                }
                self.workers.clamp(adaptive.min, adaptive.max)
            }
            None => self.workers,
        };
        if self.timeout.is_some_and(|timeout| timeout.is_zero()) {
            return Err(BuildError::Zero { setting: "timeout" });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::Invalid {
            setting: "runtime",
            reason: "a worker pool must be built inside a tokio runtime".into(),
        })?;
        let (intake, queue) = channel::bounded(self.capacity)?;
        let (results, results_rx) = channel::unbounded();
        if let Some(probe) = &self.probe {
            probe.described(pc_core::BlockKind::WorkerPool, Some(self.capacity));
        }
        let tasks = TaskGroup::new(runtime);
        let sizing = self
            .adaptive
            .map(|adaptive| Box::new(adaptive.start(tasks.clone())));
        let shared = Arc::new(Shared {
            stage: self.stage,
            intake,
            queue,
            results,
            timeout: self.timeout,
            blocking: self.blocking,
            balance: self.balance,
            cancel: Cancel::new(),
            next_id: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            ack_errors: AtomicU64::new(0),
            headcount: Headcount::new(workers),
            next_worker: AtomicUsize::new(workers),
            stopped: watch::Sender::new(false),
            probe: self.probe,
            sizing,
            spans: self.spans,
        });
        if shared.balance == Balance::Shared {
            for worker in 0..workers {
                let waker = shared.cancel.enlist();
                let queue = shared.queue.clone();
                tasks.spawn(work(Arc::clone(&shared), worker, waker, queue));
            }
        } else {
            let per_worker = (self.capacity / self.workers).max(1);
            let mut queues = Vec::with_capacity(self.workers);
            for worker in 0..self.workers {
                let (tx, rx) = channel::bounded(per_worker)?;
                let waker = shared.cancel.enlist();
                tasks.spawn(work(Arc::clone(&shared), worker, waker, rx));
                queues.push(tx);
            }
            let waker = shared.cancel.enlist();
            tasks.spawn(dispatch(Arc::clone(&shared), queues, waker));
        }
        if let Some(token) = self.cancel {
            // Relays the caller's token, and ends with the pool.
            let shared = Arc::clone(&shared);
            tasks.spawn(async move {
                let mut stopped = shared.stopped.subscribe();
                tokio::select! {
                    () = token.cancelled() => shared.cancel.cancel(),
                    _ = stopped.wait_for(|stopped| *stopped) => {}
                }
            });
        }
        Ok(WorkerPool {
            shared,
            results: results_rx,
            tasks,
        })
    }
}

impl<S> WorkerPoolBuilder<S> {
    /// As [`build`](Self::build), and the pool takes its jobs from `source` too: any
    /// `Consumer` (a channel, a bounded queue, a priority channel), its outcomes on
    /// [`results`](WorkerPool::results). When `source` is closed and drained the pool's intake
    /// closes, so the pool stops once those jobs are done. Closing, shutting down or
    /// cancelling the pool stops taking from `source`; what is still there stays there, and an
    /// item taken but not yet queued ends `Cancelled` on the results stream.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn build_over<In, C>(self, source: C) -> Result<WorkerPool<In, S>, BuildError>
    where
        In: Send + 'static,
        S: Stage<In> + 'static,
        S::Output: 'static,
        S::Error: 'static,
        C: Consumer<In> + 'static,
    {
        self.build_over_acked(Settled(source))
    }

    /// As [`build_over`](Self::build_over), from a source whose deliveries are acknowledged
    /// (pc-redis): a job's delivery is acked when the job succeeds and nacked (delivered
    /// again) when it fails, panics, times out or is cancelled while running. A job cancelled
    /// before it ran leaves its delivery unsettled, so the source delivers it again after its
    /// claim time. Deliveries the source could not settle are counted by
    /// [`ack_errors`](WorkerPool::ack_errors).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn build_over_acked<In, C>(self, source: C) -> Result<WorkerPool<In, S>, BuildError>
    where
        In: Send + 'static,
        S: Stage<In> + 'static,
        S::Output: 'static,
        S::Error: 'static,
        C: AckConsumer<In> + 'static,
    {
        let pool = self.build()?;
        let waker = pool.shared.cancel.enlist();
        pool.tasks
            .spawn(feed(Arc::clone(&pool.shared), source, waker));
        Ok(pool)
    }
}

impl<In, S: Stage<In>> WorkerPool<In, S> {
    /// Starts the settings of a pool running `stage` on every job.
    pub fn builder(stage: S) -> WorkerPoolBuilder<S> {
        WorkerPoolBuilder {
            stage,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            capacity: 1024,
            timeout: None,
            blocking: false,
            balance: Balance::Shared,
            cancel: None,
            probe: None,
            adaptive: None,
            spans: false,
        }
    }
}

impl<In, S> WorkerPool<In, S>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
{
    /// Queues `input`, waiting for room, and returns a handle to its outcome.
    ///
    /// # Errors
    ///
    /// The input comes back in a [`SendError`] when the pool is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits for room drops the input: the job was not queued.
    pub async fn submit(&self, input: In) -> Result<JobHandle<S::Output, S::Error>, SendError<In>> {
        let (tx, rx) = oneshot::channel();
        let id = self.queue_job(input, Reply::Handle(tx)).await?;
        Ok(JobHandle { id, rx })
    }

    /// Queues `input` if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the input.
    pub fn try_submit(
        &self,
        input: In,
    ) -> Result<JobHandle<S::Output, S::Error>, TrySendError<In>> {
        let (tx, rx) = oneshot::channel();
        let id = self.try_queue_job(input, Reply::Handle(tx))?;
        Ok(JobHandle { id, rx })
    }

    async fn queue_job(
        &self,
        input: In,
        reply: Reply<S::Output, S::Error>,
    ) -> Result<u64, SendError<In>> {
        let job = self.shared.job(input, reply);
        let id = job.id;
        self.shared
            .intake
            .send(job)
            .await
            .map_err(|SendError(job)| SendError(job.input))?;
        self.shared.queued_one();
        Ok(id)
    }

    fn try_queue_job(
        &self,
        input: In,
        reply: Reply<S::Output, S::Error>,
    ) -> Result<u64, TrySendError<In>> {
        let job = self.shared.job(input, reply);
        let id = job.id;
        self.shared.intake.try_send(job).map_err(|err| {
            let full = err.is_full();
            let input = err.into_inner().input;
            if full {
                TrySendError::Full(input)
            } else {
                TrySendError::Closed(input)
            }
        })?;
        self.shared.queued_one();
        Ok(id)
    }
}

impl<In, S: Stage<In>> WorkerPool<In, S> {
    /// The outcomes of jobs sent through the [`Producer`] methods, as they finish; ends once
    /// the pool has stopped and every outcome is read. Each call gives a receiver of the same
    /// stream (each result goes to one of them). Unread results are kept, so read them if you
    /// send jobs this way.
    pub fn results(&self) -> channel::Receiver<ResultOf<S, In>> {
        self.results.clone()
    }

    #[cfg(feature = "tower")]
    pub(crate) fn shared(&self) -> &Arc<Shared<In, S>> {
        &self.shared
    }

    /// Workers running now: the number built with until the pool stops, whatever jobs panicked.
    pub fn workers(&self) -> usize {
        self.shared.headcount.live()
    }

    /// Jobs waiting in the pool's intake (with a queue per worker, not counting those).
    pub fn queued(&self) -> usize {
        self.shared.intake.len()
    }

    /// Jobs cancelled so far, by `shutdown`, `abort` or the token.
    pub fn cancelled(&self) -> u64 {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// Deliveries from an acknowledged source ([`WorkerPoolBuilder::build_over_acked`]) that
    /// the source could not settle; each is delivered again.
    pub fn ack_errors(&self) -> u64 {
        self.shared.ack_errors.load(Ordering::Relaxed)
    }

    /// Runs `workers` workers from now on: starts more at once, or retires some as they finish
    /// their jobs (no job is cut short or lost). Does nothing once the pool has stopped.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for zero workers, [`BuildError::Invalid`] for more than
    /// [`MAX_WORKERS`] or for a pool with a queue per worker.
    pub fn resize(&self, workers: usize) -> Result<(), BuildError>
    where
        In: Send + 'static,
        S: 'static,
        S::Output: 'static,
        S::Error: 'static,
    {
        if workers == 0 {
            return Err(BuildError::Zero { setting: "workers" });
        }
        if workers > MAX_WORKERS {
            return Err(too_many("workers"));
        }
        let shared = &self.shared;
        if shared.balance != Balance::Shared {
            return Err(BuildError::Invalid {
                setting: "workers",
                reason: "a pool with a queue per worker cannot be resized".into(),
            });
        }
        shared.set_workers(&self.tasks, workers);
        Ok(())
    }

    /// Workers the pool aims to run: what it was built or last resized with, or what its
    /// controller last asked for ([`adaptive`](WorkerPoolBuilder::adaptive)).
    /// [`workers`](Self::workers) reaches it as workers start, or retire between jobs.
    pub fn target_workers(&self) -> usize {
        self.shared.headcount.target()
    }

    /// Stops intake: submits and sends fail and hand their input back; queued jobs still run.
    /// Returns `true` if this call closed it. The same as `Producer::close`; to wait for the
    /// queued jobs as well, [`close_and_wait`](Self::close_and_wait).
    pub fn close(&self) -> bool {
        let closed = self.shared.intake.close();
        // A feeder waiting on its source notices.
        self.shared.cancel.wake_all();
        closed
    }

    /// Stops intake (submits fail and hand their input back) and waits until every queued job
    /// has run and no task of the pool is left.
    ///
    /// # Panics
    ///
    /// With the panic of a task of the pool's own, if one escaped (jobs' panics are their
    /// `JobError::Panicked`, never this).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the waiting only: the pool still finishes its jobs. Callable
    /// again, and by many callers at once: each call returns only once every task has ended.
    pub async fn close_and_wait(&self) {
        self.close();
        self.stopped().await;
    }

    /// Closes, waits up to `grace` for the queued jobs, then cancels every job still running
    /// or queued, and waits until no task of the pool is left. Returns how many jobs were
    /// cancelled by this call or during it.
    ///
    /// # Panics
    ///
    /// As [`close_and_wait`](Self::close_and_wait).
    ///
    /// # Cancel safety
    ///
    /// As [`close_and_wait`](Self::close_and_wait); the cancelling, once started, is not
    /// undone.
    pub async fn shutdown(&self, grace: Duration) -> u64 {
        self.shared.intake.close();
        self.shared.cancel.wake_all();
        let before = self.cancelled();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            self.shared.cancel.cancel();
        }
        self.stopped().await;
        self.cancelled() - before
    }

    /// Cancels every job running or queued now, stops intake and waits until no task of the
    /// pool is left. Returns how many jobs were cancelled by this call or during it.
    ///
    /// # Panics
    ///
    /// As [`close_and_wait`](Self::close_and_wait).
    ///
    /// # Cancel safety
    ///
    /// As [`shutdown`](Self::shutdown).
    pub async fn abort(&self) -> u64 {
        self.shared.intake.close();
        self.shared.cancel.cancel();
        let before = self.cancelled();
        self.stopped().await;
        self.cancelled() - before
    }

    /// Until no task of the pool is left; re-raises a panic that escaped one, or its
    /// controller's.
    async fn stopped(&self) {
        self.tasks.wait().await;
        self.tasks.raise_panic();
    }
}

impl<In, S: Stage<In>> Drop for WorkerPool<In, S> {
    fn drop(&mut self) {
        self.shared.intake.close();
        // A feeder parked on an idle source notices the close and ends: it holds the stage
        // and a receiver of the source, which would otherwise stay alive for good.
        self.shared.cancel.wake_all();
    }
}

impl<In, S> Shared<In, S>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
    /// Runs `workers` workers from now on: starts the missing ones in `tasks` at once; those
    /// over the count retire between jobs.
    fn set_workers(self: &Arc<Self>, tasks: &TaskGroup, workers: usize) {
        // Held until the new workers are in the group: a `close` cannot see the group empty
        // between a worker's count and its task.
        let _resizing = tasks.hold();
        // A pool whose workers have all ended stays stopped.
        self.headcount.set(workers, || {
            let worker = self.next_worker.fetch_add(1, Ordering::Relaxed);
            let waker = self.cancel.enlist();
            let queue = self.queue.clone();
            tasks.spawn(work(Arc::clone(self), worker, waker, queue));
        });
        // Idle workers over the count notice when woken.
        self.cancel.wake_all();
    }

    /// Tells an adaptive pool's controller about a finished job, and resizes as it says.
    fn size_after(self: &Arc<Self>, sizer: &Sizer, job: Finished) {
        if let Some(wanted) = sizer.finished(job) {
            self.set_workers(&sizer.tasks, wanted);
        }
    }
}

/// A worker's place in the pool's count of live workers, given up when the worker's task ends
/// however it ends (a panic outside any job included): the pool's lifecycle does not depend on
/// a worker reaching the end of its loop.
struct Enrolled<In, S: Stage<In>> {
    shared: Arc<Shared<In, S>>,
    /// Already taken off the count, by `retire_one`.
    retired: bool,
}

impl<In, S: Stage<In>> Drop for Enrolled<In, S> {
    fn drop(&mut self) {
        if self.retired {
            return;
        }
        if self.shared.headcount.leave() {
            // The last worker out: no more results, and every `close` may return.
            self.shared.results.close();
            self.shared.stopped.send_replace(true);
        }
    }
}

/// A worker: takes jobs until the queue is closed and drained, or the pool is cancelled.
async fn work<In, S>(
    shared: Arc<Shared<In, S>>,
    worker: usize,
    waker: Arc<AtomicWaker>,
    queue: channel::Receiver<QueuedJob<S, In>>,
) where
    In: Send + 'static,
    S: Stage<In> + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
    let mut enrolled = Enrolled {
        shared: Arc::clone(&shared),
        retired: false,
    };
    let cancel = &shared.cancel;
    // When the last job ended, if the clock was read then: a job taken at once starts there.
    let mut last_end: Option<Instant> = None;
    loop {
        if shared.headcount.retire_one() {
            enrolled.retired = true;
            return;
        }
        let (job, waited) = match queue.try_recv() {
            Ok(job) if !cancel.is_cancelled() => (job, false),
            Ok(job) => {
                cancel_job(&shared, worker, job);
                break;
            }
            Err(_) => {
                let recv = std::pin::pin!(queue.recv());
                let stop = || cancel.is_cancelled() || shared.headcount.too_many();
                match cancel.race(&waker, stop, recv).await {
                    Some(Ok(job)) => (job, true),
                    Some(Err(_)) => break,
                    None if cancel.is_cancelled() => break,
                    // Asked to retire: checked at the top of the loop.
                    None => continue,
                }
            }
        };
        let Job {
            id,
            input,
            reply,
            extras,
        } = job;
        let Extras {
            queued_at,
            ack,
            span,
        } = extras.map(|extras| *extras).unwrap_or_default();
        if let Some(span) = &span {
            span.record("worker", worker);
        }
        // The clock is read only when someone is told how long the job ran, or to time it out.
        let timed =
            matches!(reply, Reply::Stream) || shared.probe.is_some() || shared.sizing.is_some();
        let started = match (timed || shared.timeout.is_some(), last_end) {
            (false, _) => None,
            (true, Some(end)) if !waited => Some(end),
            (true, _) => Some(Instant::now()),
        };
        if let (Some(probe), Some(queued_at), Some(started)) = (&shared.probe, queued_at, started) {
            probe.waited(
                WaitKind::Queue,
                started.saturating_duration_since(queued_at),
            );
        }
        let deadline = shared
            .timeout
            .zip(started)
            .map(|(limit, started)| Deadline { started, limit });
        if let Some(sizer) = &shared.sizing {
            sizer.started();
        }
        let output = if shared.blocking {
            let run = on_blocking_thread(&shared, input);
            let attempt = Attempt::new(run, deadline, cancel, &waker);
            attempt.within(span.as_deref()).await
        } else {
            // The stage's synchronous part runs here, as its future is made.
            let entered = span.as_deref().map(tracing::Span::enter);
            let run = attempt::caught(&shared.stage, input);
            drop(entered);
            let attempt = Attempt::new(run, deadline, cancel, &waker);
            attempt.within(span.as_deref()).await
        };
        if let Some(span) = &span {
            attempt::record_outcome(span, &output);
        }
        last_end = if timed { Some(Instant::now()) } else { None };
        let duration = match (started, last_end) {
            (Some(started), Some(end)) => end.saturating_duration_since(started),
            _ => Duration::ZERO,
        };
        if let Some(probe) = &shared.probe {
            report_run(probe, &output, duration);
        }
        if let (Some(sizer), Some(started), Some(ended)) = (&shared.sizing, started, last_end) {
            let job = Finished {
                queued_at,
                started,
                ended,
                failed: output.is_err(),
                queued: shared.intake.len(),
                workers: shared.headcount.target(),
            };
            shared.size_after(sizer, job);
        }
        if let Some(ack) = ack {
            // Success settles the delivery; any failure asks for it again.
            let settled = if output.is_ok() {
                ack.ack().await
            } else {
                ack.nack().await
            };
            if settled.is_err() {
                shared.ack_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        shared.deliver(id, worker, reply, output, duration);
    }
    if shared.cancel.is_cancelled() {
        // Cancelled: nothing more is taken in, and what is queued ends cancelled. `recv` waits
        // for submits already past the check, so none is stranded.
        shared.intake.close();
        while let Ok(job) = queue.recv().await {
            cancel_job(&shared, worker, job);
        }
    }
    drop(enrolled);
}

/// Cancellation: a flag, and a waker per task to wake it when the flag goes up. Cheaper to
/// poll with every job than a token's wait, which takes a lock on each poll.
pub(crate) struct Cancel {
    flag: AtomicBool,
    /// One per task enlisted, held weakly: a task that ended dropped its waker, and its entry
    /// goes at the next enlistment or wake-up, so the list is bounded by the live tasks
    /// however often the pool is resized.
    wakers: Mutex<Vec<Weak<AtomicWaker>>>,
}

impl Cancel {
    pub(crate) fn new() -> Self {
        Self {
            flag: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// A waker slot for a new task, which it keeps while it runs.
    pub(crate) fn enlist(&self) -> Arc<AtomicWaker> {
        let waker = Arc::new(AtomicWaker::new());
        let mut wakers = lock(&self.wakers);
        wakers.retain(|waker| waker.strong_count() > 0);
        wakers.push(Arc::downgrade(&waker));
        waker
    }

    pub(crate) fn cancel(&self) {
        if !self.flag.swap(true, Ordering::AcqRel) {
            self.wake_all();
        }
    }

    pub(crate) fn wake_all(&self) {
        lock(&self.wakers).retain(|waker| match waker.upgrade() {
            Some(waker) => {
                waker.wake();
                true
            }
            None => false,
        });
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Runs `fut` until it ends (`Some`), or until `stop` says so (`None`): checked with loads,
    /// with the worker's `waker` registered only while `fut` is pending.
    pub(crate) async fn race<F: Future>(
        &self,
        waker: &AtomicWaker,
        stop: impl Fn() -> bool,
        mut fut: Pin<&mut F>,
    ) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            if stop() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(output) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            waker.register(cx.waker());
            // Checked again after registering, so a signal between the two is not missed.
            if stop() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// With a queue per worker: moves jobs from the pool's intake to the workers' queues as the
/// `Balance` says, until the intake is closed and drained (then closes the workers' queues) or
/// the pool is cancelled (then answers what it holds and what is queued `Cancelled`).
async fn dispatch<In, S: Stage<In>>(
    shared: Arc<Shared<In, S>>,
    queues: Vec<channel::Sender<QueuedJob<S, In>>>,
    waker: Arc<AtomicWaker>,
) {
    let cancel = &shared.cancel;
    let stop = || cancel.is_cancelled();
    // Seeded: the same jobs go to the same workers on every run.
    let mut rng = fastrand::Rng::with_seed(queues.len() as u64);
    let mut turn = 0;
    loop {
        let recv = std::pin::pin!(shared.queue.recv());
        let Some(Ok(job)) = cancel.race(&waker, stop, recv).await else {
            break;
        };
        let to = match shared.balance {
            Balance::LeastLoaded if queues.len() > 1 => {
                let a = rng.usize(..queues.len());
                let b = (a + 1 + rng.usize(..queues.len() - 1)) % queues.len();
                if queues[b].len() < queues[a].len() {
                    b
                } else {
                    a
                }
            }
            Balance::LeastLoaded => 0,
            _ => {
                let to = turn;
                turn = (turn + 1) % queues.len();
                to
            }
        };
        // Wait for room with a reservation, so that a cancel meanwhile still holds the job.
        let reserve = std::pin::pin!(queues[to].reserve());
        match cancel.race(&waker, stop, reserve).await {
            Some(Ok(permit)) => {
                if let Err(SendError(job)) = permit.send(job) {
                    cancel_job(&shared, to, job);
                }
            }
            Some(Err(_)) | None => cancel_job(&shared, to, job),
        }
    }
    if cancel.is_cancelled() {
        shared.intake.close();
        while let Ok(job) = shared.queue.recv().await {
            cancel_job(&shared, 0, job);
        }
    }
    for queue in &queues {
        queue.close();
    }
}

/// Moves items from `source` into the pool's queue until the source ends, the pool's intake
/// closes, or the pool is cancelled.
async fn feed<In, S, C>(shared: Arc<Shared<In, S>>, source: C, waker: Arc<AtomicWaker>)
where
    In: Send,
    S: Stage<In>,
    C: AckConsumer<In>,
{
    let cancel = &shared.cancel;
    let stop = || cancel.is_cancelled() || shared.intake.is_closed();
    loop {
        // The source is user code: a panic in it is not its end, and goes on the results.
        let recv = std::pin::pin!(AssertUnwindSafe(source.recv_delivery()).catch_unwind());
        let delivery = match cancel.race(&waker, stop, recv).await {
            Some(Ok(Ok(delivery))) => delivery,
            // The source is closed and drained: so is the pool's intake from now on.
            Some(Ok(Err(err))) if err.is_closed() => break,
            // Its backend failed: reported, and the source is asked again (it waits for its
            // next attempt; the yield keeps one that fails again at once from holding the
            // runtime).
            Some(Ok(Err(err))) => {
                let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
                let failed = Err(JobError::SourceFailed(err));
                shared.deliver(id, 0, Reply::Stream, failed, Duration::ZERO);
                tokio::task::yield_now().await;
                continue;
            }
            Some(Err(panic)) => {
                let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
                let failed = Err(JobError::Source(panic_message(panic.as_ref())));
                shared.deliver(id, 0, Reply::Stream, failed, Duration::ZERO);
                break;
            }
            // Stopped: what the source still holds stays there.
            None => return,
        };
        let (input, ack) = delivery.into_parts();
        let mut job = shared.job(input, Reply::Stream);
        // In the pool from here: queued next, or cancelled (dropped, `Closed`) if it stops.
        shared.queued_one();
        // An unsettled delivery of a job cancelled before it ran is delivered again.
        if ack.is_owed() {
            job.extras.get_or_insert_with(Box::default).ack = Some(ack);
        }
        // Wait for room with a reservation, so that a stop meanwhile still holds the job.
        let reserve = std::pin::pin!(shared.intake.reserve());
        let queued = match cancel.race(&waker, stop, reserve).await {
            Some(Ok(permit)) => permit.send(job).map_err(|SendError(job)| job),
            Some(Err(_)) | None => Err(job),
        };
        if let Err(job) = queued {
            cancel_job(&shared, 0, job);
        }
    }
    shared.intake.close();
    cancel.wake_all();
}

/// Any `Consumer` as an `AckConsumer` whose deliveries have nothing to settle.
struct Settled<C>(C);

impl<In: Send, C: Consumer<In>> AckConsumer<In> for Settled<C> {
    async fn recv_delivery(&self) -> Result<Delivery<In>, pc_core::ConsumeError> {
        self.0.recv().await.map(Delivery::settled)
    }
}

/// Runs one job on tokio's blocking pool, its future driven there by `block_on`, so that a
/// stage that computes for long stretches does not hold up the runtime's workers.
async fn on_blocking_thread<In, S>(
    shared: &Arc<Shared<In, S>>,
    input: In,
) -> std::thread::Result<Result<S::Output, S::Error>>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
    let shared = Arc::clone(shared);
    let runtime = tokio::runtime::Handle::current();
    // The job's span, if it has one, goes with it to the blocking thread.
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        span.in_scope(|| runtime.block_on(attempt::caught(&shared.stage, input)))
    });
    match task.await {
        Ok(finished) => finished,
        // The blocking pool refuses work only while the runtime shuts down.
        Err(err) => Err(Box::new(format!(
            "the blocking pool did not run the job: {err}"
        ))),
    }
}

/// The most worker tasks a pool, or a pipeline's stage, starts: each is a task spawned at once.
pub const MAX_WORKERS: usize = 1 << 16;

/// The error for a count of workers above [`MAX_WORKERS`].
pub(crate) fn too_many(setting: &'static str) -> BuildError {
    BuildError::Invalid {
        setting,
        reason: format!("at most {MAX_WORKERS} worker tasks"),
    }
}

/// Answers a job that will not run: cancelled.
fn cancel_job<In, S: Stage<In>>(shared: &Shared<In, S>, worker: usize, job: QueuedJob<S, In>) {
    let Job {
        id,
        reply,
        input,
        extras,
    } = job;
    drop_caught(input);
    if let Some(probe) = &shared.probe {
        probe.dropped(1, DropReason::Closed);
    }
    let output = Err(JobError::Cancelled);
    if let Some(span) = extras.and_then(|extras| extras.span) {
        span.record("worker", worker);
        attempt::record_outcome(&span, &output);
    }
    shared.deliver(id, worker, reply, output, Duration::ZERO);
}

/// Tells the probe a job ran for `duration` (consumed, processing time) and how it failed, if
/// it did.
fn report_run<O, E>(probe: &SharedProbe, output: &Result<O, JobError<E>>, duration: Duration) {
    probe.consumed(1);
    probe.waited(WaitKind::Processing, duration);
    if let Some(reason) = fail_reason(output) {
        probe.failed(1, reason);
    }
}

/// Why a job failed, in the probe's words; `None` if it did not.
pub(crate) fn fail_reason<O, E>(output: &Result<O, JobError<E>>) -> Option<FailReason> {
    Some(match output {
        Ok(_) => return None,
        Err(JobError::Failed(_)) => FailReason::Error,
        // A source's panic never runs as a job; counted as the stage's panic if it did.
        Err(JobError::Panicked(_) | JobError::Source(_)) => FailReason::Panicked,
        Err(JobError::SourceFailed(_)) => FailReason::Error,
        Err(JobError::TimedOut(_)) => FailReason::TimedOut,
        Err(JobError::Cancelled | JobError::Closed) => FailReason::Cancelled,
    })
}

/// The outcome of one submitted job: await it.
///
/// Dropping the handle does not cancel the job; its outcome is then discarded.
pub struct JobHandle<O, E> {
    id: u64,
    rx: oneshot::Receiver<Result<O, JobError<E>>>,
}

impl<O, E> JobHandle<O, E> {
    #[cfg(feature = "tower")]
    pub(crate) fn new(id: u64, rx: oneshot::Receiver<Result<O, JobError<E>>>) -> Self {
        Self { id, rx }
    }

    /// The job's number, in submission order from 0.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<O, E> fmt::Debug for JobHandle<O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle").field("id", &self.id).finish()
    }
}

impl<O, E> Future for JobHandle<O, E> {
    type Output = Result<O, JobError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every job is answered; a reply dropped unanswered can only be a job torn down with
        // its worker's runtime, which is a cancellation too.
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(JobError::Cancelled)))
    }
}

impl<In, S> Producer<In> for WorkerPool<In, S>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
{
    async fn send(&self, item: In) -> Result<(), ProduceError<In>> {
        self.queue_job(item, Reply::Stream)
            .await
            .map(drop)
            .map_err(ProduceError::from)
    }

    fn try_send(&self, item: In) -> Result<(), ProduceError<In>> {
        self.try_queue_job(item, Reply::Stream)
            .map(drop)
            .map_err(ProduceError::from)
    }

    async fn send_timeout(&self, item: In, timeout: Duration) -> Result<(), ProduceError<In>> {
        let job = self.shared.job(item, Reply::Stream);
        self.shared
            .intake
            .send_timeout(job, timeout)
            .await
            .map_err(|err| ProduceError::from(err).map(|job| job.input))?;
        self.shared.queued_one();
        Ok(())
    }

    fn close(&self) -> bool {
        WorkerPool::close(self)
    }

    fn is_closed(&self) -> bool {
        self.shared.intake.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resizing up and down many times keeps the tasks and the waker list bounded by the
    /// workers alive, and `close` still waits for every worker a resize started.
    #[tokio::test(flavor = "current_thread")]
    async fn resizing_often_keeps_the_lists_bounded() {
        let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
            .workers(1)
            .capacity(4)
            .build()
            .unwrap();
        for _ in 0..100 {
            pool.resize(4).unwrap();
            pool.resize(1).unwrap();
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(pool.workers(), 1);
        assert!(pool.tasks.len() <= 8, "{}", pool.tasks.len());
        assert!(lock(&pool.shared.cancel.wakers).len() <= 8);
        pool.close_and_wait().await;
        assert_eq!(pool.workers(), 0);
        assert!(pool.tasks.is_empty());
    }
}
