//! `JobError`: how a job can fail, each way kept to that job.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// Why a job produced no output.
///
/// Each failure stays with its job: the worker that ran it carries on with the next one.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError<E> {
    /// The stage returned this error.
    Failed(E),
    /// The stage panicked; the panic's message, when it had one.
    Panicked(String),
    /// The stage ran longer than the pool's per-job timeout, and was stopped.
    TimedOut(Duration),
    /// The pool was shut down, aborted or cancelled before the job finished.
    Cancelled,
    /// The pool was closed before the job could be queued: it never ran. (Only the pool's
    /// tower service, `PoolService` with the `tower` feature, answers it; `submit` hands the
    /// input back instead.)
    Closed,
    /// Not a job: the source of a pool built with
    /// [`build_over`](crate::WorkerPoolBuilder::build_over) panicked; the panic's message. It
    /// comes on the results stream when the source fails; the pool takes nothing more from the
    /// source, the jobs taken before still run, and the stream ends after their results.
    Source(String),
    /// Not a job: the source of a pool built with
    /// [`build_over`](crate::WorkerPoolBuilder::build_over) reported a failure of its backend
    /// (a Redis read refused by the server); [`Error::source`] says how. It comes on the
    /// results stream once per failure, and the pool goes on taking from the source.
    SourceFailed(pc_core::ConsumeError),
}

impl<E> JobError<E> {
    /// Whether the job was cancelled rather than run to an end.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// Whether the stage panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Self::Panicked(_))
    }

    /// Whether the pool's source panicked or failed, rather than a job.
    pub fn is_source(&self) -> bool {
        matches!(self, Self::Source(_) | Self::SourceFailed(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for JobError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(err) => f.debug_tuple("Failed").field(err).finish(),
            Self::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            Self::TimedOut(limit) => f.debug_tuple("TimedOut").field(limit).finish(),
            Self::Cancelled => f.write_str("Cancelled"),
            Self::Closed => f.write_str("Closed"),
            Self::Source(message) => f.debug_tuple("Source").field(message).finish(),
            Self::SourceFailed(err) => f.debug_tuple("SourceFailed").field(err).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for JobError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(err) => write!(f, "job failed: {err}"),
            Self::Panicked(message) => write!(f, "job panicked: {message}"),
            Self::TimedOut(limit) => write!(f, "job timed out after {limit:?}"),
            Self::Cancelled => f.write_str("job cancelled"),
            Self::Closed => f.write_str("the pool is closed: the job was not queued"),
            Self::Source(message) => write!(f, "the pool's source panicked: {message}"),
            Self::SourceFailed(err) => write!(f, "the pool's source failed: {err}"),
        }
    }
}

impl<E: Error + 'static> Error for JobError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed(err) => Some(err),
            Self::SourceFailed(err) => Some(err),
            _ => None,
        }
    }
}
