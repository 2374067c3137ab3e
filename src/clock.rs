//! The one reader of wall-clock time: every part of newshound that needs
//! "now" (scheduling, feed state, alert stamps, Retry-After dates, the
//! commands' `--since`) asks a [`Clock`], so that virtual-time tests see
//! every reading. Pure otherwise: no I/O.

use chrono::{DateTime, TimeZone, Utc};

/// Where the daemon reads the time, as Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// The wall clock when the clock was made, advanced by tokio's clock
    /// since: follows a paused tokio clock, so that tests can run the
    /// daemon's schedule through hours of virtual time.
    Tokio { wall_ms: i64, at: tokio::time::Instant },
}

impl Clock {
    pub fn tokio() -> Clock {
        Clock::Tokio {
            wall_ms: system_ms(),
            at: tokio::time::Instant::now(),
        }
    }

    /// Now, as Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => system_ms(),
            Clock::Tokio { wall_ms, at } => wall_ms + at.elapsed().as_millis() as i64,
        }
    }

    /// Now, as a date.
    pub fn now(&self) -> DateTime<Utc> {
        ms_to_datetime(self.now_ms())
    }
}

fn system_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A Unix-milliseconds time as a date (the epoch for one out of range).
pub fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A Unix-milliseconds time as RFC 3339 to the second, UTC.
pub fn rfc3339(ms: i64) -> String {
    ms_to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let c = Clock::tokio();
        let t0 = c.now_ms();
        tokio::time::advance(std::time::Duration::from_secs(3600)).await;
        assert_eq!(c.now_ms() - t0, 3_600_000);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
