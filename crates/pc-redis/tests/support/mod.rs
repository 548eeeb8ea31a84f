//! A private redis-server per test, on a unix socket in a directory of its own.
//!
//! These tests need a real server and real time: waits for the server have generous deadlines
//! (seconds, where milliseconds are usual) and bounded loops.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A running redis-server, stopped and its directory removed when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    dir: PathBuf,
    aof: bool,
    pub(crate) url: String,
}

impl Server {
    /// Starts a server without persistence, or returns `None` (after saying why) when
    /// `redis-server` is not installed. Under `CI=true` a missing server is a failure.
    pub(crate) async fn start() -> Option<Server> {
        Self::start_with(false).await
    }

    /// Starts a server that appends every write to its AOF before replying.
    pub(crate) async fn start_durable() -> Option<Server> {
        Self::start_with(true).await
    }

    async fn start_with(aof: bool) -> Option<Server> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("redis-server is required in CI (apt-get install redis-server)");
            }
            eprintln!("skipped: redis-server not found; install Debian's redis-server");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "pc-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("redis+unix://{}", dir.join("redis.sock").display());
        let mut server = Server {
            child: None,
            dir,
            aof,
            url,
        };
        server.launch().await;
        Some(server)
    }

    async fn launch(&mut self) {
        let socket = self.dir.join("redis.sock");
        let mut command = Command::new("redis-server");
        command
            .args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--save", "", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.aof {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        self.child = Some(command.spawn().expect("redis-server starts"));
        // Up to 10 s for the socket to answer PING: a loaded 2-core machine can be slow.
        let client = redis::Client::open(self.url.as_str()).expect("a valid url");
        for _ in 0..400 {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not answer PING within 10 s");
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same directory (and AOF).
    pub(crate) async fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.dir.join("redis.sock"));
        self.launch().await;
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

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
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
