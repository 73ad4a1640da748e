//! Time as vigil reads and writes it: the `--at` evaluation clock and RFC 3339 timestamps.
//!
//! Collectors (certificate dates), the engine (run metadata) and reports all format time the same
//! way, so this lives below all of them.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats a time as RFC 3339 in UTC, to the second: `2030-01-15T00:00:00Z`; empty for a year
/// RFC 3339 cannot write (before 0 or after 9999).
///
/// Written by hand: every certificate has two dates, and `time`'s formatter (or `write!`) took a
/// sixth of the time of its facts. A test holds it to the `time` crate's own RFC 3339 output.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return String::new();
    }
    let year = year as u32; // 0..=9999, checked above
    let mut out = [0u8; 20];
    let digits = |n: u32, to: &mut [u8]| {
        let mut n = n;
        for d in to.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(year, &mut out[0..4]);
    digits(u32::from(u8::from(t.month())), &mut out[5..7]);
    digits(u32::from(t.day()), &mut out[8..10]);
    digits(u32::from(t.hour()), &mut out[11..13]);
    digits(u32::from(t.minute()), &mut out[14..16]);
    digits(u32::from(t.second()), &mut out[17..19]);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ] {
        out[at] = sep;
    }
    String::from_utf8_lossy(&out).into_owned()
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

    /// The general formatter this replaced: the hand-written one must match it everywhere.
    fn formatted_by_the_crate(t: OffsetDateTime) -> String {
        t.to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(t)
            .format(&Rfc3339)
            .unwrap_or_default()
    }

    #[test]
    fn rfc3339_matches_the_crate_formatter() {
        let offsets = [
            time::UtcOffset::UTC,
            time::UtcOffset::from_hms(5, 30, 0).unwrap(),
            time::UtcOffset::from_hms(-11, 0, 0).unwrap(),
        ];
        // Every few days over the years certificates carry, and the edges of what RFC 3339 writes.
        let mut t = time::Date::from_calendar_date(1949, time::Month::January, 1)
            .unwrap()
            .with_hms_nano(23, 59, 58, 999_999_999)
            .unwrap()
            .assume_utc();
        let end = time::Date::from_calendar_date(2110, time::Month::January, 1)
            .unwrap()
            .midnight()
            .assume_utc();
        let mut n = 0u32;
        while t < end {
            let o = offsets[n as usize % offsets.len()];
            assert_eq!(
                rfc3339(t.to_offset(o)),
                formatted_by_the_crate(t.to_offset(o))
            );
            t += time::Duration::seconds(3 * 86_400 + 3_607);
            n += 1;
        }
        for (y, m, d) in [(0, 1, 1), (9999, 12, 31), (-1, 12, 31), (10_000, 1, 1)] {
            let Ok(date) = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d)
            else {
                continue;
            };
            for t in [
                date.midnight().assume_utc(),
                date.with_hms(23, 59, 59).unwrap().assume_utc(),
            ] {
                assert_eq!(rfc3339(t), formatted_by_the_crate(t), "{t}");
            }
        }
        assert_eq!(
            rfc3339(time::macros::datetime!(2030-01-15 00:00:00.5 UTC)),
            "2030-01-15T00:00:00Z"
        );
    }

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
