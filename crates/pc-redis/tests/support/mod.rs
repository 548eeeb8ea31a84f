//! A private redis-server per test, on a unix socket in a directory of its own.
//!
//! These tests need a real server and real time: waits for the server have generous deadlines
//! (seconds, where milliseconds are usual) and bounded loops.

#![allow(dead_code)]

use std::time::Duration;

use pc_redis::LocalServer;

/// A running redis-server of this test's own ([`LocalServer`]), with the test's checks.
pub(crate) struct Server {
    local: LocalServer,
    pub(crate) url: String,
}

impl Server {
    /// Starts a server without persistence, or returns `None` (after saying why) when
    /// `redis-server` is not installed. Under `CI=true` a missing server is a failure.
    pub(crate) async fn start() -> Option<Server> {
        Self::ready(LocalServer::start()).await
    }

    /// Starts a server that appends every write to its AOF before replying.
    pub(crate) async fn start_durable() -> Option<Server> {
        Self::ready(LocalServer::start_durable()).await
    }

    /// Starts a server that takes only TLS connections ([`LocalServer::start_tls`]).
    pub(crate) async fn start_tls(
        certificate: &str,
        key: &str,
        client_authority: Option<&str>,
    ) -> Option<Server> {
        Self::ready(LocalServer::start_tls(certificate, key, client_authority)).await
    }

    async fn ready(started: std::io::Result<LocalServer>) -> Option<Server> {
        let local = installed(started)?;
        local
            .ready()
            .await
            .expect("redis-server answers PING within 10 s");
        let url = local.url().to_owned();
        Some(Server { local, url })
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        self.local.kill();
    }

    /// Starts the server again on the same directory (and AOF).
    pub(crate) async fn restart(&mut self) {
        self.local.restart().await.expect("redis-server restarts");
    }

    /// A connection for the test's own checks.
    pub(crate) async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("a valid url")
            .get_multiplexed_async_connection()
            .await
            .expect("the server answers")
    }
}

/// A queue of u32 on `stream` of `server` with short blocking reads (50 ms), already holding
/// `items`.
pub(crate) async fn queue_holding(
    server: &Server,
    stream: &str,
    items: std::ops::Range<u32>,
) -> pc_redis::RedisQueue<u32> {
    let queue = pc_redis::RedisQueue::<u32>::builder(server.url.as_str(), stream)
        .block(Duration::from_millis(50))
        .build()
        .expect("valid settings");
    let producer = queue.producer().await.expect("the server answers");
    producer.send_all(items).await.expect("sent");
    queue
}

/// Entries pending in `group` of `stream`, over all consumers.
pub(crate) async fn pending(server: &Server, stream: &str, group: &str) -> u64 {
    let mut connection = server.connection().await;
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(&mut connection)
        .await
        .expect("XPENDING");
    match reply {
        redis::Value::Array(fields) => match fields.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            other => panic!("XPENDING count: {other:?}"),
        },
        other => panic!("XPENDING: {other:?}"),
    }
}

/// Entries in `stream`.
pub(crate) async fn len(server: &Server, stream: &str) -> u64 {
    let mut connection = server.connection().await;
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut connection)
        .await
        .expect("XLEN")
}

/// The `reason` of each entry of the dead-letter stream `stream`, oldest first.
pub(crate) async fn dead_reasons(server: &Server, stream: &str) -> Vec<String> {
    let mut connection = server.connection().await;
    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .expect("XRANGE");
    dead.ids
        .iter()
        .map(|entry| redis::from_redis_value(entry.map["reason"].clone()).expect("a reason"))
        .collect()
}

/// Clients blocked in an `XREADGROUP` on the server now (`CLIENT LIST`, flag `b`).
pub(crate) async fn blocked_reads(server: &Server) -> usize {
    let mut connection = server.connection().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut connection)
        .await
        .expect("CLIENT LIST");
    clients
        .lines()
        .filter(|client| {
            let field = |name: &str| {
                client
                    .split(' ')
                    .find_map(|pair| pair.strip_prefix(name))
                    .unwrap_or("")
            };
            field("flags=").contains('b') && field("cmd=") == "xreadgroup"
        })
        .count()
}

/// Runs `args` on `server` as one command, for the test's own changes (`XGROUP DESTROY`, ...).
pub(crate) async fn query(server: &Server, args: &[&str]) {
    let mut conn = server.connection().await;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let _: redis::Value = cmd.query_async(&mut conn).await.expect("the command runs");
}

/// What started, or `None` (after saying why) when `redis-server` is not installed. Under
/// `CI=true` a missing server is a failure.
fn installed<T>(started: std::io::Result<T>) -> Option<T> {
    match started {
        Ok(started) => Some(started),
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("redis-server is required in CI (apt-get install redis-server): {error}")
        }
        Err(error) => {
            eprintln!(
                "skipped: redis-server did not start ({error}); install Debian's redis-server"
            );
            None
        }
    }
}

/// Starts a local cluster of `masters` masters with `replicas` replicas each, formed and
/// healthy, or returns `None` (after saying why) when `redis-server` is not installed. Under
/// `CI=true` a missing server is a failure.
pub(crate) async fn cluster(masters: usize, replicas: usize) -> Option<pc_redis::LocalCluster> {
    let cluster = installed(pc_redis::LocalCluster::start(masters, replicas))?;
    cluster
        .ready()
        .await
        .expect("the local cluster forms within 60 s");
    Some(cluster)
}

/// An instant `after` from now.
pub(crate) fn deadline(after: Duration) -> std::time::Instant {
    std::time::Instant::now()
        .checked_add(after)
        .expect("a near instant")
}

/// Receives `n` deliveries from `consumer`, acking each, and returns their items in order.
pub(crate) async fn take_acked<C: pc_core::AckConsumer<u32>>(consumer: &C, n: usize) -> Vec<u32> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let (item, ack) = consumer
            .recv_delivery()
            .await
            .expect("delivered")
            .into_parts();
        got.push(item);
        ack.ack().await.expect("acked");
    }
    got
}

/// Items seen by consumers, shared with the test.
pub(crate) type Seen = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u32>>>;

/// Receives from `consumer` until it closes, noting each item in `seen` and acking it; an
/// ack lost (in a failover) leaves the entry pending, to be claimed and acked again.
pub(crate) fn collect<C>(consumer: std::sync::Arc<C>, seen: Seen) -> tokio::task::JoinHandle<()>
where
    C: pc_core::AckConsumer<u32> + Send + Sync + 'static,
{
    tokio::spawn(async move {
        while let Ok(delivery) = consumer.recv_delivery().await {
            let (item, ack) = delivery.into_parts();
            seen.lock().unwrap().insert(item);
            let _ = ack.ack().await;
        }
    })
}

/// Kills the master serving `key`, waits (until `until`) for a replica to take over, and
/// starts the killed node again, to rejoin as the new master's replica. Returns the node
/// killed.
pub(crate) async fn fail_over(
    cluster: &mut pc_redis::LocalCluster,
    key: &str,
    until: std::time::Instant,
) -> usize {
    let victim = cluster.master_of(key).await.expect("a master");
    cluster.kill(victim);
    while cluster
        .master_of(key)
        .await
        .ok()
        .is_none_or(|now| now == victim)
    {
        assert!(std::time::Instant::now() < until, "no replica took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster
        .restart(victim)
        .expect("the killed node starts again");
    victim
}

/// Entries pending in each of `streams`' group `pc`, summed, asked of each stream's master
/// now; `None` while that cannot be asked (no master yet, or one that does not answer).
pub(crate) async fn pending_on(
    cluster: &pc_redis::LocalCluster,
    streams: &[&str],
) -> Option<usize> {
    let mut total = 0;
    for stream in streams {
        let master = cluster.master_of(stream).await.ok()?;
        let url = &cluster.urls()[master];
        let mut connection = redis::Client::open(url.as_str())
            .ok()?
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        let (count, ..): (usize, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
            .arg(stream)
            .arg("pc")
            .query_async(&mut connection)
            .await
            .ok()?;
        total += count;
    }
    Some(total)
}

/// Waits (until `until`) for every item of `expected` to be in `seen` and nothing to be
/// pending in `streams`.
pub(crate) async fn all_received(
    cluster: &pc_redis::LocalCluster,
    streams: &[&str],
    expected: &std::collections::HashSet<u32>,
    seen: &Seen,
    until: std::time::Instant,
) {
    loop {
        let missing = expected.difference(&seen.lock().unwrap()).count();
        let pending = if missing == 0 {
            pending_on(cluster, streams).await
        } else {
            None
        };
        if pending == Some(0) {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{missing} confirmed items never received; pending {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `items` in chunks of `chunk`, one `send` (a pipeline) each, pausing `pace` after each
/// so that the sends span whatever the test does meanwhile; notes the items of each chunk
/// `send` confirmed in `confirmed` and returns how many chunks failed.
pub(crate) async fn send_chunks<F, Fut>(
    items: std::ops::Range<u32>,
    chunk: u32,
    pace: Duration,
    confirmed: Seen,
    mut send: F,
) -> u32
where
    F: FnMut(Vec<u32>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut failed = 0;
    for first in items.clone().step_by(chunk as usize) {
        let chunk: Vec<u32> = (first..(first + chunk).min(items.end)).collect();
        if send(chunk.clone()).await {
            confirmed.lock().unwrap().extend(chunk);
        } else {
            failed += 1;
        }
        tokio::time::sleep(pace).await;
    }
    failed
}
