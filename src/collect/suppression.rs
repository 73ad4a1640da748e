//! The `suppression` collector: one fact document per inline suppression comment
//! (`# vigil:ignore SSH-001 reason`) of a file, so that policies judge the suppressions themselves
//! (the built-in `vigil-suppressions` pack: each gives a reason, each names a known control).
//!
//! A companion collector ([`Collector::companion`]): its controls judge only files that other
//! controls read, so it never makes a file be read. The comments are read by
//! [`crate::workflow::suppressions`], which the judge also applies to the failures of the file.

use super::{Collected, Collector, Document, Input, Kind, Request, Source};
use crate::doc::{Map, Node, Pos, Value};
use crate::workflow::suppressions::{self, MAX_PER_FILE, Scope, Suppression};

/// Kind `suppression`: the `vigil:ignore` comments of a file.
pub struct SuppressionCollector;

/// The facts of a `suppression` document.
pub const FIELDS: &[&str] = &["scope", "ids", "unknown_ids", "known", "reason", "covers"];

impl Collector for SuppressionCollector {
    fn source(&self) -> Source {
        Source::File
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "suppression",
            summary: "each inline `vigil:ignore` comment of a file that other controls read (scope, ids, unknown_ids, known, reason, covers)",
        }]
    }

    fn companion(&self) -> bool {
        true
    }

    fn known_fields(
        &self,
        _kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        Some(FIELDS)
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let Some(bytes) = input.bytes.filter(|_| !input.binary) else {
            return;
        };
        let (documents, dropped) = documents(bytes, &request.settings.control_ids);
        out.extend(documents.into_iter().map(|document| Collected::Document {
            kind: "suppression",
            variant: None,
            document,
        }));
        if dropped > 0 {
            out.push(Collected::Error {
                kind: Some("suppression"),
                variant: None,
                pos: None,
                message: {
                    let (was, suppresses) = if dropped == 1 {
                        ("was", "suppresses")
                    } else {
                        ("were", "suppress")
                    };
                    format!(
                        "more than {MAX_PER_FILE} inline suppressions in the file: {dropped} \
                         past the first {MAX_PER_FILE} {was} not read, and {suppresses} nothing"
                    )
                },
            });
        }
    }
}

/// The documents of a file's suppression comments, judged against the control ids `known`, and
/// how many comments past the limit were not read.
pub fn documents(bytes: &[u8], known: &[String]) -> (Vec<Document>, usize) {
    let found = suppressions::parse(bytes);
    let documents = found
        .list
        .iter()
        .map(|s| {
            let mut document = Document::new(facts(s, known));
            document.label = Some(label(s));
            document
        })
        .collect();
    (documents, found.dropped)
}

/// The facts of one suppression, every one at the comment.
fn facts(s: &Suppression, known: &[String]) -> Node {
    let at = Pos::new(s.line as usize, s.column as usize);
    let list = |items: Vec<&str>| {
        Node::new(
            at,
            Value::List(items.into_iter().map(|t| Node::str(at, t)).collect()),
        )
    };
    let unknown: Vec<&str> = s
        .ids
        .iter()
        .filter(|p| !known.iter().any(|id| p.matches(id)))
        .map(|p| p.text.as_str())
        .collect();
    let mut m = Map::new();
    m.insert("scope", Node::str(at, s.scope.as_str()));
    m.insert("ids", list(s.ids.iter().map(|p| p.text.as_str()).collect()));
    m.insert(
        "known",
        Node::new(at, Value::Bool(!s.ids.is_empty() && unknown.is_empty())),
    );
    m.insert("unknown_ids", list(unknown));
    m.insert("reason", Node::str(at, s.reason.as_str()));
    if let Scope::Line(Some(line)) = s.scope {
        m.insert("covers", Node::new(at, Value::Int(i64::from(line))));
    }
    Node::new(at, Value::Map(m))
}

/// What a finding about the suppression names it: the directive and its ids, without the line
/// (findings keep their identity when lines move).
fn label(s: &Suppression) -> String {
    let directive = match s.scope {
        Scope::File => "vigil:ignore-file",
        Scope::Line(_) => "vigil:ignore",
    };
    let ids: Vec<&str> = s.ids.iter().map(|p| p.text.as_str()).collect();
    let mut text = format!("{directive} {}", ids.join(","));
    const MAX: usize = 120;
    if text.chars().count() > MAX {
        text = text.chars().take(MAX).chain(['…']).collect();
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_a_suppression() {
        let found = suppressions::parse(b"x\n  # vigil:ignore SSH-001,SSH-9*,NOPE-1 old host\ny\n");
        let known: Vec<String> = vec!["SSH-001".into(), "SSH-002".into()];
        let node = facts(&found.list[0], &known);
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "scope": "line",
                "ids": ["SSH-001", "SSH-9*", "NOPE-1"],
                "known": false,
                "unknown_ids": ["SSH-9*", "NOPE-1"],
                "reason": "old host",
                "covers": 3
            })
        );
        assert_eq!(node.pos, Pos::new(2, 3));
        assert_eq!(label(&found.list[0]), "vigil:ignore SSH-001,SSH-9*,NOPE-1");
        let file = suppressions::parse(b"# vigil:ignore-file\n");
        assert_eq!(label(&file.list[0]), "vigil:ignore-file");
        let node = facts(&file.list[0], &known);
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(json["known"], false, "naming nothing is not knowing");
        assert_eq!(json["reason"], "");
        assert!(json.get("covers").is_none());
    }
}
