//! `RedisConsumer`: reads of a consumer group, replay of its own pending entries, reclaim of
//! entries left by dead consumers, dead letters, and the acks that settle deliveries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pc_core::{
    AckConsumer, AckError, AckFuture, Acker, Consumer, Delivery, RecvError, TryRecvError,
};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{RedisResult, Value};
use tokio::time::Instant;

use crate::codec::{Codec, decode_caught};
use crate::link::Link;
use crate::settings::Settings;

/// Takes entries from a [`RedisQueue`](crate::RedisQueue)'s stream as a member of its consumer
/// group. Each [`Delivery`] stays pending under this consumer's name until acked; a nack, a
/// crash or a drop without settling leaves it to be delivered again.
///
/// What it reads, in order: entries nacked here; its own pending entries (on start, and after a
/// read was cancelled mid-way); entries idle longer than the claim time under any consumer
/// (every half claim time); new entries, waiting at most the block time. An entry delivered more
/// than `max_deliveries` times, or whose payload does not decode, goes to the dead-letter stream
/// with its reason and is acked, in one transaction.
pub struct RedisConsumer<T, C> {
    shared: Arc<Shared<C>>,
    /// Serializes receives: one read at a time per consumer.
    reading: tokio::sync::Mutex<Reader>,
    _items: PhantomData<fn() -> T>,
}

struct Shared<C> {
    settings: Arc<Settings<C>>,
    name: String,
    commands: Link,
    /// Ids nacked and waiting to be claimed back here.
    nacked: Mutex<VecDeque<String>>,
    /// Ids of items taken by `try_recv`, acked at the next read.
    owed_acks: Mutex<Vec<String>>,
    /// Ids handed out as deliveries and not settled yet.
    outstanding: Mutex<HashSet<String>>,
    closed: AtomicBool,
}

/// What only the receiving side touches.
struct Reader {
    reads: Link,
    buffer: VecDeque<Entry>,
    /// Our own pending entries must be looked for: on start, and after a fetch that may have
    /// taken entries without buffering them.
    replay: bool,
    /// A fetch was under way when its future was dropped (or failed): what it took may be
    /// pending under our name without being in the buffer.
    read_in_flight: bool,
    next_claim: Instant,
}

/// One entry fetched, with its delivery count.
struct Entry {
    id: String,
    /// The producer's message id: the same for an entry added twice by a retried send.
    key: Option<String>,
    payload: Option<Vec<u8>>,
    count: u32,
}

impl<T: Send + 'static, C: Codec<T>> RedisConsumer<T, C> {
    pub(crate) fn new(
        settings: Arc<Settings<C>>,
        name: String,
        reads: Link,
        commands: Link,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                name,
                commands,
                nacked: Mutex::new(VecDeque::new()),
                owed_acks: Mutex::new(Vec::new()),
                outstanding: Mutex::new(HashSet::new()),
                closed: AtomicBool::new(false),
            }),
            reading: tokio::sync::Mutex::new(Reader {
                reads,
                buffer: VecDeque::new(),
                replay: true,
                read_in_flight: false,
                next_claim: Instant::now(),
            }),
            _items: PhantomData,
        }
    }

    /// This consumer's name in the group.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Stops taking entries: receives end with `RecvError` once what was fetched is handed
    /// out. Entries pending under this consumer's name stay pending, for it to replay if it
    /// comes back under the same name, or for another consumer to reclaim.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
    }

    async fn next(&self) -> Result<Delivery<T>, RecvError> {
        let mut reader = self.reading.lock().await;
        loop {
            if let Some(entry) = reader.buffer.pop_front() {
                // A dead letter awaits the server: cancelled then, the entry is replayed.
                reader.read_in_flight = true;
                let delivered = self.deliver(entry).await;
                reader.read_in_flight = false;
                match delivered {
                    Some(delivery) => return Ok(delivery),
                    None => continue,
                }
            }
            if self.shared.closed.load(Ordering::Acquire) {
                // Best effort: what is not acked now is delivered again later.
                let _ = self.flush_owed_acks().await;
                return Err(RecvError);
            }
            // A consumer waits through an outage: it connects anew and replays what is pending
            // under its name, since a reply lost with the connection may have delivered entries.
            if let Err(error) = self.fill(&mut reader).await {
                if crate::link::is_connection_error(&error) {
                    let reads = reader.reads.recover(&error).await;
                    let commands = self.shared.commands.recover(&error).await;
                    if reads && commands {
                        reader.replay = true;
                        continue;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Fetches the next entries into the buffer; may fetch none.
    ///
    /// From the first command to the last entry buffered, entries may be pending under our
    /// name without being in the buffer: if this is cancelled (or fails) in between, the next
    /// call replays our pending entries from the start.
    async fn fill(&self, reader: &mut Reader) -> RedisResult<()> {
        if reader.read_in_flight {
            reader.replay = true;
        }
        reader.read_in_flight = true;
        self.fetch(reader).await?;
        reader.read_in_flight = false;
        Ok(())
    }

    async fn fetch(&self, reader: &mut Reader) -> RedisResult<()> {
        let settings = &self.shared.settings;
        self.flush_owed_acks().await?;
        let nacked: Vec<String> = lock(&self.shared.nacked).drain(..).collect();
        if !nacked.is_empty() {
            let mut claim = redis::cmd("XCLAIM");
            claim
                .arg(&settings.stream)
                .arg(&settings.group)
                .arg(&self.shared.name)
                .arg(0)
                .arg(&nacked);
            let mut connection = self.shared.commands.get();
            let claimed: redis::streams::StreamClaimReply =
                claim.query_async(&mut connection).await?;
            let claimed = claimed.ids;
            return self.buffer_counted(reader, claimed).await;
        }
        if reader.replay {
            self.replay(reader).await?;
            reader.replay = false;
            return Ok(());
        }
        let now = Instant::now();
        if now >= reader.next_claim {
            reader.next_claim = pc_core::time::deadline_or_far(settings.claim_idle / 2);
            let claimed = self.autoclaim().await?;
            if !claimed.is_empty() {
                return self.buffer_counted(reader, claimed).await;
            }
        }
        let wait = settings
            .block
            .min(reader.next_claim.saturating_duration_since(now))
            .max(Duration::from_millis(1));
        for entry in self.read_new(reader, wait).await? {
            reader.buffer.push_back(entry_of(entry, 1));
        }
        Ok(())
    }

    /// Acks the items `try_recv` handed out.
    async fn flush_owed_acks(&self) -> RedisResult<()> {
        let owed: Vec<String> = std::mem::take(&mut *lock(&self.shared.owed_acks));
        if owed.is_empty() {
            return Ok(());
        }
        let settings = &self.shared.settings;
        let mut connection = self.shared.commands.get();
        let acked: RedisResult<()> = redis::cmd("XACK")
            .arg(&settings.stream)
            .arg(&settings.group)
            .arg(&owed)
            .query_async(&mut connection)
            .await;
        if acked.is_err() {
            // Kept for the next read.
            lock(&self.shared.owed_acks).extend(owed);
        }
        acked
    }

    /// Buffers the entries pending under our name that are neither buffered nor handed out
    /// (`XPENDING`, then `XRANGE` for each): what a crash or a cancelled fetch left behind.
    /// Unlike `XREADGROUP` from `0`, this does not count as a delivery, so replays never push
    /// an entry towards the dead letters.
    async fn replay(&self, reader: &mut Reader) -> RedisResult<()> {
        let settings = &self.shared.settings;
        let mut start = "-".to_owned();
        loop {
            let mut connection = self.shared.commands.get();
            let page: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&settings.stream)
                .arg(&settings.group)
                .arg(&start)
                .arg("+")
                .arg(settings.batch)
                .arg(&self.shared.name)
                .query_async(&mut connection)
                .await?;
            let Some(last) = page.ids.last() else {
                return Ok(());
            };
            start = format!("({}", last.id);
            let full = page.ids.len() >= settings.batch;
            let known: HashSet<String> = {
                let outstanding = lock(&self.shared.outstanding);
                let owed = lock(&self.shared.owed_acks);
                reader
                    .buffer
                    .iter()
                    .map(|entry| entry.id.clone())
                    .chain(outstanding.iter().cloned())
                    .chain(owed.iter().cloned())
                    .collect()
            };
            let lost: Vec<(String, u32)> = page
                .ids
                .into_iter()
                .filter(|pending| !known.contains(&pending.id))
                .map(|p| (p.id, u32::try_from(p.times_delivered).unwrap_or(u32::MAX)))
                .collect();
            if !lost.is_empty() {
                let mut pipe = redis::pipe();
                for (id, _) in &lost {
                    pipe.cmd("XRANGE").arg(&settings.stream).arg(id).arg(id);
                }
                let ranges: Vec<redis::streams::StreamRangeReply> =
                    pipe.query_async(&mut connection).await?;
                for ((id, count), range) in lost.into_iter().zip(ranges) {
                    // A pending entry deleted from the stream has no payload: a dead letter.
                    let entry = range.ids.into_iter().next().unwrap_or(StreamId {
                        id,
                        ..StreamId::default()
                    });
                    reader.buffer.push_back(entry_of(entry, count));
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// New entries (`XREADGROUP >`), waiting at most `block` for some.
    async fn read_new(&self, reader: &mut Reader, block: Duration) -> RedisResult<Vec<StreamId>> {
        let settings = &self.shared.settings;
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&settings.group)
            .arg(&self.shared.name)
            .arg("COUNT")
            .arg(settings.batch)
            .arg("BLOCK")
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&settings.stream)
            .arg(">")
            .query_async(&mut reader.reads.get())
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .collect())
    }

    /// Takes over entries idle longer than the claim time, from any consumer.
    async fn autoclaim(&self) -> RedisResult<Vec<StreamId>> {
        let settings = &self.shared.settings;
        let mut connection = self.shared.commands.get();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&settings.stream)
            .arg(&settings.group)
            .arg(&self.shared.name)
            .arg(settings.claim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(settings.batch)
            .query_async(&mut connection)
            .await?;
        Ok(reply.claimed)
    }

    /// Buffers entries delivered before (replayed, claimed), with their delivery counts.
    async fn buffer_counted(&self, reader: &mut Reader, entries: Vec<StreamId>) -> RedisResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let counts = self.delivery_counts(&entries).await?;
        for entry in entries {
            let count = counts.get(&entry.id).copied().unwrap_or(1);
            reader.buffer.push_back(entry_of(entry, count));
        }
        Ok(())
    }

    async fn delivery_counts(&self, entries: &[StreamId]) -> RedisResult<HashMap<String, u32>> {
        let settings = &self.shared.settings;
        let (first, last) = (&entries[0].id, &entries[entries.len() - 1].id);
        let mut connection = self.shared.commands.get();
        let reply: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&settings.stream)
            .arg(&settings.group)
            .arg(first)
            .arg(last)
            .arg(entries.len().max(settings.batch))
            .arg(&self.shared.name)
            .query_async(&mut connection)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|p| (p.id, u32::try_from(p.times_delivered).unwrap_or(u32::MAX)))
            .collect())
    }

    /// Turns an entry into a delivery, or sends it to the dead letters (and returns `None`).
    async fn deliver(&self, entry: Entry) -> Option<Delivery<T>> {
        let settings = &self.shared.settings;
        let decoded = match &entry.payload {
            None => Err("the entry has no payload".to_string()),
            Some(bytes) => decode_caught(&settings.codec, bytes).map_err(|e| e.to_string()),
        };
        let reason = match decoded {
            Ok(_) if entry.count > settings.max_deliveries => {
                format!("delivered {} times", entry.count)
            }
            Ok(item) => {
                if let Some(probe) = &settings.probe {
                    probe.consumed(1);
                }
                lock(&self.shared.outstanding).insert(entry.id.clone());
                let acker = EntryAck {
                    shared: Arc::clone(&self.shared) as Arc<dyn Settle>,
                    id: entry.id,
                };
                let delivery = Delivery::owed(item, entry.count, acker);
                return Some(match entry.key {
                    Some(key) => delivery.with_key(key),
                    None => delivery,
                });
            }
            Err(error) => format!("undecodable: {error}"),
        };
        // Retried on the next read if this fails: the entry stays pending here.
        if self.dead_letter(&entry, &reason).await.is_err() {
            lock(&self.shared.nacked).push_back(entry.id);
        }
        None
    }

    /// Moves an entry to the dead-letter stream with its reason and acks it, atomically.
    async fn dead_letter(&self, entry: &Entry, reason: &str) -> RedisResult<()> {
        let settings = &self.shared.settings;
        let mut connection = self.shared.commands.get();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(&settings.dead_letter)
            .arg("*")
            .arg("entry")
            .arg(&entry.id)
            .arg("reason")
            .arg(reason)
            .arg("payload")
            .arg(entry.payload.as_deref().unwrap_or_default())
            .ignore()
            .cmd("XACK")
            .arg(&settings.stream)
            .arg(&settings.group)
            .arg(&entry.id)
            .ignore();
        pipe.query_async::<()>(&mut connection).await?;
        if let Some(probe) = &settings.probe {
            probe.failed(1, pc_core::FailReason::Error);
        }
        Ok(())
    }
}

impl<T: Send + 'static, C: Codec<T>> AckConsumer<T> for RedisConsumer<T, C> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, RecvError> {
        self.next().await
    }
}

/// As a plain `Consumer`, each item is acked as it is received: handing it out is handling it
/// (at most once past this point; use [`AckConsumer::recv_delivery`] to ack after the work).
impl<T: Send + 'static, C: Codec<T>> Consumer<T> for RedisConsumer<T, C> {
    async fn recv(&self) -> Result<T, RecvError> {
        let (item, ack) = self.next().await?.into_parts();
        // Not recorded, the entry is delivered again: at least once, never lost.
        let _ = ack.ack().await;
        Ok(item)
    }

    /// An item already fetched, if one is (no server round trip); its ack goes with the next
    /// read.
    fn try_recv(&self) -> Result<T, TryRecvError> {
        let Ok(mut reader) = self.reading.try_lock() else {
            return Err(TryRecvError::Empty);
        };
        let settings = &self.shared.settings;
        if let Some(entry) = reader.buffer.pop_front() {
            let decoded = entry
                .payload
                .as_deref()
                .map(|bytes| decode_caught(&settings.codec, bytes));
            if let Some(Ok(item)) = decoded
                && entry.count <= settings.max_deliveries
            {
                if let Some(probe) = &settings.probe {
                    probe.consumed(1);
                }
                lock(&self.shared.owed_acks).push(entry.id);
                return Ok(item);
            }
            // A dead letter needs the server: left to the next read.
            reader.buffer.push_front(entry);
        }
        if self.shared.closed.load(Ordering::Acquire) && reader.buffer.is_empty() {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Entries fetched and not handed out yet (0 while a receive is reading).
    fn len(&self) -> usize {
        self.reading
            .try_lock()
            .map_or(0, |reader| reader.buffer.len())
    }

    /// `None`: the stream is the queue, capped or not by the queue's settings.
    fn capacity(&self) -> Option<usize> {
        None
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

/// What an entry's [`Acker`] needs of its consumer.
trait Settle: Send + Sync + 'static {
    fn ack(&self, id: String) -> AckFuture;
    fn nack(&self, id: String);
    fn forget(&self, id: &str);
}

impl<C: Send + Sync + 'static> Settle for Shared<C> {
    fn ack(&self, id: String) -> AckFuture {
        lock(&self.outstanding).remove(&id);
        let settings = Arc::clone(&self.settings);
        let mut connection = self.commands.get();
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("XACK")
                .arg(&settings.stream)
                .arg(&settings.group)
                .arg(&id)
                .ignore();
            if settings.delete_on_ack {
                pipe.cmd("XDEL").arg(&settings.stream).arg(&id).ignore();
            }
            pipe.query_async::<()>(&mut connection)
                .await
                .map_err(|e| AckError(e.to_string()))
        })
    }

    fn nack(&self, id: String) {
        lock(&self.outstanding).remove(&id);
        lock(&self.nacked).push_back(id);
    }

    fn forget(&self, id: &str) {
        lock(&self.outstanding).remove(id);
    }
}

struct EntryAck {
    shared: Arc<dyn Settle>,
    id: String,
}

impl Acker for EntryAck {
    fn ack(mut self: Box<Self>) -> AckFuture {
        let id = std::mem::take(&mut self.id);
        self.shared.ack(id)
    }

    /// Claimed back by this consumer at its next read, which counts a new delivery.
    fn nack(mut self: Box<Self>) -> AckFuture {
        let id = std::mem::take(&mut self.id);
        self.shared.nack(id);
        Box::pin(async { Ok(()) })
    }
}

/// Dropped unsettled, the entry stays pending: this consumer finds it again when it next
/// replays, another one after the claim time.
impl Drop for EntryAck {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            self.shared.forget(&self.id);
        }
    }
}

impl<T, C> fmt::Debug for RedisConsumer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConsumer")
            .field("stream", &self.shared.settings.stream)
            .field("group", &self.shared.settings.group)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

fn entry_of(entry: StreamId, count: u32) -> Entry {
    let field = |name: &str| match entry.map.get(name) {
        Some(Value::BulkString(bytes)) => Some(bytes.clone()),
        _ => None,
    };
    let payload = field("payload");
    let key = field("id").and_then(|bytes| String::from_utf8(bytes).ok());
    Entry {
        id: entry.id,
        key,
        payload,
        count,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
