//! JSON files.
//!
//! serde_json decides whether the text is valid JSON and, when it is not, where the error is. The
//! tree itself is then built by the YAML reader (JSON is a subset of YAML 1.2), which gives every
//! value its line and column; should that ever disagree with serde_json, the serde_json tree is used
//! without positions rather than failing a valid file.

use super::ParseError;
use crate::doc::Node;

/// Parses the text of a JSON file.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ParseError::new(e.line(), e.column(), json_message(&e)))?;
    match crate::yaml::parse_documents(text) {
        Ok(mut docs) if docs.len() == 1 => Ok(docs.remove(0)),
        _ => Ok(Node::from_json(&value)),
    }
}

/// serde_json's message without its trailing " at line L column C" (the position is reported apart).
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions() {
        let d = parse("{\n  \"a\": {\n    \"b\": true\n  }\n}\n").unwrap();
        assert_eq!(d.get("a").unwrap().get("b").unwrap().pos.line, 3);
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let e = parse("{\n  \"a\": 1,\n}\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("trailing comma"), "{e:?}");
    }
}
