//! Config checks: parse the file once per format its controls need, then judge every document.

use std::collections::BTreeMap;

use super::{FileResult, error, judge_documents};
use crate::collect::config::{Format, ParseError};
use crate::collect::walk::Entry;
use crate::policy::Control;
use crate::results::{Finding, Location};

/// Judges `bytes` (the contents of `entry`) with the `config` controls `cs`.
pub fn judge(cs: &[&Control], entry: &Entry, bytes: &[u8], binary: bool, out: &mut FileResult) {
    let mut by_format: BTreeMap<Format, Vec<&Control>> = BTreeMap::new();
    for &c in cs {
        match c.target.format.or_else(|| Format::infer(&entry.path)) {
            Some(f) => by_format.entry(f).or_default().push(c),
            None => out.findings.push(error(
                c,
                entry,
                None,
                "cannot tell the config format from the file name; set `format:` in the control's target".into(),
            )),
        }
    }
    if by_format.is_empty() {
        return;
    }
    let text = if binary {
        Err("binary file: a config format cannot be parsed from it".to_string())
    } else {
        std::str::from_utf8(bytes).map_err(|e| {
            format!("not valid UTF-8 text (invalid byte at offset {}): a config format cannot be parsed from it", e.valid_up_to())
        })
    };
    for (format, cs) in by_format {
        let docs = match &text {
            Err(m) => {
                for c in cs {
                    out.findings.push(error(c, entry, None, m.clone()));
                }
                continue;
            }
            Ok(text) => format.parse_text(&entry.path, text),
        };
        match docs {
            Ok(docs) => {
                *out.documents.entry(format.as_str()).or_default() += docs.len() as u64;
                judge_documents(&cs, entry, &docs, out);
            }
            Err(e) => {
                for c in cs {
                    out.findings.push(parse_error(c, entry, format, &e));
                }
            }
        }
    }
}

fn parse_error(c: &Control, entry: &Entry, format: Format, e: &ParseError) -> Finding {
    let location = (e.line > 0).then_some(Location {
        path: None,
        line: e.line,
        column: (e.col > 0).then_some(e.col),
        end_column: None,
    });
    error(
        c,
        entry,
        location,
        format!("cannot parse as {format}: {}", e.message),
    )
}
