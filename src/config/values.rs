//! Durations, sizes and counts as config files write them.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use toml::Spanned;

use super::diagnostics::{Diagnostic, Source};

/// Parses a duration such as `15m`, `1h 30m` or `90s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration '{s}' ({e}); write it like \"15m\", \"2h\" or \"30s\""))
}

/// Parses a date or time such as `2025-11-15` (midnight UTC),
/// `2025-11-15T08:00:00Z` or `2025-11-15T08:00:00+02:00`; a time without an
/// offset is UTC.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let bad = || format!("invalid date '{s}'; write it like \"2025-11-15\" or \"2025-11-15T08:00:00Z\"");
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(d.and_utc());
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map_err(|_| bad())?
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .ok_or_else(bad)
}

/// Parses a size such as `16MiB`, `512 KB` or `1000000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}'; write it like \"16MiB\" or \"512KB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "invalid size unit '{other}' in '{s}' (use B, KB, KiB, MB, MiB, GB or GiB)"
            ));
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("size '{s}' is too large"))
}

pub(super) fn duration_field(
    src: &Source,
    v: &Option<Spanned<String>>,
    default: Duration,
    diags: &mut Vec<Diagnostic>,
) -> Duration {
    match v {
        None => default,
        Some(s) => match parse_duration(s.get_ref()) {
            Ok(d) if d.is_zero() => {
                diags.push(src.diag_span(s, "duration must be greater than zero"));
                default
            }
            Ok(d) => d,
            Err(m) => {
                diags.push(src.diag_span(s, m));
                default
            }
        },
    }
}

pub(super) fn count_field(
    src: &Source,
    v: &Option<Spanned<i64>>,
    default: usize,
    max: i64,
    diags: &mut Vec<Diagnostic>,
) -> usize {
    match v {
        None => default,
        Some(s) => {
            let n = *s.get_ref();
            if n < 1 || n > max {
                diags.push(src.diag_span(s, format!("must be between 1 and {max}")));
                default
            } else {
                n as usize
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_a_date_or_a_time() {
        use super::parse_since;
        assert_eq!(
            parse_since("2025-11-15").unwrap().to_rfc3339(),
            "2025-11-15T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2025-11-15T08:30:00+02:00").unwrap().to_rfc3339(),
            "2025-11-15T06:30:00+00:00"
        );
        assert_eq!(
            parse_since("2025-11-15T08:30:00").unwrap().to_rfc3339(),
            "2025-11-15T08:30:00+00:00"
        );
        for bad in ["15/11/2025", "2025-13-01", "yesterday", ""] {
            let e = parse_since(bad).unwrap_err();
            assert!(e.contains("2025-11-15"), "{bad}: {e}");
        }
    }

    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("512 KB"), Ok(512_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("fifteen").is_err());
    }
}
