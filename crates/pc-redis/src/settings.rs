//! `RedisQueue`: validated settings, and the connections made from them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use pc_core::{BuildError, SharedProbe};

use crate::acks::AckBatch;
use crate::codec::{Codec, Json};
use crate::consumer::RedisConsumer;
use crate::error::RedisError;
use crate::link::{Link, Nodes, Target};
use crate::producer::RedisProducer;
use crate::retry::RetryPolicy;
use crate::tls::TlsSetting;

/// What a send does when the stream holds `max_len` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait, checking again after `backoff`, doubled on each try up to `max_backoff`.
    Block {
        /// The first wait.
        backoff: Duration,
        /// The longest wait between two checks.
        max_backoff: Duration,
    },
    /// Hand the item back (`RedisSendError::Full`).
    Reject,
    /// Drop the incoming item (counted, reported to the probe as `Full`).
    DropIncoming,
    /// Add the item and trim the oldest entries to `max_len` (counted, reported as `Oldest`),
    /// delivered or not.
    DropOldest,
}

impl Default for WhenFull {
    fn default() -> Self {
        Self::Block {
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(100),
        }
    }
}

/// A Redis stream used as a durable queue: its settings, checked once; make producers and
/// consumers from it.
///
/// ```no_run
/// use pc_core::AckConsumer;
/// use pc_redis::RedisQueue;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = RedisQueue::<String>::builder("redis://127.0.0.1/", "jobs")
///     .group("workers")
///     .max_len(10_000)
///     .build()?;
/// let producer = queue.producer().await?;
/// producer.send("hello".to_string()).await?;
/// let consumer = queue.consumer("worker-1").await?;
/// let delivery = consumer.recv_delivery().await?;
/// let (job, ack) = delivery.into_parts();
/// println!("{job}");
/// ack.ack().await?;
/// # Ok(())
/// # }
/// ```
pub struct RedisQueue<T, C = Json> {
    pub(crate) settings: Arc<Settings<C>>,
    pub(crate) nodes: Arc<Nodes>,
    pub(crate) _items: PhantomData<fn(T) -> T>,
}

impl<T, C> Clone for RedisQueue<T, C> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            nodes: Arc::clone(&self.nodes),
            _items: PhantomData,
        }
    }
}

/// The checked settings every producer and consumer of a queue shares.
#[derive(Clone)]
pub(crate) struct Settings<C> {
    pub(crate) url: String,
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) codec: C,
    pub(crate) max_len: Option<usize>,
    pub(crate) when_full: WhenFull,
    pub(crate) claim_idle: Duration,
    pub(crate) max_deliveries: u32,
    pub(crate) dead_letter: String,
    pub(crate) block: Duration,
    pub(crate) batch: usize,
    pub(crate) delete_on_ack: bool,
    pub(crate) outbox: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) nack_backoff: Option<(Duration, Duration)>,
    pub(crate) ack_batch: Option<AckBatch>,
    pub(crate) replicas: Option<(u32, Duration)>,
    pub(crate) probe: Option<SharedProbe>,
    /// How often a consumer reports the group's backlog to the probe.
    pub(crate) backlog_every: Duration,
    /// This stream's partition in a partitioned queue (0 otherwise), for the probe.
    pub(crate) partition: usize,
}

impl<C> Settings<C> {
    /// How long a plain nack of a delivery made `count` times waits before it is delivered
    /// again: the nack backoff's first wait doubled for each delivery after the first, at most
    /// its longest; zero without one.
    pub(crate) fn nack_delay(&self, count: u32) -> Duration {
        match self.nack_backoff {
            None => Duration::ZERO,
            Some((first, max)) => crate::retry::doubled(first, count, max),
        }
    }
}

impl<T> RedisQueue<T, Json> {
    /// Starts the settings of the queue on stream `stream` of the server at `url`
    /// (`redis://host:port/db`, or `redis+unix:///path/to.sock`).
    pub fn builder(
        url: impl Into<String>,
        stream: impl Into<String>,
    ) -> RedisQueueBuilder<T, Json> {
        RedisQueueBuilder {
            url: url.into(),
            stream: stream.into(),
            group: "pc".into(),
            codec: Json,
            max_len: None,
            when_full: WhenFull::default(),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 5,
            dead_letter: None,
            block: Duration::from_secs(2),
            batch: 64,
            delete_on_ack: false,
            outbox: 1024,
            retry: RetryPolicy::default(),
            nack_backoff: None,
            ack_batch: None,
            replicas: None,
            backlog_every: Duration::from_secs(5),
            probe: None,
            tls: TlsSetting::default(),
            cluster_nodes: Vec::new(),
            _items: PhantomData,
        }
    }
}

impl<T, C> RedisQueue<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// A producer on a connection of its own (multiplexed: share it by cloning). Needs a tokio
    /// runtime: the producer's outbox task starts here.
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] with the URL if the server cannot be reached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a producer dropped half made leaves nothing behind.
    pub async fn producer(&self) -> Result<RedisProducer<T, C>, RedisError> {
        // A send that waits for replicas outlasts the client's default response timeout.
        let waits = self
            .settings
            .replicas
            .map(|(_, timeout)| timeout.saturating_add(Duration::from_secs(5)));
        let link = self.link(waits).await?;
        Ok(RedisProducer::new(Arc::clone(&self.settings), link))
    }

    /// A consumer named `name` in the queue's group (creating the group, and the stream, when
    /// missing). Names must be unique among live consumers: a consumer replays the entries
    /// pending under its name when it starts, so a restarted consumer that takes its old name
    /// finishes what it had.
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] with the URL if the server cannot be reached;
    /// [`RedisError::Command`] if the group cannot be created.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the group and the stream, if this call created them, stay, as a later call
    /// would create them; no entry is read before the consumer is returned.
    pub async fn consumer(
        &self,
        name: impl Into<String>,
    ) -> Result<RedisConsumer<T, C>, RedisError> {
        // Blocking reads get a connection of their own, whose response timeout outlasts them.
        let reads = self
            .link(Some(
                self.settings.block.saturating_add(Duration::from_secs(5)),
            ))
            .await?;
        let commands = self.link(None).await?;
        let mut group = commands.get();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.settings.stream)
            .arg(&self.settings.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut group)
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(RedisError::Command(e)),
        }
        Ok(RedisConsumer::new(
            Arc::clone(&self.settings),
            name.into(),
            reads,
            commands,
        ))
    }

    /// The group's backlog on the stream now, as the server counts it: pending and not yet
    /// delivered entries (`XINFO GROUPS`, on a connection made for the call).
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] if the server cannot be reached; [`RedisError::Command`] if it
    /// refuses.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn backlog(&self) -> Result<crate::Backlog, RedisError> {
        let link = self.link(None).await?;
        crate::backlog::query(&link, &self.settings.stream, &self.settings.group).await
    }

    pub(crate) async fn link(
        &self,
        response_timeout: Option<Duration>,
    ) -> Result<Link, RedisError> {
        Link::open(
            Target::serving(&self.settings.stream, &self.nodes),
            self.settings.url.clone(),
            response_timeout,
            self.settings.retry,
        )
        .await
    }
}

impl<T, C> fmt::Debug for RedisQueue<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("RedisQueue")
            .field("url", &s.url)
            .field("stream", &s.stream)
            .field("group", &s.group)
            .field("max_len", &s.max_len)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`RedisQueue`]. Defaults: group `pc`, JSON, no cap (sends never wait),
/// entries reclaimed from consumers idle for 30 s, dead-lettered after 5 deliveries to
/// `{<stream>}:dead` (`<stream>:dead` when the name has a hash tag), blocking reads of 2 s,
/// batches of 64, entries kept after their ack, retries for up to 30 s after the server
/// failed.
pub struct RedisQueueBuilder<T, C> {
    url: String,
    stream: String,
    group: String,
    codec: C,
    max_len: Option<usize>,
    when_full: WhenFull,
    claim_idle: Duration,
    max_deliveries: u32,
    dead_letter: Option<String>,
    block: Duration,
    batch: usize,
    delete_on_ack: bool,
    outbox: usize,
    retry: RetryPolicy,
    nack_backoff: Option<(Duration, Duration)>,
    ack_batch: Option<AckBatch>,
    replicas: Option<(u32, Duration)>,
    backlog_every: Duration,
    probe: Option<SharedProbe>,
    tls: TlsSetting,
    cluster_nodes: Vec<String>,
    _items: PhantomData<fn(T) -> T>,
}

impl<T, C> RedisQueueBuilder<T, C> {
    /// The consumer group (default `pc`).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// How items are encoded (default [`Json`]).
    pub fn codec<D: Codec<T>>(self, codec: D) -> RedisQueueBuilder<T, D> {
        RedisQueueBuilder {
            url: self.url,
            stream: self.stream,
            group: self.group,
            codec,
            max_len: self.max_len,
            when_full: self.when_full,
            claim_idle: self.claim_idle,
            max_deliveries: self.max_deliveries,
            dead_letter: self.dead_letter,
            block: self.block,
            batch: self.batch,
            delete_on_ack: self.delete_on_ack,
            outbox: self.outbox,
            retry: self.retry,
            nack_backoff: self.nack_backoff,
            ack_batch: self.ack_batch,
            replicas: self.replicas,
            backlog_every: self.backlog_every,
            probe: self.probe,
            tls: self.tls,
            cluster_nodes: self.cluster_nodes,
            _items: PhantomData,
        }
    }

    /// Caps the stream at `max_len` entries; [`when_full`](Self::when_full) says what a send
    /// into a full stream does. A capped queue deletes each entry once acked (as
    /// [`delete_on_ack`](Self::delete_on_ack)), or the cap would count finished work.
    pub fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = Some(max_len);
        self
    }

    /// What a send into a full stream does (default: block, checking again with backoff).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Entries pending longer than this with a consumer are taken over by another (default
    /// 30 s): a consumer that died leaves nothing stuck for longer.
    pub fn claim_idle(mut self, claim_idle: Duration) -> Self {
        self.claim_idle = claim_idle;
        self
    }

    /// An entry delivered more than this many times goes to the dead-letter stream (default 5).
    pub fn max_deliveries(mut self, max_deliveries: u32) -> Self {
        self.max_deliveries = max_deliveries;
        self
    }

    /// The dead-letter stream (default `<stream>:dead` for a stream with a hash tag, such as
    /// `{jobs}`, and `{<stream>}:dead` for one without). On a Redis Cluster it must share the
    /// stream's hash slot, as the default does: an entry is moved to it and acked in one
    /// transaction.
    pub fn dead_letter(mut self, stream: impl Into<String>) -> Self {
        self.dead_letter = Some(stream.into());
        self
    }

    /// How long one read waits for new entries (default 2 s; shorter than the claim time).
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Entries read at once (default 64).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Deletes each entry once acknowledged (`XDEL`), so that the stream holds only what is
    /// not done yet (default: kept, as a log).
    pub fn delete_on_ack(mut self, delete: bool) -> Self {
        self.delete_on_ack = delete;
        self
    }

    /// How many items a producer's `try_send` (as a `pc_core::Producer`) holds for sending
    /// (default 1,024): beyond them it reports `Full`.
    pub fn outbox(mut self, capacity: usize) -> Self {
        self.outbox = capacity;
        self
    }

    /// How producers and consumers retry after the server failed them, and when they give up
    /// (default [`RetryPolicy::default`]: a server restart of up to 30 s is ridden out).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Delays what a plain [`nack`](pc_core::Ack::nack) sends back: a delivery made `n` times
    /// is delivered again after `first * 2^(n - 1)`, at most `max` (default: at the next
    /// read). A downstream outage then spreads an item's deliveries over time instead of
    /// using them up in milliseconds. [`nack_after`](pc_core::Ack::nack_after) names its own
    /// delay.
    pub fn nack_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.nack_backoff = Some((first, max));
        self
    }

    /// Sends acks together: an ack is held, and the acks held go to the server in one round
    /// trip with the consumer's next read, once `max` are held, or `delay` after the oldest,
    /// whichever comes first; all of them when the consumer closes (default: each ack is its
    /// own round trip). `ack().await` then returns once the ack is held (the one that fills a
    /// batch, once the batch is sent); an ack held when the process dies is lost, and its
    /// entry delivered again, as at-least-once allows.
    pub fn ack_batch(mut self, max: usize, delay: Duration) -> Self {
        self.ack_batch = Some(AckBatch { max, delay });
        self
    }

    /// Whether a dead-letter stream was named.
    pub(crate) fn has_dead_letter(&self) -> bool {
        self.dead_letter.is_some()
    }

    /// Sends succeed only once `replicas` replicas of the stream's master hold the entries
    /// (`WAIT` after each send or pipeline), waiting at most `timeout` for them: what a send
    /// returned `Ok` for then survives the loss of the master when one of those replicas takes
    /// over. A send the replicas did not confirm in time fails with
    /// [`RedisSendError::Server`](crate::RedisSendError) and its item (it may have been added:
    /// its message id tells the duplicate if it is sent again); the outbox tries it again as
    /// the retry policy says. Without this (the default), a send returns once the master has
    /// the entry, and a failover may lose what the master had not passed on yet.
    pub fn replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = Some((replicas, timeout));
        self
    }

    /// Other nodes of the same Redis Cluster, tried in turn when the URL's node does not
    /// answer (it may be the one that failed). Producers and consumers work with the node that
    /// serves the stream's hash slot whichever node they start from, following the cluster's
    /// redirects, and find its new master after a failover; on a single server, these are
    /// not needed.
    pub fn cluster_nodes<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cluster_nodes = urls.into_iter().map(Into::into).collect();
        self
    }

    /// How often each consumer asks the server for the group's backlog (pending and lag, from
    /// `XINFO GROUPS`) and reports it to the probe, [`Probe::backlog`](pc_core::Probe::backlog)
    /// (default 5 s; only with a probe).
    pub fn backlog_every(mut self, every: Duration) -> Self {
        self.backlog_every = every;
        self
    }

    /// Reports sends, drops, deliveries and dead letters to `probe`, and each consumer's view
    /// of the group's backlog every [`backlog_every`](Self::backlog_every).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// The certificates for a `rediss://` URL: the server's authority when the system's roots
    /// do not hold it, a client certificate for a server that checks its clients. A
    /// `rediss://` URL needs no call to this when the system trusts the server.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Checks the settings; connects to nothing yet.
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming the setting: an unparsable `url` (or a `rediss://` one without the
    /// `tls` feature, or with `#insecure`), certificates that do not parse or a `tls` setting
    /// on a URL without TLS, an empty `stream` or `group`,
    /// zero `max_len`, `batch`, `block`, `claim_idle`, `max_deliveries` or `outbox`, a `max_len`
    /// or `batch` above `i64::MAX` (Redis' largest count), a `block` not shorter than
    /// `claim_idle`, a drop or reject policy without `max_len`, or a [`RetryPolicy`] out of
    /// bounds (`retry.attempts`, `retry.backoff`, `retry.max_backoff`, `retry.jitter`), or a
    /// `nack_backoff` whose first wait is zero or longer than its longest, or an `ack_batch` of
    /// zero acks.
    pub fn build(self) -> Result<RedisQueue<T, C>, BuildError> {
        let mut seeds = vec![crate::tls::client(&self.url, &self.tls)?];
        for url in &self.cluster_nodes {
            seeds.push(crate::tls::client(url, &self.tls).map_err(|e| match e {
                BuildError::Invalid { reason, .. } => BuildError::Invalid {
                    setting: "cluster_nodes",
                    reason,
                },
                other => other,
            })?);
        }
        let seeds = seeds
            .iter()
            .map(|client| client.get_connection_info().clone())
            .collect();
        for (setting, value) in [("stream", &self.stream), ("group", &self.group)] {
            if value.is_empty() {
                return Err(BuildError::Invalid {
                    setting,
                    reason: "must not be empty".into(),
                });
            }
        }
        let zero = [
            ("max_len", self.max_len == Some(0)),
            ("batch", self.batch == 0),
            ("block", self.block.is_zero()),
            ("claim_idle", self.claim_idle.is_zero()),
            ("max_deliveries", self.max_deliveries == 0),
            ("outbox", self.outbox == 0),
        ];
        if let Some((setting, _)) = zero.into_iter().find(|(_, zero)| *zero) {
            return Err(BuildError::Zero { setting });
        }
        // Redis reads counts as signed 64-bit integers: a larger one is refused by every
        // command that carries it.
        let too_large = [
            (
                "max_len",
                self.max_len.is_some_and(|len| len > REDIS_COUNT_MAX),
            ),
            ("batch", self.batch > REDIS_COUNT_MAX),
        ];
        if let Some((setting, _)) = too_large.into_iter().find(|(_, large)| *large) {
            return Err(BuildError::Invalid {
                setting,
                reason: format!("Redis takes counts up to {REDIS_COUNT_MAX}"),
            });
        }
        if let WhenFull::Block {
            backoff,
            max_backoff,
        } = self.when_full
        {
            if backoff.is_zero() {
                return Err(BuildError::Zero { setting: "backoff" });
            }
            if max_backoff < backoff {
                return Err(BuildError::Invalid {
                    setting: "max_backoff",
                    reason: "must not be shorter than backoff".into(),
                });
            }
        }
        // Redis takes milliseconds as a signed 64-bit count; beyond that (`Duration::MAX`) a
        // claim time means "never reclaim", which the server cannot express.
        if self.claim_idle.as_millis() > i64::MAX as u128 / 2 {
            return Err(BuildError::Invalid {
                setting: "claim_idle",
                reason: "must fit in Redis' millisecond timeouts (at most 146 million years)"
                    .into(),
            });
        }
        if self.block >= self.claim_idle {
            return Err(BuildError::Invalid {
                setting: "block",
                reason: "must be shorter than claim_idle, so that reclaims run between reads"
                    .into(),
            });
        }
        self.retry.check()?;
        if self.backlog_every.is_zero() {
            return Err(BuildError::Zero {
                setting: "backlog_every",
            });
        }
        if let Some((replicas, timeout)) = self.replicas {
            if replicas == 0 {
                return Err(BuildError::Zero {
                    setting: "replicas",
                });
            }
            // `WAIT 0` would wait for ever; beyond an hour a send is better failed.
            if timeout.is_zero() || timeout > Duration::from_secs(3600) {
                return Err(BuildError::Invalid {
                    setting: "replicas",
                    reason: "the timeout must be above zero and at most an hour".into(),
                });
            }
        }
        if self.ack_batch.is_some_and(|batch| batch.max == 0) {
            return Err(BuildError::Zero {
                setting: "ack_batch",
            });
        }
        if let Some((first, max)) = self.nack_backoff {
            if first.is_zero() {
                return Err(BuildError::Zero {
                    setting: "nack_backoff",
                });
            }
            if max < first {
                return Err(BuildError::Invalid {
                    setting: "nack_backoff",
                    reason: "the longest wait must not be shorter than the first".into(),
                });
            }
        }
        if self.max_len.is_none() && !matches!(self.when_full, WhenFull::Block { .. }) {
            return Err(BuildError::Invalid {
                setting: "when_full",
                reason: "dropping or rejecting needs a max_len".into(),
            });
        }
        let dead_letter = self
            .dead_letter
            .unwrap_or_else(|| dead_letter_for(&self.stream));
        Ok(RedisQueue {
            settings: Arc::new(Settings {
                url: self.url,
                stream: self.stream,
                group: self.group,
                codec: self.codec,
                max_len: self.max_len,
                when_full: self.when_full,
                claim_idle: self.claim_idle,
                max_deliveries: self.max_deliveries,
                dead_letter,
                block: self.block,
                batch: self.batch,
                delete_on_ack: self.delete_on_ack || self.max_len.is_some(),
                outbox: self.outbox,
                retry: self.retry,
                nack_backoff: self.nack_backoff,
                ack_batch: self.ack_batch,
                replicas: self.replicas,
                backlog_every: self.backlog_every,
                partition: 0,
                probe: self.probe.inspect(|probe| {
                    probe.described(pc_core::BlockKind::RedisQueue, self.max_len);
                }),
            }),
            nodes: Arc::new(Nodes::new(seeds)),
            _items: PhantomData,
        })
    }
}

impl<T, C> fmt::Debug for RedisQueueBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueueBuilder")
            .field("url", &self.url)
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("max_len", &self.max_len)
            .field("when_full", &self.when_full)
            .field("claim_idle", &self.claim_idle)
            .field("max_deliveries", &self.max_deliveries)
            .field("block", &self.block)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// The largest count Redis takes in a command (`i64::MAX`).
const REDIS_COUNT_MAX: usize = i64::MAX as usize;

/// The default dead-letter stream of `stream`, in the same hash slot: `<stream>:dead` when the
/// stream has a hash tag (its first `{...}`, not empty), which the suffix keeps; otherwise
/// `{<stream>}:dead`, whose tag is the whole stream name, the name its slot is hashed from.
pub(crate) fn dead_letter_for(stream: &str) -> String {
    let tagged = stream
        .find('{')
        .and_then(|open| stream[open + 1..].find('}'))
        .is_some_and(|length| length > 0);
    if tagged {
        format!("{stream}:dead")
    } else {
        format!("{{{stream}}}:dead")
    }
}
