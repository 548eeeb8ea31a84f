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
