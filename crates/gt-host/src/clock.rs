//! The clock seam: everything that stamps a time asks a [`Clock`], so tests can
//! substitute a fixed or stepping clock.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that always answers the same instant (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// Canonical stored form: RFC 3339, UTC, `Z`, always six fractional digits, so
/// that text order is time order.
pub fn format_ts(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.checked_to_offset(UtcOffset::UTC)
        .and_then(|u| u.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000Z".to_string())
}

/// Parses any RFC 3339 timestamp and returns it in canonical form.
pub fn normalize_ts(s: &str) -> Result<String> {
    let t = parse_ts(s)?;
    if t.checked_to_offset(UtcOffset::UTC).is_none() {
        return Err(Error::invalid(format!(
            "timestamp '{}' is out of range",
            s.trim()
        )));
    }
    Ok(format_ts(t))
}

pub fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|e| Error::invalid(format!("invalid timestamp '{}': {e}", s.trim())))
}

/// Parses a "since" expression: a duration back from `now` (`90s`, `30m`, `1h`,
/// `2d`, `1w`) or an RFC 3339 timestamp or a date `YYYY-MM-DD`.
pub fn parse_since(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let s = s.trim();
    if let Ok(d) = parse_duration(s) {
        return Ok(now - d);
    }
    if let Ok(t) = parse_ts(s) {
        return Ok(t);
    }
    let date_fmt = format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_fmt) {
        return Ok(d.midnight().assume_utc());
    }
    Err(Error::invalid(format!(
        "invalid time '{s}': use a duration like 30m, 1h, 2d or a date like 2026-01-31"
    )))
}

/// Parses `500ms`, `90s`, `30m`, `1h`, `2d`, `1w`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<time::Duration> {
    let s = s.trim();
    let bad = || Error::invalid(format!("invalid duration '{s}': use e.g. 30s, 5m, 1h, 2d"));
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "" | "s" => time::Duration::seconds(n),
        "ms" => time::Duration::milliseconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        "w" => time::Duration::weeks(n),
        _ => return Err(bad()),
    };
    Ok(d)
}

/// Lets types that hold an `Arc<dyn Clock>` derive `Debug`.
impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_as_time() {
        let a = normalize_ts("2025-12-16T06:22:37.947211+00:00").unwrap();
        let b = normalize_ts("2025-12-16T07:22:37Z").unwrap();
        assert_eq!(a, "2025-12-16T06:22:37.947211Z");
        assert_eq!(b, "2025-12-16T07:22:37.000000Z");
        assert!(a < b);
        let c = normalize_ts("2025-12-16T08:00:00+02:00").unwrap();
        assert_eq!(c, "2025-12-16T06:00:00.000000Z");
    }

    #[test]
    fn out_of_range_offsets_do_not_panic() {
        assert!(normalize_ts("9999-12-31T23:59:59-23:00").is_err());
    }

    #[test]
    fn durations_and_since() {
        assert_eq!(parse_duration("30m").unwrap(), time::Duration::minutes(30));
        assert_eq!(parse_duration("45").unwrap(), time::Duration::seconds(45));
        assert!(parse_duration("m30").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        let now = parse_ts("2026-01-02T00:00:00Z").unwrap();
        assert_eq!(
            parse_since("1d", now).unwrap(),
            parse_ts("2026-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_since("2025-12-31", now).unwrap(),
            parse_ts("2025-12-31T00:00:00Z").unwrap()
        );
    }
}
