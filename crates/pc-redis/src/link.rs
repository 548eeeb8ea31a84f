//! A connection that is made again when the server went away.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::error::RedisError;
use crate::retry::{RetryPolicy, Retrying};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One multiplexed connection to the queue's server, replaced by a new one after a connection
/// error, so that producers and consumers ride out a server restart with no manual step.
pub(crate) struct Link {
    client: redis::Client,
    url: String,
    response_timeout: Option<Duration>,
    retry: RetryPolicy,
    current: Mutex<MultiplexedConnection>,
}

impl Link {
    /// Connects; `response_timeout` replaces the client's default (500 ms), which a blocking
    /// read must outlast; `retry` says how long [`run_retrying`](Self::run_retrying) tries.
    pub(crate) async fn open(
        client: redis::Client,
        url: String,
        response_timeout: Option<Duration>,
        retry: RetryPolicy,
    ) -> Result<Self, RedisError> {
        let current = connect(&client, &url, response_timeout).await?;
        Ok(Self {
            client,
            url,
            response_timeout,
            retry,
            current: Mutex::new(current),
        })
    }

    /// The connection (a cheap handle: multiplexed).
    pub(crate) fn get(&self) -> MultiplexedConnection {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `command`, connecting anew and trying again after each connection error, as the
    /// queue's retry policy says: the server may be restarting. A try whose reply was lost
    /// with the connection may still have taken effect. An error the server answered with
    /// is returned at once.
    pub(crate) async fn run_retrying<R, F, Fut>(&self, mut command: F) -> redis::RedisResult<R>
    where
        F: FnMut(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<R>>,
    {
        let mut retrying = Retrying::new(self.retry);
        loop {
            match command(self.get()).await {
                Err(error) if is_connection_error(&error) => {
                    let Some(pause) = retrying.failed() else {
                        return Err(error);
                    };
                    // A fresh connection is tried at once; otherwise the server is not back.
                    if !self.recover(&error).await {
                        tokio::time::sleep(pause).await;
                    }
                }
                done => return done,
            }
        }
    }

    /// Runs `command`, and once more on a new connection if the first try lost the
    /// connection: for commands that must answer quickly rather than ride out a restart.
    pub(crate) async fn run_once_more<R, F, Fut>(&self, mut command: F) -> redis::RedisResult<R>
    where
        F: FnMut(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<R>>,
    {
        match command(self.get()).await {
            Err(error) if self.recover(&error).await => command(self.get()).await,
            done => done,
        }
    }

    /// After `error`: connects anew if the connection is what failed, and says whether the
    /// operation is worth retrying (a connection was made again).
    pub(crate) async fn recover(&self, error: &redis::RedisError) -> bool {
        if !is_connection_error(error) {
            return false;
        }
        match connect(&self.client, &self.url, self.response_timeout).await {
            Ok(fresh) => {
                *self.current.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
                true
            }
            Err(_) => false,
        }
    }
}

async fn connect(
    client: &redis::Client,
    url: &str,
    response_timeout: Option<Duration>,
) -> Result<MultiplexedConnection, RedisError> {
    let mut config =
        redis::AsyncConnectionConfig::new().set_connection_timeout(Some(CONNECT_TIMEOUT));
    if let Some(timeout) = response_timeout {
        config = config.set_response_timeout(Some(timeout));
    }
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|source| RedisError::Connect {
            url: url.to_owned(),
            source,
        })
}

/// Whether `error` says the connection, not the command, failed.
pub(crate) fn is_connection_error(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}
