//! How items become stream entries and back.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pc_core::task::panic_message;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Turns items into bytes and back. [`Json`] is the default; [`Binary`] is more compact.
///
/// A codec that panics fails the one item, as an error would: the panic becomes that item's
/// [`CodecError`] ("the codec panicked: ..."), handed back to the sender, counted as dropped by
/// the outbox of `try_send`, or sent to the dead letters by a consumer.
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

/// `codec.encode(item)`, with a panic of the codec (or of the item's `Serialize`) turned into
/// that item's [`CodecError`]: a panic of user code fails the one item, never the task that
/// moves many.
pub(crate) fn encode_caught<T, C: Codec<T>>(codec: &C, item: &T) -> Result<Vec<u8>, CodecError> {
    catch_unwind(AssertUnwindSafe(|| codec.encode(item)))
        .unwrap_or_else(|panic| Err(panicked(&*panic)))
}

/// `codec.decode(bytes)`, with a panic turned into that entry's [`CodecError`] (see
/// [`encode_caught`]).
pub(crate) fn decode_caught<T, C: Codec<T>>(codec: &C, bytes: &[u8]) -> Result<T, CodecError> {
    catch_unwind(AssertUnwindSafe(|| codec.decode(bytes)))
        .unwrap_or_else(|panic| Err(panicked(&*panic)))
}

fn panicked(payload: &(dyn Any + Send)) -> CodecError {
    CodecError(format!("the codec panicked: {}", panic_message(payload)))
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
