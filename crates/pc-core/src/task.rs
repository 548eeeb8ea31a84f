//! [`TaskGroup`]: the one owner of a block's tasks, whose emptiness means "stopped".
//!
//! A block that spawns (a pool's workers, a pipeline's stages, a batch processor's driver, a
//! metrics reporter) keeps every task in one group. The group counts a task from the moment it
//! is spawned until its future is dropped, however that happens: it returned, it panicked, or
//! the runtime dropped it. Nothing is counted by hand, so no path can forget a decrement, and
//! waiting for the group ([`TaskGroup::wait`]) is cancel safe and open to any number of callers
//! at once: a `close` that is cancelled and called again still waits for the last task.
//!
//! A panic that escapes a task is kept ([`TaskGroup::take_panic`]) for the block to re-raise:
//! it never ends a task silently.
//!
//! ```
//! use pc_core::task::TaskGroup;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let tasks = TaskGroup::new(tokio::runtime::Handle::current());
//! let (tx, rx) = tokio::sync::oneshot::channel::<()>();
//! tasks.spawn(async move {
//!     let _ = rx.await;
//! });
//! assert_eq!(tasks.len(), 1);
//! // Waiting is cancel safe: a wait dropped halfway leaves the group as it was.
//! let gave_up = tokio::time::timeout(std::time::Duration::from_millis(1), tasks.wait()).await;
//! assert!(gave_up.is_err());
//! drop(tx);
//! tasks.wait().await;
//! assert!(tasks.is_empty());
//! # }
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The payload of a panic, as `std::panic::catch_unwind` gives it.
pub type Panic = Box<dyn Any + Send + 'static>;

/// The message of a panic's payload (a `&str` or a `String`, as `panic!` makes them), for a
/// block that turns a caught panic into an error.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "panic with a payload that is not a string".to_string()
    }
}

/// Drops `value`, catching a panic of its `Drop` (user code): for a block's task that drops a
/// value nobody wants any more and must go on whatever that `Drop` does.
pub fn drop_caught<T>(value: T) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// The tasks of one block: spawned through it, counted until their futures are dropped, waited
/// for by any number of callers. Cheap to clone; clones share the group.
#[derive(Clone)]
pub struct TaskGroup {
    tracker: TaskTracker,
    runtime: Handle,
    panic: Arc<Mutex<Option<Panic>>>,
}

impl TaskGroup {
    /// An empty group whose tasks run on `runtime`.
    pub fn new(runtime: Handle) -> Self {
        let tracker = TaskTracker::new();
        // Closed from the start: spawning still works, and `wait` returns whenever the group
        // is empty (an open tracker would wait for a close as well).
        tracker.close();
        Self {
            tracker,
            runtime,
            panic: Arc::default(),
        }
    }

    /// Runs `task` on the group's runtime, counted in the group until its future is dropped. A
    /// panic of `task` ends it and is kept for [`take_panic`](Self::take_panic) (the first one,
    /// if several tasks panic).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let panic = Arc::clone(&self.panic);
        let caught = async move {
            if let Err(payload) = AssertUnwindSafe(task).catch_unwind().await {
                let mut kept = panic.lock().unwrap_or_else(PoisonError::into_inner);
                kept.get_or_insert(payload);
            }
        };
        // The task is counted before this returns, so a `wait` that starts later sees it.
        drop(self.tracker.spawn_on(caught, &self.runtime));
    }

    /// Tasks whose futures have not been dropped yet.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether every task has ended: the block's tasks are stopped.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Waits until the group is empty. Returns at once if it is.
    ///
    /// A task's future is dropped just before the runtime retires the task, so on a
    /// multi-thread runtime `Handle::metrics().num_alive_tasks()` may count it for a moment
    /// after this returns; on a current-thread runtime, never.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing, and any number of callers may wait
    /// at once.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let tracker = self.tracker.clone();
        async move { tracker.wait().await }
    }

    /// Keeps `panic`, caught in a task of the group (from user code the task runs besides its
    /// items: a controller, a callback), as if it had escaped the task: it is the group's to
    /// re-raise, unless an earlier one is kept already.
    pub fn keep_panic(&self, panic: Panic) {
        let mut kept = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get_or_insert(panic);
    }

    /// The first panic that escaped a task of the group, if any; taken, so that it is re-raised
    /// once.
    pub fn take_panic(&self) -> Option<Panic> {
        self.panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Re-raises the first panic that escaped a task of the group, if any (see
    /// [`take_panic`](Self::take_panic)).
    ///
    /// # Panics
    ///
    /// With that panic's payload.
    pub fn raise_panic(&self) {
        if let Some(panic) = self.take_panic() {
            std::panic::resume_unwind(panic);
        }
    }

    /// Counts as a task of the group until dropped: a block that is about to spawn holds it, so
    /// that a [`wait`](Self::wait) cannot find the group empty just before the spawn.
    pub fn hold(&self) -> Hold {
        Hold {
            _token: self.tracker.token(),
        }
    }

    /// The runtime the group spawns on.
    pub fn runtime(&self) -> &Handle {
        &self.runtime
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.len())
            .finish_non_exhaustive()
    }
}

/// A place in a [`TaskGroup`] held without a task ([`TaskGroup::hold`]); given up on drop.
#[derive(Debug)]
pub struct Hold {
    _token: TaskTrackerToken,
}
