//! The HTTP endpoint as a scraper meets it: a real HTTP client on 127.0.0.1, port 0.
//!
//! These tests use real sockets on the loopback interface; every wait on them is bounded by
//! [`DEADLINE`], far above what a loopback round trip takes on a loaded 2-core machine.
#![cfg(feature = "http")]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use pc_core::{DropReason, Probe, WaitKind};
use pc_metrics::{MetricsSnapshot, Registry, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bounds every wait on a socket.
const DEADLINE: Duration = Duration::from_secs(30);

/// What a request got back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    allow: Option<String>,
    body: String,
}

/// One request on a connection of its own.
async fn request(addr: SocketAddr, method: Method, path: &str) -> Answer {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.expect("the server listens");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let driver = tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .expect("valid request");
        let response = sender.send_request(request).await.expect("an answer");
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ascii").to_owned())
        };
        let (status, content_type, allow) =
            (response.status(), header(CONTENT_TYPE), header(ALLOW));
        let body = response.into_body().collect().await.expect("a body");
        drop(sender);
        driver.abort();
        Answer {
            status,
            content_type,
            allow,
            body: String::from_utf8(body.to_bytes().to_vec()).expect("utf-8"),
        }
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("answered in time")
}

/// A registry with a queue that saw a little of everything.
fn registry() -> Registry {
    let registry = Registry::new();
    let orders = registry.metrics_with("orders", [("region", "eu")]);
    orders.produced(10);
    orders.consumed(4);
    orders.depth(6);
    orders.dropped(1, DropReason::Full);
    orders.waited(WaitKind::Queue, Duration::from_millis(3));
    orders.batched(4);
    registry.metrics("idle");
    registry
}

#[tokio::test]
async fn metrics_is_the_prometheus_text_of_the_registry() {
    let registry = registry();
    let server = serve(registry.clone(), "127.0.0.1:0").await.expect("binds");
    let answer = request(server.local_addr(), Method::GET, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        r#"pc_produced_total{queue="orders",region="eu"} 10"#,
        r#"pc_consumed_total{queue="orders",region="eu"} 4"#,
        r#"pc_depth{queue="orders",region="eu"} 6"#,
        r#"pc_dropped_total{queue="orders",region="eu",reason="full"} 1"#,
        r#"pc_wait_seconds_bucket{queue="orders",region="eu",kind="queue",le="0.0025"} 0"#,
        r#"pc_wait_seconds_bucket{queue="orders",region="eu",kind="queue",le="0.005"} 1"#,
        r#"pc_batch_size_count{queue="orders",region="eu"} 1"#,
        r#"pc_produced_total{queue="idle"} 0"#,
    ] {
        assert!(
            answer.body.lines().any(|l| l == line),
            "missing {line} in\n{}",
            answer.body
        );
    }
    support::promtool_accepts(&answer.body);
    server.stop().await;
}

#[tokio::test]
async fn metrics_json_is_every_snapshot() {
    let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
    let answer = request(server.local_addr(), Method::GET, "/metrics.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let snapshots: Vec<MetricsSnapshot> = serde_json::from_str(&answer.body).expect("JSON");
    let names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["orders", "idle"]);
    let orders = &snapshots[0];
    assert_eq!(
        (
            orders.produced,
            orders.consumed,
            orders.depth,
            orders.in_flight
        ),
        (10, 4, 6, 6)
    );
    assert_eq!(orders.dropped_for(DropReason::Full), 1);
    let queue = &orders.latency["queue"];
    assert_eq!(
        (queue.count, queue.sum, queue.max),
        (1, 3_000_000, 3_000_000)
    );
    assert_eq!(queue.recent.count, 1);
    assert_eq!(orders.labels["region"], "eu");
    server.stop().await;
}

/// The live page is one self-contained document: its style and script inline, nothing fetched
/// from another origin (the browser test, `crates/pc/tests/live_page.rs`, checks what it draws).
#[tokio::test]
async fn the_root_is_a_self_contained_live_page() {
    let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
    let answer = request(server.local_addr(), Method::GET, "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(answer.body.starts_with("<!doctype html>"));
    assert!(answer.body.contains("fetch(\"/metrics.json\""));
    // The one URI in it is SVG's namespace, a name, not a fetch.
    let body = answer.body.replace("\"http://www.w3.org/2000/svg\"", "");
    for outside in ["http://", "https://", "src=", "@import", "url(", "<link"] {
        assert!(!body.contains(outside), "the page names {outside}");
    }
    server.stop().await;
}

#[tokio::test]
async fn each_request_sees_the_registry_as_it_is_then() {
    let registry = Registry::new();
    let server = serve(registry.clone(), "127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    let before = request(addr, Method::GET, "/metrics.json").await;
    assert_eq!(before.body, "[]");
    // A queue registered after the server started, and counted between two scrapes.
    let late = registry.metrics("late");
    late.produced(1);
    let first = request(addr, Method::GET, "/metrics").await;
    assert!(first.body.contains("pc_produced_total{queue=\"late\"} 1\n"));
    late.produced(2);
    let second = request(addr, Method::GET, "/metrics").await;
    assert!(
        second
            .body
            .contains("pc_produced_total{queue=\"late\"} 3\n")
    );
    server.stop().await;
}

#[tokio::test]
async fn other_paths_are_not_found_and_other_methods_not_allowed() {
    let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    for path in [
        "/nothing",
        "/metrics/",
        "/metrics.jsonx",
        "/metricsx",
        "/index.html",
    ] {
        let answer = request(addr, Method::GET, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        for path in ["/", "/metrics", "/metrics.json"] {
            let answer = request(addr, method.clone(), path).await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(answer.allow.as_deref(), Some("GET, HEAD"));
        }
    }
    // HEAD: the headers of GET, no body.
    let head = request(addr, Method::HEAD, "/metrics").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.body, "");
    // A query string does not change the path.
    let query = request(addr, Method::GET, "/metrics.json?x=1").await;
    assert_eq!(query.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_stopped_or_dropped_server_no_longer_accepts() {
    for drop_it in [false, true] {
        let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
        let addr = server.local_addr();
        assert_eq!(
            request(addr, Method::GET, "/metrics").await.status,
            StatusCode::OK
        );
        if drop_it {
            drop(server);
        } else {
            server.stop().await;
        }
        // Dropping does not wait: the listener goes once the server's task sees the stop.
        let refused = async {
            loop {
                if TcpStream::connect(addr).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(DEADLINE, refused)
            .await
            .expect("the port is closed");
    }
}

#[tokio::test]
async fn a_stop_closes_idle_connections_and_lets_a_request_under_way_finish() {
    let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    // A keep-alive connection that answered once and then sits idle.
    let mut idle = TcpStream::connect(addr).await.expect("connects");
    idle.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut first = [0u8; 15];
    idle.read_exact(&mut first).await.expect("an answer");
    assert_eq!(&first, b"HTTP/1.1 200 OK");
    // A connection whose request is half sent.
    let mut half = TcpStream::connect(addr).await.expect("connects");
    half.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(server.stop());
    // The half-sent request is finished after the stop and still answered.
    half.write_all(b"\r\n").await.expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, half.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time")
        .expect("reads");
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{answer:?}");
    // The idle one is closed by the server: its read ends.
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, idle.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .expect("reads");
    tokio::time::timeout(DEADLINE, stopping)
        .await
        .expect("the stop returns")
        .expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_request_does_not_hold_the_stop_past_its_grace() {
    let server = serve(registry(), "127.0.0.1:0").await.expect("binds");
    let mut stuck = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    stuck
        .write_all(b"GET /metrics HTTP/1.1\r\n")
        .await
        .expect("writes");
    // Let the server take the connection and read what was sent.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let started = tokio::time::Instant::now();
    server.stop().await;
    // The stop waited for the request out its grace (5 s on the paused clock), then cut it.
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    let mut rest = Vec::new();
    stuck.read_to_end(&mut rest).await.expect("reads");
}

#[tokio::test]
async fn a_second_serve_on_a_taken_port_is_an_error_of_serve() {
    let first = serve(Registry::new(), "127.0.0.1:0").await.expect("binds");
    let error = serve(Registry::new(), first.local_addr())
        .await
        .expect_err("in use");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    // The first one still answers.
    let answer = request(first.local_addr(), Method::GET, "/metrics.json").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "[]")
    );
    first.stop().await;
}

#[test]
fn the_server_handle_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<pc_metrics::Server>();
}

/// The counts a probe leaves are the ones served: `consumed` reported through the `Probe`
/// trait object as any block would.
#[tokio::test]
async fn a_block_reporting_through_its_probe_is_served() {
    let registry = Registry::new();
    let probe = registry.metrics("jobs").probe();
    probe.produced(3);
    probe.consumed(3);
    let server = serve(registry, "127.0.0.1:0").await.expect("binds");
    let answer = request(server.local_addr(), Method::GET, "/metrics").await;
    assert!(
        answer
            .body
            .contains("pc_consumed_total{queue=\"jobs\"} 3\n")
    );
    server.stop().await;
}
