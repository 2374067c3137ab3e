//! Feed dates: the common forms read directly, the odd ones through
//! feed-rs's lenient parser.

use chrono::{DateTime, Utc};

/// Parses a feed's date: the standard forms (RFC 3339, RFC 2822) directly,
/// anything odder through feed-rs's lenient parser. The lenient parser
/// cleans every input with regexes, which made it a tenth of the cost of a
/// cold poll; the standard forms are nearly all inputs.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Some(d) = rss_date(t) {
        return Some(d);
    }
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_rfc2822(t))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| lenient_date(t))
}

/// The form nearly every RSS date has, `Thu, 20 Nov 2025 08:00:00 +0000`
/// (or `GMT`), read directly: chrono's RFC 2822 parser, which also takes
/// comments, folding and obsolete zones, costs about ten times as much.
/// Anything else, or a weekday that is not the date's, is `None`, and the
/// general parsers decide; what this returns, chrono's parser returns too.
fn rss_date(t: &str) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, NaiveDate};
    const DAYS: [[u8; 3]; 7] = [*b"Mon", *b"Tue", *b"Wed", *b"Thu", *b"Fri", *b"Sat", *b"Sun"];
    const MONTHS: [[u8; 3]; 12] = [
        *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct", *b"Nov", *b"Dec",
    ];
    let b = t.as_bytes();
    let (weekday, b) = match b {
        [w0, w1, w2, b',', b' ', rest @ ..] => (Some(DAYS.iter().position(|d| *d == [*w0, *w1, *w2])?), rest),
        _ => (None, b),
    };
    let digits = |s: &[u8]| -> Option<u32> {
        s.iter()
            .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    // Day of one or two digits, then " Mon YYYY HH:MM:SS zone".
    let day_len = if b.get(1) == Some(&b' ') { 1 } else { 2 };
    let day = digits(b.get(..day_len)?)?;
    let b = b.get(day_len..)?;
    let [
        b' ',
        m0,
        m1,
        m2,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b' ',
        zone @ ..,
    ] = b
    else {
        return None;
    };
    let month = MONTHS.iter().position(|m| *m == [*m0, *m1, *m2])? as u32 + 1;
    let year = digits(&[*y0, *y1, *y2, *y3])?;
    let (hour, min, sec) = (digits(&[*h0, *h1])?, digits(&[*i0, *i1])?, digits(&[*s0, *s1])?);
    let offset_secs = match zone {
        b"GMT" => 0,
        [sign @ (b'+' | b'-'), zh0, zh1, zm0, zm1] => {
            let (zh, zm) = (digits(&[*zh0, *zh1])?, digits(&[*zm0, *zm1])?);
            if zh > 23 || zm > 59 {
                return None;
            }
            let secs = (zh * 3600 + zm * 60) as i32;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if weekday.is_some_and(|w| date.weekday().num_days_from_monday() as usize != w) {
        return None;
    }
    let local = date.and_hms_opt(hour, min, sec)?;
    let utc = local.checked_sub_signed(chrono::TimeDelta::seconds(i64::from(offset_secs)))?;
    Some(DateTime::from_naive_utc_and_offset(utc, Utc))
}

fn lenient_date(t: &str) -> Option<DateTime<Utc>> {
    if t.is_empty() || t.len() > 200 {
        return None;
    }
    // feed-rs does not export its lenient parser; its default parser
    // applies it to a one-item document.
    let doc = format!(
        "<rss version=\"2.0\"><channel><item><guid>d</guid><pubDate>{}</pubDate></item></channel></rss>",
        html_escape::encode_text(t)
    );
    feed_rs::parser::parse(doc.as_bytes()).ok()?.entries.first()?.published
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct reader of RSS dates agrees with chrono's RFC 2822 parser
    /// wherever it answers, and answers for every well-formed date.
    #[test]
    fn rss_dates_read_directly_agree_with_chrono() {
        use chrono::{Datelike, NaiveDate};
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let mut rng = fastrand::Rng::with_seed(2822);
        let (mut direct, mut fallback) = (0, 0);
        for _ in 0..20_000 {
            let year = rng.i32(1000..2200);
            let month = rng.u32(1..=12);
            // Days past the month's end now and then, and weekdays that are
            // not the date's.
            let day = rng.u32(1..=31);
            let (hour, min, sec) = (rng.u32(0..=25), rng.u32(0..=61), rng.u32(0..=61));
            let zone = match rng.u8(0..5) {
                0 => "GMT".to_string(),
                1 => "UT".to_string(),
                _ => format!(
                    "{}{:02}{:02}",
                    if rng.bool() { '+' } else { '-' },
                    rng.u32(0..=25),
                    rng.u32(0..=61)
                ),
            };
            let valid = NaiveDate::from_ymd_opt(year, month, day);
            let weekday = match (valid, rng.u8(0..4)) {
                (_, 0) => String::new(),
                (Some(d), 1..=2) => format!("{}, ", days[d.weekday().num_days_from_monday() as usize]),
                _ => format!("{}, ", days[rng.usize(0..7)]),
            };
            let day_text = if day < 10 && rng.bool() {
                day.to_string()
            } else {
                format!("{day:02}")
            };
            let text = format!(
                "{weekday}{day_text} {} {year:04} {hour:02}:{min:02}:{sec:02} {zone}",
                months[month as usize - 1]
            );
            let chrono = DateTime::parse_from_rfc2822(&text).ok().map(|d| d.with_timezone(&Utc));
            match rss_date(&text) {
                Some(d) => {
                    direct += 1;
                    assert_eq!(Some(d), chrono, "{text}");
                }
                None => {
                    fallback += 1;
                    let well_formed = valid.is_some()
                        && hour < 24
                        && min < 60
                        && sec < 60
                        && zone != "UT"
                        && (zone == "GMT" || (zone[1..3] < *"24" && zone[3..] < *"60"));
                    let weekday_right = weekday.is_empty()
                        || valid
                            .is_some_and(|d| weekday.starts_with(days[d.weekday().num_days_from_monday() as usize]));
                    assert!(!(well_formed && weekday_right), "{text} was not read directly");
                }
            }
        }
        // Both paths ran, many times.
        assert!(
            direct > 2_000 && fallback > 2_000,
            "direct {direct}, fallback {fallback}"
        );
        // Not the common form: left to the general parsers.
        for odd in [
            "thu, 20 Nov 2025 08:00:00 GMT",
            "Thu,20 Nov 2025 08:00:00 GMT",
            "Thu, 20 Nov 25 08:00:00 GMT",
            "Thu, 20 Nov 2025 08:00 GMT",
            "Thu, 20 November 2025 08:00:00 GMT",
            "Thu, 20 Nov 2025 08:00:00 +02:00",
            "Thu, 20 Nov 2025 08:00:00 EST",
            "Thu, 20 Nov 2025 08:00:00 GMT (comment)",
            "2025-11-20T08:00:00Z",
        ] {
            assert_eq!(rss_date(odd), None, "{odd}");
        }
    }

    #[test]
    fn dates_standard_and_odd() {
        let utc = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(
            parse_date("Thu, 20 Nov 2025 10:00:00 +0200"),
            utc("2025-11-20T08:00:00Z")
        );
        assert_eq!(parse_date(" 2025-11-20T08:00:00Z "), utc("2025-11-20T08:00:00Z"));
        assert_eq!(parse_date("Thu, 20 Nov 2025 08:00:00 GMT"), utc("2025-11-20T08:00:00Z"));
        // Odd forms go through feed-rs's lenient parser.
        assert_eq!(
            parse_date("Mon, 24 Nov 2025 10:00:00 +02:00"),
            utc("2025-11-24T08:00:00Z")
        );
        assert_eq!(
            parse_date("Mon, 24 November 2025 10:00:00 GMT"),
            utc("2025-11-24T10:00:00Z")
        );
        assert_eq!(parse_date("2025-11-24T10:00:00+0200"), utc("2025-11-24T08:00:00Z"));
        assert_eq!(parse_date("not a date"), None);
        assert_eq!(parse_date(""), None);
    }
}
