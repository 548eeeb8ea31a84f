//! `TokenBucketBuilder`.

use std::fmt;

use pc_core::{BuildError, SharedProbe};

use super::TokenBucket;
use crate::settings::RateSettings;

/// Settings for a [`TokenBucket`]: a rate and a burst (both required), and an optional probe.
#[derive(Clone, Default)]
pub struct TokenBucketBuilder {
    settings: RateSettings,
    probe: Option<SharedProbe>,
}

impl TokenBucketBuilder {
    crate::settings::rate_and_burst_setters!();

    /// Reports to `probe` every wait for permits as
    /// [`WaitKind::Throttled`](pc_core::WaitKind::Throttled) (announced when it starts, so
    /// waiting callers are counted, and ended when granted or cancelled), permits granted as
    /// produced and consumed, and requests refused for want of tokens or time as dropped with
    /// [`DropReason::Full`](pc_core::DropReason::Full).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Builds the bucket.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` (missing, 0, negative, not finite, or above 1e9/s) or
    /// `burst` (missing or 0).
    pub fn build(self) -> Result<TokenBucket, BuildError> {
        Ok(TokenBucket::new(
            self.settings.limits()?,
            crate::settings::described(self.probe),
        ))
    }
}

impl fmt::Debug for TokenBucketBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucketBuilder")
            .field("rate", &self.settings.per_second)
            .field("burst", &self.settings.burst)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}
