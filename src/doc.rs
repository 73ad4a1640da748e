//! The fact document: a small, ordered JSON-like tree whose nodes remember where they came from.
//!
//! Every collector turns its target into one or more [`Node`] trees, and every check in a policy is a
//! predicate over the fields of such a tree. Keeping the source position on each node is what lets a
//! verdict point at its evidence (`sshd_config:14`) instead of only naming the file.
//!
//! The same tree also carries parsed policy files, so a policy error can name its line and column.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A position in a source text: 1-based line and column; `0` means "unknown".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line number, 0 when the collector cannot tell.
    pub line: u32,
    /// 1-based column (in characters), 0 when the collector cannot tell.
    pub col: u32,
    /// Which source file the value came from: 0 is the scanned file itself, `n` the n-th file it
    /// included (sshd `Include`). See `collect::Document::included`.
    pub file: u16,
}

impl Pos {
    /// A position at `line`, `col` (both 1-based).
    pub fn new(line: usize, col: usize) -> Pos {
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
            file: 0,
        }
    }

    /// The position of byte `offset` in `text`.
    pub fn at_offset(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Pos::new(line, col)
    }

    /// A position that only knows its line.
    pub fn line(line: usize) -> Pos {
        Pos::new(line, 0)
    }

    /// `Some(line)` when the line is known.
    pub fn known_line(self) -> Option<u32> {
        (self.line > 0).then_some(self.line)
    }
}

/// One value in a fact document, with the position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts in its source.
    pub pos: Pos,
    /// The value itself.
    pub value: Value,
}

/// The value of a [`Node`]: the JSON data model, with integers kept apart from floats so that
/// `MaxAuthTries 4` prints as `4`, not `4.0`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An explicit null (`~` in YAML, `null` in JSON).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (all values of line-oriented configs are strings).
    Str(String),
    /// An ordered sequence.
    List(Vec<Node>),
    /// An ordered mapping.
    Map(Map),
}

/// An ordered mapping from keys to nodes.
///
/// Insertion order is kept so `vigil facts` prints a document in the order of its source. Lookups are
/// linear: fact documents have few keys per level, and a linear scan over a handful of short strings
/// beats hashing them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    /// Keys are often the collector's own constant names (`not_after`), which cost no allocation.
    entries: Vec<(Cow<'static, str>, Pos, Node)>,
    /// When set, [`Map::get`] falls back to an ASCII case-insensitive match, as sshd does for its
    /// keywords.
    case_insensitive: bool,
    /// What the map is, when it is one element of a list that checks range over (a container, a
    /// server block, a `Match` block): `container "web"`. A failing element gets a finding of its
    /// own under this name.
    label: Option<Box<str>>,
}

impl Map {
    /// An empty map with exact key matching.
    pub fn new() -> Map {
        Map::default()
    }

    /// An empty map whose lookups ignore ASCII case (sshd keywords, INI keys).
    pub fn case_insensitive() -> Map {
        Map {
            case_insensitive: true,
            ..Map::default()
        }
    }

    /// Names the map as an element of its list (see [`Map::label`]).
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = Some(label.into().into_boxed_str());
    }

    /// The element name a collector gave the map, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Looks a key up: exactly first, then ignoring case when the map is case-insensitive.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .or_else(|| {
                self.case_insensitive
                    .then(|| {
                        self.entries
                            .iter()
                            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
                    })
                    .flatten()
            })
            .map(|(_, _, v)| v)
    }

    /// Mutable lookup with the same matching rules as [`Map::get`].
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        let ci = self.case_insensitive;
        let idx = self
            .entries
            .iter()
            .position(|(k, _, _)| k == key)
            .or_else(|| {
                ci.then(|| {
                    self.entries
                        .iter()
                        .position(|(k, _, _)| k.eq_ignore_ascii_case(key))
                })
                .flatten()
            })?;
        Some(&mut self.entries[idx].2)
    }

    /// Whether the key is present (same matching rules as [`Map::get`]).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Appends an entry whose key sits where its value starts (line-oriented configs); callers that
    /// must reject duplicates check [`Map::contains_key`] first.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, node: Node) {
        let pos = node.pos;
        self.entries.push((key.into(), pos, node));
    }

    /// Appends an entry whose key has its own position (YAML, TOML).
    pub fn insert_with_key_pos(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        key_pos: Pos,
        node: Node,
    ) {
        self.entries.push((key.into(), key_pos, node));
    }

    /// Appends `node` to the list stored under `key`, creating the list at the node's position when
    /// the key is new: how repeated directives (sshd `Port`, nginx `server`) are collected.
    pub fn push_to_list(&mut self, key: &str, node: Node) {
        match self.get_mut(key) {
            Some(Node {
                value: Value::List(items),
                ..
            }) => items.push(node),
            _ => {
                let pos = node.pos;
                self.insert(key.to_string(), Node::new(pos, Value::List(vec![node])));
            }
        }
    }

    /// The entries in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().map(|(k, _, v)| (k.as_ref(), v))
    }

    /// The entries in source order, with the position of each key.
    pub fn iter_with_key_pos(&self) -> impl Iterator<Item = (&str, Pos, &Node)> {
        self.entries.iter().map(|(k, p, v)| (k.as_ref(), *p, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Node {
    /// A node at `pos`.
    pub fn new(pos: Pos, value: Value) -> Node {
        Node { pos, value }
    }

    /// A string node.
    pub fn str(pos: Pos, s: impl Into<String>) -> Node {
        Node::new(pos, Value::Str(s.into()))
    }

    /// The map inside this node, if it is one.
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The list inside this node, if it is one.
    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The string inside this node, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Field lookup when this node is a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The name of this node's type, as policy errors and `vigil facts` documentation say it.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Converts to a `serde_json::Value`, dropping positions.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Builds a node tree from JSON (positions unknown); used for derived facts.
    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Node::from_json).collect()),
            J::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.insert(k.clone(), Node::from_json(v));
                }
                Value::Map(m)
            }
        };
        Node::new(Pos::default(), value)
    }
}

impl Value {
    /// The name of this value's type: `null`, `boolean`, `integer`, `number`, `string`, `list`, `map`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// [`Value::scalar_text`] without copying a string.
    pub fn scalar_str(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            other => other.scalar_text().map(Cow::Owned),
        }
    }

    /// The scalar as text, the way a check compares it: `true`, `4`, `no`. `None` for lists and maps.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Null => Some("null".into()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::List(_) | Value::Map(_) => None,
        }
    }
}

impl fmt::Display for Value {
    /// Compact, single-line rendering used in evidence: scalars as themselves, containers as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scalar_str() {
            Some(s) => f.write_str(&s),
            None => f.write_str(&serde_json::to_string(self).unwrap_or_default()),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl Serialize for Value {
    /// Plain JSON: positions and labels are not part of the value.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for n in l {
                    seq.serialize_element(&n.value)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m.iter() {
                    map.serialize_entry(k, &v.value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_lookup_prefers_exact_key() {
        let mut m = Map::case_insensitive();
        m.insert("permitrootlogin", Node::str(Pos::line(3), "no"));
        assert_eq!(m.get("PermitRootLogin").and_then(Node::as_str), Some("no"));
        let mut exact = Map::new();
        exact.insert("permitrootlogin", Node::str(Pos::line(3), "no"));
        assert!(exact.get("PermitRootLogin").is_none());
    }

    #[test]
    fn serializes_as_plain_json() {
        let mut m = Map::new();
        m.insert("a", Node::new(Pos::line(1), Value::Int(4)));
        m.insert(
            "b",
            Node::new(
                Pos::line(2),
                Value::List(vec![Node::str(Pos::line(2), "x")]),
            ),
        );
        let n = Node::new(Pos::line(1), Value::Map(m));
        assert_eq!(serde_json::to_string(&n).unwrap(), r#"{"a":4,"b":["x"]}"#);
    }
}
