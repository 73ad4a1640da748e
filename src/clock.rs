//! Time as vigil reads and writes it: the `--at` evaluation clock and RFC 3339 timestamps.
//!
//! Collectors (certificate dates), the engine (run metadata) and reports all format time the same
//! way, so this lives below all of them.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats a time as RFC 3339 in UTC, to the second: `2030-01-15T00:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parses `--at`: RFC 3339 (`2026-01-31T12:00:00Z`) or a date (`2026-01-31`, midnight UTC).
pub fn parse_at(s: &str) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            "expected an RFC 3339 timestamp (2026-01-31T12:00:00Z) or a date (2026-01-31)".into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_timestamps_and_prints_utc() {
        assert_eq!(
            rfc3339(parse_at("2030-01-02").unwrap()),
            "2030-01-02T00:00:00Z"
        );
        assert_eq!(
            rfc3339(parse_at("2030-01-02T03:04:05+01:00").unwrap()),
            "2030-01-02T02:04:05Z"
        );
        assert!(parse_at("yesterday").is_err());
    }
}
