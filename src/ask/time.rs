//! Reading the moments people type after `at`, and saying how long ago something happened.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses `now`, RFC 3339, `YYYY-MM-DD[ HH:MM]`, `HH:MM` (today), `tomorrow [HH:MM]`,
/// `in N minutes|hours|days`. Times without a zone are in `tz`, the asker's zone (UTC when
/// the platform does not say).
pub fn parse_when(s: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = s.trim().to_ascii_lowercase();
    // A wall-clock time in the asker's zone; in a gap (spring forward) the hour after it.
    let local = |t: NaiveDateTime| -> Result<DateTime<Utc>, String> {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => Ok(x.with_timezone(&Utc)),
            LocalResult::None => tz
                .from_local_datetime(&(t + Duration::hours(1)))
                .earliest()
                .map(|x| x.with_timezone(&Utc))
                .ok_or_else(|| bad(&s)),
        }
    };
    let today = now.with_timezone(&tz).date_naive();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&s.to_uppercase()) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, f) {
            return local(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return local(d.and_time(NaiveTime::MIN));
    }
    if let Ok(t) = NaiveTime::parse_from_str(&s, "%H:%M") {
        return local(today.and_time(t));
    }
    if let Some(rest) = s.strip_prefix("tomorrow") {
        let day = today + Duration::days(1);
        let rest = rest.trim();
        let t = if rest.is_empty() {
            now.with_timezone(&tz).time()
        } else {
            NaiveTime::parse_from_str(rest, "%H:%M").map_err(|_| bad(&s))?
        };
        return local(day.and_time(t));
    }
    if let Some(rest) = s.strip_prefix("in ") {
        let mut parts = rest.split_whitespace();
        let n: i64 = parts
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad(&s))?;
        return span(n, parts.next().unwrap_or(""))
            .and_then(|d| now.checked_add_signed(d))
            .ok_or_else(|| bad(&s));
    }
    Err(bad(&s))
}

/// `n` units (`3 hours`, `2d`, `1 week`), or `None` when the unit is unknown or the span is
/// too long to reckon with.
fn span(n: i64, unit: &str) -> Option<Duration> {
    match unit.trim().trim_end_matches('s') {
        "m" | "min" | "minute" => Duration::try_minutes(n),
        "h" | "hour" | "hr" => Duration::try_hours(n),
        "d" | "day" => Duration::try_days(n),
        "w" | "week" => Duration::try_weeks(n),
        _ => None,
    }
}

/// When "since …" starts: `24h`, `3d`, `2 weeks`, `yesterday`, or a time `parse_when` reads
/// (`2026-11-20`).
pub fn parse_since(s: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix(" ago").unwrap_or(&t).trim();
    if t == "yesterday" {
        return Ok(now - Duration::days(1));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if split > 0
        && let Ok(n) = t[..split].parse::<i64>()
        && let Some(start) = span(n, &t[split..]).and_then(|d| now.checked_sub_signed(d))
    {
        return Ok(start);
    }
    parse_when(t, now, tz).map_err(|_| {
        format!(
            "I can't read `since {s}`. Try since 24h, since 3d, since yesterday or since \
             2026-11-20."
        )
    })
}

fn bad(s: &str) -> String {
    format!(
        "I can't read the time `{s}`. Try 2026-11-20 03:00, 03:00, tomorrow 09:00, in 3 hours, or an RFC 3339 time (times are in your time zone, else UTC)."
    )
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn ago(then: i64, now: DateTime<Utc>) -> String {
    let secs = now.timestamp() - then;
    match secs {
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_time_forms_parse() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let t = |s| parse_when(s, now, Tz::UTC).unwrap().to_rfc3339();
        assert_eq!(t("2026-11-20 03:00"), "2026-11-20T03:00:00+00:00");
        assert_eq!(t("2026-11-20"), "2026-11-20T00:00:00+00:00");
        assert_eq!(t("tomorrow 09:00"), "2026-11-23T09:00:00+00:00");
        assert_eq!(t("in 3 hours"), "2026-11-22T13:00:00+00:00");
        assert_eq!(t("2026-11-20T03:00:00+01:00"), "2026-11-20T02:00:00+00:00");
        assert!(parse_when("next blue moon", now, Tz::UTC).is_err());
        // Too far to reckon with: told, never a panic.
        assert!(parse_when("in 99999999999999 days", now, Tz::UTC).is_err());
    }

    #[test]
    fn since_reads_spans_days_and_dates() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let t = |s| parse_since(s, now, Tz::UTC).unwrap().to_rfc3339();
        assert_eq!(t("24h"), "2026-11-21T10:00:00+00:00");
        assert_eq!(t("3 days"), "2026-11-19T10:00:00+00:00");
        assert_eq!(t("2w ago"), "2026-11-08T10:00:00+00:00");
        assert_eq!(t("yesterday"), "2026-11-21T10:00:00+00:00");
        assert_eq!(t("2026-11-20"), "2026-11-20T00:00:00+00:00");
        let e = parse_since("99999999999d", now, Tz::UTC).unwrap_err();
        assert!(
            e.starts_with("I can't read `since 99999999999d`. Try since 24h"),
            "{e}"
        );
        assert!(!e.contains("  "), "{e}");
    }

    #[test]
    fn wall_clock_times_are_read_in_the_askers_zone() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let la = Tz::America__Los_Angeles;
        let t = |s| parse_when(s, now, la).unwrap().to_rfc3339();
        // 10:00 UTC is 02:00 in Los Angeles (PST, UTC-8): "today" is still the 22nd there.
        assert_eq!(t("09:00"), "2026-11-22T17:00:00+00:00");
        assert_eq!(t("tomorrow 09:00"), "2026-11-23T17:00:00+00:00");
        assert_eq!(t("2026-07-01 09:00"), "2026-07-01T16:00:00+00:00");
        // A zone given in the text wins.
        assert_eq!(t("2026-11-20T03:00:00+01:00"), "2026-11-20T02:00:00+00:00");
    }
}
