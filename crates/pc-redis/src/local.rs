//! `LocalServer`: a private `redis-server` for tests, examples and benches.

use std::fmt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::RedisError;

/// A `redis-server` of its own on a unix socket in a temporary directory, for tests, examples
/// and benches that need a real server; killed, and its directory removed, when dropped. Needs
/// `redis-server` on the `PATH` (Debian's `redis-server` package), and this crate's `test-util`
/// feature (a dev-dependency's, typically: it is no part of a production build).
///
/// ```no_run
/// use pc_redis::{LocalServer, RedisQueue};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = LocalServer::start()?;
/// server.ready().await?;
/// let queue = RedisQueue::<u32>::builder(server.url(), "jobs").build()?;
/// queue.producer().await?.send(1).await?;
/// # Ok(())
/// # }
/// ```
pub struct LocalServer {
    child: Option<Child>,
    dir: PathBuf,
    durable: bool,
    url: String,
}

impl LocalServer {
    /// Starts a server that keeps nothing on disk.
    ///
    /// # Errors
    ///
    /// The I/O error of starting it: [`std::io::ErrorKind::NotFound`] when `redis-server` is
    /// not installed.
    pub fn start() -> std::io::Result<Self> {
        Self::launch_new(false)
    }

    /// Starts a server that appends every write to its AOF before replying (`appendfsync
    /// always`), so that what it acknowledged survives a `kill -9` and a [`restart`](Self::restart).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_durable() -> std::io::Result<Self> {
        Self::launch_new(true)
    }

    fn launch_new(durable: bool) -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pc-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let url = format!("redis+unix://{}", dir.join("redis.sock").display());
        let mut server = Self {
            child: None,
            dir,
            durable,
            url,
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(self.dir.join("redis.sock"));
        let mut command = Command::new("redis-server");
        command
            .args(["--port", "0", "--unixsocket"])
            .arg(self.dir.join("redis.sock"))
            .args(["--unixsocketperm", "700", "--save", "", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.durable {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        self.child = Some(command.spawn()?);
        Ok(())
    }

    /// Its URL (`redis+unix://...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until the server answers `PING`, for at most 10 s (a loaded machine starts
    /// processes slowly).
    ///
    /// # Errors
    ///
    /// The last connection or command error when it did not answer in time.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only asks the server.
    pub async fn ready(&self) -> Result<(), RedisError> {
        let client = redis::Client::open(self.url.as_str()).map_err(RedisError::Command)?;
        let mut last = None;
        for _ in 0..400 {
            let answered = match client.get_multiplexed_async_connection().await {
                Ok(mut connection) => redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .map(drop),
                Err(error) => Err(error),
            };
            match answered {
                Ok(()) => return Ok(()),
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(RedisError::Connect {
            url: self.url.clone(),
            source: last.expect("at least one try"),
        })
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same directory (and AOF), and waits until it answers.
    ///
    /// # Errors
    ///
    /// As [`ready`](Self::ready), or [`RedisError::Connect`] if it could not be started.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the server was started leaves it running, perhaps not ready yet:
    /// call [`ready`](Self::ready) before using it.
    pub async fn restart(&mut self) -> Result<(), RedisError> {
        self.kill();
        self.launch().map_err(|error| RedisError::Connect {
            url: self.url.clone(),
            source: redis::RedisError::from(error),
        })?;
        self.ready().await
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalServer")
            .field("url", &self.url)
            .field("durable", &self.durable)
            .field("running", &self.child.is_some())
            .finish()
    }
}
