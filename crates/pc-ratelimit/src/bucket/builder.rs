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

    /// Reports every wait for permits as [`WaitKind::Throttled`](pc_core::WaitKind::Throttled).
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
        Ok(TokenBucket::new(self.settings.limits()?, self.probe))
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
