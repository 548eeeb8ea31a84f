//! The registry over HTTP: Prometheus text for a scraper, JSON for a program.
//!
//! [`serve`] binds a socket and answers on it from a task of its own until the returned
//! [`Server`] is stopped or dropped:
//!
//! | path | answer |
//! |------|--------|
//! | `GET /` | a live page: a panel per entry (depth against capacity, rates in and out, waiting senders and receivers, drops and failures, recent latency), charts of the last five minutes, refreshed every second from `/metrics.json`; self-contained, nothing fetched from elsewhere |
//! | `GET /metrics` | every entry in the Prometheus text format (`text/plain; version=0.0.4`) |
//! | `GET /metrics.json` | every entry's [`MetricsSnapshot`](crate::MetricsSnapshot), as a JSON array |
//!
//! Any other path is `404 Not Found`; any other method on these paths `405 Method Not
//! Allowed`. Each request takes a fresh snapshot, so a scrape every second also keeps the 1 s
//! rates current (see [`WindowRates`](crate::WindowRates)).
//!
//! ```
//! use pc_metrics::{Registry, serve};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let registry = Registry::new();
//! registry.metrics("orders");
//! // Port 0: any free port; `local_addr` says which.
//! let server = serve(registry, "127.0.0.1:0").await?;
//! println!("scrape http://{}/metrics", server.local_addr());
//! server.stop().await;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::registry::Registry;

/// How long a stop lets the requests under way finish before it cuts their connections.
const GRACE: Duration = Duration::from_secs(5);

/// How long the server waits after a failed accept before it accepts again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// The live page: HTML with its style and script inline.
const PAGE: &str = include_str!("page.html");

/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `registry` on `addr` (port 0 for any free one) from a task spawned on the current
/// tokio runtime, until the returned [`Server`] is stopped or dropped.
///
/// Fails with the socket's error when `addr` cannot be bound (in use, no permission, no such
/// address). Must be called within a tokio runtime.
pub async fn serve(registry: Registry, addr: impl ToSocketAddrs) -> io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept(listener, registry, stopped));
    Ok(Server {
        local_addr,
        stop,
        task: Some(task),
    })
}

/// A running endpoint (see [`serve`]). Dropping it stops it as [`stop`](Self::stop) does,
/// without waiting.
#[must_use = "dropping the server stops it"]
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (with the port chosen when it was asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets the requests under way finish (for up to five
    /// seconds, then their connections are cut) and returns when every connection is closed.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            // The server's own task never panics: requests are answered without user code.
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Accepts connections until the stop, then waits for them to close.
async fn accept(listener: TcpListener, registry: Registry, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let for_connections = stopped.clone();
    loop {
        tokio::select! {
            () = stopping(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, registry.clone(), for_connections.clone()));
                }
                // A connection that failed before it was accepted (reset), or no descriptor
                // left for a moment: the listener itself is still good. A pause, so that a
                // process out of descriptors is not spun on.
                Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
            },
            // Reap finished connections so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drain).await.is_err() {
        connections.shutdown().await;
    }
}

/// Returns once the server is told to stop (or its handle is gone).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    // An error means the handle is gone, which stops the server too.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Serves one connection until the client closes it or the server stops.
async fn connection(
    stream: tokio::net::TcpStream,
    registry: Registry,
    mut stopped: watch::Receiver<bool>,
) {
    let service = service_fn(move |request| {
        let response = answer(&registry, &request);
        async move { Ok::<_, Infallible>(response) }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        // A connection that failed (the client went mid-request) concerns that client only.
        _ = conn.as_mut() => return,
        () = stopping(&mut stopped) => {}
    }
    // Finish the request under way, if any, then close.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// The answer to one request.
fn answer(registry: &Registry, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/" | "/metrics" | "/metrics.json") {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let (body, content_type) = if path == "/" {
        (PAGE.to_owned(), "text/html; charset=utf-8")
    } else if path == "/metrics" {
        (registry.render_prometheus(), PROMETHEUS_TEXT)
    } else {
        match serde_json::to_string(&registry.snapshot()) {
            Ok(json) => (json, "application/json"),
            // A snapshot is maps with string keys and numbers: this does not happen, and if it
            // did, the scraper would hear of it rather than the program.
            Err(error) => {
                let body = format!("snapshot not serializable: {error}\n");
                return with_type(StatusCode::INTERNAL_SERVER_ERROR, body, "text/plain");
            }
        }
    };
    with_type(StatusCode::OK, body, content_type)
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    with_type(status, body.to_owned(), "text/plain; charset=utf-8")
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
