//! Errors of the priority channel, one per operation.
//!
//! They are pc-core's, plus one case: a level the channel does not have. Each error of an
//! operation that carried an item hands it back (`into_inner`); `Debug` does not need `T: Debug`.
//! "Closed" means the channel, or the item's level on its own, no longer takes items.

use std::error::Error;
use std::fmt;

/// Writes an item-carrying error enum with `into_inner`, `is_*` predicates, `Debug` that does
/// not show the item, `Display` and `Error`.
macro_rules! item_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident<T> {
            $( $(#[$vmeta:meta])* $variant:ident => $is:ident, $message:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(PartialEq, Eq, Clone, Copy)]
        #[non_exhaustive]
        pub enum $name<T> {
            $( $(#[$vmeta])* $variant(T), )*
        }

        impl<T> $name<T> {
            /// Returns the item that could not be sent.
            pub fn into_inner(self) -> T {
                match self {
                    $( Self::$variant(item) )|* => item,
                }
            }

            $(
                #[doc = concat!("Whether this is [`", stringify!($name), "::", stringify!($variant), "`].")]
                pub fn $is(&self) -> bool {
                    matches!(self, Self::$variant(_))
                }
            )*
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")), )*
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => f.write_str($message), )*
                }
            }
        }

        impl<T> Error for $name<T> {}
    };
}

item_error! {
    /// Why a [`send`](crate::PrioritySender::send) failed; the item is handed back.
    pub enum SendError<T> {
        /// The channel, or the item's level, is closed.
        Closed => is_closed, "sending into a closed channel or level";
        /// The channel has no such level.
        UnknownLevel => is_unknown_level, "sending at a level the channel does not have";
    }
}

item_error! {
    /// Why a [`try_send`](crate::PrioritySender::try_send) failed; the item is handed back.
    pub enum TrySendError<T> {
        /// The channel is full and nothing below the item's priority could be shed.
        Full => is_full, "sending into a full channel";
        /// The channel, or the item's level, is closed.
        Closed => is_closed, "sending into a closed channel or level";
        /// The channel has no such level.
        UnknownLevel => is_unknown_level, "sending at a level the channel does not have";
    }
}

item_error! {
    /// Why a [`send_timeout`](crate::PrioritySender::send_timeout) failed; the item is handed back.
    pub enum SendTimeoutError<T> {
        /// No space came free in time.
        Timeout => is_timeout, "timed out waiting for space in the channel";
        /// The channel, or the item's level, is closed.
        Closed => is_closed, "sending into a closed channel or level";
        /// The channel has no such level.
        UnknownLevel => is_unknown_level, "sending at a level the channel does not have";
    }
}

/// Why a [`reserve`](crate::PrioritySender::reserve) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReserveError {
    /// The channel, or the level, is closed.
    Closed,
    /// The channel has no such level.
    UnknownLevel,
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "reserving in a closed channel or level",
            Self::UnknownLevel => "reserving at a level the channel does not have",
        })
    }
}

impl Error for ReserveError {}

/// Why a [`try_reserve`](crate::PrioritySender::try_reserve) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryReserveError {
    /// The channel is full and nothing below the priority could be shed.
    Full,
    /// The channel, or the level, is closed.
    Closed,
    /// The channel has no such level.
    UnknownLevel,
}

impl fmt::Display for TryReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "reserving in a full channel",
            Self::Closed => "reserving in a closed channel or level",
            Self::UnknownLevel => "reserving at a level the channel does not have",
        })
    }
}

impl Error for TryReserveError {}

/// The level given to a per-level operation does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownLevel {
    /// The level asked for.
    pub level: usize,
    /// How many levels the channel has.
    pub levels: usize,
}

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "level {} does not exist (the channel has {})",
            self.level, self.levels
        )
    }
}

impl Error for UnknownLevel {}
