//! A connection that is made again when the server went away, to the node that serves the
//! queue's stream when the queue is on a Redis Cluster.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo};

use crate::error::RedisError;
use crate::retry::{RetryPolicy, Retrying};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Redirects followed while locating a key's node before giving up on that try.
const MAX_REDIRECTS: usize = 5;

/// Where a link connects.
#[derive(Clone)]
pub(crate) enum Target {
    /// The server of the URL, whatever keys the commands name (the rate limiter's).
    Server(redis::Client),
    /// The node that serves `key`: on a Redis Cluster, the master of its slot, found by asking
    /// a node and following its `MOVED` redirect, and found again after a failover; on a
    /// single server, that server. `last` is the node that served it last, tried first.
    Serving {
        key: String,
        nodes: Arc<Nodes>,
        last: Arc<Mutex<Option<ConnectionInfo>>>,
    },
}

/// The nodes a queue starts from: its URL's, then the others the builder was given, with
/// the URL's settings (credentials, database, TLS) for nodes learned from redirects.
pub(crate) struct Nodes {
    seeds: Vec<ConnectionInfo>,
}

impl Nodes {
    /// `seeds` must not be empty: the first is the queue's URL.
    pub(crate) fn new(seeds: Vec<ConnectionInfo>) -> Self {
        debug_assert!(!seeds.is_empty());
        Self { seeds }
    }

    /// The node at `host:port` (a redirect's address), reached as the first seed is.
    fn at(&self, address: &str) -> Option<ConnectionInfo> {
        let (host, port) = address.rsplit_once(':')?;
        let port = port.parse().ok()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addr = match self.seeds[0].addr().clone() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                tls_params,
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        Some(self.seeds[0].clone().set_addr(addr))
    }
}

impl Target {
    /// The node serving `key` among `nodes`.
    pub(crate) fn serving(key: &str, nodes: &Arc<Nodes>) -> Self {
        Self::Serving {
            key: key.to_owned(),
            nodes: Arc::clone(nodes),
            last: Arc::default(),
        }
    }

    /// A connection to the server, or to the node serving the key.
    async fn connect(
        &self,
        url: &str,
        response_timeout: Option<Duration>,
        redirect: Option<&str>,
    ) -> Result<MultiplexedConnection, RedisError> {
        match self {
            Self::Server(client) => connect(client, url, response_timeout).await,
            Self::Serving { key, nodes, last } => {
                locate(key, nodes, last, url, response_timeout, redirect).await
            }
        }
    }
}

/// Connects to the node that serves `key`: first where a redirect pointed, then the node
/// that served it last, then each seed; a node that does not serve the key answers `MOVED`
/// with the one that does.
async fn locate(
    key: &str,
    nodes: &Nodes,
    last_node: &Mutex<Option<ConnectionInfo>>,
    url: &str,
    response_timeout: Option<Duration>,
    redirect: Option<&str>,
) -> Result<MultiplexedConnection, RedisError> {
    let last = last_node
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let candidates = redirect
        .and_then(|address| nodes.at(address))
        .into_iter()
        .chain(last)
        .chain(nodes.seeds.iter().cloned());
    let mut failure = None;
    for candidate in candidates {
        let mut node = candidate;
        for _ in 0..MAX_REDIRECTS {
            let client = match redis::Client::open(node.clone()) {
                Ok(client) => client,
                Err(source) => {
                    failure = Some(source);
                    break;
                }
            };
            let mut connection = match connect(&client, url, response_timeout).await {
                Ok(connection) => connection,
                Err(RedisError::Connect { source, .. }) => {
                    failure = Some(source);
                    break;
                }
                Err(other) => return Err(other),
            };
            // A keyed command that changes nothing: served here, or redirected.
            let served: redis::RedisResult<i64> = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut connection)
                .await;
            match served {
                Ok(_) => {
                    *last_node.lock().unwrap_or_else(PoisonError::into_inner) = Some(node);
                    return Ok(connection);
                }
                Err(error) => {
                    let next = error.redirect_node().and_then(|(to, _)| nodes.at(to));
                    if !is_connection_error(&error) {
                        // Refused for another reason (no permission, say): the caller's to see.
                        return Err(RedisError::Command(error));
                    }
                    failure = Some(error);
                    match next {
                        Some(next) => node = next,
                        None => break,
                    }
                }
            }
        }
    }
    Err(RedisError::Connect {
        url: url.to_owned(),
        source: failure.unwrap_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::Io,
                "no node serves the key",
                key.to_owned(),
            ))
        }),
    })
}

/// One multiplexed connection to the queue's server (or the node serving its stream),
/// replaced by a new one after a connection error or a redirect, so that producers and
/// consumers ride out a server restart or a cluster failover with no manual step.
pub(crate) struct Link {
    target: Target,
    url: String,
    response_timeout: Option<Duration>,
    retry: RetryPolicy,
    current: Mutex<MultiplexedConnection>,
}

impl Link {
    /// Connects; `response_timeout` replaces the client's default (500 ms), which a blocking
    /// read must outlast; `retry` says how long [`run_retrying`](Self::run_retrying) tries.
    pub(crate) async fn open(
        target: Target,
        url: String,
        response_timeout: Option<Duration>,
        retry: RetryPolicy,
    ) -> Result<Self, RedisError> {
        let current = target.connect(&url, response_timeout, None).await?;
        Ok(Self {
            target,
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
        let redirect = error.redirect_node().map(|(address, _)| address);
        match self
            .target
            .connect(&self.url, self.response_timeout, redirect)
            .await
        {
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

/// Whether `error` says the connection, not the command, failed: the connection was lost, or
/// the node no longer serves the stream (a cluster's redirect, a failover under way, a
/// master turned replica), so a connection to the node that does is the remedy.
pub(crate) fn is_connection_error(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};

    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || error.is_cluster_error()
        || matches!(
            error.kind(),
            ErrorKind::Server(ServerErrorKind::MasterDown | ServerErrorKind::ReadOnly)
        )
}
