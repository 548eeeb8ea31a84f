//! `RedisProducer`: `XADD`, behind a cap checked in the same script.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pc_core::DropReason;
use redis::Script;

use crate::codec::Codec;
use crate::error::{RedisError, RedisSendError};
use crate::link::Link;
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

/// Connection errors a send rides out, with this pause between attempts to reconnect: about
/// 30 s, the time a server takes to restart on a busy machine.
const RECONNECTS: u32 = 60;
const RECONNECT_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends items to a [`RedisQueue`](crate::RedisQueue)'s stream. Cheap to clone: clones share
/// one multiplexed connection.
///
/// Each entry carries a message id unique to this producer (`<producer>-<n>`), so that a
/// consumer can recognise an entry added twice by a send retried after a connection error.
pub struct RedisProducer<T, C> {
    settings: Arc<Settings<C>>,
    link: Arc<Link>,
    script: Arc<Script>,
    me: Arc<ProducerId>,
    _items: PhantomData<fn(T)>,
}

struct ProducerId {
    name: String,
    next: AtomicU64,
}

impl<T, C> Clone for RedisProducer<T, C> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            link: Arc::clone(&self.link),
            script: Arc::clone(&self.script),
            me: Arc::clone(&self.me),
            _items: PhantomData,
        }
    }
}

/// What one attempt to add did.
enum Added {
    Yes,
    Full,
}

impl<T: Send + 'static, C: Codec<T>> RedisProducer<T, C> {
    pub(crate) fn new(settings: Arc<Settings<C>>, link: Link) -> Self {
        Self {
            settings,
            link: Arc::new(link),
            script: Arc::new(Script::new(ADD)),
            me: Arc::new(ProducerId {
                name: unique_name(),
                next: AtomicU64::new(0),
            }),
            _items: PhantomData,
        }
    }

    /// Adds `item` to the stream, as the queue's [`WhenFull`] says when it is at its cap.
    ///
    /// # Errors
    ///
    /// [`RedisSendError::Full`] under [`WhenFull::Reject`] at the cap; `Server` if the server
    /// failed (the item may have been added: consumers see the same message id twice);
    /// `Codec` if the item cannot be encoded. Each hands the item back.
    pub async fn send(&self, item: T) -> Result<(), RedisSendError<T>> {
        let payload = match self.settings.codec.encode(&item) {
            Ok(payload) => payload,
            Err(error) => return Err(RedisSendError::Codec(item, error)),
        };
        let mut backoff = match self.settings.when_full {
            WhenFull::Block { backoff, .. } => backoff,
            _ => Default::default(),
        };
        loop {
            match self.add(&payload).await {
                Ok(Added::Yes) => return Ok(()),
                Ok(Added::Full) => match self.settings.when_full {
                    WhenFull::Block { max_backoff, .. } => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(max_backoff);
                    }
                    WhenFull::Reject => return Err(RedisSendError::Full(item)),
                    // Dropped on purpose: counted, and the item goes with it.
                    WhenFull::DropIncoming | WhenFull::DropOldest => {
                        if let Some(probe) = &self.settings.probe {
                            probe.dropped(1, DropReason::Full);
                        }
                        return Ok(());
                    }
                },
                Err(error) => return Err(RedisSendError::Server(item, error)),
            }
        }
    }

    /// Sends every item in turn (see [`send`](Self::send)); returns how many were sent.
    ///
    /// # Errors
    ///
    /// The first failed send's error, with its item; the items after it are not sent.
    pub async fn send_all<I: IntoIterator<Item = T>>(
        &self,
        items: I,
    ) -> Result<usize, RedisSendError<T>> {
        let mut sent = 0;
        for item in items {
            self.send(item).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Entries in the stream now, delivered or not (until deleted).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if the server failed.
    pub async fn stream_len(&self) -> Result<usize, RedisError> {
        let mut connection = self.link.get();
        Ok(redis::cmd("XLEN")
            .arg(&self.settings.stream)
            .query_async(&mut connection)
            .await?)
    }

    async fn add(&self, payload: &[u8]) -> Result<Added, RedisError> {
        let n = self.me.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", self.me.name);
        let (cap, mode) = match (self.settings.max_len, self.settings.when_full) {
            (Some(cap), WhenFull::DropOldest) => (cap, "oldest"),
            (Some(cap), _) => (cap, "cap"),
            (None, _) => (0, "none"),
        };
        let mut invocation = self.script.key(&self.settings.stream);
        invocation.arg(cap).arg(mode).arg(id).arg(payload);
        // After a connection error, a new connection and another try: the server may have
        // restarted. A try whose reply was lost may have added the entry: the same message id
        // then comes twice.
        let mut tries = 0;
        let outcome: i64 = loop {
            let mut connection = self.link.get();
            match invocation.invoke_async(&mut connection).await {
                Ok(outcome) => break outcome,
                Err(error) if tries < RECONNECTS && self.link.recover(&error).await => tries += 1,
                Err(error) if tries < RECONNECTS && crate::link::is_connection_error(&error) => {
                    tries += 1;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        if outcome < 0 {
            return Ok(Added::Full);
        }
        if let Some(probe) = &self.settings.probe {
            probe.produced(1);
            if outcome > 0 {
                probe.dropped(outcome.unsigned_abs(), DropReason::Oldest);
            }
        }
        Ok(Added::Yes)
    }
}

impl<T, C> fmt::Debug for RedisProducer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProducer")
            .field("stream", &self.settings.stream)
            .field("producer", &self.me.name)
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
