//! INI files: `[section]` headers and `key = value` (or `key: value`) lines.
//!
//! Keys before the first section sit at the top level; each section is a map. Lookups ignore case,
//! as most INI readers do. A bare key with no value (`skip-networking` in my.cnf) is `true`. The last
//! value of a repeated key wins.

use super::{ParseError, unquote};
use crate::doc::{Map, Node, Pos, Value};

/// Parses the text of an INI file.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut root = Map::case_insensitive();
    let mut sections: Vec<(String, Pos, Map)> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let Some(rest) = t.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(ParseError::new(
                    line,
                    indent + t.len() + 1,
                    "section header is missing its closing `]`",
                ));
            };
            let name = name.trim().to_string();
            if !sections
                .iter()
                .any(|(n, _, _)| n.eq_ignore_ascii_case(&name))
            {
                sections.push((
                    name.clone(),
                    Pos::new(line, indent + 1),
                    Map::case_insensitive(),
                ));
            }
            // A repeated section continues the earlier one.
            let i = sections
                .iter()
                .position(|(n, _, _)| n.eq_ignore_ascii_case(&name))
                .expect("just ensured");
            let entry = sections.remove(i);
            sections.push(entry);
            continue;
        }
        let (key, value) = match t.find(['=', ':']) {
            Some(i) => (t[..i].trim(), Some(t[i + 1..].trim())),
            None => (t, None),
        };
        if key.is_empty() {
            return Err(ParseError::new(line, indent + 1, "missing key before `=`"));
        }
        let node = match value {
            Some(v) => {
                let col = raw
                    .rfind(v)
                    .filter(|_| !v.is_empty())
                    .map_or(indent + t.len() + 1, |c| raw[..c].chars().count() + 1);
                Node::str(Pos::new(line, col), unquote(v))
            }
            None => Node::new(Pos::new(line, indent + 1), Value::Bool(true)),
        };
        let map = match sections.last_mut() {
            Some((_, _, m)) => m,
            None => &mut root,
        };
        match map.get_mut(key) {
            Some(existing) => *existing = node,
            None => map.insert(key.to_string(), node),
        }
    }
    for (name, pos, map) in sections {
        root.insert_with_key_pos(name, pos, Node::new(pos, Value::Map(map)));
    }
    Ok(Node::new(Pos::line(1), Value::Map(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_flags() {
        let d = parse(
            "top = 1\n[mysqld]\nbind-address = 127.0.0.1\nskip-networking\n[Client]\nport: 3306\n",
        )
        .unwrap();
        assert_eq!(d.get("top").unwrap().as_str(), Some("1"));
        let m = d.get("mysqld").unwrap();
        let b = m.get("bind-address").unwrap();
        assert_eq!(
            (b.as_str(), b.pos.line, b.pos.col),
            (Some("127.0.0.1"), 3, 16)
        );
        assert_eq!(m.get("skip-networking").unwrap().value, Value::Bool(true));
        assert_eq!(
            d.get("client").unwrap().get("PORT").unwrap().as_str(),
            Some("3306")
        );
    }

    #[test]
    fn unclosed_section_is_an_error() {
        let e = parse("[ok]\n[broken\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 8));
    }
}
