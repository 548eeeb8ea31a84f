//! Acknowledgements sent together: one `XACK` (and `XDEL`, when entries are deleted once
//! acked) for many ids, in one round trip.

use std::time::Duration;

use redis::RedisResult;
use redis::aio::MultiplexedConnection;
use tokio::time::Instant;

/// How acks are batched: sent once `max` are held, after `delay` at the latest, and with the
/// consumer's next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckBatch {
    pub(crate) max: usize,
    pub(crate) delay: Duration,
}

/// Ids acked and not sent yet, and since when the oldest of them waits.
#[derive(Debug, Default)]
pub(crate) struct OwedAcks {
    ids: Vec<String>,
    since: Option<Instant>,
}

impl OwedAcks {
    /// Holds `id`; returns how many are held.
    pub(crate) fn push(&mut self, id: String) -> usize {
        self.since.get_or_insert_with(Instant::now);
        self.ids.push(id);
        self.ids.len()
    }

    /// Takes every id held, to send.
    pub(crate) fn take(&mut self) -> Vec<String> {
        self.since = None;
        std::mem::take(&mut self.ids)
    }

    /// Holds again ids whose sending failed, ahead of those acked since.
    pub(crate) fn put_back(&mut self, mut ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        self.since = Some(Instant::now());
        ids.append(&mut self.ids);
        self.ids = ids;
    }

    /// When what is held must be sent, waiting at most `delay`.
    pub(crate) fn due(&self, delay: Duration) -> Option<Instant> {
        self.since
            .map(|since| pc_core::time::later_or_far(since, delay))
    }

    /// How many are held.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &String> {
        self.ids.iter()
    }
}

/// Acks `ids` in group `group` of `stream`, deleting them too with `delete`: one round trip,
/// none for no ids (which Redis would refuse).
pub(crate) async fn send(
    connection: &mut MultiplexedConnection,
    stream: &str,
    group: &str,
    delete: bool,
    ids: &[String],
) -> RedisResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    pipe.cmd("XACK").arg(stream).arg(group).arg(ids).ignore();
    if delete {
        pipe.cmd("XDEL").arg(stream).arg(ids).ignore();
    }
    pipe.query_async(connection).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_oldest_held_ack_sets_when_they_are_due() {
        let delay = Duration::from_millis(10);
        let mut owed = OwedAcks::default();
        assert_eq!(owed.due(delay), None);
        let start = Instant::now();
        assert_eq!(owed.push("1".into()), 1);
        tokio::time::advance(Duration::from_millis(4)).await;
        assert_eq!(owed.push("2".into()), 2);
        assert_eq!(owed.due(delay), start.checked_add(delay));
        assert_eq!(
            owed.due(Duration::MAX),
            start.checked_add(Duration::from_secs(86_400 * 365 * 30))
        );
        assert_eq!(owed.len(), 2);
        let sent = owed.take();
        assert_eq!(sent, ["1", "2"]);
        assert_eq!(owed.due(delay), None);
        owed.push("3".into());
        owed.put_back(sent);
        assert_eq!(owed.ids().collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(owed.due(delay), Instant::now().checked_add(delay));
    }
}
