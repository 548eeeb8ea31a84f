//! The rate and burst every limiter's builder takes, validated in one place.

use pc_core::BuildError;

use crate::limits::Limits;

/// Rate and burst as given to a builder, checked by [`RateSettings::limits`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateSettings {
    pub(crate) per_second: Option<f64>,
    pub(crate) burst: Option<u32>,
}

impl RateSettings {
    pub(crate) fn limits(self) -> Result<Limits, BuildError> {
        let per_second = self.per_second.ok_or(BuildError::Invalid {
            setting: "rate",
            reason: "must be set".into(),
        })?;
        let burst = self.burst.ok_or(BuildError::Invalid {
            setting: "burst",
            reason: "must be set".into(),
        })?;
        Limits::new(per_second, burst)
    }
}

/// The `rate` and `burst` setters every limiter's builder shares, written once; the builder
/// keeps its rate and burst in a `settings: RateSettings` field.
macro_rules! rate_and_burst_setters {
    () => {
        /// Permits per second: any finite rate above 0 (fractions too: `0.5` is one permit
        /// every 2 s). Required.
        pub fn rate(mut self, per_second: f64) -> Self {
            self.settings.per_second = Some(per_second);
            self
        }

        /// The most permits taken at once after a quiet period; a limiter starts with this
        /// many available. Required.
        pub fn burst(mut self, burst: u32) -> Self {
            self.settings.burst = Some(burst);
            self
        }
    };
}

pub(crate) use rate_and_burst_setters;

/// Tells a limiter's probe, if any, what reports to it; hands it back for the limiter to keep.
pub(crate) fn described(probe: Option<pc_core::SharedProbe>) -> Option<pc_core::SharedProbe> {
    if let Some(probe) = &probe {
        probe.described(pc_core::BlockKind::RateLimiter, None);
    }
    probe
}
