//! What every subcommand shares: how failures become exit codes, loading
//! the config (its warnings logged), quiet ends on a closed pipe.

use std::path::Path;

use crate::config::{self, ConfigErrors};

/// Exit code for a configuration error (sysexits EX_CONFIG).
pub const EX_CONFIG: u8 = 78;

/// Exit code of a run that left alert deliveries pending (sysexits
/// EX_TEMPFAIL): a cron job sees that something must be tried again.
pub const EX_TEMPFAIL: u8 = 75;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("invalid configuration")]
    Config(ConfigErrors),
    #[error("{0} problem(s)")]
    Problems(usize),
    #[error("{0} alert deliveries pending")]
    Pending(u64),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub(super) fn load(path: &Path) -> Result<config::Config, Failure> {
    warn_on(config::load(path).map_err(Failure::Config)?)
}

/// The config for a command that sends nothing: sink secrets unread.
pub(super) fn load_for_reading(path: &Path) -> Result<config::Config, Failure> {
    warn_on(config::load_for_reading(path).map_err(Failure::Config)?)
}

fn warn_on(cfg: config::Config) -> Result<config::Config, Failure> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

/// `--since 2h`: the moment that long before `now` (Unix ms).
pub(super) fn since_ms(since: Option<&str>, now: i64) -> anyhow::Result<Option<i64>> {
    use anyhow::Context;
    let Some(s) = since else { return Ok(None) };
    let d = config::parse_duration(s).map_err(anyhow::Error::msg)?;
    Ok(Some(now - i64::try_from(d.as_millis()).context("--since is too long")?))
}

/// A reader that went away (`| head`) ends the output quietly.
pub(super) fn quiet_on_broken_pipe(e: std::io::Error) -> Result<(), Failure> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(anyhow::Error::new(e).context("cannot write output").into())
    }
}

pub(super) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// "5m ago", "in 2h": a time relative to now, for people.
pub(super) fn relative(ms: Option<i64>, now: i64) -> String {
    let Some(t) = ms else { return "-".into() };
    let d = (t - now) / 1000;
    let span = |s: i64| -> String {
        match s {
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m", s / 60),
            3600..=172_799 => format!("{}h", s / 3600),
            _ => format!("{}d", s / 86_400),
        }
    };
    if t > now {
        format!("in {}", span(d))
    } else {
        format!("{} ago", span(-d))
    }
}
