//! How items become stream entries and back.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Turns items into bytes and back. [`Json`] is the default; [`Binary`] is more compact.
pub trait Codec<T>: Send + Sync + 'static {
    /// The bytes of `item`.
    ///
    /// # Errors
    ///
    /// [`CodecError`] if `item` cannot be encoded.
    fn encode(&self, item: &T) -> Result<Vec<u8>, CodecError>;

    /// The item in `bytes`.
    ///
    /// # Errors
    ///
    /// [`CodecError`] if `bytes` do not hold an item.
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// JSON through serde_json: readable with `redis-cli`, portable across languages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
    fn encode(&self, item: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(item).map_err(|e| CodecError(e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError(e.to_string()))
    }
}

/// postcard's compact binary form of serde data: smaller and faster than JSON, readable only by
/// the same Rust types.
#[derive(Debug, Clone, Copy, Default)]
pub struct Binary;

impl<T: Serialize + DeserializeOwned> Codec<T> for Binary {
    fn encode(&self, item: &T) -> Result<Vec<u8>, CodecError> {
        postcard::to_stdvec(item).map_err(|e| CodecError(e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        postcard::from_bytes(bytes).map_err(|e| CodecError(e.to_string()))
    }
}

/// An item could not be encoded, or an entry's payload decoded; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "codec: {}", self.0)
    }
}

impl std::error::Error for CodecError {}
