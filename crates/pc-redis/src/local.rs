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

/// A Redis Cluster of its own on 127.0.0.1, for tests and benches of queues on a cluster:
/// `masters` masters with `replicas` replicas each, the hash slots split evenly among the
/// masters in order, every node on a free TCP port (and its bus on that port + 10000), with
/// its AOF written before each reply (`appendfsync always`) in a directory of its own, and a
/// node timeout of 1 s, so that a replica takes over from a killed master within seconds.
/// Killed, and its directory removed, when dropped. Needs `redis-server` 7 or later on the
/// `PATH`, and the `test-util` feature.
///
/// ```no_run
/// use pc_redis::{LocalCluster, RedisQueue};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = LocalCluster::start(3, 1)?;
/// cluster.ready().await?;
/// let urls = cluster.urls();
/// let queue = RedisQueue::<u32>::builder(&urls[0], "jobs")
///     .cluster_nodes(urls[1..].to_vec())
///     .build()?;
/// queue.producer().await?.send(1).await?;
/// # Ok(())
/// # }
/// ```
pub struct LocalCluster {
    dir: PathBuf,
    masters: usize,
    nodes: Vec<ClusterNode>,
}

struct ClusterNode {
    port: u16,
    child: Option<Child>,
}

/// How long the cluster may take to form, or to heal after a kill.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(60);

impl LocalCluster {
    /// Starts the nodes; [`ready`](Self::ready) joins them into a cluster.
    ///
    /// # Errors
    ///
    /// As [`LocalServer::start`], or [`std::io::ErrorKind::InvalidInput`] for no masters.
    pub fn start(masters: usize, replicas: usize) -> std::io::Result<Self> {
        if masters == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a cluster needs a master",
            ));
        }
        let dir = LocalServer::new_dir()?;
        let mut cluster = Self {
            dir,
            masters,
            nodes: Vec::new(),
        };
        let count = masters * (1 + replicas);
        for _ in 0..count {
            let port = Self::free_port()?;
            cluster.nodes.push(ClusterNode { port, child: None });
        }
        for index in 0..count {
            cluster.launch(index)?;
        }
        Ok(cluster)
    }

    /// A port free on 127.0.0.1 whose bus port (+ 10000) is free too; both below the range
    /// Linux hands out for outgoing connections (32768 and up), which could take a bus port
    /// between this check and the node's start. Ports are handed out in turn from a random
    /// start, once each in a process, so that clusters started at once (tests run in
    /// parallel) never pick the same one before either binds it.
    fn free_port() -> std::io::Result<u16> {
        use std::sync::atomic::AtomicU16;
        const FIRST: u16 = 15_000;
        const SPAN: u16 = 7_000;
        static NEXT: AtomicU16 = AtomicU16::new(0);
        static SHIFT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
        let shift = *SHIFT.get_or_init(|| fastrand::u16(0..SPAN));
        for _ in 0..SPAN {
            let turn = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
            let port = FIRST + (turn + shift) % SPAN;
            let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
            if free(port) && free(port + 10_000) {
                return Ok(port);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free pair of ports between 15000 and 32000",
        ))
    }

    fn launch(&mut self, index: usize) -> std::io::Result<()> {
        let port = self.nodes[index].port;
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir)?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            // A replica takes over however long it was cut off from its master.
            .args(["--cluster-replica-validity-factor", "0"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.nodes[index].child = Some(child);
        Ok(())
    }

    /// Each node's URL (`redis://127.0.0.1:PORT/`), masters first (as started: a failover
    /// changes which are masters).
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}/", node.port))
            .collect()
    }

    /// Joins the nodes: assigns the slots, introduces every node to the first, makes the
    /// replicas replicate, and waits until every node says the cluster is ok and every replica
    /// is in sync, for at most 60 s.
    ///
    /// # Errors
    ///
    /// The first command that failed, or the last answer when the cluster did not form in
    /// time.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cluster half formed stays so; drop it and start another.
    pub async fn ready(&self) -> Result<(), RedisError> {
        let mut connections = Vec::new();
        for node in &self.nodes {
            let server = Probing::at(node.port);
            connections.push(server.connection().await?);
        }
        let mut ids = Vec::new();
        for connection in &mut connections {
            let id: String = command(connection, redis::cmd("CLUSTER").arg("MYID")).await?;
            ids.push(id);
        }
        let slots = 16_384 / self.masters;
        for (master, connection) in connections.iter_mut().take(self.masters).enumerate() {
            let first = master * slots;
            let last = if master + 1 == self.masters {
                16_383
            } else {
                first + slots - 1
            };
            let mut add = redis::cmd("CLUSTER");
            add.arg("ADDSLOTSRANGE").arg(first).arg(last);
            command::<()>(connection, &add).await?;
        }
        for node in &self.nodes[1..] {
            let mut meet = redis::cmd("CLUSTER");
            meet.arg("MEET").arg("127.0.0.1").arg(node.port);
            command::<()>(&mut connections[0], &meet).await?;
        }
        let count = self.nodes.len();
        self.wait_for("every node to know every other", |info, _| {
            info.contains(&format!("cluster_known_nodes:{count}"))
        })
        .await?;
        for (index, connection) in connections.iter_mut().enumerate().skip(self.masters) {
            let mut replicate = redis::cmd("CLUSTER");
            replicate.arg("REPLICATE").arg(&ids[index % self.masters]);
            command::<()>(connection, &replicate).await?;
        }
        self.wait_healthy().await
    }

    /// Waits until every node still running says the cluster is ok and each of its replicas
    /// is in sync with its master: after [`kill`](Self::kill), once a replica took over.
    ///
    /// # Errors
    ///
    /// The last answer when it did not happen within 60 s.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only asks the nodes.
    pub async fn wait_healthy(&self) -> Result<(), RedisError> {
        self.wait_for("the cluster to be ok", |info, replication| {
            info.contains("cluster_state:ok")
                && (replication.contains("role:master")
                    || replication.contains("master_link_status:up"))
        })
        .await
    }

    /// Waits until `healthy(CLUSTER INFO, INFO replication)` holds on every running node.
    async fn wait_for(
        &self,
        what: &str,
        healthy: impl Fn(&str, &str) -> bool,
    ) -> Result<(), RedisError> {
        let started = std::time::Instant::now();
        let mut last = String::new();
        while started.elapsed() < CLUSTER_DEADLINE {
            let mut all = true;
            for node in self.nodes.iter().filter(|node| node.child.is_some()) {
                let answers = async {
                    let mut connection = Probing::at(node.port).connect().await?;
                    let info: String =
                        command(&mut connection, redis::cmd("CLUSTER").arg("INFO")).await?;
                    let replication: String =
                        command(&mut connection, redis::cmd("INFO").arg("replication")).await?;
                    Ok::<_, RedisError>((info, replication))
                };
                match answers.await {
                    Ok((info, replication)) if healthy(&info, &replication) => {}
                    Ok((info, replication)) => {
                        all = false;
                        last = format!("node {}: {info} {replication}", node.port);
                    }
                    Err(error) => {
                        all = false;
                        last = format!("node {}: {error}", node.port);
                    }
                }
                if !all {
                    break;
                }
            }
            if all {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(RedisError::Command(redis::RedisError::from((
            redis::ErrorKind::Io,
            "the local cluster did not become ready",
            format!("waiting for {what}; last: {last}"),
        ))))
    }

    /// The node (an index into [`urls`](Self::urls)) that is the master serving `key` now, as
    /// a running node sees the cluster.
    ///
    /// # Errors
    ///
    /// The error of asking, when no running node answered, or the key's slot has no master.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only asks.
    pub async fn master_of(&self, key: &str) -> Result<usize, RedisError> {
        let mut failure = None;
        for node in self.nodes.iter().filter(|node| node.child.is_some()) {
            let answer = async {
                let mut connection = Probing::at(node.port).connect().await?;
                let slot: u16 = command(
                    &mut connection,
                    redis::cmd("CLUSTER").arg("KEYSLOT").arg(key),
                )
                .await?;
                let nodes: String =
                    command(&mut connection, redis::cmd("CLUSTER").arg("NODES")).await?;
                Ok::<_, RedisError>((slot, nodes))
            };
            match answer.await {
                Ok((slot, nodes)) => {
                    let serving = nodes.lines().find_map(|line| {
                        let fields: Vec<&str> = line.split(' ').collect();
                        let flags = fields.get(2)?;
                        if !flags.split(',').any(|flag| flag == "master") {
                            return None;
                        }
                        let serves = fields.iter().skip(8).any(|range| {
                            let (first, last) = range.split_once('-').unwrap_or((range, range));
                            let (Ok(first), Ok(last)) = (first.parse::<u16>(), last.parse::<u16>())
                            else {
                                return false;
                            };
                            (first..=last).contains(&slot)
                        });
                        let port: u16 = fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
                        serves.then(|| self.nodes.iter().position(|node| node.port == port))?
                    });
                    return serving.ok_or_else(|| {
                        RedisError::Command(redis::RedisError::from((
                            redis::ErrorKind::Io,
                            "no master serves the key's slot",
                            key.to_owned(),
                        )))
                    });
                }
                Err(error) => failure = Some(error),
            }
        }
        Err(failure.unwrap_or_else(|| {
            RedisError::Command(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no node of the local cluster is running",
            )))
        }))
    }

    /// Starts node `index` again after a [`kill`](Self::kill), on its port, directory and AOF:
    /// it rejoins the cluster, as a replica of the master that took over from it if one did.
    /// [`wait_healthy`](Self::wait_healthy) tells when it is in sync.
    ///
    /// # Errors
    ///
    /// The I/O error of starting it.
    pub fn restart(&mut self, index: usize) -> std::io::Result<()> {
        self.kill(index);
        self.launch(index)
    }

    /// Kills node `index` (into [`urls`](Self::urls)) with SIGKILL, as a crash would.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes.get_mut(index).and_then(|node| node.child.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A node asked by its port, for the cluster's own setup and checks.
struct Probing {
    url: String,
}

impl Probing {
    fn at(port: u16) -> Self {
        Self {
            url: format!("redis://127.0.0.1:{port}/"),
        }
    }

    async fn connect(&self) -> Result<redis::aio::MultiplexedConnection, RedisError> {
        let client = redis::Client::open(self.url.as_str()).map_err(RedisError::Command)?;
        client
            .get_multiplexed_async_connection()
            .await
            .map_err(|source| RedisError::Connect {
                url: self.url.clone(),
                source,
            })
    }

    /// A connection once the node answers `PING`, waiting at most 10 s.
    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, RedisError> {
        let mut last = None;
        for _ in 0..400 {
            match self.connect().await {
                Ok(mut connection) => {
                    match command::<String>(&mut connection, &redis::cmd("PING")).await {
                        Ok(_) => return Ok(connection),
                        Err(error) => last = Some(error),
                    }
                }
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(last.expect("at least one try"))
    }
}

async fn command<R: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    command: &redis::Cmd,
) -> Result<R, RedisError> {
    command
        .query_async(connection)
        .await
        .map_err(RedisError::Command)
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCluster")
            .field("urls", &self.urls())
            .field("masters", &self.masters)
            .finish()
    }
}
