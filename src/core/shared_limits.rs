//! Rate limits shared by the instances behind one load balancer: the buckets counted in
//! Redis (`[rate_limits] store = "redis://…"`) instead of each instance's memory, so N
//! instances let a merchant through its limit once, not N times.
//!
//! A bucket is the same GCRA the in-memory limiters run (governor's: one request
//! replenished every `window / limit`, a burst of `limit`), its state one key holding
//! the theoretical arrival time, tested and moved by one Lua script — atomic on the
//! Redis server, so concurrent requests through different instances cannot both take
//! the last place. The script reads Redis's own clock (`TIME`), so the instances'
//! clocks need not agree; a test clock's offset is added to it.
//!
//! **When Redis does not answer** (down, unreachable, slower than `timeout_ms`) the
//! request is counted in this instance's in-memory bucket instead: fail open to local
//! limits, with a warning in the log (at most every 30 s) and a count of such requests
//! ([`SharedLimits::fallbacks`], `paybridge_rate_limit_store_fallbacks_total`). Chosen
//! on purpose: a rate limit protects capacity, not money (every money movement is
//! decided in the database), so an outage of the limit store must not become an
//! outage of payments — failing closed would refuse every merchant with 429 at once.
//! While it lasts each instance still holds the limit on its own share of the traffic
//! (N instances: at most N times the limit). Redis is asked again at most once a
//! second, so a dead store does not add its timeout to every request.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::CoreError;

/// Where rate-limit buckets are counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RateLimitStore {
    /// In this instance's memory: right for one instance.
    #[default]
    Memory,
    /// In Redis, shared by every instance that names it.
    Redis {
        /// `redis://host:port[/db]` or `rediss://…`.
        url: String,
        /// Prefix of every key (`<prefix>:rate:<bucket>`).
        prefix: String,
        /// How long a request waits for Redis before it is counted in memory.
        timeout: Duration,
    },
}

impl RateLimitStore {
    /// Whether `url` is a Redis URL the client can use.
    pub fn valid_redis_url(url: &str) -> bool {
        (url.starts_with("redis://") || url.starts_with("rediss://")) && redis::Client::open(url).is_ok()
    }
}

/// What the shared bucket decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// Let through, with this many left in the burst.
    Allowed { remaining: u32 },
    /// Refused: the next request fits after `wait`.
    Limited { wait: Duration },
}

/// The GCRA step. `KEYS[1]` the bucket; `ARGV`: the emission interval `t` and the
/// burst tolerance `tau` (`t × (limit − 1)`), both in µs, and the clock offset in µs.
/// Returns `{1, remaining}` or `{0, µs to wait}`. Times stay exact in Lua's doubles
/// (µs since 1970 < 2^53) and are written with `%.0f` (Lua's default `%.14g` would
/// round them).
const GCRA: &str = r"
local t = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2]) + tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
local earliest = tat - tau
if now < earliest then
  return {0, earliest - now}
end
local nxt = math.max(tat, now) + t
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.floor((nxt - now) / 1000) + 1000)
return {1, math.floor(math.min(now + tau + t - nxt, tau + t) / t)}
";

/// The buckets in Redis.
pub(super) struct SharedLimits {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    /// Until when Redis is not asked, after it failed.
    resting_until: Mutex<Option<Instant>>,
    /// When the last warning was logged.
    warned: Mutex<Option<Instant>>,
    fallbacks: AtomicU64,
}

/// How long Redis is left alone after it failed.
const REST: Duration = Duration::from_secs(1);
/// At most one warning this often while Redis fails.
const WARN_EVERY: Duration = Duration::from_secs(30);

impl SharedLimits {
    /// A client of the Redis at `url`, connecting on first use (and again whenever the
    /// connection is lost): an instance starts while Redis is down, counting in memory.
    pub(super) fn new(url: &str, prefix: &str, timeout: Duration) -> Result<SharedLimits, CoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| CoreError::Internal(format!("rate_limits.store is not a usable Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| CoreError::Internal(format!("cannot set up the Redis client: {e}")))?;
        Ok(SharedLimits {
            connection,
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            timeout,
            resting_until: Mutex::new(None),
            warned: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Counts a request in the bucket `bucket` of `limit` per `window`; `None` when
    /// Redis did not answer and the caller is to count it in memory.
    pub(super) async fn count(
        &self,
        bucket: &str,
        limit: NonZeroU32,
        window: Duration,
        offset: Duration,
    ) -> Option<Counted> {
        if self.resting_until.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|until| Instant::now() < until) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let t = (window.as_micros() / u128::from(limit.get())).max(1) as u64;
        let tau = t * u64::from(limit.get() - 1);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(format!("{}:rate:{bucket}", self.prefix));
        invocation.arg(t).arg(tau).arg(offset.as_micros() as u64);
        let answer = tokio::time::timeout(self.timeout, invocation.invoke_async::<(i64, i64)>(&mut connection)).await;
        match answer {
            Ok(Ok((1, remaining))) => Some(Counted::Allowed { remaining: u32::try_from(remaining).unwrap_or(0) }),
            Ok(Ok((_, wait))) => Some(Counted::Limited { wait: Duration::from_micros(wait.max(0) as u64) }),
            Ok(Err(err)) => self.failed(&err.to_string()),
            Err(_) => self.failed(&format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    fn failed(&self, why: &str) -> Option<Counted> {
        let now = Instant::now();
        *self.resting_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(now + REST);
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            *warned = Some(now);
            tracing::warn!(
                error = why,
                "the rate-limit store (Redis) failed: requests are counted in this instance's memory until it answers"
            );
        }
        None
    }

    /// Requests counted in memory because Redis did not answer, since start.
    pub(super) fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
}
