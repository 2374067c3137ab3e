//! The scheduling policy: turns the outcome of a poll into the feed's next
//! state: the regular interval (the feed's own if configured, else adapted
//! to how often the feed really publishes, never shorter than the server
//! asks with RSS `<ttl>`, `sy:updatePeriod`, Cache-Control `max-age` or
//! `Expires`, always within the configured bounds), with jitter;
//! exponential backoff on consecutive failures; Retry-After as a wait, not
//! a failure; 410 Gone as the end. Pure: no HTTP, no parsing, no clock.

use std::time::Duration;

use super::state::{FailureKind, FeedState, Health};

/// What a poll came to, as far as scheduling cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with a feed, or 304.
    Success {
        status: u16,
        not_modified: bool,
        /// The longest wait the server asked for (TTL, max-age, Expires).
        server_hint: Option<Duration>,
        /// How often the feed publishes, from its items' dates (see
        /// [`publishing_gap`]); `None` when unknown (or on a 304).
        observed_gap: Option<Duration>,
        etag: Option<String>,
        last_modified: Option<String>,
        /// The new URL, when every redirect on the way was permanent.
        permanent_redirect: Option<String>,
        /// A flaw the feed was read in spite of (bytes invalid in its
        /// encoding): kept as the feed's last error, with its kind.
        flaw: Option<(FailureKind, String)>,
    },
    /// 429 or 503 with Retry-After: come back later, nothing is wrong.
    Wait {
        status: u16,
        retry_after: Duration,
    },
    /// 410: the feed is gone for good.
    Gone,
    Failure(Failure),
}

/// A poll that failed: what the fetch, the parser or the store said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub kind: FailureKind,
    pub message: String,
    /// A Retry-After the server sent with its error status.
    pub retry_after: Option<Duration>,
}

impl Outcome {
    /// What a failed poll comes to: 410 is the end, 429 or 503 with
    /// Retry-After a wait at the server's request, anything else a failure.
    pub fn of_failure(f: Failure) -> Outcome {
        match (f.status, f.retry_after) {
            (Some(410), _) => Outcome::Gone,
            (Some(status @ (429 | 503)), Some(retry_after)) => Outcome::Wait { status, retry_after },
            _ => Outcome::Failure(f),
        }
    }
}

/// The longest wait the server asked for: RSS TTL (minutes),
/// `sy:updatePeriod`, Cache-Control max-age, or an Expires date (Unix ms)
/// after `now`.
pub fn server_hint(
    ttl_minutes: Option<u32>,
    update_period: Option<Duration>,
    max_age: Option<Duration>,
    expires_ms: Option<i64>,
    now: i64,
) -> Option<Duration> {
    let ttl = ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
    let expires = expires_ms.and_then(|e| u64::try_from(e - now).ok().map(Duration::from_millis));
    [ttl, update_period, max_age, expires].into_iter().flatten().max()
}

/// How many polls in a row a permanent redirect must be seen before the
/// stored URL follows it.
pub const REDIRECT_CONFIRMATIONS: u32 = 3;

/// Share of an interval added or removed at random.
const JITTER: f64 = 0.1;

#[derive(Debug, Clone)]
pub struct Policy {
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub max_backoff: Duration,
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// `d` moved at random by up to ±10%.
pub fn jittered(d: Duration, rand01: f64) -> Duration {
    let f = 1.0 + JITTER * (2.0 * rand01.clamp(0.0, 1.0) - 1.0);
    d.mul_f64(f)
}

impl Policy {
    /// The regular interval for a feed: its own if configured, else how
    /// often it publishes (`observed`), else the default; a server asking
    /// for longer gets longer; all kept within the bounds.
    fn interval_with(
        &self,
        feed_interval: Option<Duration>,
        observed: Option<Duration>,
        server_hint: Option<Duration>,
    ) -> Duration {
        let base = feed_interval.or(observed).unwrap_or(self.interval);
        let wanted = match server_hint {
            Some(h) if h > base => h,
            _ => base,
        };
        wanted.clamp(self.min_interval, self.max_interval.max(self.min_interval))
    }

    /// The wait after `failures` consecutive failures: the interval doubled
    /// per failure after the first, capped.
    pub fn backoff(&self, interval: Duration, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        interval.saturating_mul(factor).min(self.max_backoff)
    }

    /// The feed's state after a poll at `now` (Unix ms). `rand01` is a
    /// uniform random number for the jitter.
    pub fn after_poll(
        &self,
        prev: &FeedState,
        outcome: &Outcome,
        feed_interval: Option<Duration>,
        now: i64,
        rand01: f64,
    ) -> FeedState {
        let mut s = prev.clone();
        s.last_poll = Some(now);
        s.polls += 1;
        match outcome {
            Outcome::Success {
                status,
                not_modified,
                server_hint,
                observed_gap,
                etag,
                last_modified,
                permanent_redirect,
                flaw,
            } => {
                // Without fresh dates (a 304), keep what was learnt before.
                let learnt = observed_gap.or_else(|| {
                    prev.interval_secs
                        .filter(|_| feed_interval.is_none())
                        .map(Duration::from_secs)
                });
                let interval = self.interval_with(feed_interval, learnt, *server_hint);
                s.health = Health::Ok;
                s.last_success = Some(now);
                s.last_status = Some(*status);
                // A flaw is said, though the feed works.
                s.last_error = flaw.as_ref().map(|(_, m)| m.clone());
                s.error_kind = flaw.as_ref().map(|(k, _)| *k);
                s.consecutive_failures = 0;
                s.hold_until = None;
                s.interval_secs = Some(interval.as_secs());
                s.next_poll = Some(now + ms(jittered(interval, rand01)));
                if *not_modified {
                    s.not_modified += 1;
                } else {
                    // A 200 without validators clears the old ones.
                    s.etag = etag.clone();
                    s.last_modified = last_modified.clone();
                }
                match permanent_redirect {
                    Some(url) if s.redirect_url.as_deref() == Some(url) => {
                        s.redirect_count += 1;
                        if s.redirect_count >= REDIRECT_CONFIRMATIONS {
                            s.fetch_url = Some(url.clone());
                            s.redirect_url = None;
                            s.redirect_count = 0;
                        }
                    }
                    Some(url) => {
                        s.redirect_url = Some(url.clone());
                        s.redirect_count = 1;
                    }
                    None => {
                        s.redirect_url = None;
                        s.redirect_count = 0;
                    }
                }
            }
            Outcome::Wait { status, retry_after } => {
                let wait = (*retry_after).clamp(Duration::from_secs(1), self.max_backoff);
                s.last_status = Some(*status);
                s.last_error = Some(format!("HTTP {status}: asked to retry after {}s", wait.as_secs()));
                s.error_kind = Some(FailureKind::RetryAfter);
                // Waiting at the server's request: in backoff until then,
                // with no failure counted.
                s.hold_until = Some(now + ms(wait));
                s.next_poll = Some(now + ms(wait));
                s.health = Health::Backoff;
            }
            Outcome::Gone => {
                s.health = Health::Gone;
                s.last_status = Some(410);
                s.last_error = Some("HTTP 410 Gone: the feed was removed".into());
                s.error_kind = Some(FailureKind::Gone);
                s.next_poll = None;
                s.hold_until = None;
            }
            Outcome::Failure(Failure {
                status,
                kind,
                message,
                retry_after,
            }) => {
                let interval = self.interval_with(feed_interval, None, None);
                s.consecutive_failures += 1;
                s.health = if s.consecutive_failures >= 2 {
                    Health::Backoff
                } else {
                    Health::Failing
                };
                s.last_status = *status;
                s.last_error = Some(message.clone());
                s.error_kind = Some(*kind);
                let mut wait = jittered(self.backoff(interval, s.consecutive_failures), rand01);
                if let Some(ra) = retry_after {
                    wait = wait.max((*ra).min(self.max_backoff));
                }
                s.hold_until = Some(now + ms(wait));
                s.next_poll = Some(now + ms(wait));
            }
        }
        s
    }
}

/// How often a feed publishes: the median gap between the publication
/// dates (Unix ms) of its items of the last 30 days, at most the newest 50;
/// `None` with fewer than three such items.
pub fn publishing_gap(dates: &[i64], now: i64) -> Option<Duration> {
    const WINDOW: i64 = 30 * 24 * 3600 * 1000;
    let mut recent: Vec<i64> = dates
        .iter()
        .copied()
        .filter(|d| *d <= now && now - d <= WINDOW)
        .collect();
    recent.sort_unstable_by(|a, b| b.cmp(a));
    recent.dedup();
    recent.truncate(50);
    if recent.len() < 3 {
        return None;
    }
    let mut gaps: Vec<i64> = recent.windows(2).map(|w| w[0] - w[1]).collect();
    gaps.sort_unstable();
    Some(Duration::from_millis(gaps[gaps.len() / 2] as u64))
}

/// How long the first polls after start-up are spread over: 20 ms per feed,
/// at most half the default interval, so that ten thousand feeds do not all
/// fire in the same second.
pub fn startup_window(feeds: usize, interval: Duration) -> Duration {
    (Duration::from_millis(20) * feeds as u32).min(interval / 2)
}

/// When a feed due at `due` is first polled after a start at `now`: an
/// overdue feed gets a random moment in the start-up window.
pub fn first_poll(due: i64, now: i64, window: Duration, rand01: f64) -> i64 {
    if due > now {
        due
    } else {
        now + (rand01.clamp(0.0, 1.0) * window.as_millis() as f64) as i64
    }
}

/// True when the feed should be polled at `now`. With `all`, the regular
/// interval is ignored but server-requested waits and backoff still hold.
pub fn is_due(s: &FeedState, now: i64, all: bool) -> bool {
    if s.health == Health::Gone {
        return false;
    }
    if s.hold_until.is_some_and(|h| h > now) {
        return false;
    }
    all || s.next_poll.is_none_or(|n| n <= now)
}

/// When the feed is next due (Unix ms), `None` when never.
pub fn due_at(s: &FeedState) -> Option<i64> {
    if s.health == Health::Gone {
        return None;
    }
    let n = s.next_poll.unwrap_or(0);
    Some(s.hold_until.map_or(n, |h| h.max(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(900),
            min_interval: Duration::from_secs(120),
            max_interval: Duration::from_secs(6 * 3600),
            max_backoff: Duration::from_secs(24 * 3600),
        }
    }

    fn ok(hint: Option<u64>) -> Outcome {
        Outcome::Success {
            status: 200,
            not_modified: false,
            server_hint: hint.map(Duration::from_secs),
            observed_gap: None,
            etag: Some("\"e\"".into()),
            last_modified: None,
            permanent_redirect: None,
            flaw: None,
        }
    }

    fn fail() -> Outcome {
        Outcome::Failure(Failure {
            status: Some(500),
            kind: FailureKind::HttpStatus,
            message: "HTTP 500".into(),
            retry_after: None,
        })
    }

    #[test]
    fn success_schedules_the_interval_with_jitter_and_hints() {
        let p = policy();
        let s = p.after_poll(&FeedState::default(), &ok(None), None, 0, 0.5);
        assert_eq!(s.next_poll, Some(900_000));
        let lo = p.after_poll(&FeedState::default(), &ok(None), None, 0, 0.0);
        let hi = p.after_poll(&FeedState::default(), &ok(None), None, 0, 1.0);
        assert_eq!((lo.next_poll, hi.next_poll), (Some(810_000), Some(990_000)));
        let ttl = p.after_poll(&FeedState::default(), &ok(Some(3600)), None, 0, 0.5);
        assert_eq!(ttl.next_poll, Some(3_600_000));
        let huge = p.after_poll(&FeedState::default(), &ok(Some(86_400 * 7)), None, 0, 0.5);
        assert_eq!(huge.next_poll, Some(6 * 3_600_000));
        let own = p.after_poll(&FeedState::default(), &ok(None), Some(Duration::from_secs(10)), 0, 0.5);
        assert_eq!(own.next_poll, Some(120_000), "clamped to min_interval");
        assert_eq!(s.etag.as_deref(), Some("\"e\""));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let p = policy();
        let mut s = FeedState::default();
        let mut waits = Vec::new();
        for _ in 0..10 {
            s = p.after_poll(&s, &fail(), None, 0, 0.5);
            waits.push(s.hold_until.unwrap() / 1000);
        }
        assert_eq!(&waits[..5], &[900, 1800, 3600, 7200, 14400]);
        assert_eq!(waits[9], 86_400);
        assert_eq!(s.health, Health::Backoff);
        assert_eq!(s.consecutive_failures, 10);
        let back = p.after_poll(&s, &ok(None), None, 0, 0.5);
        assert_eq!(
            (back.health, back.consecutive_failures, back.hold_until),
            (Health::Ok, 0, None)
        );
    }

    #[test]
    fn retry_after_is_a_wait_not_a_failure() {
        let p = policy();
        let s = p.after_poll(
            &FeedState::default(),
            &Outcome::Wait {
                status: 429,
                retry_after: Duration::from_secs(120),
            },
            None,
            1000,
            0.5,
        );
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.health, Health::Backoff);
        assert_eq!(s.hold_until, Some(121_000));
        assert_eq!(due_at(&s), Some(121_000));
        assert!(!is_due(&s, 120_000, true));
        assert!(is_due(&s, 121_000, true));
    }

    #[test]
    fn interval_adapts_to_how_often_the_feed_publishes() {
        let p = policy();
        let min = 60_000;
        let now = 1_000 * 24 * 3600 * 1000;
        // Every 10 minutes, weekly, and too few dates.
        let busy: Vec<i64> = (0..20).map(|i| now - i * 10 * min).collect();
        let slow: Vec<i64> = (0..5).map(|i| now - i * 7 * 24 * 60 * min).collect();
        assert_eq!(publishing_gap(&busy, now), Some(Duration::from_secs(600)));
        assert_eq!(
            publishing_gap(&slow[..4], now),
            Some(Duration::from_secs(7 * 24 * 3600))
        );
        assert_eq!(publishing_gap(&busy[..2], now), None);
        let with = |gap: Option<Duration>, own: Option<Duration>| {
            let o = Outcome::Success {
                status: 200,
                not_modified: false,
                server_hint: None,
                observed_gap: gap,
                etag: None,
                last_modified: None,
                permanent_redirect: None,
                flaw: None,
            };
            p.after_poll(&FeedState::default(), &o, own, 0, 0.5).interval_secs
        };
        assert_eq!(with(publishing_gap(&busy, now), None), Some(600));
        assert_eq!(
            with(publishing_gap(&slow, now), None),
            Some(6 * 3600),
            "bounded by max_interval"
        );
        assert_eq!(
            with(Some(Duration::from_secs(30)), None),
            Some(120),
            "bounded by min_interval"
        );
        assert_eq!(
            with(publishing_gap(&busy, now), Some(Duration::from_secs(1800))),
            Some(1800),
            "a configured interval wins"
        );
        // A 304 keeps the learnt interval.
        let learnt = FeedState {
            interval_secs: Some(600),
            ..Default::default()
        };
        let not_modified = Outcome::Success {
            status: 304,
            not_modified: true,
            server_hint: None,
            observed_gap: None,
            etag: None,
            last_modified: None,
            permanent_redirect: None,
            flaw: None,
        };
        assert_eq!(
            p.after_poll(&learnt, &not_modified, None, 0, 0.5).next_poll,
            Some(600_000)
        );
    }

    #[test]
    fn start_up_spreads_ten_thousand_feeds() {
        let window = startup_window(10_000, Duration::from_secs(900));
        assert_eq!(window, Duration::from_secs(200));
        let mut rng = fastrand::Rng::with_seed(1);
        let mut per_second = std::collections::HashMap::<i64, usize>::new();
        for _ in 0..10_000 {
            *per_second
                .entry(first_poll(0, 0, window, rng.f64()) / 1000)
                .or_default() += 1;
        }
        let busiest = per_second.values().max().copied().unwrap_or(0);
        assert!(busiest <= 90, "{busiest} first polls in one second");
        assert_eq!(
            first_poll(5_000, 0, window, 0.9),
            5_000,
            "a feed not yet due keeps its time"
        );
        assert_eq!(startup_window(20, Duration::from_secs(900)), Duration::from_millis(400));
    }

    #[test]
    fn failures_become_waits_and_ends_by_status() {
        let f = |status, retry_after| Failure {
            status: Some(status),
            kind: FailureKind::HttpStatus,
            message: format!("HTTP {status}"),
            retry_after,
        };
        let ra = Some(Duration::from_secs(120));
        assert_eq!(Outcome::of_failure(f(410, None)), Outcome::Gone);
        assert_eq!(
            Outcome::of_failure(f(503, ra)),
            Outcome::Wait {
                status: 503,
                retry_after: Duration::from_secs(120)
            }
        );
        assert_eq!(Outcome::of_failure(f(503, None)), Outcome::Failure(f(503, None)));
        assert_eq!(Outcome::of_failure(f(500, ra)), Outcome::Failure(f(500, ra)));
        assert_eq!(
            server_hint(Some(30), None, Some(Duration::from_secs(600)), Some(3_600_000), 0),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn gone_is_never_due() {
        let s = policy().after_poll(&FeedState::default(), &Outcome::Gone, None, 0, 0.5);
        assert!(!is_due(&s, i64::MAX, true));
        assert_eq!(due_at(&s), None);
    }

    #[test]
    fn all_ignores_interval_but_not_holds() {
        let p = policy();
        let s = p.after_poll(&FeedState::default(), &ok(None), None, 0, 0.5);
        assert!(!is_due(&s, 1000, false));
        assert!(is_due(&s, 1000, true));
        let f = p.after_poll(&FeedState::default(), &fail(), None, 0, 0.5);
        assert!(!is_due(&f, 1000, true));
    }

    #[test]
    fn permanent_redirect_is_adopted_after_confirmations() {
        let p = policy();
        let moved = Outcome::Success {
            status: 200,
            not_modified: false,
            server_hint: None,
            observed_gap: None,
            etag: None,
            last_modified: None,
            permanent_redirect: Some("https://new.example/feed".into()),
            flaw: None,
        };
        let mut s = FeedState::default();
        for i in 1..REDIRECT_CONFIRMATIONS {
            s = p.after_poll(&s, &moved, None, 0, 0.5);
            assert_eq!(s.fetch_url, None, "poll {i}");
        }
        s = p.after_poll(&s, &moved, None, 0, 0.5);
        assert_eq!(s.fetch_url.as_deref(), Some("https://new.example/feed"));
    }
}
