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
    /// The TCP port of a server that takes TLS connections only; `None` for a unix socket.
    tls_port: Option<u16>,
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

    /// Starts a server that keeps nothing on disk and takes only TLS connections, on a free
    /// TCP port of 127.0.0.1 (its URL: `rediss://127.0.0.1:PORT`), presenting `certificate`
    /// with its private `key` (PEM). With `client_authority` (PEM), it asks each client for
    /// a certificate signed by it and refuses clients without one (`tls-auth-clients yes`);
    /// without, it asks none. Needs the `tls` feature and a `redis-server` built with TLS
    /// (Debian's is).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), or the I/O error of writing the certificates or finding a
    /// free port.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn start_tls(
        certificate: &str,
        key: &str,
        client_authority: Option<&str>,
    ) -> std::io::Result<Self> {
        let dir = Self::new_dir()?;
        std::fs::write(dir.join("server.crt"), certificate)?;
        std::fs::write(dir.join("server.key"), key)?;
        if let Some(authority) = client_authority {
            std::fs::write(dir.join("clients.crt"), authority)?;
        }
        // A port the system just handed out and took back: free unless another process binds
        // it in between, which a test machine makes unlikely, and `ready` would then report.
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port();
        let mut server = Self {
            child: None,
            dir,
            durable: false,
            url: format!("rediss://127.0.0.1:{port}/"),
            tls_port: Some(port),
        };
        server.launch()?;
        Ok(server)
    }

    fn new_dir() -> std::io::Result<PathBuf> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pc-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn launch_new(durable: bool) -> std::io::Result<Self> {
        let dir = Self::new_dir()?;
        let url = format!("redis+unix://{}", dir.join("redis.sock").display());
        let mut server = Self {
            child: None,
            dir,
            durable,
            url,
            tls_port: None,
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let mut command = Command::new("redis-server");
        command.args(["--port", "0"]);
        match self.tls_port {
            None => {
                let _ = std::fs::remove_file(self.dir.join("redis.sock"));
                command
                    .arg("--unixsocket")
                    .arg(self.dir.join("redis.sock"))
                    .args(["--unixsocketperm", "700"]);
            }
            Some(port) => {
                command
                    .args(["--bind", "127.0.0.1", "--tls-port", &port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(self.dir.join("server.crt"))
                    .arg("--tls-key-file")
                    .arg(self.dir.join("server.key"));
                let clients = self.dir.join("clients.crt");
                if clients.exists() {
                    command.arg("--tls-ca-cert-file").arg(clients);
                    command.args(["--tls-auth-clients", "yes"]);
                } else {
                    command.args(["--tls-auth-clients", "no"]);
                }
            }
        }
        command
            .args(["--save", "", "--dir"])
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

    /// Its URL (`redis+unix://...`, or `rediss://127.0.0.1:PORT/` for a TLS server).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until the server answers `PING` (a TLS server: until its port takes connections,
    /// since a ping would need the client's certificates), for at most 10 s (a loaded machine
    /// starts processes slowly).
    ///
    /// # Errors
    ///
    /// The last connection or command error when it did not answer in time.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only asks the server.
    pub async fn ready(&self) -> Result<(), RedisError> {
        if let Some(port) = self.tls_port {
            return self.listening(port).await;
        }
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

    async fn listening(&self, port: u16) -> Result<(), RedisError> {
        let mut last = None;
        for _ in 0..400 {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(_) => return Ok(()),
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(RedisError::Connect {
            url: self.url.clone(),
            source: redis::RedisError::from(last.expect("at least one try")),
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
