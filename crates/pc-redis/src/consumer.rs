//! `RedisConsumer`: reads of a consumer group, replay of its own pending entries, reclaim of
//! entries left by dead consumers, dead letters, and the acks that settle deliveries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt};
use pc_core::channel;
use pc_core::task::TaskGroup;
use pc_core::{
    AckConsumer, AckError, AckFuture, Acker, ConsumeError, Consumer, Delivery, RecvError,
};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{RedisResult, Script, Value};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::acks::OwedAcks;
use crate::codec::{Codec, decode_caught};
use crate::lease::{Nacked, renew_script};
use crate::link::Link;
use crate::retry::Retrying;
use crate::settings::Settings;

/// Takes entries from a [`RedisQueue`](crate::RedisQueue)'s stream as a member of its consumer
/// group. Each [`Delivery`] stays pending under this consumer's name until acked; a nack, a
/// crash or a drop without settling leaves it to be delivered again.
///
/// What it reads, in order: entries nacked here (once their delay, if any, has passed); its own
/// pending entries (on start, and after a read failed mid-way); entries idle longer than the
/// claim time under any consumer (every half claim time); new entries, waiting at most the
/// block time or until the next nacked entry falls due. An entry delivered more than
/// `max_deliveries` times, or whose payload does not decode, goes to the dead-letter stream with
/// its reason and is acked, in one transaction.
///
/// The reads are made by a task of the consumer's own, when receives wait for more than it has
/// fetched: a receive only waits for an entry, so one that is dropped, or kept and never polled
/// again (a stream in the losing branch of a `select!`), holds back no other. Dropping the
/// consumer closes it ([`close`](Self::close)): the task ends a read under way on the server,
/// acks what `try_recv` took, and ends.
pub struct RedisConsumer<T, C> {
    shared: Arc<Shared<C>>,
    /// Entries fetched and decoded by the reader, in order, ready to hand out, and the
    /// failures of its reads, each for one receive.
    ready: channel::Receiver<Fetched<T>>,
    /// The reader task, whose panic (a bug, or a probe's) is re-raised to a receive.
    tasks: TaskGroup,
}

struct Shared<C> {
    settings: Arc<Settings<C>>,
    name: String,
    commands: Link,
    /// Ids nacked and waiting to be claimed back here, each until its time.
    nacked: Arc<Mutex<Nacked>>,
    /// Renews leases (`touch`, entries nacked with a delay).
    renew: Arc<Script>,
    /// Ids of items taken by `try_recv`, acked at the next read.
    owed_acks: Arc<Mutex<OwedAcks>>,
    /// Ids fetched and not settled yet: ready to hand out, or handed out and not acked.
    held: Mutex<HashSet<String>>,
    demand: Demand,
    /// Cancelled by `close`: the reader ends a read under way.
    closing: CancellationToken,
    /// The server's id for the reads connection (0 until asked), for `CLIENT UNBLOCK`.
    reads_client: AtomicI64,
    /// The error the retry policy gave up on, for the first receive that finds the consumer
    /// closed.
    gave_up: Mutex<Option<ConsumeError>>,
}

/// How many receives wait, and the reader's wake-up when that may have outgrown what it has
/// fetched.
#[derive(Default)]
struct Demand {
    waiting: AtomicUsize,
    wake: Notify,
}

impl Demand {
    /// Counts a receive as waiting until the guard is dropped.
    fn want(&self) -> Wanting<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
        Wanting(self)
    }

    /// An entry left the ready queue: the reader looks again at what the receives still
    /// waiting need.
    fn taken(&self) {
        if self.waiting() > 0 {
            self.wake.notify_one();
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// A receive waiting for the reader; counted in [`Demand`] while it lives.
struct Wanting<'a>(&'a Demand);

impl Drop for Wanting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the reader hands a receive: an entry, or the failure of a read.
type Fetched<T> = Result<Ready<T>, ConsumeError>;

/// An entry fetched and decoded, for a receive to hand out.
struct Ready<T> {
    item: T,
    id: String,
    /// The producer's message id: the same for an entry added twice by a retried send.
    key: Option<String>,
    count: u32,
}

/// The reader task's state: it alone reads.
struct Reader<T, C> {
    shared: Arc<Shared<C>>,
    reads: Link,
    ready: channel::Sender<Fetched<T>>,
    buffer: VecDeque<Entry>,
    /// Where to look next for our own pending entries, when they must be looked for: on start,
    /// and after a fetch that may have taken entries without buffering them. One page of them
    /// is buffered at a time.
    replay: Option<String>,
    /// A fetch was under way when it failed: what it took may be pending under our name
    /// without being in the buffer.
    read_in_flight: bool,
    next_claim: Instant,
    /// When the group's backlog is next reported to the probe; `None` without one.
    next_backlog: Option<Instant>,
    /// Failed fetches in a row, under the queue's retry policy.
    retrying: Retrying,
}

/// Where a replay of our pending entries starts: the first.
const FIRST: &str = "-";

/// One entry fetched, with its delivery count.
struct Entry {
    id: String,
    /// The producer's message id: the same for an entry added twice by a retried send.
    key: Option<String>,
    payload: Option<Vec<u8>>,
    count: u32,
}

impl<T: Send + 'static, C: Codec<T>> RedisConsumer<T, C> {
    /// Needs a tokio runtime: the reader task starts here.
    pub(crate) fn new(
        settings: Arc<Settings<C>>,
        name: String,
        reads: Link,
        commands: Link,
    ) -> Self {
        let shared = Arc::new(Shared {
            settings,
            name,
            commands,
            nacked: Arc::new(Mutex::new(Nacked::default())),
            renew: Arc::new(renew_script()),
            owed_acks: Arc::new(Mutex::new(OwedAcks::default())),
            held: Mutex::new(HashSet::new()),
            demand: Demand::default(),
            closing: CancellationToken::new(),
            reads_client: AtomicI64::new(0),
            gave_up: Mutex::new(None),
        });
        let (tx, ready) = channel::unbounded();
        let reader = Reader {
            shared: Arc::clone(&shared),
            reads,
            ready: tx,
            buffer: VecDeque::new(),
            replay: Some(FIRST.to_owned()),
            read_in_flight: false,
            next_claim: Instant::now(),
            next_backlog: shared.settings.probe.as_ref().map(|_| Instant::now()),
            retrying: Retrying::new(shared.settings.retry),
        };
        let tasks = TaskGroup::new(tokio::runtime::Handle::current());
        tasks.spawn(reader.run());
        Self {
            shared,
            ready,
            tasks,
        }
    }

    /// This consumer's name in the group.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Stops taking entries: receives end with `RecvError` once what was fetched is handed
    /// out. Entries pending under this consumer's name stay pending (those a read under way
    /// took too), for it to replay if it comes back under the same name, or for another
    /// consumer to reclaim. A blocking read under way is ended on the server (`CLIENT
    /// UNBLOCK`) before a receive sees the end, so an entry sent after that goes to another
    /// consumer, never to this closed one.
    pub fn close(&self) {
        self.shared.close(&self.ready);
    }

    async fn next(&self) -> Result<Delivery<T>, ConsumeError> {
        let fetched = match self.ready.try_recv() {
            Ok(fetched) => fetched,
            Err(_) => {
                let wanting = self.shared.demand.want();
                let got = self.ready.recv().await;
                drop(wanting);
                match got {
                    Ok(fetched) => fetched,
                    Err(RecvError) => {
                        self.finished().await;
                        return Err(self.shared.end());
                    }
                }
            }
        };
        self.hand_out(fetched)
    }

    /// Waits for the reader to end once the consumer is closed and drained: it acks what
    /// `try_recv` took first. Re-raises the reader's panic, if one ended it.
    async fn finished(&self) {
        self.tasks.wait().await;
        self.tasks.raise_panic();
    }

    /// Turns a ready entry into its delivery, or hands out a read's failure.
    fn hand_out(&self, fetched: Fetched<T>) -> Result<Delivery<T>, ConsumeError> {
        self.shared.demand.taken();
        let ready = fetched?;
        if let Some(probe) = &self.shared.settings.probe {
            probe.consumed(1);
        }
        let acker = EntryAck {
            shared: Arc::clone(&self.shared) as Arc<dyn Settle>,
            id: ready.id,
            count: ready.count,
        };
        let delivery = Delivery::owed(ready.item, ready.count, acker);
        Ok(match ready.key {
            Some(key) => delivery.with_key(key),
            None => delivery,
        })
    }
}

impl<T: Send + 'static, C: Codec<T>> Reader<T, C> {
    /// Fetches while receives wait for more than is ready, until the consumer is closed.
    async fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        while self.wanted().await {
            let mut step = pin!(self.step());
            let more = match select(step.as_mut(), pin!(shared.closing.cancelled())).await {
                Either::Left((more, _)) => more,
                Either::Right(((), _)) => {
                    // Closed: what a read under way took stays pending here.
                    shared.end_reading(step).await;
                    false
                }
            };
            if !more {
                break;
            }
        }
        // Best effort: what is not acked now is delivered again later.
        let _ = self.shared.flush_acks().await;
    }

    /// One fetch, handed over; `false` once the consumer is closed, or gave up on the server.
    async fn step(&mut self) -> bool {
        let error = match self.fill().await {
            Ok(()) => {
                self.retrying.succeeded();
                return self.hand_over().await;
            }
            Err(error) => error,
        };
        let Some(pause) = self.retrying.failed() else {
            self.give_up(error);
            return false;
        };
        // A consumer waits through an outage: it connects anew and replays what is pending
        // under its name, since a reply lost with the connection may have delivered entries.
        if crate::link::is_connection_error(&error) {
            self.shared.reads_client.store(0, Ordering::Relaxed);
            let reads = self.reads.recover(&error).await;
            let commands = self.shared.commands.recover(&error).await;
            if reads && commands {
                self.replay = Some(FIRST.to_owned());
                return true;
            }
        } else {
            // Refused by the server (the group deleted, no permission): the receive waiting for
            // this read is told, and the read tried again until someone acts or the policy
            // gives up.
            tracing::warn!(
                consumer = %self.shared.name,
                stream = %self.shared.settings.stream,
                %error,
                "a read of the Redis stream failed; trying again"
            );
            self.report(error);
        }
        tokio::time::sleep(pause).await;
        true
    }

    /// The retry policy gave up on the server: the consumer closes, and the first receive
    /// that finds it closed (once what was fetched is handed out) gets the last error.
    fn give_up(&self, error: redis::RedisError) {
        tracing::error!(
            consumer = %self.shared.name,
            stream = %self.shared.settings.stream,
            %error,
            "reads of the Redis stream failed past the retry policy; the consumer closes"
        );
        if let Some(probe) = &self.shared.settings.probe {
            probe.failed(1, pc_core::FailReason::Source);
        }
        *lock(&self.shared.gave_up) = Some(ConsumeError::failed(error));
        self.ready.close();
        self.shared.closing.cancel();
    }

    /// Tells a waiting receive and the probe that a read failed.
    fn report(&self, error: redis::RedisError) {
        if let Some(probe) = &self.shared.settings.probe {
            probe.failed(1, pc_core::FailReason::Source);
        }
        // The consumer may have been closed meanwhile: then nobody is told.
        let _ = self.ready.try_send(Err(ConsumeError::failed(error)));
    }

    /// Asks the server for the group's backlog and tells the probe, when it is time. A
    /// failure is skipped: the next report comes at the next time.
    async fn report_backlog(&mut self) {
        let (Some(at), Some(probe)) = (self.next_backlog, &self.shared.settings.probe) else {
            return;
        };
        if at > Instant::now() {
            return;
        }
        let settings = &self.shared.settings;
        self.next_backlog = Some(pc_core::time::deadline_or_far(settings.backlog_every));
        let asked = crate::backlog::query(&self.shared.commands, &settings.stream, &settings.group);
        if let Ok(backlog) = asked.await {
            probe.backlog(settings.partition, backlog.pending, backlog.lag);
        }
    }

    /// Waits until receives outnumber the entries ready for them, sending batched acks,
    /// renewing the leases of entries nacked with a delay and reporting the backlog meanwhile;
    /// `false` once the consumer is closed.
    async fn wanted(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let demand = &shared.demand;
        loop {
            let woken = demand.wake.notified();
            if self.ready.is_closed() {
                return false;
            }
            self.report_backlog().await;
            if demand.waiting() > self.ready.len() {
                return true;
            }
            let renewal = shared.next_renewal();
            let acks = shared.acks_due();
            match renewal
                .into_iter()
                .chain(acks)
                .chain(self.next_backlog)
                .min()
            {
                None => woken.await,
                Some(at) => {
                    if tokio::time::timeout_at(at, woken).await.is_err() {
                        // What fails is tried again at its next time, or at the next read.
                        if acks.is_some_and(|due| due <= Instant::now()) {
                            let _ = shared.flush_acks().await;
                        }
                        let _ = shared.renew_waiting().await;
                    }
                }
            }
        }
    }

    /// Decodes the buffered entries into the ready queue, dead-lettering those that cannot be
    /// delivered; `false` once the consumer is closed (what is left stays pending here).
    async fn hand_over(&mut self) -> bool {
        while let Some(entry) = self.buffer.pop_front() {
            let Some(ready) = self.decode(entry).await else {
                continue;
            };
            let id = ready.id.clone();
            lock(&self.shared.held).insert(id.clone());
            if self.ready.try_send(Ok(ready)).is_err() {
                lock(&self.shared.held).remove(&id);
                return false;
            }
        }
        true
    }

    /// Fetches the next entries into the buffer; may fetch none.
    ///
    /// From the first command to the last entry buffered, entries may be pending under our
    /// name without being in the buffer: if this fails in between, the next call replays our
    /// pending entries from the start.
    async fn fill(&mut self) -> RedisResult<()> {
        if self.read_in_flight {
            self.replay = Some(FIRST.to_owned());
        }
        self.read_in_flight = true;
        self.fetch().await?;
        self.read_in_flight = false;
        Ok(())
    }

    async fn fetch(&mut self) -> RedisResult<()> {
        let settings = Arc::clone(&self.shared.settings);
        self.shared.flush_acks().await?;
        self.shared.renew_waiting().await?;
        let nacked = lock(&self.shared.nacked).take_due(Instant::now());
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
            return self.buffer_counted(claimed).await;
        }
        if let Some(start) = self.replay.take() {
            self.replay = self.replay_pending(start).await?;
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.next_claim {
            self.next_claim = pc_core::time::deadline_or_far(settings.claim_idle / 2);
            let claimed = self.autoclaim().await?;
            if !claimed.is_empty() {
                return self.buffer_counted(claimed).await;
            }
        }
        let next_nack = lock(&self.shared.nacked).next_due();
        let wait = settings
            .block
            .min(self.next_claim.saturating_duration_since(now))
            .min(next_nack.map_or(Duration::MAX, |due| due.saturating_duration_since(now)))
            .max(Duration::from_millis(1));
        for entry in self.read_new(wait).await? {
            self.buffer.push_back(entry_of(entry, 1));
        }
        Ok(())
    }

    /// Buffers the entries pending under our name from `start` on that are neither buffered
    /// nor handed out (`XPENDING`, then `XRANGE` for each): what a crash or a failed fetch left
    /// behind. Unlike `XREADGROUP` from `0`, this does not count as a delivery, so replays
    /// never push an entry towards the dead letters.
    ///
    /// Stops after the first page that buffers some, and returns where the next page starts,
    /// if there is one: at most a batch is buffered at a time.
    async fn replay_pending(&mut self, mut start: String) -> RedisResult<Option<String>> {
        let settings = Arc::clone(&self.shared.settings);
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
                return Ok(None);
            };
            start = format!("({}", last.id);
            let full = page.ids.len() >= settings.batch;
            let known: HashSet<String> = {
                let held = lock(&self.shared.held);
                let owed = lock(&self.shared.owed_acks);
                let nacked = lock(&self.shared.nacked);
                self.buffer
                    .iter()
                    .map(|entry| entry.id.clone())
                    .chain(held.iter().cloned())
                    .chain(owed.ids().cloned())
                    .chain(nacked.ids().cloned())
                    .collect()
            };
            let lost: Vec<(String, u32)> = page
                .ids
                .into_iter()
                .filter(|pending| !known.contains(&pending.id))
                .map(|p| (p.id, u32::try_from(p.times_delivered).unwrap_or(u32::MAX)))
                .collect();
            let buffered = !lost.is_empty();
            if buffered {
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
                    self.buffer.push_back(entry_of(entry, count));
                }
            }
            match (full, buffered) {
                (false, _) => return Ok(None),
                (true, true) => return Ok(Some(start)),
                (true, false) => {}
            }
        }
    }

    /// New entries (`XREADGROUP >`), waiting at most `block` for some.
    async fn read_new(&self, block: Duration) -> RedisResult<Vec<StreamId>> {
        if self.shared.reads_client.load(Ordering::Relaxed) == 0 {
            // Once per connection: a close unblocks the read by this id.
            let id: i64 = redis::cmd("CLIENT")
                .arg("ID")
                .query_async(&mut self.reads.get())
                .await?;
            self.shared.reads_client.store(id, Ordering::Relaxed);
        }
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
            .query_async(&mut self.reads.get())
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
    async fn buffer_counted(&mut self, entries: Vec<StreamId>) -> RedisResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let counts = self.delivery_counts(&entries).await?;
        for entry in entries {
            let count = counts.get(&entry.id).copied().unwrap_or(1);
            self.buffer.push_back(entry_of(entry, count));
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

    /// Decodes an entry for a receive, or sends it to the dead letters (and returns `None`).
    async fn decode(&self, entry: Entry) -> Option<Ready<T>> {
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
                return Some(Ready {
                    item,
                    id: entry.id,
                    key: entry.key,
                    count: entry.count,
                });
            }
            Err(error) => format!("undecodable: {error}"),
        };
        // Retried on the next read if this fails: the entry stays pending here.
        if self.dead_letter(&entry, &reason).await.is_err() {
            lock(&self.shared.nacked).push(entry.id, Instant::now());
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

/// A read the server refuses (the group deleted, `NOPERM`) fails the receive that waited for
/// it, as [`ConsumeErrorKind::Failed`](pc_core::ConsumeErrorKind::Failed) with the server's
/// error as its source; the consumer tries again as the queue's
/// [`RetryPolicy`](crate::RetryPolicy) says, one failure per read. A lost connection is not a
/// failure: the consumer waits through the outage. When the policy gives up (on either), the
/// waiting receive gets the last error and the consumer closes: later receives get what was
/// fetched before, then `Closed`.
impl<T: Send + 'static, C: Codec<T>> AckConsumer<T> for RedisConsumer<T, C> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        self.next().await
    }
}

/// As a plain `Consumer`, each item is acked as it is received: handing it out is handling it
/// (at most once past this point; use [`AckConsumer::recv_delivery`] to ack after the work).
/// Failed reads are reported as by [`recv_delivery`](AckConsumer::recv_delivery).
impl<T: Send + 'static, C: Codec<T>> Consumer<T> for RedisConsumer<T, C> {
    async fn recv(&self) -> Result<T, ConsumeError> {
        Ok(acked_on_receipt(self.next().await?).await)
    }

    /// An item already fetched, if one is (no server round trip); its ack goes with the next
    /// read.
    fn try_recv(&self) -> Result<T, ConsumeError> {
        let fetched = match self.ready.try_recv() {
            Ok(fetched) => fetched,
            Err(pc_core::TryRecvError::Closed) => return Err(self.shared.end()),
            Err(err) => return Err(err.into()),
        };
        self.shared.demand.taken();
        let ready = fetched?;
        if let Some(probe) = &self.shared.settings.probe {
            probe.consumed(1);
        }
        lock(&self.shared.held).remove(&ready.id);
        self.shared.owe_ack(ready.id, false);
        Ok(ready.item)
    }

    /// Entries fetched and not handed out yet.
    fn len(&self) -> usize {
        self.ready.len()
    }

    /// `None`: the stream is the queue, capped or not by the queue's settings.
    fn capacity(&self) -> Option<usize> {
        None
    }

    fn is_closed(&self) -> bool {
        self.ready.is_closed()
    }

    /// A stream whose receive between polls only counts as one more waiting for the reader:
    /// kept and never polled again, it holds back no other receive. Each item is acked as it
    /// is received, as by [`recv`](Consumer::recv).
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        let mut ready = Box::pin(Consumer::stream(&self.ready));
        let mut wanting = None;
        // `Some(None)` once the consumer is closed and drained, where the stream ends.
        let deliveries = futures_util::stream::poll_fn(move |cx| {
            wanting.get_or_insert_with(|| self.shared.demand.want());
            let polled = ready.as_mut().poll_next(cx);
            if polled.is_ready() {
                wanting = None;
            }
            polled.map(|ready| Some(ready.map(|ready| self.hand_out(ready))))
        });
        deliveries
            .then(move |delivery| async move {
                match delivery {
                    Some(Ok(delivery)) => Some(Some(acked_on_receipt(delivery).await)),
                    // A failed read is no item, and not the end: the stream waits for the
                    // next read (the failure went to the probe and the log).
                    Some(Err(_)) => Some(None),
                    None => {
                        self.finished().await;
                        None
                    }
                }
            })
            .take_while(|step| std::future::ready(step.is_some()))
            .filter_map(|step| std::future::ready(step.flatten()))
    }
}

/// `delivery`'s item, acked as it is received, for the plain `Consumer` side of a Redis
/// consumer: handing it out is handling it. An ack that is not recorded leaves the entry to be
/// delivered again: at least once, never lost.
pub(crate) async fn acked_on_receipt<T>(delivery: Delivery<T>) -> T {
    let (item, ack) = delivery.into_parts();
    let _ = ack.ack().await;
    item
}

/// What an entry's [`Acker`] needs of its consumer.
trait Settle: Send + Sync + 'static {
    fn ack(&self, id: String) -> AckFuture;
    /// `delay`: `None` for the queue's nack backoff by `count`.
    fn nack(&self, id: String, count: u32, delay: Option<Duration>) -> AckFuture;
    fn touch(&self, id: &str) -> AckFuture;
    fn forget(&self, id: &str);
}

impl<C> Shared<C> {
    /// Renews the leases of `ids` if they are still pending under this consumer; returns those
    /// it renewed, and lets go of the others if they were waiting here.
    fn renew(
        &self,
        ids: Vec<String>,
    ) -> impl Future<Output = RedisResult<Vec<String>>> + Send + 'static
    where
        C: Send + Sync + 'static,
    {
        let script = Arc::clone(&self.renew);
        let settings = Arc::clone(&self.settings);
        let name = self.name.clone();
        let mut connection = self.commands.get();
        let nacked = Arc::clone(&self.nacked);
        async move {
            let renewed: Vec<String> = script
                .key(&settings.stream)
                .arg(&settings.group)
                .arg(&name)
                .arg(&ids)
                .invoke_async(&mut connection)
                .await?;
            if renewed.len() < ids.len() {
                let lost: Vec<String> =
                    ids.into_iter().filter(|id| !renewed.contains(id)).collect();
                lock(&nacked).forget(&lost);
            }
            Ok(renewed)
        }
    }

    /// Renews the leases of the entries nacked with a delay that are due for it: each a
    /// third of the claim time, so that no other consumer reclaims them while they wait.
    async fn renew_waiting(&self) -> RedisResult<()>
    where
        C: Send + Sync + 'static,
    {
        let ids = lock(&self.nacked).take_renewals(Instant::now(), self.renew_every());
        if ids.is_empty() {
            return Ok(());
        }
        self.renew(ids).await.map(drop)
    }

    /// Holds the ack of `id` for the next batch. The reader hears of the first, to time the
    /// batch under `ack_batch`. One that fills the batch either takes it, to send it itself
    /// (`send_when_full`: taken under the same lock as it was pushed, since the reader may
    /// send what is held at any time), or has the reader send it (the ack of a `try_recv`,
    /// which cannot wait).
    fn owe_ack(&self, id: String, send_when_full: bool) -> Option<Vec<String>> {
        let max = self
            .settings
            .ack_batch
            .map_or(usize::MAX, |batch| batch.max);
        let mut owed = lock(&self.owed_acks);
        let held = owed.push(id);
        let full = held >= max;
        let taken = (full && send_when_full).then(|| owed.take());
        drop(owed);
        if held == 1 || (full && taken.is_none()) {
            self.demand.wake.notify_one();
        }
        taken
    }

    /// Sends every ack held, in one round trip; on failure they are held again.
    async fn flush_acks(&self) -> RedisResult<()>
    where
        C: Send + Sync + 'static,
    {
        let ids = lock(&self.owed_acks).take();
        self.send_acks(ids).await
    }

    /// Sends the acks of `ids` in one round trip; on failure they are held again, for the
    /// next batch.
    fn send_acks(&self, ids: Vec<String>) -> impl Future<Output = RedisResult<()>> + Send + 'static
    where
        C: Send + Sync + 'static,
    {
        let settings = Arc::clone(&self.settings);
        let owed = Arc::clone(&self.owed_acks);
        let mut connection = self.commands.get();
        async move {
            let sent = crate::acks::send(
                &mut connection,
                &settings.stream,
                &settings.group,
                settings.delete_on_ack,
                &ids,
            )
            .await;
            if sent.is_err() {
                lock(&owed).put_back(ids);
            }
            sent
        }
    }

    /// When the acks held must be sent, with `ack_batch`.
    fn acks_due(&self) -> Option<Instant> {
        let batch = self.settings.ack_batch?;
        let owed = lock(&self.owed_acks);
        if owed.len() >= batch.max {
            return Some(Instant::now());
        }
        owed.due(batch.delay)
    }

    /// When the next lease of an entry nacked with a delay is due for renewal.
    fn next_renewal(&self) -> Option<Instant> {
        lock(&self.nacked).next_renewal(self.renew_every())
    }

    fn renew_every(&self) -> Duration {
        self.settings.claim_idle / 3
    }

    /// What a receive from the closed and drained consumer gets: the error the retry policy
    /// gave up on, once, else `Closed`.
    fn end(&self) -> ConsumeError {
        lock(&self.gave_up)
            .take()
            .unwrap_or_else(ConsumeError::closed)
    }

    /// Closes the consumer whose ready entries are `ready`: the reader ends its read, acks
    /// what `try_recv` took, and ends.
    fn close<T>(&self, ready: &channel::Receiver<T>) {
        ready.close();
        self.closing.cancel();
        self.demand.wake.notify_one();
    }

    /// Ends the reader's `step` under way at a close. Dropping a blocking `XREADGROUP` does not
    /// end it on the server, which would then hand entries sent after the close to this closed
    /// consumer (pending here until another reclaims them, a claim time later). So the server
    /// is asked to unblock the reads connection (its read returns empty) until the step ends,
    /// every 50 ms for at most 2 s in all (the read may not have reached the server yet, or
    /// the server may not answer); then the step is given up.
    async fn end_reading(&self, mut step: Pin<&mut impl Future<Output = bool>>) {
        let ending = async {
            loop {
                let id = self.reads_client.load(Ordering::Relaxed);
                if id != 0 {
                    // Best effort: a server without `CLIENT UNBLOCK` leaves the read to its
                    // block time.
                    let _: RedisResult<i64> = redis::cmd("CLIENT")
                        .arg("UNBLOCK")
                        .arg(id)
                        .query_async(&mut self.commands.get())
                        .await;
                }
                if tokio::time::timeout(Duration::from_millis(50), step.as_mut())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), ending).await;
    }
}

impl<C: Send + Sync + 'static> Settle for Shared<C> {
    fn ack(&self, id: String) -> AckFuture {
        lock(&self.held).remove(&id);
        let ids = if self.settings.ack_batch.is_none() {
            vec![id]
        } else {
            // Held for the batch; the ack that fills it sends it.
            match self.owe_ack(id, true) {
                Some(batch) => batch,
                None => return Box::pin(std::future::ready(Ok(()))),
            }
        };
        let sent = self.send_acks(ids);
        Box::pin(async move { sent.await.map_err(|e| AckError(e.to_string())) })
    }

    fn nack(&self, id: String, count: u32, delay: Option<Duration>) -> AckFuture {
        lock(&self.held).remove(&id);
        let delay = delay.unwrap_or_else(|| self.settings.nack_delay(count));
        if delay.is_zero() {
            lock(&self.nacked).push(id, Instant::now());
            return Box::pin(std::future::ready(Ok(())));
        }
        // The lease starts again now, so that the wait is not cut short by a reclaim of the
        // time the entry was being handled.
        let renewal = self.renew(vec![id.clone()]);
        lock(&self.nacked).push(id, pc_core::time::deadline_or_far(delay));
        Box::pin(async move { renewal.await.map(drop).map_err(|e| AckError(e.to_string())) })
    }

    fn touch(&self, id: &str) -> AckFuture {
        let renewal = self.renew(vec![id.to_owned()]);
        Box::pin(async move {
            match renewal.await.map_err(|e| AckError(e.to_string()))?.len() {
                0 => Err(AckError(
                    "the delivery is no longer pending under this consumer: its claim time \
                     passed and another consumer took it, or it was settled"
                        .into(),
                )),
                _ => Ok(()),
            }
        })
    }

    fn forget(&self, id: &str) {
        lock(&self.held).remove(id);
    }
}

struct EntryAck {
    shared: Arc<dyn Settle>,
    id: String,
    count: u32,
}

impl Acker for EntryAck {
    fn ack(mut self: Box<Self>) -> AckFuture {
        let id = std::mem::take(&mut self.id);
        self.shared.ack(id)
    }

    /// Claimed back by this consumer at its next read, which counts a new delivery (after
    /// the queue's nack backoff, if it has one).
    fn nack(mut self: Box<Self>) -> AckFuture {
        let id = std::mem::take(&mut self.id);
        self.shared.nack(id, self.count, None)
    }

    /// Claimed back by this consumer at its first read once `delay` has passed; its lease is
    /// renewed meanwhile.
    fn nack_after(mut self: Box<Self>, delay: Duration) -> AckFuture {
        let id = std::mem::take(&mut self.id);
        self.shared.nack(id, self.count, Some(delay))
    }

    fn touch(&self) -> AckFuture {
        self.shared.touch(&self.id)
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

impl<T, C> Drop for RedisConsumer<T, C> {
    fn drop(&mut self) {
        self.shared.close(&self.ready);
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
