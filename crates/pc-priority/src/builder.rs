//! `PriorityChannel`: the settings of a channel, checked when it is built.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use pc_core::{BuildError, SharedProbe};

use crate::policy::{Scheduling, WhenFull};
use crate::receiver::PriorityReceiver;
use crate::sender::PrioritySender;
use crate::shared::{DropHook, Shared};
use crate::store::{ByKey, KeyQueue, LevelQueue, Levels, MAX_LEVELS, Store};

/// A multi-producer multi-consumer priority channel: [`PriorityChannel::builder`] makes one
/// with fixed levels, [`PriorityChannel::by_key`] one ordered by any `Ord` key.
///
/// ```
/// use pc_priority::{PriorityChannel, WhenFull};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = PriorityChannel::builder(3)
///     .capacity(2)
///     .when_full(WhenFull::ShedLowest)
///     .build()?;
/// tx.send("report", 2).await?;
/// tx.send("backup", 2).await?;
/// tx.send("page the on-call", 0).await?; // full: sheds "report", the oldest of level 2
/// assert_eq!(rx.recv().await?, ("page the on-call", 0));
/// assert_eq!(rx.recv().await?, ("backup", 2));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PriorityChannel {
    _namespace: (),
}

impl PriorityChannel {
    /// Starts the settings of a channel with `levels` fixed levels (1 to 64), level 0 served
    /// first. Unbounded until [`capacity`](PriorityChannelBuilder::capacity) is set; sends
    /// through [`Producer`](pc_core::Producer) go to the lowest level unless
    /// [`default_level`](PriorityChannelBuilder::default_level) says otherwise.
    pub fn builder<T: Send>(levels: usize) -> PriorityChannelBuilder<T, Levels> {
        PriorityChannelBuilder {
            capacity: None,
            when_full: WhenFull::Wait,
            on_drop: None,
            probe: None,
            level_probes: Vec::new(),
            store: LevelSettings {
                levels,
                scheduling: Scheduling::Strict,
                default_level: None,
            },
            _items: PhantomData,
        }
    }

    /// Starts the settings of a channel ordered by keys of type `K`, the smallest first and
    /// FIFO among equal keys (a binary heap, or an ordered map when shedding: O(log n) per
    /// operation). Sends through
    /// [`Producer`](pc_core::Producer) use `default`.
    ///
    /// ```
    /// use std::cmp::Reverse;
    /// use pc_priority::PriorityChannel;
    ///
    /// # tokio_test::block_on(async {
    /// // Highest score first: wrap the key in `Reverse`.
    /// let (tx, rx) = PriorityChannel::by_key(Reverse(0u32)).capacity(16).build()?;
    /// tx.send("b", Reverse(7)).await?;
    /// tx.send("a", Reverse(9)).await?;
    /// tx.send("c", Reverse(7)).await?;
    /// assert_eq!(rx.recv().await?.0, "a");
    /// assert_eq!(rx.recv().await?.0, "b");
    /// assert_eq!(rx.recv().await?.0, "c");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn by_key<T: Send, K>(default: K) -> PriorityChannelBuilder<T, ByKey<K>>
    where
        K: Ord + Clone + fmt::Debug + Send + Sync + 'static,
    {
        PriorityChannelBuilder {
            capacity: None,
            when_full: WhenFull::Wait,
            on_drop: None,
            probe: None,
            level_probes: Vec::new(),
            store: default,
            _items: PhantomData,
        }
    }
}

/// What only a fixed-level channel has.
#[derive(Debug)]
#[doc(hidden)]
pub struct LevelSettings {
    levels: usize,
    scheduling: Scheduling,
    default_level: Option<usize>,
}

/// The two halves a built channel returns.
pub type Halves<T, S = Levels> = (PrioritySender<T, S>, PriorityReceiver<T, S>);

/// Settings for a [`PriorityChannel`] of items `T` ordered by `S`.
pub struct PriorityChannelBuilder<T: Send, S: Store> {
    capacity: Option<usize>,
    when_full: WhenFull,
    on_drop: Option<DropHook<T, S::Priority>>,
    probe: Option<SharedProbe>,
    level_probes: Vec<SharedProbe>,
    /// [`LevelSettings`] for levels, the default key for keys.
    store: S::Settings,
    _items: PhantomData<fn() -> T>,
}

impl<T: Send, S: Store> PriorityChannelBuilder<T, S> {
    /// Bounds the channel to `capacity` items across all priorities (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Makes the channel unbounded (the default).
    pub fn unbounded(mut self) -> Self {
        self.capacity = None;
        self
    }

    /// What a send into a full channel does: wait (the default) or shed a lower item.
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Calls `hook` with each item shed to make room and its priority, outside the channel's
    /// lock.
    pub fn on_drop(mut self, hook: impl Fn(T, S::Priority) + Send + Sync + 'static) -> Self {
        self.on_drop = Some(Box::new(hook));
        self
    }

    /// Reports sends, receives, depth, sheds, items stranded by the last receiver and time
    /// blocked on a full channel to `probe`.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    fn check_capacity(&self) -> Result<(), BuildError> {
        match self.capacity {
            Some(0) => Err(BuildError::Zero {
                setting: "capacity",
            }),
            _ => Ok(()),
        }
    }

    fn finish(self, queue: S::Queue<T>, default_priority: S::Priority) -> Halves<T, S> {
        let shared = Arc::new(Shared::new(
            queue,
            self.capacity,
            self.when_full,
            default_priority,
            self.probe,
            self.level_probes.into_boxed_slice(),
            self.on_drop,
        ));
        (
            PrioritySender {
                shared: Arc::clone(&shared),
            },
            PriorityReceiver::new(shared),
        )
    }
}

impl<T: Send> PriorityChannelBuilder<T, Levels> {
    /// How a receive chooses among levels: [`Scheduling::Strict`] (the default),
    /// [`Scheduling::Weighted`] or [`Scheduling::Aging`].
    pub fn scheduling(mut self, scheduling: Scheduling) -> Self {
        self.store.scheduling = scheduling;
        self
    }

    /// The level that sends through [`Producer`](pc_core::Producer) use; the lowest level
    /// unless set.
    pub fn default_level(mut self, level: usize) -> Self {
        self.store.default_level = Some(level);
        self
    }

    /// Reports each level on a probe of its own, level 0 first, in addition to the channel's
    /// [`probe`](Self::probe): sends, receives, depth of the level, sheds from it and items
    /// stranded in it. Give one probe per level.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use pc_core::{Probe, SharedProbe};
    /// use pc_priority::PriorityChannel;
    ///
    /// #[derive(Debug, Default)]
    /// struct Sent(AtomicU64);
    /// impl Probe for Sent {
    ///     fn produced(&self, n: u64) {
    ///         self.0.fetch_add(n, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let levels: Vec<Arc<Sent>> = (0..2).map(|_| Arc::default()).collect();
    /// let (tx, _rx) = PriorityChannel::builder::<&str>(2)
    ///     .level_probes(levels.iter().map(|p| p.clone() as SharedProbe))
    ///     .build()?;
    /// tx.try_send("urgent", 0)?;
    /// tx.try_send("later", 1)?;
    /// tx.try_send("later too", 1)?;
    /// assert_eq!(levels[1].0.load(Ordering::Relaxed), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn level_probes(mut self, probes: impl IntoIterator<Item = SharedProbe>) -> Self {
        self.level_probes = probes.into_iter().collect();
        self
    }

    /// Builds the channel and returns its two halves.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if there are 0 or more than 64 levels, the capacity is 0, the default level
    /// does not exist, weighted scheduling does not give one weight of at least 1 per level, the
    /// aging period is zero, or level probes are given but not one per level.
    pub fn build(self) -> Result<Halves<T>, BuildError> {
        self.check_capacity()?;
        if !self.level_probes.is_empty() && self.level_probes.len() != self.store.levels {
            return Err(invalid(
                "level_probes",
                format!(
                    "{} probes for {} levels",
                    self.level_probes.len(),
                    self.store.levels
                ),
            ));
        }
        let LevelSettings {
            levels,
            ref scheduling,
            default_level,
        } = self.store;
        if levels == 0 {
            return Err(BuildError::Zero { setting: "levels" });
        }
        if levels > MAX_LEVELS {
            return Err(invalid(
                "levels",
                format!("{levels} levels; at most {MAX_LEVELS}"),
            ));
        }
        match scheduling {
            Scheduling::Strict => {}
            Scheduling::Weighted(weights) => {
                if weights.len() != levels {
                    return Err(invalid(
                        "weights",
                        format!("{} weights for {levels} levels", weights.len()),
                    ));
                }
                if weights.contains(&0) {
                    return Err(BuildError::Zero { setting: "weights" });
                }
            }
            Scheduling::Aging(period) => {
                if period.is_zero() {
                    return Err(BuildError::Zero { setting: "aging" });
                }
            }
        }
        let default_level = default_level.unwrap_or(levels - 1);
        if default_level >= levels {
            return Err(invalid(
                "default_level",
                format!(
                    "level {default_level} of {levels} levels (0 to {})",
                    levels - 1
                ),
            ));
        }
        let queue = LevelQueue::new(levels, scheduling);
        Ok(self.finish(queue, default_level))
    }
}

impl<T: Send, K> PriorityChannelBuilder<T, ByKey<K>>
where
    K: Ord + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// Builds the channel and returns its two halves.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the capacity is 0.
    pub fn build(self) -> Result<Halves<T, ByKey<K>>, BuildError> {
        self.check_capacity()?;
        let default = self.store.clone();
        let shedding = self.when_full == WhenFull::ShedLowest;
        Ok(self.finish(KeyQueue::new(shedding), default))
    }
}

impl<T: Send, S: Store> fmt::Debug for PriorityChannelBuilder<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityChannelBuilder")
            .field("capacity", &self.capacity)
            .field("when_full", &self.when_full)
            .field("store", &self.store)
            .field("on_drop", &self.on_drop.is_some())
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

fn invalid(setting: &'static str, reason: String) -> BuildError {
    BuildError::Invalid { setting, reason }
}
