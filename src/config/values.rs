//! Durations, sizes and counts as config files write them.

use std::time::Duration;

use toml::Spanned;

use super::diagnostics::{Diagnostic, Source};

/// Parses a duration such as `15m`, `1h 30m` or `90s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration '{s}' ({e}); write it like \"15m\", \"2h\" or \"30s\""))
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
