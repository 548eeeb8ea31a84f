//! Leases on pending entries: entries nacked with a delay wait here for their time, renewed
//! so that no other consumer reclaims them meanwhile; `touch` renews one being handled.
//!
//! An entry pending under a consumer is reclaimed by any consumer once it has been idle for
//! the claim time. Renewing is `XCLAIM ... JUSTID` by the consumer that holds it: the idle time
//! starts again and the delivery count does not move. A script checks first that the entry is
//! still pending under that consumer, so a renewal never takes over an entry another consumer
//! reclaimed.

use std::time::Duration;

use redis::Script;
use tokio::time::Instant;

/// Renews the entries `ARGV[3..]` pending under consumer `ARGV[2]` of group `ARGV[1]` on
/// stream `KEYS[1]`; returns those it renewed (the others are no longer that consumer's).
const RENEW: &str = r"
local renewed = {}
for i = 3, #ARGV do
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
    if #pending > 0 then
        redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
        renewed[#renewed + 1] = ARGV[i]
    end
end
return renewed
";

/// The script that renews leases.
pub(crate) fn renew_script() -> Script {
    Script::new(RENEW)
}

/// Entries nacked here, each waiting until it may be delivered again.
#[derive(Debug, Default)]
pub(crate) struct Nacked {
    entries: Vec<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    id: String,
    due: Instant,
    /// When its lease was last renewed (or it was delivered, for an entry due at once).
    renewed: Instant,
}

impl Nacked {
    /// Holds `id` until `due`.
    pub(crate) fn push(&mut self, id: String, due: Instant) {
        let renewed = Instant::now();
        self.entries.push(Waiting { id, due, renewed });
    }

    /// Takes the entries due by `now`, the earliest due first.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<String> {
        let (mut due, waiting): (Vec<_>, Vec<_>) =
            self.entries.drain(..).partition(|entry| entry.due <= now);
        self.entries = waiting;
        due.sort_by_key(|entry| entry.due);
        due.into_iter().map(|entry| entry.id).collect()
    }

    /// When the next entry falls due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.entries.iter().map(|entry| entry.due).min()
    }

    /// When the next lease must be renewed, renewing each `every`: an entry due by its
    /// renewal needs none.
    pub(crate) fn next_renewal(&self, every: Duration) -> Option<Instant> {
        self.entries
            .iter()
            .map(|entry| (entry.due, pc_core::time::later_or_far(entry.renewed, every)))
            .filter(|(due, renewal)| due > renewal)
            .map(|(_, renewal)| renewal)
            .min()
    }

    /// The entries whose lease is due for renewal at `now`, renewing each `every`, marked as
    /// renewed now (a renewal that fails is tried again at the next one).
    pub(crate) fn take_renewals(&mut self, now: Instant, every: Duration) -> Vec<String> {
        self.entries
            .iter_mut()
            .filter(|entry| {
                entry.due > now && pc_core::time::later_or_far(entry.renewed, every) <= now
            })
            .map(|entry| {
                entry.renewed = now;
                entry.id.clone()
            })
            .collect()
    }

    /// Lets go of `ids`: no longer this consumer's.
    pub(crate) fn forget(&mut self, ids: &[String]) {
        self.entries.retain(|entry| !ids.contains(&entry.id));
    }

    /// Every id held.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|entry| &entry.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn entries_fall_due_in_order_and_are_renewed_while_they_wait() {
        let start = Instant::now();
        let at = |secs: u32| start.checked_add(secs * S).expect("a near instant");
        let mut nacked = Nacked::default();
        nacked.push("b".into(), at(10));
        nacked.push("a".into(), at(5));
        nacked.push("now".into(), start);
        nacked.push(
            "far".into(),
            pc_core::time::later_or_far(start, Duration::MAX),
        );
        assert_eq!(nacked.take_due(at(0)), ["now"]);
        assert_eq!(nacked.next_due(), Some(at(5)));
        // Renewed every 3 s: first at 3 s, for all three.
        assert_eq!(nacked.next_renewal(3 * S), Some(at(3)));
        assert!(nacked.take_renewals(at(2), 3 * S).is_empty());
        assert_eq!(nacked.take_renewals(at(3), 3 * S), ["b", "a", "far"]);
        assert_eq!(nacked.take_due(at(6)), ["a"]);
        nacked.forget(&["far".to_string()]);
        assert_eq!(nacked.next_renewal(3 * S), Some(at(6)));
        assert_eq!(nacked.take_renewals(at(6), 3 * S), ["b"]);
        // Due before its next renewal: none needed.
        assert_eq!(nacked.next_renewal(5 * S), None);
        assert_eq!(nacked.take_due(at(10)), ["b"]);
        assert_eq!(nacked.next_due(), None);
        assert_eq!(nacked.ids().count(), 0);
    }
}
