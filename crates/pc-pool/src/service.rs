//! tower: a [`WorkerPool`] as a `Service`, and any `Service` as a [`Stage`].
//!
//! [`WorkerPool::service`] hands out a [`PoolService`]: `poll_ready` reserves a place in the
//! pool's queue (waiting while it is full, in arrival order with every other sender), `call`
//! queues the job into it without waiting, and the response is the job's own outcome. Each
//! clone reserves for itself, so a server can give every connection its own.
//!
//! [`ServiceStage`] goes the other way: any `Service` (say, tower's `timeout` and `retry`
//! around a client) runs as a pool's or a pipeline's stage, one clone per input.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use pc_core::channel::OwnedPermit;
use pc_core::{ReserveError, SendError, Stage};
use tokio::sync::oneshot;
use tower_service::Service;

use crate::error::JobError;
use crate::pool::{JobHandle, QueuedJob, Reply, Shared, WorkerPool};

impl<In: Send + 'static, S: Stage<In> + 'static> WorkerPool<In, S> {
    /// The pool as a `tower::Service`: see [`PoolService`].
    pub fn service(&self) -> PoolService<In, S> {
        PoolService {
            shared: Arc::clone(self.shared()),
            place: Place::None,
        }
    }
}

/// A [`WorkerPool`] as a `tower::Service<In>`, made by [`WorkerPool::service`].
///
/// `poll_ready` reserves a place in the pool's queue, waiting while it is full; `call` queues
/// the job into that place without waiting and returns its [`JobHandle`], whose output is the
/// job's outcome (`Err(JobError::Failed(e))` for the stage's error `e`). A place reserved and
/// never called goes back when the service is dropped. A clone shares the pool and reserves
/// for itself. Once the pool is closed, `poll_ready` fails with [`JobError::Closed`].
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use pc_pool::{JobError, ServiceStage, WorkerPool};
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A tower stack as the pool's stage: each job is given 1 s.
/// let slow_double = ServiceBuilder::new()
///     .timeout(Duration::from_secs(1))
///     .service_fn(|n: u64| async move {
///         tokio::time::sleep(Duration::from_millis(n)).await;
///         Ok::<_, Infallible>(n * 2)
///     });
/// let pool = WorkerPool::builder(ServiceStage::new(slow_double)).workers(2).build()?;
///
/// // The pool as a service: ready when its queue has room, the response the job's outcome.
/// let mut service = pool.service();
/// let doubled = service.ready().await.unwrap().call(10).await;
/// assert_eq!(doubled.unwrap(), 20);
/// // The timeout's error is the stage's error, so the job's `Failed`.
/// let late = service.ready().await.unwrap().call(5_000).await;
/// let Err(JobError::Failed(error)) = late else { panic!("{late:?}") };
/// assert!(error.is::<tower::timeout::error::Elapsed>());
/// # Ok(())
/// # }
/// ```
pub struct PoolService<In, S: Stage<In>> {
    shared: Arc<Shared<In, S>>,
    place: Place<QueuedJob<S, In>>,
}

/// Where a [`PoolService`] stands with its place in the queue.
enum Place<T> {
    None,
    Waiting(Pin<Box<dyn Future<Output = Result<OwnedPermit<T>, ReserveError>> + Send>>),
    Held(OwnedPermit<T>),
}

impl<In, S: Stage<In>> Clone for PoolService<In, S> {
    /// The same pool, without the original's place.
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            place: Place::None,
        }
    }
}

impl<In, S: Stage<In>> fmt::Debug for PoolService<In, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolService")
            .field("holds_place", &matches!(self.place, Place::Held(_)))
            .finish_non_exhaustive()
    }
}

impl<In, S> Service<In> for PoolService<In, S>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
{
    type Response = S::Output;
    type Error = JobError<S::Error>;
    type Future = JobHandle<S::Output, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.place {
                Place::None => {
                    let intake = self.shared.intake.clone();
                    self.place = Place::Waiting(Box::pin(intake.reserve_owned()));
                }
                Place::Waiting(reserving) => match ready!(reserving.as_mut().poll(cx)) {
                    Ok(permit) => self.place = Place::Held(permit),
                    Err(ReserveError) => {
                        self.place = Place::None;
                        return Poll::Ready(Err(JobError::Closed));
                    }
                },
                Place::Held(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Queues `input` into the place `poll_ready` reserved.
    ///
    /// # Panics
    ///
    /// If `poll_ready` has not returned `Ready(Ok(()))` since the last call, as tower's
    /// contract allows.
    fn call(&mut self, input: In) -> Self::Future {
        let Place::Held(permit) = std::mem::replace(&mut self.place, Place::None) else {
            panic!("PoolService::call before poll_ready returned Ready");
        };
        let (tx, rx) = oneshot::channel();
        let job = self.shared.job(input, Reply::Handle(tx));
        let id = job.id;
        match permit.send(job) {
            Ok(_intake) => self.shared.queued_one(),
            // Only when the pool's queue is gone with its workers (its runtime shut down):
            // the job's reply drops with it, and its handle answers `Cancelled`.
            Err(SendError(job)) => drop(job),
        }
        JobHandle::new(id, rx)
    }
}

/// Any `tower::Service` as a [`Stage`]: each input runs on a clone of the service, once it is
/// ready. See [`PoolService`] for an example.
///
/// The service needs `Clone` and `Send`, not `Sync` (few services are): the stage keeps it
/// behind a lock taken only to clone it.
pub struct ServiceStage<Svc> {
    service: Mutex<Svc>,
}

impl<Svc> ServiceStage<Svc> {
    /// Runs `service` as a stage.
    pub fn new(service: Svc) -> Self {
        Self {
            service: Mutex::new(service),
        }
    }

    /// Takes the service back out.
    pub fn into_inner(self) -> Svc {
        self.service
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A clone of the service. A `clone` that panicked left the service as it was: the lock's
    /// poison is ignored.
    fn cloned(&self) -> Svc
    where
        Svc: Clone,
    {
        self.service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<Svc: Clone> Clone for ServiceStage<Svc> {
    fn clone(&self) -> Self {
        Self::new(self.cloned())
    }
}

impl<Svc> fmt::Debug for ServiceStage<Svc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceStage").finish_non_exhaustive()
    }
}

impl<In, Svc> Stage<In> for ServiceStage<Svc>
where
    In: Send,
    Svc: Service<In> + Clone + Send,
    Svc::Response: Send,
    Svc::Error: Send,
    Svc::Future: Send,
{
    type Output = Svc::Response;
    type Error = Svc::Error;

    fn run(&self, input: In) -> impl Future<Output = Result<Svc::Response, Svc::Error>> + Send {
        let mut service = self.cloned();
        async move {
            poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(input).await
        }
    }
}
