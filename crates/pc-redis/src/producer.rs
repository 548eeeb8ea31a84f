//! `RedisProducer`: `XADD` behind a cap checked in the same script, and an outbox for the
//! sends that must not wait.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pc_core::task::TaskGroup;
use pc_core::{DropReason, ProduceError, ProduceErrorKind, Producer, channel};
use redis::Script;

use crate::codec::{Codec, encode_caught};
use crate::error::{RedisError, RedisSendError};
use crate::link::Link;
use crate::retry::Retrying;
use crate::settings::{Settings, WhenFull};

/// Adds one entry unless the stream is at its cap; with `oldest`, adds and trims to the cap.
/// Returns -1 when full (nothing added), else the number of entries trimmed.
const ADD: &str = r"
local cap = tonumber(ARGV[1])
local oldest = ARGV[2] == 'oldest'
if cap > 0 and not oldest and redis.call('XLEN', KEYS[1]) >= cap then
    return -1
end
redis.call('XADD', KEYS[1], '*', 'id', ARGV[3], 'payload', ARGV[4])
if cap > 0 and oldest then
    return redis.call('XTRIM', KEYS[1], 'MAXLEN', cap)
end
return 0
";

/// Sends items to a [`RedisQueue`](crate::RedisQueue)'s stream. Cheap to clone: clones share
/// one multiplexed connection and one outbox.
///
/// [`send`](Self::send) waits for the server's reply. As a [`Producer`], `try_send` cannot:
/// it puts the item in a bounded outbox (see
/// [`RedisQueueBuilder::outbox`](crate::RedisQueueBuilder::outbox)) that a task of the
/// producer sends in order, retrying through outages; `Ok` then means accepted by this process.
/// [`close_and_flush`](Self::close_and_flush) waits until the outbox is sent.
///
/// Each entry carries a message id unique to this producer (`<producer>-<n>`), so that a
/// consumer can recognise an entry added twice by a send retried after a connection error.
pub struct RedisProducer<T, C> {
    core: Arc<Core<C>>,
    outbox: Arc<Outbox<T>>,
}

/// What sends need: settings, connection, script, identity, counts.
struct Core<C> {
    settings: Arc<Settings<C>>,
    link: Link,
    script: Script,
    name: String,
    next: AtomicU64,
    /// Items dropped on purpose (`DropIncoming`, the outbox's rejected items) and entries
    /// trimmed (`DropOldest`).
    dropped: AtomicU64,
}

/// The sends of `try_send`, and the task that makes them.
struct Outbox<T> {
    tx: channel::Sender<T>,
    /// The task that sends what the outbox holds.
    tasks: TaskGroup,
    closed: AtomicBool,
}

impl<T, C> Clone for RedisProducer<T, C> {
    fn clone(&self) -> Self {
        Self {
            core: Arc::clone(&self.core),
            outbox: Arc::clone(&self.outbox),
        }
    }
}

/// An item encoded for the stream, with its message id.
struct Encoded {
    id: String,
    payload: Vec<u8>,
}

/// What one attempt to add did.
enum Added {
    Yes,
    Full,
}

impl<T: Send + 'static, C: Codec<T>> RedisProducer<T, C> {
    /// Needs a tokio runtime: the outbox's task starts here.
    pub(crate) fn new(settings: Arc<Settings<C>>, link: Link) -> Self {
        let capacity = settings.outbox;
        let core = Arc::new(Core {
            settings,
            link,
            script: Script::new(ADD),
            name: unique_name(),
            next: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let (tx, rx) = channel::bounded(capacity).expect("a checked, non-zero outbox");
        let tasks = TaskGroup::new(tokio::runtime::Handle::current());
        tasks.spawn(drain(Arc::clone(&core), rx, PhantomData::<fn(T)>));
        Self {
            core,
            outbox: Arc::new(Outbox {
                tx,
                tasks,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Adds `item` to the stream, as the queue's [`WhenFull`] says when it is at its cap, and
    /// waits for the server's reply.
    ///
    /// # Errors
    ///
    /// [`RedisSendError::Full`] under [`WhenFull::Reject`] at the cap; `Server` if the server
    /// refused it, or failed past the queue's [`RetryPolicy`](crate::RetryPolicy) (the item
    /// may have been added: consumers see the same
    /// message id twice); `Codec` if the item cannot be encoded; `Closed` after
    /// [`close`](Producer::close). Each hands the item back.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the item; the entry may already have been added (its message id
    /// tells a duplicate if the item is sent again).
    pub async fn send(&self, item: T) -> Result<(), RedisSendError<T>> {
        if self.outbox.closed.load(Ordering::Acquire) {
            return Err(RedisSendError::Closed(item));
        }
        self.core.send(item).await
    }

    /// Sends every item (see [`send`](Self::send)); returns how many were sent. Without a cap
    /// the entries go in pipelines of up to [`batch`](crate::RedisQueueBuilder::batch)
    /// `XADD`s, one round trip each; with a cap, one at a time through the checking script.
    ///
    /// # Errors
    ///
    /// The first failed send's error, with its item; the items after it are not sent. When a
    /// pipeline fails, its items may or may not have been added: the error hands back the first
    /// of them, and the others of that pipeline are dropped with it, as a failed `send` would
    /// have left them (their message ids tell duplicates if the caller sends them again).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the items not yet sent; those of a pipeline in flight may or may
    /// not have been added.
    pub async fn send_all<I: IntoIterator<Item = T>>(
        &self,
        items: I,
    ) -> Result<usize, RedisSendError<T>> {
        if self.outbox.closed.load(Ordering::Acquire) {
            let mut items = items.into_iter();
            return match items.next() {
                Some(item) => Err(RedisSendError::Closed(item)),
                None => Ok(0),
            };
        }
        if self.core.settings.max_len.is_some() {
            let mut sent = 0;
            for item in items {
                self.core.send(item).await?;
                sent += 1;
            }
            return Ok(sent);
        }
        let mut sent = 0;
        // Reserved up to a bound: a batch setting can be far larger than what is sent.
        let mut chunk = Vec::with_capacity(self.core.settings.batch.min(1024));
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            chunk.clear();
            chunk.extend(items.by_ref().take(self.core.settings.batch));
            sent += self.core.add_pipelined(&mut chunk).await?;
        }
        Ok(sent)
    }

    /// Entries in the stream now, delivered or not (until deleted).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if the server failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn stream_len(&self) -> Result<usize, RedisError> {
        let mut connection = self.core.link.get();
        Ok(redis::cmd("XLEN")
            .arg(&self.core.settings.stream)
            .query_async(&mut connection)
            .await?)
    }

    /// Items `try_send` accepted that wait in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.outbox.tx.len()
    }

    /// Items dropped on purpose so far: incoming items under [`WhenFull::DropIncoming`],
    /// entries trimmed under [`WhenFull::DropOldest`], and outbox items the stream rejected,
    /// the codec could not encode, or the server failed past the queue's
    /// [`RetryPolicy`](crate::RetryPolicy).
    pub fn dropped(&self) -> u64 {
        self.core.dropped.load(Ordering::Relaxed)
    }

    /// Closes the producer (later sends fail, handing their item back) and waits until what
    /// the outbox holds is sent and its task has ended.
    ///
    /// # Panics
    ///
    /// With the panic of the outbox's task, if one escaped it (the codec's are items' errors).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and callable again and from many tasks at once: each call returns only
    /// once the outbox's task has ended.
    pub async fn close_and_flush(&self) {
        self.outbox.closed.store(true, Ordering::Release);
        self.outbox.tx.close();
        self.outbox.tasks.wait().await;
        self.outbox.tasks.raise_panic();
    }
}

impl<C> Core<C> {
    async fn send<T>(&self, item: T) -> Result<(), RedisSendError<T>>
    where
        C: Codec<T>,
    {
        let payload = match encode_caught(&self.settings.codec, &item) {
            Ok(payload) => payload,
            Err(error) => return Err(RedisSendError::Codec(item, error)),
        };
        match self.send_payload(&payload).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(RedisSendError::Full(item)),
            Err(error) => Err(RedisSendError::Server(item, error)),
        }
    }

    /// Adds `payload` as the policy says; `Ok(false)` when rejected at the cap.
    async fn send_payload(&self, payload: &[u8]) -> Result<bool, RedisError> {
        let mut backoff = match self.settings.when_full {
            WhenFull::Block { backoff, .. } => backoff,
            _ => Duration::ZERO,
        };
        loop {
            match self.add(payload).await? {
                Added::Yes => return Ok(true),
                Added::Full => match self.settings.when_full {
                    WhenFull::Block { max_backoff, .. } => {
                        tokio::time::sleep(backoff).await;
                        backoff = backoff.saturating_mul(2).min(max_backoff);
                    }
                    WhenFull::Reject => return Ok(false),
                    // Dropped on purpose: counted, and the item goes with it.
                    WhenFull::DropIncoming | WhenFull::DropOldest => {
                        self.drop_counted(1, DropReason::Full);
                        return Ok(true);
                    }
                },
            }
        }
    }

    /// Adds `items` in one pipeline of `XADD`s (no cap to check); on failure, hands back the
    /// first item.
    async fn add_pipelined<T>(&self, items: &mut Vec<T>) -> Result<usize, RedisSendError<T>>
    where
        C: Codec<T>,
    {
        let mut entries = Vec::with_capacity(items.len());
        for item in items.iter() {
            match self.encode(item) {
                Ok(entry) => entries.push(entry),
                Err(error) => {
                    let first = items.drain(..).next().expect("a non-empty chunk");
                    return Err(RedisSendError::Codec(first, error));
                }
            }
        }
        if let Err(error) = self.add_encoded(&entries).await {
            let first = items.drain(..).next().expect("a non-empty chunk");
            return Err(RedisSendError::Server(first, error));
        }
        Ok(items.len())
    }

    /// An item as an entry to add: a message id of its own (kept across retries, so that a
    /// duplicate is recognised) and its payload.
    fn encode<T>(&self, item: &T) -> Result<Encoded, crate::CodecError>
    where
        C: Codec<T>,
    {
        let payload = encode_caught(&self.settings.codec, item)?;
        Ok(Encoded {
            id: self.message_id(),
            payload,
        })
    }

    /// Adds `entries` in one pipeline of `XADD`s (no cap to check), retrying as the policy
    /// says; on failure they may or may not have been added, and are all still here.
    async fn add_encoded(&self, entries: &[Encoded]) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        for entry in entries {
            pipe.cmd("XADD")
                .arg(&self.settings.stream)
                .arg("*")
                .arg("id")
                .arg(&entry.id)
                .arg("payload")
                .arg(&entry.payload)
                .ignore();
        }
        if let Some((replicas, timeout)) = self.settings.replicas {
            pipe.cmd("WAIT")
                .arg(replicas)
                .arg(timeout.as_millis() as u64);
        }
        let pipe = &pipe;
        let confirmed: Vec<u32> = self
            .link
            .run_retrying(|mut connection| async move { pipe.query_async(&mut connection).await })
            .await?;
        if let Some((replicas, _)) = self.settings.replicas {
            replicated(confirmed.first().copied().unwrap_or(0), replicas)?;
        }
        if let Some(probe) = &self.settings.probe {
            probe.produced(entries.len() as u64);
        }
        Ok(())
    }

    /// Waits for the queue's replicas to hold what this connection wrote, if it has any.
    async fn confirm_replicas(&self) -> Result<(), RedisError> {
        let Some((replicas, timeout)) = self.settings.replicas else {
            return Ok(());
        };
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout.as_millis() as u64);
        let wait = &wait;
        let confirmed: u32 = self
            .link
            .run_retrying(|mut connection| async move { wait.query_async(&mut connection).await })
            .await?;
        replicated(confirmed, replicas)
    }

    /// `n` items of the outbox the retry policy gave up on: dropped, counted and logged.
    fn gave_up(&self, n: u64, error: &RedisError) {
        tracing::error!(
            stream = %self.settings.stream,
            %error,
            items = n,
            "outbox items could not be sent within the retry policy; dropped"
        );
        self.drop_counted(n, DropReason::Skipped);
    }

    fn drop_counted(&self, n: u64, reason: DropReason) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        if let Some(probe) = &self.settings.probe {
            probe.dropped(n, reason);
        }
    }

    /// The next message id: this producer's name and a count.
    fn message_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.name)
    }

    async fn add(&self, payload: &[u8]) -> Result<Added, RedisError> {
        let id = self.message_id();
        let (cap, mode) = match (self.settings.max_len, self.settings.when_full) {
            (Some(cap), WhenFull::DropOldest) => (cap, "oldest"),
            (Some(cap), _) => (cap, "cap"),
            (None, _) => (0, "none"),
        };
        let mut invocation = self.script.key(&self.settings.stream);
        invocation.arg(cap).arg(mode).arg(id).arg(payload);
        // A try whose reply was lost may have added the entry: the same message id then
        // comes twice.
        let invocation = &invocation;
        let outcome: i64 = self
            .link
            .run_retrying(
                |mut connection| async move { invocation.invoke_async(&mut connection).await },
            )
            .await?;
        if outcome < 0 {
            return Ok(Added::Full);
        }
        self.confirm_replicas().await?;
        if let Some(probe) = &self.settings.probe {
            probe.produced(1);
        }
        if outcome > 0 {
            self.drop_counted(outcome.unsigned_abs(), DropReason::Oldest);
        }
        Ok(Added::Yes)
    }
}

/// An error unless `confirmed` replicas reach the `wanted` ones.
fn replicated(confirmed: u32, wanted: u32) -> Result<(), RedisError> {
    if confirmed >= wanted {
        return Ok(());
    }
    Err(RedisError::Command(redis::RedisError::from((
        redis::ErrorKind::Client,
        "the replicas did not confirm the write in time",
        format!("{confirmed} of {wanted}"),
    ))))
}

/// Sends what `try_send` put in the outbox, in order, until the outbox is closed and empty:
/// what waits goes in pipelines of up to `batch` entries, or one at a time through the
/// checking script when the stream has a cap. Through an outage it keeps trying as the retry
/// policy says, so the outbox fills and `try_send` reports `Full`; what the policy gives up on
/// is dropped, counted and logged.
async fn drain<T, C: Codec<T>>(
    core: Arc<Core<C>>,
    rx: channel::Receiver<T>,
    _: PhantomData<fn(T)>,
) {
    let capped = core.settings.max_len.is_some();
    let max = if capped { 1 } else { core.settings.batch };
    let mut items = Vec::new();
    while rx.recv_batch(&mut items, max, Duration::ZERO).await > 0 {
        if capped {
            for item in items.drain(..) {
                drain_one(&core, item).await;
            }
        } else {
            drain_pipelined(&core, &mut items).await;
        }
    }
}

/// Sends one item of the outbox through the checking script.
async fn drain_one<T, C: Codec<T>>(core: &Core<C>, mut item: T) {
    let mut retrying = Retrying::new(core.settings.retry);
    loop {
        match core.send(item).await {
            Ok(()) => return,
            Err(RedisSendError::Server(back, error)) => match retrying.failed() {
                Some(pause) => {
                    item = back;
                    tokio::time::sleep(pause).await;
                }
                None => return core.gave_up(1, &error),
            },
            // Nobody to hand it back to: counted as dropped.
            Err(RedisSendError::Full(_)) => return core.drop_counted(1, DropReason::Full),
            Err(RedisSendError::Codec(..) | RedisSendError::Closed(_)) => {
                return core.drop_counted(1, DropReason::Closed);
            }
        }
    }
}

/// Sends `items` of the outbox in one pipeline (no cap to check), tried again as a whole with
/// the same message ids.
async fn drain_pipelined<T, C: Codec<T>>(core: &Core<C>, items: &mut Vec<T>) {
    let mut entries = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        match core.encode(&item) {
            Ok(entry) => entries.push(entry),
            Err(_) => core.drop_counted(1, DropReason::Closed),
        }
    }
    if entries.is_empty() {
        return;
    }
    let mut retrying = Retrying::new(core.settings.retry);
    while let Err(error) = core.add_encoded(&entries).await {
        match retrying.failed() {
            Some(pause) => tokio::time::sleep(pause).await,
            None => return core.gave_up(entries.len() as u64, &error),
        }
    }
}

/// The pc-core producer: `send` waits for the server; `try_send` goes through the outbox.
///
/// Errors come as a [`ProduceError`] whose kind says which it was: `Closed` after `close`,
/// `Rejected` at the stream's cap under `WhenFull::Reject`, `Failed` when the server or the
/// codec failed (the cause is its [`source`](std::error::Error::source)).
impl<T: Send + 'static, C: Codec<T>> Producer<T> for RedisProducer<T, C> {
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        RedisProducer::send(self, item)
            .await
            .map_err(ProduceError::from)
    }

    /// Into the outbox: `Full` when it is, `Closed` after `close`.
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        if self.outbox.closed.load(Ordering::Acquire) {
            return Err(ProduceError::closed(item));
        }
        self.outbox.tx.try_send(item).map_err(ProduceError::from)
    }

    /// Gives up waiting after `timeout`, handing the item back; the entry may still have been
    /// added (its message id tells a duplicate).
    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        if self.outbox.closed.load(Ordering::Acquire) {
            return Err(ProduceError::closed(item));
        }
        let payload = match encode_caught(&self.core.settings.codec, &item) {
            Ok(payload) => payload,
            Err(error) => return Err(ProduceError::failed(item, error)),
        };
        match tokio::time::timeout(timeout, self.core.send_payload(&payload)).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(ProduceError::new(item, ProduceErrorKind::Rejected)),
            Ok(Err(error)) => Err(ProduceError::failed(item, error)),
            Err(_) => Err(ProduceError::new(item, ProduceErrorKind::TimedOut)),
        }
    }

    /// Stops new sends; the outbox is still sent (see
    /// [`close_and_flush`](RedisProducer::close_and_flush) to wait for it).
    fn close(&self) -> bool {
        let first = !self.outbox.closed.swap(true, Ordering::AcqRel);
        self.outbox.tx.close();
        first
    }

    fn is_closed(&self) -> bool {
        self.outbox.closed.load(Ordering::Acquire)
    }
}

impl<T, C> fmt::Debug for RedisProducer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProducer")
            .field("stream", &self.core.settings.stream)
            .field("producer", &self.core.name)
            .finish_non_exhaustive()
    }
}

/// A name no other producer has: the process, a per-process count and the time, hashed.
fn unique_name() -> String {
    use std::hash::{BuildHasher, Hash, Hasher};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    COUNT.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
