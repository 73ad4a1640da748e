//! YAML text to [`Node`] trees, keeping the line and column of every value.
//!
//! The event parser is `saphyr-parser` (YAML 1.2); this module only assembles its events into
//! documents. Doing the assembly here, rather than through a generic loader, buys three things the
//! scanner needs: positions on every node, duplicate keys reported as errors (Kubernetes and most
//! tools reject them, and a silently dropped duplicate hides a setting), and a hard bound on alias
//! expansion so a hostile manifest ("billion laughs") cannot exhaust memory.
//!
//! Most configuration YAML is plain block style, and for that [`block`] builds the same nodes
//! directly from the lines, several times faster than the event parser; it hands anything else
//! (and every error) to the event parser, so both paths give one answer.

mod block;
mod keys;
mod merge;

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::doc::{Map, Node, Pos, Value};

/// The most nodes one YAML stream may expand to through aliases.
const MAX_ALIAS_EXPANSION: usize = 100_000;

/// Deepest nesting accepted, so a hostile file cannot overflow the stack of later tree walks.
use crate::doc::MAX_DEPTH;

/// A YAML syntax or structure error, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {col})")]
pub struct YamlError {
    /// 1-based line of the error.
    pub line: u32,
    /// 1-based column of the error.
    pub col: u32,
    /// What is wrong, in words.
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    // saphyr markers carry a 1-based line and a 0-based column.
    Pos::new(span.start.line(), span.start.col() + 1)
}

fn error_at(pos: Pos, message: impl Into<String>) -> YamlError {
    YamlError {
        line: pos.line,
        col: pos.col,
        message: message.into(),
    }
}

/// Parses every document of a YAML stream. Empty documents (a lone `---`) are returned as null nodes.
///
/// Block-style text is read by the direct reader; whatever it declines goes to the event parser.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = match block::parse(text) {
        Some(docs) => docs,
        None => Builder::new(text).run()?,
    };
    if text.contains("<<") {
        docs.iter_mut().try_for_each(merge::resolve)?;
    }
    Ok(docs)
}

/// Reads `text` with both readers and panics when the direct one reads it, but not as the event
/// parser does: the fuzz harness's check that the fast path never becomes a second dialect.
pub fn assert_readers_agree(text: &str) {
    let Some(fast) = block::parse(text) else {
        return;
    };
    match Builder::new(text).run() {
        Ok(full) if same_documents(&fast, &full) => {}
        other => panic!("the direct YAML reader read {fast:?}, the event parser {other:?}"),
    }
}

/// Equal documents; NaN equals NaN here (`.nan` reads the same on both paths).
fn same_documents(a: &[Node], b: &[Node]) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// A container being filled while its events arrive.
enum Frame {
    List(Pos, Vec<Node>, Option<usize>),
    Map(Pos, Map, Option<(String, Pos)>, Option<usize>),
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    docs: Vec<Node>,
    current: Option<Node>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Builder<'a> {
        Builder {
            parser: Parser::new_from_str(text),
            stack: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            docs: Vec::new(),
            current: None,
        }
    }

    fn run(mut self) -> Result<Vec<Node>, YamlError> {
        while let Some(next) = self.parser.next_event() {
            let (event, span) = next.map_err(|e| {
                error_at(
                    Pos::new(e.marker().line(), e.marker().col() + 1),
                    e.info().to_string(),
                )
            })?;
            let pos = pos_of(&span);
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
                Event::DocumentStart(_) => self.current = None,
                Event::DocumentEnd => {
                    let doc = self
                        .current
                        .take()
                        .unwrap_or_else(|| Node::new(pos, Value::Null));
                    self.docs.push(doc);
                    self.anchors.clear();
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let node =
                        Node::new(pos, scalar_value(text.into_owned(), style, tag.as_deref()));
                    self.remember(anchor, &node);
                    self.push(node)?;
                }
                Event::Alias(id) => {
                    let node = self
                        .anchors
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| error_at(pos, "alias to an unknown anchor"))?;
                    self.expanded += count_nodes(&node);
                    if self.expanded > MAX_ALIAS_EXPANSION {
                        return Err(error_at(
                            pos,
                            format!(
                                "aliases expand to more than {MAX_ALIAS_EXPANSION} nodes; refusing to expand further"
                            ),
                        ));
                    }
                    let mut node = node;
                    node.pos = pos;
                    self.push(node)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(Frame::List(pos, Vec::new(), anchor_id(anchor)), pos)?
                }
                Event::MappingStart(anchor, _) => {
                    self.open(Frame::Map(pos, Map::new(), None, anchor_id(anchor)), pos)?
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor) = match self.stack.pop() {
                        Some(Frame::List(p, items, a)) => (Node::new(p, Value::List(items)), a),
                        Some(Frame::Map(p, map, _, a)) => (Node::new(p, Value::Map(map)), a),
                        None => return Err(error_at(pos, "unbalanced end of collection")),
                    };
                    if let Some(a) = anchor {
                        self.anchors.insert(a, node.clone());
                    }
                    self.push(node)?;
                }
            }
        }
        Ok(self.docs)
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error_at(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if let Some(a) = anchor_id(anchor) {
            self.anchors.insert(a, node.clone());
        }
    }

    /// Places a finished node into its parent, or makes it the document root.
    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.current = Some(node),
            Some(Frame::List(_, items, _)) => items.push(node),
            Some(Frame::Map(_, map, pending, _)) => match pending.take() {
                None => {
                    let key_pos = node.pos;
                    let key = key_text(node)?;
                    if map.contains_key(&key) {
                        return Err(error_at(key_pos, format!("duplicate key `{key}`")));
                    }
                    *pending = Some((key, key_pos));
                }
                Some((key, key_pos)) => map.insert_with_key_pos(key, key_pos, node),
            },
        }
        Ok(())
    }
}

fn anchor_id(id: usize) -> Option<usize> {
    (id != 0).then_some(id)
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::List(items) => items.iter().map(count_nodes).sum(),
        Value::Map(m) => m.iter().map(|(_, v)| count_nodes(v)).sum(),
        _ => 0,
    }
}

/// The text of a mapping key. Scalars give their text (a string key is moved, not copied); a
/// collection used as a key (legal YAML, never seen in configuration files) is rejected rather than
/// guessed at.
fn key_text(node: Node) -> Result<String, YamlError> {
    match node.value {
        Value::Str(s) => Ok(s),
        Value::Null => Ok(String::new()),
        Value::List(_) | Value::Map(_) => Err(error_at(
            node.pos,
            "a collection used as a mapping key is not supported",
        )),
        v => Ok(v.scalar_text().unwrap_or_default()),
    }
}

/// Resolves a scalar by the YAML 1.2 core schema: quoted scalars and `!!str` are strings; plain ones
/// may be null, booleans, integers or floats. The parser's string becomes the value's, uncopied.
fn scalar_value(text: String, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            match tag.suffix.as_str() {
                "str" => return Value::Str(text),
                "int" | "float" | "bool" | "null" => {}
                _ => return Value::Str(text),
            }
        } else {
            return Value::Str(text);
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text);
    }
    plain_scalar(&text).unwrap_or(Value::Str(text))
}

/// What a plain, untagged scalar resolves to under the core schema when it is not a string: null, a
/// boolean, an integer or a float. `None` for a string, which the caller keeps as its own text, so
/// that a reader holding a borrowed slice allocates only for strings.
fn plain_scalar(t: &str) -> Option<Value> {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    if let Some(i) = parse_int(t) {
        return Some(Value::Int(i));
    }
    if looks_like_float(t) {
        if let Ok(f) = t.parse::<f64>() {
            return Some(Value::Float(f));
        }
    }
    None
}

fn parse_int(t: &str) -> Option<i64> {
    if let Some(h) = t.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok();
    }
    if let Some(o) = t.strip_prefix("0o") {
        return i64::from_str_radix(o, 8).ok();
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn looks_like_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_types() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - 'true'\nc: true\nd: 1.5\ne: ~\n").unwrap();
        let root = &docs[0];
        let b = root.get("b").unwrap();
        assert_eq!(b.as_list().unwrap()[0].pos, Pos::new(3, 5));
        assert_eq!(root.get("a").unwrap().value, Value::Int(1));
        assert_eq!(b.as_list().unwrap()[1].value, Value::Str("true".into()));
        assert_eq!(root.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(root.get("d").unwrap().value, Value::Float(1.5));
        assert_eq!(root.get("e").unwrap().value, Value::Null);
    }

    #[test]
    fn multi_document_streams() {
        let docs = parse_documents("kind: A\n---\nkind: B\n---\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].get("kind").unwrap().pos.line, 3);
        assert_eq!(docs[2].value, Value::Null);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.line, err.col), (3, 1));
        assert!(err.message.contains("duplicate key `a`"));
    }

    #[test]
    fn syntax_errors_carry_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g'] {
            y.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let err = parse_documents(&y).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err:?}");
    }

    #[test]
    fn aliases_expand_within_limits() {
        let docs = parse_documents("base: &b {x: 1}\nuse: *b\n").unwrap();
        assert_eq!(
            docs[0].get("use").unwrap().get("x").unwrap().value,
            Value::Int(1)
        );
    }
}
