//! The core's clock: the system time, or — where the configuration turns the test
//! clock on (`test_clock`) — the system time moved forward by an offset that tests and
//! QA advance (`POST /sandbox/v1/clock/advance`), after Stripe's test clocks.
//!
//! Everything the core decides by time reads this clock: payment expiry and its
//! sweep, webhook retry backoff and the retry window, idempotency retention, rate-limit
//! windows, an account's daily and monthly limits. Advancing it makes that time pass at
//! once. Request signatures' freshness windows (REBORNPAY's timestamp, replay records)
//! and the transport's timeouts keep the real time: a client's clock does not move.
//! So do leases (a webhook delivery's, an Idempotency-Key's claim): they time a request
//! or a send still in flight, which advancing the clock must not hand to another.
//!
//! The offset belongs to one instance; instances sharing a database each keep their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};

/// The longest step one advance may take.
pub const MAX_STEP: Duration = Duration::from_secs(400 * 86_400);

/// The system's time at the stored precision, whatever the test clock says: for
/// what a client's clock is compared with (signature freshness, replay records).
pub fn system_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A clock; clones share one offset.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<State>,
}

#[derive(Debug)]
struct State {
    /// Microseconds the clock is ahead of the system's.
    offset_micros: AtomicU64,
    /// Whether it may be advanced.
    controllable: bool,
    /// The monotonic origin of [`Clock::elapsed`].
    epoch: Instant,
}

/// Why a clock could not be advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// This clock is the system's (the configuration's `test_clock` is off).
    #[error("the test clock is off in this configuration (test_clock = false)")]
    Disabled,
    /// A step of zero or longer than [`MAX_STEP`].
    #[error("a step must be between 1 second and 400 days")]
    OutOfRange,
}

impl Clock {
    fn new(controllable: bool) -> Clock {
        Clock { inner: Arc::new(State { offset_micros: AtomicU64::new(0), controllable, epoch: Instant::now() }) }
    }

    /// The system's time, never moved.
    pub fn system() -> Clock {
        Clock::new(false)
    }

    /// A test clock: the system's time until it is advanced.
    pub fn test() -> Clock {
        Clock::new(true)
    }

    /// Whether it may be advanced.
    pub fn controllable(&self) -> bool {
        self.inner.controllable
    }

    /// How far ahead of the system's time it is.
    pub fn offset(&self) -> Duration {
        Duration::from_micros(self.inner.offset_micros.load(Ordering::Acquire))
    }

    /// The current time at the precision every backend stores (microseconds), so a
    /// value returned at once equals the value read back later.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::from_std(self.offset()).unwrap_or_default();
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// Monotonic time since the clock was made, offset included: for the windows kept
    /// in memory (rate limits).
    pub fn elapsed(&self) -> Duration {
        self.inner.epoch.elapsed() + self.offset()
    }

    /// Moves a test clock forward by `by`; returns its new offset.
    pub fn advance(&self, by: Duration) -> Result<Duration, ClockError> {
        if !self.inner.controllable {
            return Err(ClockError::Disabled);
        }
        if by.is_zero() || by > MAX_STEP {
            return Err(ClockError::OutOfRange);
        }
        let micros = u64::try_from(by.as_micros()).map_err(|_| ClockError::OutOfRange)?;
        let before = self.inner.offset_micros.fetch_add(micros, Ordering::AcqRel);
        Ok(Duration::from_micros(before + micros))
    }
}

impl From<ClockError> for super::CoreError {
    fn from(err: ClockError) -> Self {
        match err {
            ClockError::Disabled => super::CoreError::TestClockOff,
            ClockError::OutOfRange => super::CoreError::invalid("seconds", err.to_string()),
        }
    }
}

impl super::Core {
    /// The clock this core reads.
    pub fn clock(&self) -> &Clock {
        &self.inner.settings.clock
    }
}

impl super::ProcessorGateway {
    /// Moves the test clock forward by `by`, then lets what was waiting for that time
    /// happen at once: the payments now past their expiry are expired (with their
    /// events), idempotency records past retention are forgotten, and the webhook
    /// engine is woken, so retries that came due go out and those past their window
    /// die. Returns the clock's new offset.
    pub async fn advance_clock(&self, by: Duration) -> Result<Duration, super::CoreError> {
        let offset = self.clock().advance(by)?;
        while self.expire_overdue(500).await? == 500 {}
        self.purge_idempotency().await?;
        self.notify_events();
        self.notify_due();
        Ok(offset)
    }
}

/// Rate limiters count on the same clock.
impl governor::clock::Clock for Clock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_forward_and_the_system_clock_refuses() {
        let clock = Clock::test();
        let before = clock.now();
        assert_eq!(clock.advance(Duration::from_secs(3600)), Ok(Duration::from_secs(3600)));
        let shared = clock.clone();
        assert_eq!(shared.advance(Duration::from_secs(60)), Ok(Duration::from_secs(3660)), "clones share it");
        let moved = clock.now() - before;
        assert!(moved >= chrono::Duration::seconds(3660) && moved < chrono::Duration::seconds(3670), "{moved}");
        assert!(clock.elapsed() >= Duration::from_secs(3660));
        assert_eq!(clock.advance(Duration::ZERO), Err(ClockError::OutOfRange));
        assert_eq!(clock.advance(MAX_STEP + Duration::from_secs(1)), Err(ClockError::OutOfRange));
        let system = Clock::system();
        assert_eq!(system.advance(Duration::from_secs(1)), Err(ClockError::Disabled));
        assert_eq!(system.offset(), Duration::ZERO);
    }
}
