//! `RedisGcra`: one rate limit per key, shared by every process that talks to the server.

use std::fmt;
use std::time::Duration;

use pc_core::BuildError;
use redis::Script;
use tokio::sync::OnceCell;

use crate::error::RedisError;
use crate::link::{Link, Target};
use crate::retry::RetryPolicy;
use crate::tls::TlsSetting;

/// The decision, on the server, in one round trip: GCRA over a theoretical arrival time (TAT)
/// in microseconds of the server's clock (`TIME`), kept in the key until the bucket is full
/// again (then the key expires: an absent key is a full bucket). Microseconds since the epoch
/// stay exact in Lua's doubles (below 2^53) for centuries.
///
/// KEYS[1]: the key. ARGV: interval (µs per permit), burst, permits asked.
/// Returns `{1, 0}` when granted, `{0, wait}` with the µs until it would be.
const DECIDE: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
local allowed_from = new_tat - burst * interval
if allowed_from > now then
  return {0, allowed_from - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return {1, 0}
";

/// The longest a burst may span, in microseconds: 100 years, so that the server's clock plus a
/// window stays exact in the script's doubles.
const MAX_WINDOW_US: f64 = 100.0 * 365.25 * 86_400.0 * 1e6;

/// One rate limit per key, decided on a Redis server, so that every replica of a service
/// enforces one limit together rather than one each.
///
/// The same decision as `pc_ratelimit::Gcra` (a rate, a burst, `try_acquire(n)` that never
/// waits and says when to retry), keyed, in one round trip per decision: a script reads the
/// server's clock, so the replicas' clocks do not matter. A key's state is one string that
/// expires once its bucket is full again. The interval is kept in whole microseconds, rounded
/// up, so the limit is never exceeded: rates up to 1,000,000 per second.
///
/// ```no_run
/// use pc_redis::{RedisGcra, RedisLimitError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let per_tenant = RedisGcra::builder("redis://127.0.0.1/")
///     .rate(100.0)
///     .burst(20)
///     .prefix("api-limit:")
///     .build()?;
/// match per_tenant.try_acquire("acme", 1).await {
///     Ok(()) => println!("serve the request"),
///     Err(RedisLimitError::Insufficient { retry_after }) => println!("429, retry in {retry_after:?}"),
///     Err(other) => return Err(other.into()),
/// }
/// # Ok(())
/// # }
/// ```
pub struct RedisGcra {
    client: redis::Client,
    url: String,
    link: OnceCell<Link>,
    script: Script,
    prefix: String,
    interval_us: u64,
    burst: u32,
}

impl fmt::Debug for RedisGcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisGcra")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .field("interval_us", &self.interval_us)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// Why a [`RedisGcra`] did not grant a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisLimitError {
    /// Not enough permits now; by the server's clock, they will be after `retry_after`.
    Insufficient {
        /// How long until the request would be granted, if nothing else takes permits first.
        retry_after: Duration,
    },
    /// More permits asked at once than the burst: never granted.
    OverBurst {
        /// The permits asked for.
        requested: u32,
        /// The burst.
        burst: u32,
    },
    /// The server could not decide (unreachable, or the command failed): nothing was taken.
    Redis(RedisError),
}

impl fmt::Display for RedisLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Insufficient { retry_after } => {
                write!(f, "rate limited: permits available in {retry_after:?}")
            }
            Self::OverBurst { requested, burst } => {
                write!(
                    f,
                    "{requested} permits asked at once, over the burst of {burst}"
                )
            }
            Self::Redis(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RedisLimitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Redis(error) => Some(error),
            _ => None,
        }
    }
}

impl From<RedisError> for RedisLimitError {
    fn from(error: RedisError) -> Self {
        Self::Redis(error)
    }
}

impl RedisGcra {
    /// Starts the settings of a limiter on the server at `url`; `rate` and `burst` are
    /// required.
    pub fn builder(url: impl Into<String>) -> RedisGcraBuilder {
        RedisGcraBuilder {
            url: url.into(),
            rate: None,
            burst: None,
            prefix: "pc-gcra:".to_owned(),
            tls: TlsSetting::default(),
        }
    }

    /// Takes `n` of `key`'s permits if they exist now, by the server's clock. Asking for 0
    /// always succeeds without a round trip.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Insufficient`] with the time until the request would succeed,
    /// [`RedisLimitError::OverBurst`] (no round trip), or [`RedisLimitError::Redis`] when the
    /// server could not decide: a lost connection is made again and the decision asked once
    /// more, then the error is returned (a limiter must answer quickly; the caller chooses
    /// whether to fail open or closed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the server answered may or may not have taken the permits
    /// (the script runs whole on the server, or not at all).
    pub async fn try_acquire(&self, key: &str, n: u32) -> Result<(), RedisLimitError> {
        if n == 0 {
            return Ok(());
        }
        if n > self.burst {
            return Err(RedisLimitError::OverBurst {
                requested: n,
                burst: self.burst,
            });
        }
        let link = self
            .link
            .get_or_try_init(|| {
                Link::open(
                    Target::Server(self.client.clone()),
                    self.url.clone(),
                    None,
                    RetryPolicy::default(),
                )
            })
            .await?;
        let mut invocation = self.script.key(format!("{}{key}", self.prefix));
        invocation.arg(self.interval_us).arg(self.burst).arg(n);
        let invocation = &invocation;
        let decided: redis::RedisResult<(i64, i64)> = link
            .run_once_more(|mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await;
        match decided.map_err(RedisError::from)? {
            (1, _) => Ok(()),
            (_, wait) => Err(RedisLimitError::Insufficient {
                retry_after: Duration::from_micros(wait.unsigned_abs()),
            }),
        }
    }

    /// The rate, in permits per second, as charged (the interval rounded up to a microsecond).
    pub fn rate(&self) -> f64 {
        1e6 / self.interval_us as f64
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// Settings for a [`RedisGcra`].
#[derive(Debug, Clone)]
pub struct RedisGcraBuilder {
    url: String,
    rate: Option<f64>,
    burst: Option<u32>,
    prefix: String,
    tls: TlsSetting,
}

impl RedisGcraBuilder {
    /// Permits per second, per key (required): above 0, at most 1,000,000.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = Some(per_second);
        self
    }

    /// Permits a key may take at once after a quiet period (required, at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// What the server's keys start with (default `pc-gcra:`): limiters with the same prefix,
    /// rate and burst share their keys' limits; give each limit a prefix of its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The certificates for a `rediss://` URL, as [`RedisQueueBuilder::tls`](crate::RedisQueueBuilder::tls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Checks the settings. Connects on the first decision.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming `rate` (missing, not finite, 0 or less, above 1,000,000 per
    /// second, or so slow that the burst spans more than 100 years), `burst` (missing or 0) or
    /// `url` (not a Redis URL, or as [`RedisQueueBuilder::build`](crate::RedisQueueBuilder::build)
    /// says of TLS) or `tls`.
    pub fn build(self) -> Result<RedisGcra, BuildError> {
        let rate = self.rate.ok_or(BuildError::Invalid {
            setting: "rate",
            reason: "a rate is required".into(),
        })?;
        let burst = self.burst.ok_or(BuildError::Invalid {
            setting: "burst",
            reason: "a burst is required".into(),
        })?;
        if burst == 0 {
            return Err(BuildError::Zero { setting: "burst" });
        }
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
            return Err(BuildError::Invalid {
                setting: "rate",
                reason: format!("must be above 0 and at most 1,000,000 per second, not {rate}"),
            });
        }
        let interval_us = (1e6 / rate).ceil();
        if interval_us * f64::from(burst) > MAX_WINDOW_US {
            return Err(BuildError::Invalid {
                setting: "rate",
                reason: "the burst would span more than 100 years at this rate".into(),
            });
        }
        let client = crate::tls::client(&self.url, &self.tls)?;
        Ok(RedisGcra {
            client,
            url: self.url,
            link: OnceCell::new(),
            script: Script::new(DECIDE),
            prefix: self.prefix,
            interval_us: interval_us as u64,
            burst,
        })
    }
}
