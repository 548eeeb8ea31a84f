//! `BuildError`: what every builder in the toolkit returns for a bad setting.

use std::error::Error;
use std::fmt;

/// A builder was given a setting it cannot work with.
///
/// Returned by every `build()` in the toolkit, at build time, so that a bad setting never
/// surfaces later as a panic inside a task.
///
/// ```
/// use pc_core::{BuildError, channel};
///
/// let err = channel::bounded::<u32>(0).unwrap_err();
/// assert_eq!(err, BuildError::Zero { setting: "capacity" });
/// assert_eq!(err.to_string(), "invalid setting `capacity`: must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting that must be at least 1 was 0.
    Zero {
        /// The name of the setting, as the builder method spells it.
        setting: &'static str,
    },
    /// A setting is out of range or contradicts another setting.
    Invalid {
        /// The name of the setting, as the builder method spells it.
        setting: &'static str,
        /// What is wrong with it, as a lowercase phrase.
        reason: String,
    },
}

impl BuildError {
    /// The name of the offending setting.
    pub fn setting(&self) -> &'static str {
        match self {
            Self::Zero { setting } | Self::Invalid { setting, .. } => setting,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero { setting } => write!(f, "invalid setting `{setting}`: must be at least 1"),
            Self::Invalid { setting, reason } => write!(f, "invalid setting `{setting}`: {reason}"),
        }
    }
}

impl Error for BuildError {}
