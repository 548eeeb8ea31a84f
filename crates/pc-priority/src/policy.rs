//! The two choices a priority channel makes: which item goes next, and what a send into a full
//! channel does.

use std::time::Duration;

/// Which queued item a receive takes, among the levels of a fixed-level channel.
///
/// Level 0 is the highest priority. A channel keyed by an `Ord` priority is always `Strict`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scheduling {
    /// The oldest item of the highest non-empty level, always. A steady flood of high items
    /// starves the lower levels, by design.
    #[default]
    Strict,
    /// Deficit round robin: while level `i` has items, each round serves up to `weights[i]` of
    /// them before moving on to the next non-empty level, so with every level backlogged level
    /// `i` gets `weights[i] / sum(weights)` of the receives and no level starves. One weight per
    /// level, each at least 1.
    Weighted(Vec<u32>),
    /// Strict, except that an item rises one level for every full period it has waited: an item
    /// of level `l` that waited `k` periods competes as level `l - k` (never above 0), and among
    /// items competing at one level the one that has waited longest goes first. A low item
    /// under a flood of high ones is served once it has waited `l` periods.
    Aging(Duration),
}

/// What a send does when the channel is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait for space (`send`, `reserve`), or fail with `Full` (`try_send`, `try_reserve`).
    #[default]
    Wait,
    /// Evict the oldest item of the lowest non-empty priority below the incoming one, count it
    /// as dropped (`DropReason::Shed`) and hand it to the drop hook. When nothing queued has a
    /// lower priority, wait as [`WhenFull::Wait`] does.
    ShedLowest,
}
