//! A queue partitioned over several streams, each in a hash slot of its own, so that a Redis
//! Cluster spreads it over its masters; consumers of a group share the partitions, each
//! partition read by one consumer at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, Stream, StreamExt};
use pc_core::channel::{self, Receiver, Sender};
use pc_core::task::TaskGroup;
use pc_core::{AckConsumer, BuildError, ConsumeError, Consumer, Delivery, ProduceError, Producer};
use redis::Script;
use tokio_util::sync::CancellationToken;

use crate::codec::{Codec, Json};
use crate::consumer::{RedisConsumer, acked_on_receipt};
use crate::error::{RedisError, RedisSendError};
use crate::link::{Link, Target};
use crate::producer::RedisProducer;
use crate::settings::{RedisQueue, RedisQueueBuilder};

/// Most partitions a queue may have.
const MAX_PARTITIONS: usize = 1024;

/// Adds this consumer to the group's members until `now + lease`, forgets members whose time
/// ran out, and counts those left. The set itself expires once every member's has.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local clock_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', clock_ms)
redis.call('ZADD', KEYS[1], lease + clock_ms, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return redis.call('ZCARD', KEYS[1])
";

/// Takes or renews a partition's hold for this consumer, for `lease` milliseconds, when nobody
/// else holds it: a hold of this consumer's that lapsed unseen is taken again rather than
/// stopped and restarted. 1 when it is this consumer's; 0 when another holds it.
const HOLD: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Gives a partition up, if this consumer holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Settings for a [`PartitionedQueue`]: the queue's settings (each partition's), how many
/// partitions, and how long a consumer's hold on a partition lasts without renewal.
pub struct PartitionedQueueBuilder<T, C> {
    queue: RedisQueueBuilder<T, C>,
    partitions: usize,
    lease: Duration,
}

impl<T, C> RedisQueueBuilder<T, C> {
    /// A queue of `partitions` streams instead of one (see [`PartitionedQueue`]); the
    /// settings so far apply to each partition.
    pub fn partitioned(self, partitions: usize) -> PartitionedQueueBuilder<T, C> {
        PartitionedQueueBuilder {
            queue: self,
            partitions,
            lease: Duration::from_secs(10),
        }
    }
}

impl<T, C: Clone> PartitionedQueueBuilder<T, C> {
    /// How long a consumer holds a partition without renewing its hold (default 10 s; renewed
    /// every third of it). A consumer that dies loses its partitions this long after its last
    /// renewal; the consumers left then share them.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Checks the settings; connects to nothing yet.
    ///
    /// # Errors
    ///
    /// What [`RedisQueueBuilder::build`] refuses, and a [`BuildError`] naming `partitions`
    /// (0, or more than 1,024), `lease` (zero, or longer than a day), or `dead_letter` (a
    /// partitioned queue keeps each partition's dead letters in its own hash slot, in
    /// `{<stream>:<partition>}:dead`).
    pub fn build(self) -> Result<PartitionedQueue<T, C>, BuildError> {
        if self.partitions == 0 {
            return Err(BuildError::Zero {
                setting: "partitions",
            });
        }
        if self.partitions > MAX_PARTITIONS {
            return Err(BuildError::Invalid {
                setting: "partitions",
                reason: format!("at most {MAX_PARTITIONS}"),
            });
        }
        if self.lease.is_zero() || self.lease > Duration::from_secs(86_400) {
            return Err(BuildError::Invalid {
                setting: "lease",
                reason: "must be above zero and at most a day".into(),
            });
        }
        if self.queue.has_dead_letter() {
            return Err(BuildError::Invalid {
                setting: "dead_letter",
                reason: "a partitioned queue keeps each partition's dead letters beside it, \
                         in `{<stream>:<partition>}:dead`"
                    .into(),
            });
        }
        let base = self.queue.build()?;
        let stream = base.settings.stream.clone();
        let partitions = (0..self.partitions)
            .map(|index| {
                let mut settings = (*base.settings).clone();
                settings.stream = partition_stream(&stream, index);
                settings.dead_letter = format!("{}:dead", settings.stream);
                settings.partition = index;
                RedisQueue {
                    settings: Arc::new(settings),
                    nodes: Arc::clone(&base.nodes),
                    _items: PhantomData,
                }
            })
            .collect();
        Ok(PartitionedQueue {
            shared: Arc::new(QueueShared {
                members: format!("{{{stream}}}:members"),
                stream,
                lease: self.lease,
                base,
                partitions,
            }),
        })
    }
}

impl<T, C> fmt::Debug for PartitionedQueueBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedQueueBuilder")
            .field("queue", &self.queue)
            .field("partitions", &self.partitions)
            .field("lease", &self.lease)
            .finish()
    }
}

/// The stream of partition `index`: `{<stream>:<index>}`, its own hash tag, so that the
/// partitions spread over a cluster's slots and each one's keys share a slot.
fn partition_stream(stream: &str, index: usize) -> String {
    format!("{{{stream}:{index}}}")
}

/// A queue of N partitions, one stream each (`{<stream>:<i>}`, a hash tag of its own, so a
/// Redis Cluster spreads the partitions over its masters while each partition's keys stay on
/// one): a queue that outgrows one Redis.
///
/// - **Producers** route each item to a partition: round-robin ([`send`](PartitionedProducer::send)),
///   or by a key ([`send_keyed`](PartitionedProducer::send_keyed)), which always picks the same
///   partition, so the items of one key keep the order they were sent in.
/// - **Consumers** of a group share the partitions: each partition is read by one consumer at a
///   time, which holds it by a lease it renews; each consumer holds about its share (the
///   partitions divided by the live consumers, rounded up), and gives the rest up as consumers
///   join. A consumer that dies loses its partitions a lease after its last renewal; the
///   others take them, and claim the entries it left pending once idle for `claim_idle`, as
///   in one stream. So the items of a key are handed out in order while the partitions'
///   holders stay the same; when a partition changes hands, entries the old holder had
///   fetched may be handed out after newer ones the new holder reads.
/// - Each partition is a [`RedisQueue`] with the builder's settings: caps, dead letters
///   (`{<stream>:<i>}:dead`), batched acks, retries and replicas apply per partition.
///
/// ```no_run
/// use pc_core::AckConsumer;
/// use pc_redis::RedisQueue;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = RedisQueue::<String>::builder("redis://10.0.0.1:6379/", "orders")
///     .cluster_nodes(["redis://10.0.0.2:6379/", "redis://10.0.0.3:6379/"])
///     .partitioned(8)
///     .build()?;
/// let producer = queue.producer().await?;
/// producer.send_keyed("customer-42", "order 1".to_string()).await?;
/// producer.send_keyed("customer-42", "order 2".to_string()).await?;
///
/// let consumer = queue.consumer("billing-1").await?;
/// let delivery = consumer.recv_delivery().await?;
/// delivery.ack().await?;
/// # Ok(())
/// # }
/// ```
pub struct PartitionedQueue<T, C = Json> {
    shared: Arc<QueueShared<T, C>>,
}

struct QueueShared<T, C> {
    stream: String,
    /// The sorted set of live consumers (score: when each one's membership runs out).
    members: String,
    lease: Duration,
    /// The queue as built, whose nodes and settings the partitions share.
    base: RedisQueue<T, C>,
    partitions: Vec<RedisQueue<T, C>>,
}

impl<T, C> Clone for PartitionedQueue<T, C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, C> fmt::Debug for PartitionedQueue<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedQueue")
            .field("stream", &self.shared.stream)
            .field("partitions", &self.shared.partitions.len())
            .field("lease", &self.shared.lease)
            .finish_non_exhaustive()
    }
}

impl<T, C> PartitionedQueue<T, C> {
    /// How many partitions.
    pub fn partitions(&self) -> usize {
        self.shared.partitions.len()
    }

    /// The partition that items sent with `key` go to: the same in every process, for as
    /// long as the number of partitions stays the same (FNV-1a of the key's bytes).
    pub fn partition_of(&self, key: &str) -> usize {
        partition_of(key, self.shared.partitions.len())
    }

    /// The stream of partition `index` (`{<stream>:<index>}`), for inspection with Redis'
    /// own commands.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`partitions`](Self::partitions).
    pub fn partition_stream(&self, index: usize) -> &str {
        &self.shared.partitions[index].settings.stream
    }
}

/// FNV-1a (64 bits) of `key`, modulo `partitions`: stable across processes, platforms and
/// releases, unlike the standard library's hashers.
fn partition_of(key: &str, partitions: usize) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % partitions as u64) as usize
}

impl<T, C> PartitionedQueue<T, C>
where
    T: Send + 'static,
    C: Codec<T> + Clone,
{
    /// Each partition's backlog now, in partition order (see [`RedisQueue::backlog`]).
    ///
    /// # Errors
    ///
    /// The first partition's error that could not be asked.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn backlog(&self) -> Result<Vec<crate::Backlog>, RedisError> {
        let mut backlog = Vec::with_capacity(self.shared.partitions.len());
        for partition in &self.shared.partitions {
            backlog.push(partition.backlog().await?);
        }
        Ok(backlog)
    }

    /// A producer with a connection to each partition's node. Needs a tokio runtime (each
    /// partition's outbox task starts here).
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] if a partition's node cannot be reached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a producer dropped half made leaves nothing behind.
    pub async fn producer(&self) -> Result<PartitionedProducer<T, C>, RedisError> {
        let mut producers = Vec::with_capacity(self.shared.partitions.len());
        for partition in &self.shared.partitions {
            producers.push(partition.producer().await?);
        }
        Ok(PartitionedProducer {
            producers,
            next: AtomicUsize::new(0),
        })
    }

    /// A consumer named `name` in the queue's group: it joins the group's members, takes its
    /// share of the partitions before this returns, and keeps balancing while it lives (see
    /// [`PartitionedQueue`]). Names must be unique among live consumers.
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] if a node cannot be reached; [`RedisError::Command`] if the
    /// server refuses joining.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe as far as the server goes: a consumer dropped half made holds the
    /// partitions it took until its lease runs out, then the others take them.
    pub async fn consumer(
        &self,
        name: impl Into<String>,
    ) -> Result<PartitionedConsumer<T, C>, RedisError> {
        let name = name.into();
        let members = Link::open(
            Target::serving(&self.shared.members, &self.shared.base.nodes),
            self.shared.base.settings.url.clone(),
            None,
            self.shared.base.settings.retry,
        )
        .await?;
        let mut holds = Vec::with_capacity(self.shared.partitions.len());
        for partition in &self.shared.partitions {
            holds.push(partition.link(None).await?);
        }
        let (tx, ready) =
            channel::bounded(self.shared.base.settings.batch).expect("a checked, non-zero batch");
        let mut balancer = Balancer {
            queue: Arc::clone(&self.shared),
            name: name.clone(),
            members,
            holds,
            scripts: Scripts::default(),
            live: 1,
            held: BTreeMap::new(),
            ready: tx,
            tasks: TaskGroup::new(tokio::runtime::Handle::current()),
            closing: CancellationToken::new(),
        };
        balancer.join().await?;
        balancer.balance().await?;
        let closing = balancer.closing.clone();
        let tasks = balancer.tasks.clone();
        let held = Arc::new(Mutex::new(balancer.held.keys().copied().collect()));
        tasks.spawn(balancer.run(closing.clone(), Arc::clone(&held)));
        Ok(PartitionedConsumer {
            name,
            ready,
            closing,
            held,
            tasks,
            _codec: PhantomData,
        })
    }
}

/// Sends to the partitions of a [`PartitionedQueue`]: round-robin, or by key.
pub struct PartitionedProducer<T, C = Json> {
    producers: Vec<RedisProducer<T, C>>,
    next: AtomicUsize,
}

impl<T, C> fmt::Debug for PartitionedProducer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedProducer")
            .field("partitions", &self.producers.len())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static, C: Codec<T>> PartitionedProducer<T, C> {
    /// The next partition in turn.
    fn round_robin(&self) -> &RedisProducer<T, C> {
        let next = self.next.fetch_add(1, Ordering::Relaxed);
        &self.producers[next % self.producers.len()]
    }

    fn keyed(&self, key: &str) -> &RedisProducer<T, C> {
        &self.producers[partition_of(key, self.producers.len())]
    }

    /// Adds `item` to the next partition in turn; as [`RedisProducer::send`].
    ///
    /// # Errors
    ///
    /// As [`RedisProducer::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`RedisProducer::send`].
    pub async fn send(&self, item: T) -> Result<(), RedisSendError<T>> {
        self.round_robin().send(item).await
    }

    /// Adds `item` to `key`'s partition ([`PartitionedQueue::partition_of`]): the items of a
    /// key sent one after another (each send awaited) are in that order in their partition.
    ///
    /// # Errors
    ///
    /// As [`RedisProducer::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`RedisProducer::send`].
    pub async fn send_keyed(&self, key: &str, item: T) -> Result<(), RedisSendError<T>> {
        self.keyed(key).send(item).await
    }

    /// Puts `item` in the outbox of `key`'s partition, sent in order with that partition's
    /// other outbox items (see [`Producer::try_send`]).
    ///
    /// # Errors
    ///
    /// `Full` when that outbox is full, `Closed` after `close`; each hands the item back.
    pub fn try_send_keyed(&self, key: &str, item: T) -> Result<(), ProduceError<T>> {
        Producer::try_send(self.keyed(key), item)
    }

    /// Sends every item, dealt to the partitions in turn, each partition's share in pipelines
    /// (see [`RedisProducer::send_all`]), the partitions at once; returns how many were sent.
    ///
    /// # Errors
    ///
    /// The first failed partition's error, with its first unsent item; the other partitions'
    /// shares are sent regardless, and counted in no result.
    ///
    /// # Cancel safety
    ///
    /// As [`RedisProducer::send_all`], for each partition.
    pub async fn send_all<I: IntoIterator<Item = T>>(
        &self,
        items: I,
    ) -> Result<usize, RedisSendError<T>> {
        let count = self.producers.len();
        // The turn is taken modulo first: the counter wraps, and may be anywhere.
        let mut slot = self.next.load(Ordering::Relaxed) % count;
        let mut shares: Vec<Vec<T>> = (0..count).map(|_| Vec::new()).collect();
        let mut dealt = 0;
        for item in items {
            shares[slot].push(item);
            slot = (slot + 1) % count;
            dealt += 1;
        }
        self.next.fetch_add(dealt, Ordering::Relaxed);
        let sends = self
            .producers
            .iter()
            .zip(shares)
            .filter(|(_, share)| !share.is_empty())
            .map(|(producer, share)| producer.send_all(share));
        let mut sent = 0;
        for result in futures_util::future::join_all(sends).await {
            sent += result?;
        }
        Ok(sent)
    }

    /// Outbox items dropped so far, over every partition (see [`RedisProducer::dropped`]).
    pub fn dropped(&self) -> u64 {
        self.producers.iter().map(RedisProducer::dropped).sum()
    }

    /// Waits until every partition's outbox is sent, after [`close`](Producer::close).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the outboxes go on; call it again to wait.
    pub async fn close_and_flush(&self) {
        for producer in &self.producers {
            producer.close_and_flush().await;
        }
    }
}

/// The pc-core producer: `send` and `try_send` go round-robin.
impl<T: Send + 'static, C: Codec<T>> Producer<T> for PartitionedProducer<T, C> {
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        PartitionedProducer::send(self, item)
            .await
            .map_err(ProduceError::from)
    }

    /// Into the next partition's outbox: `Full` when it is, `Closed` after `close`.
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        Producer::try_send(self.round_robin(), item)
    }

    /// To the next partition in turn; as [`RedisProducer`]'s.
    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        Producer::send_timeout(self.round_robin(), item, timeout).await
    }

    /// Stops new sends to every partition; the outboxes are still sent.
    fn close(&self) -> bool {
        // Every partition's producer is closed: no short circuit.
        let mut first = false;
        for producer in &self.producers {
            first |= Producer::close(producer);
        }
        first
    }

    fn is_closed(&self) -> bool {
        self.producers.iter().all(Producer::is_closed)
    }
}

/// The scripts of holding partitions.
struct Scripts {
    heartbeat: Script,
    hold: Script,
    release: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            heartbeat: Script::new(HEARTBEAT),
            hold: Script::new(HOLD),
            release: Script::new(RELEASE),
        }
    }
}

/// A partition this consumer holds.
struct Held<T, C> {
    consumer: Arc<RedisConsumer<T, C>>,
    /// When the hold was last taken or renewed.
    renewed: Instant,
}

/// The task that keeps a consumer's share of the partitions: its membership, its holds, and a
/// consumer on each partition held, whose deliveries it forwards to the ready channel.
struct Balancer<T, C> {
    queue: Arc<QueueShared<T, C>>,
    name: String,
    members: Link,
    /// A link to each partition's node, for its hold.
    holds: Vec<Link>,
    scripts: Scripts,
    /// Live members at the last heartbeat that counted them.
    live: usize,
    held: BTreeMap<usize, Held<T, C>>,
    ready: Sender<Result<Delivery<T>, ConsumeError>>,
    tasks: TaskGroup,
    /// Cancelled when the consumer closes, or a partition's consumer panicked.
    closing: CancellationToken,
}

impl<T, C> Balancer<T, C>
where
    T: Send + 'static,
    C: Codec<T> + Clone,
{
    /// Balances every third of the lease until the consumer closes, then gives everything
    /// up. `held` mirrors the partitions held, for the consumer to report.
    async fn run(mut self, closing: CancellationToken, held: Arc<Mutex<Vec<usize>>>) {
        let every = self.queue.lease / 3;
        loop {
            if tokio::time::timeout(every, closing.cancelled())
                .await
                .is_ok()
            {
                break;
            }
            if let Err(error) = self.balance().await {
                tracing::warn!(
                    consumer = %self.name,
                    stream = %self.queue.stream,
                    %error,
                    "balancing the partitions failed; trying again"
                );
            }
            *held.lock().unwrap_or_else(PoisonError::into_inner) =
                self.held.keys().copied().collect();
        }
        let partitions: Vec<usize> = self.held.keys().copied().collect();
        for index in partitions {
            self.give_up(index).await;
        }
        held.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let mut leave = redis::cmd("ZREM");
        leave.arg(&self.queue.members).arg(&self.name);
        let _: redis::RedisResult<i64> = leave.query_async(&mut self.members.get()).await;
    }

    /// Joins the members, riding out a failing server as the retry policy says.
    async fn join(&mut self) -> Result<(), RedisError> {
        let mut heartbeat = self.scripts.heartbeat.key(&self.queue.members);
        heartbeat.arg(&self.name).arg(self.lease_millis());
        let heartbeat = &heartbeat;
        let live: usize = self
            .members
            .run_retrying(
                |mut connection| async move { heartbeat.invoke_async(&mut connection).await },
            )
            .await?;
        self.live = live.max(1);
        Ok(())
    }

    /// One round: renews membership and holds, drops holds lost or lapsed, takes partitions
    /// nobody holds up to this consumer's share, and gives up any beyond it.
    async fn balance(&mut self) -> Result<(), RedisError> {
        let lease = self.lease_millis();
        let mut heartbeat = self.scripts.heartbeat.key(&self.queue.members);
        heartbeat.arg(&self.name).arg(lease);
        let heartbeat = &heartbeat;
        // Each call is tried twice at most (once more on a new connection): a node that fails
        // holds up this round's other partitions no longer than that, and the next round
        // tries again.
        match self
            .members
            .run_once_more(|mut connection| async move {
                heartbeat.invoke_async::<usize>(&mut connection).await
            })
            .await
        {
            Ok(live) => self.live = live.max(1),
            // Balanced by the last count meanwhile.
            Err(error) => tracing::warn!(
                consumer = %self.name,
                stream = %self.queue.stream,
                %error,
                "renewing the membership failed"
            ),
        }
        let count = self.queue.partitions.len();
        let share = count.div_ceil(self.live);

        let partitions: Vec<usize> = self.held.keys().copied().collect();
        for index in partitions {
            match self.hold(index).await {
                Ok(true) => {
                    if let Some(held) = self.held.get_mut(&index) {
                        held.renewed = Instant::now();
                    }
                }
                // Another holds it now: this consumer's hold lapsed and was taken.
                Ok(false) => self.stop(index),
                Err(error) => {
                    let lapsed = self
                        .held
                        .get(&index)
                        .is_some_and(|held| held.renewed.elapsed() >= self.queue.lease);
                    if lapsed {
                        self.stop(index);
                    }
                    tracing::warn!(
                        consumer = %self.name,
                        partition = index,
                        %error,
                        "renewing a partition's hold failed"
                    );
                }
            }
        }

        // Tried from a place of this consumer's own, so that consumers starting together
        // do not all reach for the same partitions first.
        let first = partition_of(&self.name, count);
        for index in (0..count).cycle().skip(first).take(count) {
            if self.held.len() >= share {
                break;
            }
            if self.held.contains_key(&index) {
                continue;
            }
            match self.hold(index).await {
                Ok(true) => {
                    if let Err(error) = self.start(index).await {
                        self.give_up(index).await;
                        return Err(error);
                    }
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(
                    consumer = %self.name,
                    partition = index,
                    %error,
                    "taking a partition failed"
                ),
            }
        }
        while self.held.len() > share {
            let Some((&index, _)) = self.held.iter().next_back() else {
                break;
            };
            self.give_up(index).await;
        }
        Ok(())
    }

    /// Takes or renews partition `index`'s hold; `false` when another consumer holds it.
    async fn hold(&self, index: usize) -> Result<bool, RedisError> {
        let mut invocation = self.scripts.hold.key(self.hold_key(index));
        invocation.arg(&self.name).arg(self.lease_millis());
        let invocation = &invocation;
        let held: i64 = self.holds[index]
            .run_once_more(|mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(held == 1)
    }

    fn hold_key(&self, index: usize) -> String {
        format!("{}:holder", self.queue.partitions[index].settings.stream)
    }

    fn lease_millis(&self) -> u64 {
        self.queue.lease.as_millis().try_into().unwrap_or(u64::MAX)
    }

    /// Starts consuming partition `index`, now held: its deliveries go to the ready channel
    /// until its consumer is closed and drained.
    async fn start(&mut self, index: usize) -> Result<(), RedisError> {
        let consumer = Arc::new(self.queue.partitions[index].consumer(&self.name).await?);
        let forwarded = Arc::clone(&consumer);
        let ready = self.ready.clone();
        let (closing, tasks) = (self.closing.clone(), self.tasks.clone());
        self.tasks.spawn(async move {
            loop {
                // A panic raised by the partition's consumer (its reader's: a probe's, say)
                // ends the whole consumer, to be re-raised to a receive: a partition held and
                // no longer read would stall unseen.
                let received = match AssertUnwindSafe(forwarded.recv_delivery())
                    .catch_unwind()
                    .await
                {
                    Ok(received) => received,
                    Err(panic) => {
                        tasks.keep_panic(panic);
                        closing.cancel();
                        break;
                    }
                };
                let done = forwarded.is_closed() && received.is_err();
                if done {
                    break;
                }
                // The consumer is gone: a delivery dropped here stays pending, for a reclaim.
                if ready.send(received).await.is_err() {
                    break;
                }
            }
        });
        self.held.insert(
            index,
            Held {
                consumer,
                renewed: Instant::now(),
            },
        );
        Ok(())
    }

    /// Stops consuming partition `index`: what its consumer fetched is still handed out.
    fn stop(&mut self, index: usize) {
        if let Some(held) = self.held.remove(&index) {
            held.consumer.close();
        }
    }

    /// Stops consuming partition `index` and lets another consumer take it at once.
    async fn give_up(&mut self, index: usize) {
        self.stop(index);
        let mut release = self.scripts.release.key(self.hold_key(index));
        release.arg(&self.name);
        let _: redis::RedisResult<i64> = release.invoke_async(&mut self.holds[index].get()).await;
    }
}

/// A member of a [`PartitionedQueue`]'s group: receives from the partitions it holds, which
/// change as consumers come and go. Implements [`AckConsumer`] (and [`Consumer`], acking each
/// item as it is received), as a [`RedisConsumer`] does.
pub struct PartitionedConsumer<T, C = Json> {
    name: String,
    ready: Receiver<Result<Delivery<T>, ConsumeError>>,
    closing: CancellationToken,
    held: Arc<Mutex<Vec<usize>>>,
    tasks: TaskGroup,
    _codec: PhantomData<fn() -> C>,
}

impl<T, C> PartitionedConsumer<T, C> {
    /// This consumer's name in the group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The partitions this consumer holds, as of its last balancing round.
    pub fn partitions(&self) -> Vec<usize> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Gives every partition up (others take them at once) and leaves the group: receives end
    /// once what was fetched is handed out. Entries this consumer received and did not
    /// settle stay pending, for the partitions' next holders to reclaim.
    pub fn close(&self) {
        self.closing.cancel();
    }

    async fn next(&self) -> Result<Delivery<T>, ConsumeError> {
        match self.ready.recv().await {
            Ok(received) => received,
            Err(_) => {
                self.tasks.wait().await;
                self.tasks.raise_panic();
                Err(ConsumeError::closed())
            }
        }
    }
}

impl<T, C> Drop for PartitionedConsumer<T, C> {
    fn drop(&mut self) {
        self.closing.cancel();
    }
}

impl<T, C> fmt::Debug for PartitionedConsumer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedConsumer")
            .field("name", &self.name)
            .field("partitions", &self.partitions())
            .finish_non_exhaustive()
    }
}

/// Deliveries from the partitions held, as each partition's [`RedisConsumer`] makes them.
impl<T: Send + 'static, C: Codec<T>> AckConsumer<T> for PartitionedConsumer<T, C> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        self.next().await
    }
}

/// As a plain `Consumer`, each item is acked as it is received (see [`RedisConsumer`]).
impl<T: Send + 'static, C: Codec<T>> Consumer<T> for PartitionedConsumer<T, C> {
    async fn recv(&self) -> Result<T, ConsumeError> {
        Ok(acked_on_receipt(self.next().await?).await)
    }

    /// A delivery already forwarded, if one is; its item is acked in the background.
    fn try_recv(&self) -> Result<T, ConsumeError> {
        let received = self.ready.try_recv()?;
        let (item, ack) = received?.into_parts();
        // On the consumer's runtime, so that this works from any thread.
        self.tasks.spawn(async move {
            let _ = ack.ack().await;
        });
        Ok(item)
    }

    /// Deliveries forwarded and not handed out yet.
    fn len(&self) -> usize {
        self.ready.len()
    }

    fn capacity(&self) -> Option<usize> {
        None
    }

    fn is_closed(&self) -> bool {
        self.ready.is_closed()
    }

    /// A stream that watches the forwarded deliveries rather than waiting in line for one:
    /// kept and never polled again, it holds back no other receive. Each item is acked as it
    /// is received, as by [`recv`](Consumer::recv); a failed read is no item, and not the end.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        let items = Consumer::stream(&self.ready)
            .filter_map(|received| async move { Some(acked_on_receipt(received.ok()?).await) });
        // At the end, the consumer's tasks are waited for, and a panic of theirs re-raised.
        let end = futures_util::stream::once(async move {
            self.tasks.wait().await;
            self.tasks.raise_panic();
            None
        })
        .filter_map(std::future::ready);
        items.chain(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_the_partitions_and_stay_put() {
        // FNV-1a's published values: the routing never changes between releases.
        assert_eq!(
            partition_of("", usize::MAX),
            0xcbf2_9ce4_8422_2325 % usize::MAX
        );
        assert_eq!(
            partition_of("a", usize::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % usize::MAX as u64) as usize
        );
        let mut counts = [0_u32; 8];
        for key in 0..8_000 {
            counts[partition_of(&format!("customer-{key}"), 8)] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1200).contains(&n)),
            "{counts:?}"
        );
        assert_eq!(partition_of("anything", 1), 0);
    }

    #[test]
    fn partition_streams_carry_their_own_hash_tag() {
        assert_eq!(partition_stream("orders", 3), "{orders:3}");
        assert_eq!(
            crate::settings::dead_letter_for(&partition_stream("orders", 3)),
            "{orders:3}:dead"
        );
    }
}
