//! `key = value` and `key value` files: login.defs, .properties, .env, and each file of a sysctl
//! configuration (merged by the `sysctl` format).
//!
//! The last value of a key wins, as when sysctl applies a file top to bottom. sysctl's `/` notation
//! (`net/ipv4/ip_forward`) is normalised to dots, and its leading `-` ("ignore errors") is dropped,
//! so the key is the one a policy names. Values keep their text; checks compare numbers loosely.

use super::{ParseError, unquote};
use crate::doc::{Map, Node, Pos, Value};

/// Parses the text of a key/value file.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut map = Map::new();
    for (i, raw) in text.lines().enumerate() {
        let Some((key, node)) = parse_line(raw, i + 1)? else {
            continue;
        };
        match map.get_mut(&key) {
            Some(existing) => *existing = node,
            None => map.insert(key, node),
        }
    }
    Ok(Node::new(Pos::line(1), Value::Map(map)))
}

/// One line (number `line`): its key and value, or nothing for a blank line or a comment.
pub(super) fn parse_line(raw: &str, line: usize) -> Result<Option<(String, Node)>, ParseError> {
    // `#` (and `;`) start a comment only at the start of a line: sysctl and login.defs treat a
    // mid-line `#` as data.
    let t = raw.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return Ok(None);
    }
    let t = t.strip_prefix("export ").unwrap_or(t);
    let Some(i) = t.find(['=', ' ', '\t', ':']) else {
        return Err(ParseError::new(
            line,
            t.len() + 1,
            format!("expected `key = value`, found `{t}`"),
        ));
    };
    let rest = t[i..].trim_start();
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':'))
        .unwrap_or(rest);
    let key = t[..i].trim_end();
    let key = normalise_key(key.strip_prefix('-').unwrap_or(key));
    if key.is_empty() {
        return Err(ParseError::new(line, 1, "missing key before `=`"));
    }
    let value = unquote(rest.trim());
    // The value's column in its own line (looking the line up again would be quadratic).
    let col = raw.find(value).map_or(1, |c| raw[..c].chars().count() + 1);
    Ok(Some((key, Node::str(Pos::new(line, col), value))))
}

/// sysctl: when the first separator is `/`, the roles of `/` and `.` are swapped.
pub(super) fn normalise_key(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_and_login_defs_styles() {
        let d = parse("# x\nnet.ipv4.ip_forward = 1\n-net/ipv4/conf/all/rp_filter=1\nPASS_MAX_DAYS\t90\nnet.ipv4.ip_forward = 0\n").unwrap();
        let f = d.get("net.ipv4.ip_forward").unwrap();
        assert_eq!((f.as_str(), f.pos.line), (Some("0"), 5), "last value wins");
        assert!(d.get("net.ipv4.conf.all.rp_filter").is_some());
        assert_eq!(d.get("PASS_MAX_DAYS").unwrap().as_str(), Some("90"));
    }

    #[test]
    fn a_bare_word_is_an_error() {
        let e = parse("ok = 1\nbroken\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
