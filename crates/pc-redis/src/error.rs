//! What can go wrong talking to the server.

use std::fmt;

use pc_core::{ProduceError, ProduceErrorKind};

/// An operation against the Redis server failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisError {
    /// The server at `url` could not be reached (or refused the connection).
    Connect {
        /// The URL of the queue's settings.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// A command failed.
    Command(redis::RedisError),
    /// An item could not be encoded.
    Codec(crate::CodecError),
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { url, source } => write!(f, "cannot reach Redis at {url}: {source}"),
            Self::Command(source) => write!(f, "Redis command failed: {source}"),
            Self::Codec(source) => write!(f, "{source}"),
        }
    }
}

impl std::error::Error for RedisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source, .. } | Self::Command(source) => Some(source),
            Self::Codec(source) => Some(source),
        }
    }
}

impl From<redis::RedisError> for RedisError {
    fn from(source: redis::RedisError) -> Self {
        Self::Command(source)
    }
}

/// A send that did not add its item, which it hands back.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisSendError<T> {
    /// The stream is at its cap and the policy is to reject.
    Full(T),
    /// The server failed; the item may or may not have been added (a retry may duplicate it:
    /// consumers deduplicate by the message id).
    Server(T, RedisError),
    /// The item could not be encoded.
    Codec(T, crate::CodecError),
    /// The producer was closed.
    Closed(T),
}

impl<T> RedisSendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item)
            | Self::Server(item, _)
            | Self::Codec(item, _)
            | Self::Closed(item) => item,
        }
    }
}

impl<T> fmt::Display for RedisSendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the stream is at its cap"),
            Self::Server(_, error) => write!(f, "{error}"),
            Self::Codec(_, error) => write!(f, "{error}"),
            Self::Closed(_) => f.write_str("the producer is closed"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for RedisSendError<T> {}

/// As the [`Producer`](pc_core::Producer) trait's kinds: `Closed`, `Rejected` (the stream at
/// its cap under `WhenFull::Reject`), and `Failed` for the server's or the codec's error, which
/// becomes the error's [`source`](std::error::Error::source).
impl<T> From<RedisSendError<T>> for ProduceError<T> {
    fn from(err: RedisSendError<T>) -> Self {
        match err {
            RedisSendError::Closed(item) => Self::closed(item),
            RedisSendError::Full(item) => Self::new(item, ProduceErrorKind::Rejected),
            RedisSendError::Server(item, error) => Self::failed(item, error),
            RedisSendError::Codec(item, error) => Self::failed(item, error),
        }
    }
}
