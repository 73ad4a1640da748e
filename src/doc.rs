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
        let col = chars_in(&before[line_start..]) + 1;
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

/// How many characters a slice of UTF-8 text holds, counting a character cut off at its end as one,
/// as `String::from_utf8_lossy` would (one replacement character): every byte that does not
/// continue a multi-byte character starts one. Columns are counted in characters.
pub(crate) fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// The line starts of a text, so that many byte offsets become positions in logarithmic time each
/// ([`Pos::at_offset`] scans the text from its start, which is quadratic when called per value).
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    /// Indexes `text`.
    pub fn new(text: &'t str) -> Lines<'t> {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Lines { text, starts }
    }

    /// The position of byte `offset`, as [`Pos::at_offset`] gives it.
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = chars_in(&self.text.as_bytes()[start..offset]) + 1;
        Pos::new(line, col)
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
/// Insertion order is kept so `vigil facts` prints a document in the order of its source. Lookups
/// are linear while a map is small (a linear scan over a handful of short strings beats hashing
/// them) and go through a hash index once it holds more than [`INDEX_FROM`] keys, so that a file of
/// 100,000 keys is parsed and judged in linear time, not quadratic.
#[derive(Debug, Clone, Default)]
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
    /// Key (lower-cased when case-insensitive) to the index of its first entry, once the map is
    /// large. Boxed: few maps are large, and every node is moved while a document is built, so a
    /// map (and with it every [`Node`]) stays small: 56 bytes rather than 96.
    #[allow(
        clippy::box_collection,
        reason = "the box keeps an unindexed map small; see above"
    )]
    index: Option<Box<std::collections::HashMap<Box<str>, usize>>>,
}

/// The deepest nesting of blocks, mappings or lists a reader accepts: real configuration files stay
/// within a dozen levels, and every reader and evaluator of a document recurses, so a deeper file
/// is an `error` for that file rather than a stack overflow that would end the whole scan.
pub const MAX_DEPTH: usize = 256;

/// Entries from which a map keeps a hash index of its keys.
pub const INDEX_FROM: usize = 128;

impl PartialEq for Map {
    /// Equal entries, matching and label; the index is a cache.
    fn eq(&self, other: &Map) -> bool {
        self.entries == other.entries
            && self.case_insensitive == other.case_insensitive
            && self.label == other.label
    }
}

impl Map {
    /// An empty map with exact key matching.
    pub fn new() -> Map {
        Map::default()
    }

    /// An empty map with room for `n` entries, for a collector that knows how many facts it writes.
    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
            ..Map::default()
        }
    }

    /// A map of exact-match keys holding `entries` in their order, as many [`Map::insert_with_key_pos`]
    /// calls would build it, for a reader that collects a mapping's entries before it makes the map.
    pub fn from_entries(entries: Vec<(Cow<'static, str>, Pos, Node)>) -> Map {
        let mut map = Map {
            entries,
            ..Map::default()
        };
        if map.entries.len() > INDEX_FROM {
            map.index = Some(Box::new(map.build_index()));
        }
        map
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
        if self.index.is_some() {
            return self.indexed(key).map(|i| &self.entries[i].2);
        }
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
        if self.index.is_some() {
            let i = self.indexed(key)?;
            return Some(&mut self.entries[i].2);
        }
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
        self.push_entry(key.into(), pos, node);
    }

    /// Appends an entry whose key has its own position (YAML, TOML).
    pub fn insert_with_key_pos(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        key_pos: Pos,
        node: Node,
    ) {
        self.push_entry(key.into(), key_pos, node);
    }

    fn push_entry(&mut self, key: Cow<'static, str>, pos: Pos, node: Node) {
        let at = self.entries.len();
        if let Some(index) = &mut self.index {
            index
                .entry(index_key(&key, self.case_insensitive))
                .or_insert(at);
        }
        self.entries.push((key, pos, node));
        if self.index.is_none() && self.entries.len() > INDEX_FROM {
            self.index = Some(Box::new(self.build_index()));
        }
    }

    /// The index of the entries so far: each key to its first entry.
    fn build_index(&self) -> std::collections::HashMap<Box<str>, usize> {
        let mut index = std::collections::HashMap::with_capacity(self.entries.len() * 2);
        for (i, (k, _, _)) in self.entries.iter().enumerate() {
            index
                .entry(index_key(k, self.case_insensitive))
                .or_insert(i);
        }
        index
    }

    /// The entry for `key` through the index: for a case-insensitive map, an exact match first
    /// (as the linear lookup), then any spelling.
    fn indexed(&self, key: &str) -> Option<usize> {
        let index = self.index.as_ref()?;
        if !self.case_insensitive {
            return index.get(key).copied();
        }
        let first = index.get(key.to_ascii_lowercase().as_str()).copied()?;
        if self.entries[first].0 == key {
            return Some(first);
        }
        // Another spelling came first: an exact match later wins, as in the linear lookup.
        self.entries[first..]
            .iter()
            .position(|(k, _, _)| k == key)
            .map(|p| first + p)
            .or(Some(first))
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

    /// The entries in source order, taken out of the map.
    pub fn into_entries(self) -> impl Iterator<Item = (Cow<'static, str>, Pos, Node)> {
        self.entries.into_iter()
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
        Node::from_json_at(v, Pos::default())
    }

    /// Builds a node tree from JSON, every value at `pos` (JSON decoded from one string).
    pub fn from_json_at(v: &serde_json::Value, pos: Pos) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(|v| Node::from_json_at(v, pos)).collect()),
            J::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.insert(k.clone(), Node::from_json_at(v, pos));
                }
                Value::Map(m)
            }
        };
        Node::new(pos, value)
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

/// The index key of `key`.
fn index_key(key: &str, case_insensitive: bool) -> Box<str> {
    if case_insensitive {
        key.to_ascii_lowercase().into_boxed_str()
    } else {
        key.into()
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
    fn nodes_stay_small() {
        // Documents are built by moving nodes into lists and maps: their size is copied each time.
        assert!(
            std::mem::size_of::<Map>() <= 56,
            "{}",
            std::mem::size_of::<Map>()
        );
        assert!(
            std::mem::size_of::<Node>() <= 72,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn columns_count_characters_as_lossy_decoding_would() {
        for text in [
            "",
            "abc",
            "héllo wörld",
            "日本語のテキスト",
            "a\u{1F600}b",
            "\u{1F600}",
        ] {
            let bytes = text.as_bytes();
            for end in 0..=bytes.len() {
                let lossy = String::from_utf8_lossy(&bytes[..end]).chars().count();
                assert_eq!(chars_in(&bytes[..end]), lossy, "{text:?} cut at {end}");
            }
        }
    }

    #[test]
    fn line_index_agrees_with_scanning() {
        let text = "a: 1\nbé: [x,\n  y]\n\nlast";
        let lines = Lines::new(text);
        for offset in 0..=text.len() + 2 {
            if text.is_char_boundary(offset.min(text.len())) {
                assert_eq!(lines.pos(offset), Pos::at_offset(text, offset), "{offset}");
            }
        }
    }

    #[test]
    fn large_maps_find_keys_as_small_ones_do() {
        for ci in [false, true] {
            let mut m = if ci {
                Map::case_insensitive()
            } else {
                Map::new()
            };
            for i in 0..1000 {
                m.insert(
                    format!("Key{i}"),
                    Node::new(Pos::line(i + 1), Value::Int(i as i64)),
                );
            }
            m.insert("Key5", Node::new(Pos::line(9999), Value::Int(-1)));
            assert_eq!(m.get("Key999").unwrap().value, Value::Int(999));
            // The first entry of a repeated key wins.
            assert_eq!(m.get("Key5").unwrap().value, Value::Int(5));
            assert_eq!(m.get("key7").is_some(), ci);
            assert!(m.get("Key1000").is_none());
            *m.get_mut("Key3").unwrap() = Node::new(Pos::line(1), Value::Bool(true));
            assert_eq!(m.get("Key3").unwrap().value, Value::Bool(true));
        }
        // A case-insensitive map prefers the exact spelling, wherever it is.
        let mut m = Map::case_insensitive();
        for i in 0..40 {
            m.insert(format!("k{i}"), Node::new(Pos::line(1), Value::Int(i)));
        }
        m.insert("PORT", Node::str(Pos::line(2), "upper"));
        m.insert("port", Node::str(Pos::line(3), "lower"));
        assert_eq!(m.get("port").and_then(Node::as_str), Some("lower"));
        assert_eq!(m.get("Port").and_then(Node::as_str), Some("upper"));
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
