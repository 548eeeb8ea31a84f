//! One run of user code on one input, as a single future: the stage's future polled with its
//! panic caught, under the job's deadline and the pool's cancellation.
//!
//! The three used to be three futures nested in each other (a `catch_unwind` future inside
//! `tokio::time::timeout` inside a race with the cancellation), each moving the outcome out of
//! its own state on every job. Here they are one `poll`, and the timer is only made when the
//! job does not finish in its first poll: most jobs of a busy pool never need it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::Either;
use futures_util::task::AtomicWaker;
use pc_core::task::panic_message;
use pc_core::{FailReason, Stage};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::JobError;
use crate::pool::Cancel;

/// What a run of user code ends with: its own result, or the panic that ended it.
pub(crate) type Caught<O, E> = std::thread::Result<Result<O, E>>;

/// The stage run on `input` with its panic caught wherever it happens: in the synchronous call
/// that makes the future (then a future ready with that panic), or inside the future.
pub(crate) fn caught<In, S: Stage<In>>(
    stage: &S,
    input: In,
) -> impl Future<Output = Caught<S::Output, S::Error>> + Send {
    match catch_unwind(AssertUnwindSafe(|| stage.run(input))) {
        Ok(run) => Either::Left(AssertUnwindSafe(run).catch_unwind()),
        Err(panic) => Either::Right(std::future::ready(Err(panic))),
    }
}

/// The limit a job runs under, counted from when it started.
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) started: Instant,
    pub(crate) limit: Duration,
}

pin_project! {
    /// Runs `run` to its end, unless the pool is cancelled first (`Cancelled`) or the
    /// deadline passes first (`TimedOut`); a panic inside `run` is its `Panicked`.
    ///
    /// Cancellation is checked with a load on every poll; while `run` waits, the worker's
    /// `waker` is registered with the pool so that a cancel wakes it.
    pub(crate) struct Attempt<'a, F> {
        #[pin]
        run: F,
        #[pin]
        timer: Option<Sleep>,
        deadline: Option<Deadline>,
        cancel: &'a Cancel,
        waker: &'a AtomicWaker,
        // Entered around each poll of `run`, with spans on.
        span: Option<&'a tracing::Span>,
    }
}

impl<'a, F> Attempt<'a, F> {
    pub(crate) fn new(
        run: F,
        deadline: Option<Deadline>,
        cancel: &'a Cancel,
        waker: &'a AtomicWaker,
    ) -> Self {
        Self {
            run,
            timer: None,
            deadline,
            cancel,
            waker,
            span: None,
        }
    }

    /// Polls `run` within `span`, if there is one.
    pub(crate) fn within(mut self, span: Option<&'a tracing::Span>) -> Self {
        self.span = span;
        self
    }
}

impl<F, O, E> Future for Attempt<'_, F>
where
    F: Future<Output = Caught<O, E>>,
{
    type Output = Result<O, JobError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.cancel.is_cancelled() {
            return Poll::Ready(Err(JobError::Cancelled));
        }
        let entered = this.span.map(tracing::Span::enter);
        if let Poll::Ready(ran) = this.run.as_mut().poll(cx) {
            return Poll::Ready(outcome(ran));
        }
        drop(entered);
        if let Some(Deadline { started, limit }) = *this.deadline {
            if this.timer.is_none() {
                // `checked_add`: a limit too far to express never passes.
                if let Some(at) = started.checked_add(limit) {
                    this.timer.set(Some(tokio::time::sleep_until(at)));
                } else {
                    *this.deadline = None;
                }
            }
            if let Some(timer) = this.timer.as_pin_mut()
                && timer.poll(cx).is_ready()
            {
                return Poll::Ready(Err(JobError::TimedOut(limit)));
            }
        }
        this.waker.register(cx.waker());
        // Checked again after registering, so a cancel in between is not missed.
        if this.cancel.is_cancelled() {
            return Poll::Ready(Err(JobError::Cancelled));
        }
        Poll::Pending
    }
}

/// A finished run as the job's outcome.
#[inline]
pub(crate) fn outcome<O, E>(ran: Caught<O, E>) -> Result<O, JobError<E>> {
    match ran {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(err)) => Err(JobError::Failed(err)),
        Err(panic) => Err(JobError::Panicked(panic_message(panic.as_ref()))),
    }
}

/// A job's span: made where the job is queued, so the caller's current span is its parent.
#[cold]
pub(crate) fn job_span(id: u64) -> tracing::Span {
    tracing::info_span!(
        target: "pc_pool",
        "job",
        id,
        worker = tracing::field::Empty,
        outcome = tracing::field::Empty
    )
}

/// An item's span in stage `stage` of a pipeline, under `parent`.
#[cold]
pub(crate) fn item_span(parent: &tracing::Span, stage: usize, seq: u64) -> tracing::Span {
    tracing::info_span!(
        target: "pc_pool",
        parent: parent,
        "item",
        stage,
        seq,
        outcome = tracing::field::Empty
    )
}

/// Records how a job or an item ended on its span: `ok`, or the failure's reason.
pub(crate) fn record_outcome<O, E>(span: &tracing::Span, output: &Result<O, JobError<E>>) {
    let outcome = crate::pool::fail_reason(output).map_or("ok", |reason| reason.as_str());
    span.record("outcome", outcome);
}

/// Records on a span how the run it covers ended: `ok`, `error` or `panicked` from the run's
/// own result, or `cancelled` if it is dropped before that.
pub(crate) struct Outcome {
    span: Option<tracing::Span>,
}

impl Outcome {
    pub(crate) fn new(span: tracing::Span) -> Self {
        Self { span: Some(span) }
    }

    /// The run ended with `ran`.
    pub(crate) fn caught<O, E>(mut self, ran: &Caught<O, E>) {
        if let Some(span) = self.span.take() {
            let outcome = match ran {
                Ok(Ok(_)) => "ok",
                Ok(Err(_)) => FailReason::Error.as_str(),
                Err(_) => FailReason::Panicked.as_str(),
            };
            span.record("outcome", outcome);
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            span.record("outcome", FailReason::Cancelled.as_str());
        }
    }
}
