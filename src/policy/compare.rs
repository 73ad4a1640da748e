//! How check operators compare values: loose equality across types, and ordering of numbers,
//! versions and durations.
//!
//! Config files are text, so `MaxAuthTries 4` is the string `"4"` while a policy says `lte: 4`. The
//! rules here make such comparisons do what a reader expects, and refuse (compare as "not
//! comparable") rather than guess when two values have no common order.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::doc::Value;

/// A value conversion applied before comparing (`as:` in a check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Compare as numbers.
    Number,
    /// Compare as versions (`1.10.2 > 1.9`).
    Version,
    /// Compare as time spans in seconds: `90`, `1m30s`, `2h` (sshd and systemd notation).
    Duration,
    /// Compare as plain text.
    Text,
    /// Compare as Debian package versions, in dpkg's order (epochs, `~` before anything).
    DebianVersion,
}

impl Conversion {
    /// Names accepted by `as:`.
    pub const NAMES: [&'static str; 5] =
        ["number", "version", "duration", "string", "debian-version"];

    /// Parses a name accepted by `as:`.
    pub fn parse(s: &str) -> Option<Conversion> {
        Some(match s {
            "number" => Conversion::Number,
            "version" => Conversion::Version,
            "duration" => Conversion::Duration,
            "string" => Conversion::Text,
            "debian-version" => Conversion::DebianVersion,
            _ => return None,
        })
    }
}

/// Equality as checks use it: numbers compare by value (`"4"` equals `4`), everything else by text,
/// optionally ignoring ASCII case. Lists and maps compare structurally.
pub fn loose_eq(a: &Value, b: &Value, ignore_case: bool) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| loose_eq(&p.value, &q.value, ignore_case))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k)
                        .is_some_and(|w| loose_eq(&v.value, &w.value, ignore_case))
                })
        }
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => false,
        // What the general case below decides, without writing both as text.
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => {
            if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
                return x == y;
            }
            let (x, y) = (
                a.scalar_str().unwrap_or_default(),
                b.scalar_str().unwrap_or_default(),
            );
            if ignore_case {
                x.eq_ignore_ascii_case(&y)
            } else {
                x == y
            }
        }
    }
}

/// Orders two values for `lt`/`lte`/`gt`/`gte`. Without a conversion: numbers if both are numbers,
/// else versions if both look like versions. `None` when they cannot be ordered.
pub fn compare(a: &Value, b: &Value, conversion: Option<Conversion>) -> Option<Ordering> {
    match conversion {
        Some(Conversion::Number) => as_number(a)?.partial_cmp(&as_number(b)?),
        Some(Conversion::Duration) => Some(as_duration(a)?.cmp(&as_duration(b)?)),
        Some(Conversion::Version) => Some(version_cmp(&text(a)?, &text(b)?)?),
        Some(Conversion::Text) => Some(text(a)?.cmp(&text(b)?)),
        Some(Conversion::DebianVersion) => {
            let parse = |v: &Value| text(v)?.trim().parse::<debversion::Version>().ok();
            Some(parse(a)?.cmp(&parse(b)?))
        }
        None => {
            if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
                return x.partial_cmp(&y);
            }
            version_cmp(&text(a)?, &text(b)?)
        }
    }
}

fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        _ => v.scalar_str(),
    }
}

/// A value as a number: numbers themselves, and strings that parse as one (surrounding blanks
/// allowed). Booleans are not numbers.
pub fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => {
            let t = s.trim();
            // A number starts with a digit, a sign or a point: most strings compared (`RuntimeDefault`,
            // `true`, an image name) are answered here, without a scan or a parse.
            if !t
                .as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
                || t.eq_ignore_ascii_case("nan")
                || t.as_bytes()
                    .windows(3)
                    .any(|w| w.eq_ignore_ascii_case(b"inf"))
            {
                return None;
            }
            t.parse().ok()
        }
        _ => None,
    }
}

/// A time span in seconds: a bare number, or a sequence of number+unit with units `s m h d w`
/// (sshd's `LoginGraceTime 1m30s`).
pub fn as_duration(v: &Value) -> Option<i64> {
    if let Value::Int(i) = v {
        return Some(*i);
    }
    let s = v.scalar_text()?;
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: i64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse().ok()?)?;
    }
    Some(total)
}

/// Compares two version strings segment by segment: numeric segments by value, others as text,
/// a missing segment as lower (`1.2 < 1.2.1`). A leading `v` is ignored. `None` when either side
/// does not start with a digit.
pub fn version_cmp(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (version_segments(a)?, version_segments(b)?);
    for i in 0..x.len().max(y.len()) {
        let ord = match (x.get(i), y.get(i)) {
            (Some(p), Some(q)) => match (p.parse::<u64>(), q.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                _ => p.cmp(q),
            },
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return Some(ord);
        }
    }
    Some(Ordering::Equal)
}

fn version_segments(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // Split on separators and on digit/letter boundaries so that `9.2p1` is [9, 2, p, 1].
    let mut segs = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if matches!(c, '.' | '-' | '_' | '+' | '~') {
            if !cur.is_empty() {
                segs.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(last) = cur.chars().last() {
            if last.is_ascii_digit() != c.is_ascii_digit() {
                segs.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        segs.push(cur);
    }
    Some(segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn numbers_compare_across_text_and_numbers() {
        assert!(loose_eq(&s("4"), &Value::Int(4), false));
        assert!(loose_eq(&s("4.0"), &Value::Int(4), false));
        assert!(!loose_eq(&s("No"), &s("no"), false));
        assert!(loose_eq(&s("No"), &s("no"), true));
        assert!(loose_eq(&Value::Bool(false), &s("false"), false));
        assert_eq!(
            compare(&s("6"), &Value::Int(4), None),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn strings_are_numbers_only_when_they_read_as_finite_decimals() {
        for (text, number) in [
            (" 12 ", Some(12.0)),
            ("+3", Some(3.0)),
            ("-2.5", Some(-2.5)),
            (".5", Some(0.5)),
            ("1e3", Some(1000.0)),
            ("RuntimeDefault", None),
            ("Infinity", None),
            ("inf", None),
            ("-inf", None),
            ("NaN", None),
            ("e5", None),
            ("", None),
            ("  ", None),
            ("12abc", None),
        ] {
            assert_eq!(as_number(&s(text)), number, "{text:?}");
        }
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(version_cmp("1.10.0", "1.9"), Some(Ordering::Greater));
        assert_eq!(version_cmp("v2.0", "2.0.0"), Some(Ordering::Less));
        assert_eq!(version_cmp("9.2p1", "9.2p2"), Some(Ordering::Less));
        assert_eq!(version_cmp("abc", "1.0"), None);
        assert_eq!(
            compare(&s("1.2.10"), &s("1.2.9"), None),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn debian_versions_follow_dpkg() {
        let deb = |a: &str, b: &str| compare(&s(a), &s(b), Some(Conversion::DebianVersion));
        assert_eq!(
            deb("1:9.2p1-2+deb12u3", "9.9p1-1"),
            Some(Ordering::Greater),
            "epoch"
        );
        assert_eq!(deb("1.0~rc1-1", "1.0-1"), Some(Ordering::Less), "tilde");
        assert_eq!(
            deb("2.36-9+deb12u4", "2.36-9+deb12u10"),
            Some(Ordering::Less)
        );
        assert_eq!(deb("1.0-1", "1.0-1"), Some(Ordering::Equal));
        assert_eq!(deb("not a version!", "1.0"), None);
    }

    #[test]
    fn durations_in_sshd_notation() {
        assert_eq!(as_duration(&s("1m30s")), Some(90));
        assert_eq!(as_duration(&s("2h")), Some(7200));
        assert_eq!(as_duration(&s("120")), Some(120));
        assert_eq!(as_duration(&s("1x")), None);
        assert_eq!(
            compare(&s("2m"), &Value::Int(60), Some(Conversion::Duration)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn unorderable_values_are_none() {
        assert_eq!(compare(&s("yes"), &Value::Int(1), None), None);
        assert_eq!(compare(&Value::Null, &Value::Int(1), None), None);
    }
}
