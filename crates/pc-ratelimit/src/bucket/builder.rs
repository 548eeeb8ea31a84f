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
    /// Permits added per second. Any finite rate above 0 (fractions too: `0.5` is one permit
    /// every 2 s).
    pub fn rate(mut self, per_second: f64) -> Self {
        self.settings.per_second = Some(per_second);
        self
    }

    /// The most permits the bucket holds, and so the most taken at once after a quiet period.
    /// The bucket starts full.
    pub fn burst(mut self, burst: u32) -> Self {
        self.settings.burst = Some(burst);
        self
    }

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
