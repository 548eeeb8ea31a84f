//! A group's backlog as the server counts it (`XINFO GROUPS`).

use crate::error::RedisError;
use crate::link::Link;

/// A consumer group's backlog on one stream, as the server counts it (`XINFO GROUPS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// Entries delivered to the group's consumers and not yet acknowledged.
    pub pending: u64,
    /// Entries not yet delivered to the group; `None` when the server cannot tell (entries
    /// were deleted or trimmed in a way that hides the count, or a server before Redis 7).
    pub lag: Option<u64>,
    /// Consumers the group knows (live or not: a consumer stays until deleted).
    pub consumers: u64,
}

/// Asks for `group`'s backlog on `stream`. Before the group exists (no consumer made it yet),
/// nothing is pending and every entry is undelivered: the first consumer creates the group at
/// the stream's start.
pub(crate) async fn query(link: &Link, stream: &str, group: &str) -> Result<Backlog, RedisError> {
    let mut info = redis::cmd("XINFO");
    info.arg("GROUPS").arg(stream);
    let info = &info;
    let reply: redis::RedisResult<redis::streams::StreamInfoGroupsReply> = link
        .run_once_more(|mut connection| async move { info.query_async(&mut connection).await })
        .await;
    let groups = match reply {
        Ok(reply) => reply.groups,
        // No stream yet: nothing sent, nothing owed.
        Err(error) if error.to_string().contains("no such key") => Vec::new(),
        Err(error) => return Err(RedisError::Command(error)),
    };
    if let Some(info) = groups.into_iter().find(|info| info.name == group) {
        return Ok(Backlog {
            pending: info.pending as u64,
            lag: info.lag.map(|lag| lag as u64),
            consumers: info.consumers as u64,
        });
    }
    let mut len = redis::cmd("XLEN");
    len.arg(stream);
    let len = &len;
    let entries: u64 = link
        .run_once_more(|mut connection| async move { len.query_async(&mut connection).await })
        .await?;
    Ok(Backlog {
        pending: 0,
        lag: Some(entries),
        consumers: 0,
    })
}
