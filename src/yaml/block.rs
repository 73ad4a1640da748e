//! A direct reader for the block-style YAML that configuration files and manifests are written in.
//!
//! Most YAML a scanner meets is a narrow subset: indented mappings and sequences, one-line plain or
//! quoted scalars, one-line flow lists and maps, and literal blocks (`|`). The general event parser
//! spends most of a manifest's parse in its token queue and state machine; this reader walks the
//! lines once and builds the nodes directly, in about a third of the instructions (1.33 G to
//! 0.48 G for the 2,500 YAML files of the 10,000-file scale tree).
//!
//! It is a fast path, never a second dialect. For the subset it reads, it returns exactly the nodes
//! the event-driven builder returns, values and positions alike: the differential tests below and
//! the `yaml` fuzz target (`harness`, through `yaml::assert_readers_agree`) hold it to that. At the
//! first thing outside the subset (anchors, tags, folded or indented block scalars, multi-line
//! plain, quoted or flow values, tabs, control characters, duplicate keys, anything malformed) it
//! returns `None` and the caller parses the whole text with the full parser, so every error message
//! and position still comes from there.

use std::borrow::Cow;

use crate::doc::{INDEX_FROM, MAX_DEPTH, Map, Node, Pos, Value, chars_in};

use super::{key_text, keys, plain_scalar, scalar_value};
use saphyr_parser::ScalarStyle;

/// Reads every document of `text`, or `None` when the text leaves the subset (see the module
/// documentation).
pub(super) fn parse(text: &str) -> Option<Vec<Node>> {
    if !printable(text) {
        return None;
    }
    // Windows line breaks (`\r\n`) are line breaks; a carriage return anywhere else is left to the
    // full parser.
    let crlf = memchr::memchr(b'\r', text.as_bytes()).is_some();
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(Line::new(line_text(&text[start..end], crlf)?));
        start = end + 1;
    }
    if start < text.len() {
        // The last line has no break, so any carriage return in it is another one.
        let last = &text[start..];
        if crlf && last.contains('\r') {
            return None;
        }
        lines.push(Line::new(last));
    }
    let mut reader = Reader {
        lines,
        final_newline: text.ends_with('\n'),
        next: 0,
        depth: 0,
        entries: Vec::new(),
        items: Vec::new(),
    };
    reader.documents()
}

/// Whether the text holds only what the subset reads as plain characters and line breaks: no tab,
/// no control character (YAML allows none; the event parser reports them), no byte-order mark and
/// no Unicode line or paragraph separator.
fn printable(text: &str) -> bool {
    let control = |b: u8| (b < 0x20 && b != b'\n' && b != b'\r') || b == 0x7f;
    // Whole chunks without an early exit, which the compiler turns into vector code.
    let ascii_ok = !text
        .as_bytes()
        .chunks(64)
        .any(|chunk| chunk.iter().fold(false, |seen, &b| seen | control(b)));
    ascii_ok && (text.is_ascii() || !text.chars().any(unreadable))
}

/// A non-ASCII character the subset leaves to the full parser: C1 controls (NEL among them), the
/// byte-order mark, the Unicode line and paragraph separators and the two noncharacters.
fn unreadable(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// A line without its `\r\n` break, or `None` when it holds another carriage return.
fn line_text(line: &str, crlf: bool) -> Option<&str> {
    if !crlf {
        return Some(line);
    }
    let line = line.strip_suffix('\r').unwrap_or(line);
    (!line.contains('\r')).then_some(line)
}

/// One line of the text, without its line break.
struct Line<'t> {
    text: &'t str,
    /// Leading spaces.
    indent: usize,
    /// Blank, or only a comment: skipped between nodes.
    insignificant: bool,
}

impl<'t> Line<'t> {
    fn new(text: &'t str) -> Line<'t> {
        let indent = spaces(text);
        let rest = &text[indent..];
        Line {
            text,
            indent,
            insignificant: rest.is_empty() || rest.starts_with('#'),
        }
    }

    /// A `---` document marker, with nothing but a comment after it. `None` when the line is not
    /// a marker, `Some(false)` when it is one with content after it (outside the subset).
    fn marker(&self) -> Option<bool> {
        let rest = self.text.strip_prefix("---")?;
        if rest.is_empty() {
            return Some(true);
        }
        if !rest.starts_with(' ') {
            return None;
        }
        let rest = rest.trim_start_matches(' ');
        Some(rest.is_empty() || rest.starts_with('#'))
    }
}

/// The longest key read here, in bytes. YAML bounds an implicit key at 1024 characters and the
/// full parser enforces it; longer keys (never seen in configuration) go there.
const MAX_KEY: usize = 512;

struct Reader<'t> {
    lines: Vec<Line<'t>>,
    /// Whether the last line ends in a line break (a literal block running to the end of the text
    /// keeps or drops its final break by it: left to the full parser).
    final_newline: bool,
    /// The first line not yet consumed.
    next: usize,
    depth: usize,
    /// The entries of the mappings being read, innermost last: a mapping collects its entries here
    /// and moves them into a map of the exact size when it ends, rather than growing its own
    /// vector by doubling (and copying) as a container's ten keys arrive.
    entries: Vec<Entry>,
    /// The items of the sequences being read, in the same way.
    items: Vec<Node>,
}

/// A map entry as [`Map`] keeps it: key, key position, value.
type Entry = (Cow<'static, str>, Pos, Node);

impl<'t> Reader<'t> {
    fn documents(&mut self) -> Option<Vec<Node>> {
        let mut docs = Vec::new();
        while let Some(first) = self.significant(self.next) {
            let start = match self.lines[first].marker() {
                Some(true) => self.significant(first + 1)?,
                Some(false) => return None,
                // Content without a marker only opens the stream's first document.
                None if docs.is_empty() => first,
                None => return None,
            };
            if self.lines[start].marker().is_some() {
                // An empty document: the full parser places its null node.
                return None;
            }
            let indent = self.lines[start].indent;
            docs.push(self.node(start, indent)?);
            match self.significant(self.next) {
                None => break,
                Some(after) if self.lines[after].marker().is_some() => self.next = after,
                Some(_) => return None,
            }
        }
        Some(docs)
    }

    /// The first line at or after `from` that holds content.
    fn significant(&self, from: usize) -> Option<usize> {
        (from..self.lines.len()).find(|&i| !self.lines[i].insignificant)
    }

    /// The next line with content and its indentation, unless it ends the document.
    fn next_line(&self) -> Option<(usize, usize)> {
        let i = self.significant(self.next)?;
        let line = &self.lines[i];
        (line.marker().is_none()).then_some((i, line.indent))
    }

    /// A mapping or sequence whose first token starts at byte `at` of line `row`.
    fn node(&mut self, row: usize, at: usize) -> Option<Node> {
        let rest = &self.lines[row].text[at..];
        if is_entry(rest) {
            self.deeper(|r| r.sequence(row, at, false))
        } else if key_colon(rest).is_some() {
            self.deeper(|r| r.mapping(row, at))
        } else {
            // A scalar on a line of its own (possibly spanning lines): left to the full parser.
            None
        }
    }

    /// Reads one level deeper, within the nesting limit (past it, the full parser reports it).
    fn deeper(&mut self, read: impl FnOnce(&mut Self) -> Option<Node>) -> Option<Node> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return None;
        }
        let node = read(self);
        self.depth -= 1;
        node
    }

    /// A block mapping whose first key starts at byte `at` of line `row`; its keys all sit at that
    /// column.
    fn mapping(&mut self, mut row: usize, at: usize) -> Option<Node> {
        let pos = position(self.lines[row].text, row, at);
        let mark = self.entries.len();
        // A mapping past `INDEX_FROM` keys moves into a map of its own, whose index keeps the check
        // for duplicate keys linear.
        let mut large: Option<Map> = None;
        loop {
            let text = self.lines[row].text;
            let rest = &text[at..];
            let colon = key_colon(rest)?;
            let raw_key = &rest[..colon];
            if raw_key.is_empty()
                || raw_key.len() > MAX_KEY
                || raw_key.ends_with(' ')
                || starts_with_indicator(raw_key)
            {
                return None;
            }
            let key_pos = position(text, row, at);
            let key = match word_key(raw_key) {
                Some(word) => keys::key(word),
                None => Cow::Owned(
                    key_text(Node::new(
                        key_pos,
                        scalar_value(raw_key.to_string(), ScalarStyle::Plain, None),
                    ))
                    .ok()?,
                ),
            };
            let duplicate = match &large {
                Some(map) => map.contains_key(&key),
                None => self.entries[mark..].iter().any(|(k, _, _)| *k == key),
            };
            if duplicate {
                return None;
            }
            let after_colon = at + colon + 1;
            let value_at = after_colon + spaces(&text[after_colon..]);
            self.next = row + 1;
            let value = if ends_line(&text[value_at..]) {
                self.block_value(text, row, at + colon, at)?
            } else {
                self.inline(row, value_at, at)?
            };
            match &mut large {
                Some(map) => map.insert_with_key_pos(key, key_pos, value),
                None => {
                    self.entries.push((key, key_pos, value));
                    if self.entries.len() - mark > INDEX_FROM {
                        large = Some(Map::from_entries(self.entries.drain(mark..).collect()));
                    }
                }
            }
            match self.next_line() {
                Some((next, indent)) if indent == at => row = next,
                Some((_, indent)) if indent > at => return None,
                _ => {
                    let map = large
                        .unwrap_or_else(|| Map::from_entries(self.entries.drain(mark..).collect()));
                    return Some(Node::new(pos, Value::Map(map)));
                }
            }
        }
    }

    /// The value of a key whose line ends after its colon (at byte `colon`): a nested block, a
    /// sequence at the key's own column, or null.
    fn block_value(
        &mut self,
        text: &str,
        row: usize,
        colon: usize,
        key_indent: usize,
    ) -> Option<Node> {
        let Some(next) = self.significant(self.next) else {
            return Some(Node::new(position(text, row, colon), Value::Null));
        };
        let line = &self.lines[next];
        if line.marker().is_none() {
            if line.indent > key_indent {
                return self.node(next, line.indent);
            }
            if line.indent == key_indent && is_entry(&line.text[key_indent..]) {
                return self.deeper(|r| r.sequence(next, key_indent, true));
            }
        }
        Some(Node::new(position(text, row, colon), Value::Null))
    }

    /// A block sequence whose first `-` is at byte `at` of line `row`. A `compact` one sits at its
    /// key's own column (`containers:` then `- name: web` below it); the full parser places it at
    /// its first item rather than at the `-`.
    fn sequence(&mut self, mut row: usize, at: usize, compact: bool) -> Option<Node> {
        let first = self.lines[row].text;
        let pos = if compact {
            let item_at = at + 1 + spaces(&first[at + 1..]);
            if ends_line(&first[item_at..]) {
                return None;
            }
            position(first, row, item_at)
        } else {
            position(first, row, at)
        };
        let mark = self.items.len();
        loop {
            let text = self.lines[row].text;
            let item_at = at + 1 + spaces(&text[at + 1..]);
            self.next = row + 1;
            let rest = &text[item_at..];
            let item = if ends_line(rest) {
                // `-` alone: the item is the block below, or null (placed by the full parser).
                let next = self.significant(self.next)?;
                let line = &self.lines[next];
                if line.marker().is_some() || line.indent <= at {
                    return None;
                }
                self.node(next, line.indent)?
            } else if is_entry(rest) || key_colon(rest).is_some() && !starts_with_indicator(rest) {
                self.node(row, item_at)?
            } else {
                self.inline(row, item_at, at)?
            };
            self.items.push(item);
            match self.next_line() {
                Some((next, indent)) if indent == at && is_entry(&self.lines[next].text[at..]) => {
                    row = next;
                }
                Some((_, indent)) if indent > at => return None,
                // Less indented, the end, or at the same column the key of an enclosing mapping.
                _ => {
                    let items = self.items.drain(mark..).collect();
                    return Some(Node::new(pos, Value::List(items)));
                }
            }
        }
    }

    /// A value that starts on its key's or entry's line, at byte `at`: a one-line scalar, a one-line
    /// flow list or map, or a literal block. `parent` is the column of the enclosing key or `-`; a
    /// following line indented past it would continue the value, which is left to the full parser.
    fn inline(&mut self, row: usize, at: usize, parent: usize) -> Option<Node> {
        let text = self.lines[row].text;
        let rest = &text[at..];
        let pos = position(text, row, at);
        let node = match *rest.as_bytes().first()? {
            b'"' | b'\'' => {
                let (value, len) = quoted(rest)?;
                trailer(&rest[len..])?;
                Node::new(pos, Value::Str(value))
            }
            b'[' | b'{' => {
                let (node, end) = flow(text, row, at, 0)?;
                trailer(&text[end..])?;
                node
            }
            b'|' => return self.literal(&rest[1..], parent),
            _ if starts_with_indicator(rest) => return None,
            _ => {
                let value = plain_line(rest)?;
                if has_key_colon(value) {
                    return None;
                }
                Node::new(pos, plain(value))
            }
        };
        match self.next_line() {
            Some((_, indent)) if indent > parent => None,
            _ => Some(node),
        }
    }

    /// A literal block scalar (`|` or `|-`, the header after `|` in `header`) below a key or entry
    /// at column `parent`. Its lines start on the next line, which must hold content.
    fn literal(&mut self, header: &str, parent: usize) -> Option<Node> {
        let strip = match header.trim_end_matches(' ') {
            "" => false,
            "-" => true,
            _ => return None,
        };
        let first = self.next;
        let line = self.lines.get(first)?;
        if line.text.len() == line.indent || line.indent <= parent {
            return None;
        }
        let indent = line.indent;
        let mut value = String::new();
        let mut end = first;
        let mut blank_run = 0;
        while let Some(line) = self.lines.get(end) {
            if line.text.len() == line.indent {
                if line.indent > indent {
                    return None;
                }
                blank_run += 1;
            } else if line.indent >= indent {
                for _ in 0..blank_run {
                    value.push('\n');
                }
                blank_run = 0;
                value.push_str(&line.text[indent..]);
                value.push('\n');
            } else {
                break;
            }
            end += 1;
        }
        if end == self.lines.len() && !self.final_newline {
            return None;
        }
        if strip {
            value.pop();
        }
        self.next = end;
        let node = Node::new(Pos::new(first + 1, indent + 1), Value::Str(value));
        match self.next_line() {
            Some((_, indent)) if indent > parent => None,
            _ => Some(node),
        }
    }
}

/// A plain key that the core schema reads as a string whatever follows its first letter: one that
/// starts with an ASCII letter and is not a null or a boolean. Integers and floats start with a
/// digit, a sign or a dot. Most keys are such words; they skip resolving the scalar and printing it
/// back as key text.
fn word_key(raw: &str) -> Option<&str> {
    let special = matches!(
        raw,
        "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    );
    (raw.as_bytes()[0].is_ascii_alphabetic() && !special).then_some(raw)
}

/// A one-line plain scalar, resolved by the core schema; only a string is copied out of the text.
fn plain(text: &str) -> Value {
    plain_scalar(text).unwrap_or_else(|| Value::Str(text.to_string()))
}

/// The position of byte `at` of line `row` (0-based), in characters as the full parser counts.
fn position(text: &str, row: usize, at: usize) -> Pos {
    Pos::new(row + 1, chars_in(&text.as_bytes()[..at]) + 1)
}

fn spaces(text: &str) -> usize {
    text.bytes().take_while(|&b| b == b' ').count()
}

/// Whether nothing but spaces and a comment is left on the line.
fn ends_line(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with('#')
}

/// Nothing but spaces and a comment after a closed value; `None` otherwise.
fn trailer(rest: &str) -> Option<()> {
    let trimmed = rest.trim_start_matches(' ');
    (trimmed.is_empty() || trimmed.starts_with('#') && trimmed.len() < rest.len()).then_some(())
}

/// A block sequence entry: `-` followed by a space or the end of the line.
fn is_entry(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// Where the colon of `key: value` (or `key:` ending the line) is, for a plain key; `None` when
/// a comment starts first or there is no such colon.
fn key_colon(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return Some(i),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            _ => {}
        }
    }
    None
}

/// Whether a plain scalar would start with a YAML indicator (quotes, flow and block markers,
/// anchors, tags, directives, reserved characters) or with what looks like a document marker
/// (`---`, `...`, which the full parser refuses to start a scalar with wherever it stands): the
/// subset leaves those to the full parser.
fn starts_with_indicator(text: &str) -> bool {
    if text.starts_with("---") || text.starts_with("...") {
        return true;
    }
    matches!(
        text.as_bytes().first(),
        Some(
            b'-' | b'?'
                | b':'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
        )
    ) && !plain_dash(text)
}

/// `-` starting a plain scalar (`--port=80`, `-1`, `-Xmx512m`): followed by a letter, a digit or
/// one of `-._/`. Anything else after a leading `-` (a space, a flow indicator, `:`) goes to the
/// full parser, which has rules of its own for it.
fn plain_dash(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.first() == Some(&b'-')
        && bytes
            .get(1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/'))
}

/// Whether a one-line plain scalar holds `: ` or ends with `:`, as a key would: left to the full
/// parser. A byte search: `str::contains` sets up a substring searcher for each of the many short
/// values of a manifest, which cost more than the rest of reading them.
fn has_key_colon(value: &str) -> bool {
    let bytes = value.as_bytes();
    memchr::memchr_iter(b':', bytes).any(|i| matches!(bytes.get(i + 1), None | Some(b' ')))
}

/// A one-line plain scalar in block context: up to a comment or the end of the line, trailing
/// spaces trimmed.
fn plain_line(rest: &str) -> Option<&str> {
    let bytes = rest.as_bytes();
    let end = (1..bytes.len())
        .find(|&i| bytes[i] == b'#' && bytes[i - 1] == b' ')
        .unwrap_or(bytes.len());
    let value = rest[..end].trim_end_matches(' ');
    (!value.is_empty()).then_some(value)
}

/// A quoted scalar closed on its own line, opened by the first byte of `rest`: the value and the
/// bytes it spans. In double quotes `\` starts one of the common escapes (any other goes to the
/// full parser); in single quotes `''` is a quote.
fn quoted(rest: &str) -> Option<(String, usize)> {
    let bytes = rest.as_bytes();
    let quote = bytes[0];
    let mut value = String::new();
    let mut run = 1;
    let mut i = 1;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'\\' if quote == b'"' => match bytes.get(i + 1)? {
                b'\\' => '\\',
                b'"' => '"',
                b'/' => '/',
                b'n' => '\n',
                b't' => '\t',
                _ => return None,
            },
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => '\'',
            b if b == quote => {
                value.push_str(&rest[run..i]);
                return Some((value, i + 1));
            }
            _ => {
                i += 1;
                continue;
            }
        };
        value.push_str(&rest[run..i]);
        value.push(escaped);
        i += 2;
        run = i;
    }
    None
}

/// A flow collection on a longer line goes to the full parser: each of its items counts the line's
/// characters from its start for its column, which is quadratic in the line (a single-line JSON
/// document of megabytes would take minutes).
const LONG_LINE: usize = 1024;

/// The deepest nesting of flow collections read here; deeper ones go to the full parser.
const MAX_FLOW_DEPTH: usize = 32;

/// A flow list or mapping closed on its own line, opening at byte `at` of `text` (line `row`): the
/// node and the byte after its closing bracket.
fn flow(text: &str, row: usize, at: usize, depth: usize) -> Option<(Node, usize)> {
    if depth > MAX_FLOW_DEPTH || text.len() > LONG_LINE {
        return None;
    }
    let bytes = text.as_bytes();
    let is_map = bytes[at] == b'{';
    let close = if is_map { b'}' } else { b']' };
    let (mut items, mut map) = (Vec::new(), Map::new());
    let mut i = skip_spaces(text, at + 1);
    let mut empty = true;
    loop {
        if bytes.get(i) == Some(&close) && empty {
            break;
        }
        empty = false;
        let end = if is_map {
            let key_pos = position(text, row, i);
            let (key, end) = flow_scalar(text, row, i, true)?;
            if end - i > MAX_KEY {
                return None;
            }
            let key = key_text(key).ok()?;
            if map.contains_key(&key) || bytes.get(end..end + 2) != Some(b": ") {
                return None;
            }
            let (value, end) = flow_value(text, row, skip_spaces(text, end + 2), depth)?;
            map.insert_with_key_pos(key, key_pos, value);
            end
        } else {
            let (value, end) = flow_value(text, row, i, depth)?;
            items.push(value);
            end
        };
        i = skip_spaces(text, end);
        match *bytes.get(i)? {
            b',' => {
                i = skip_spaces(text, i + 1);
                if matches!(bytes.get(i), None | Some(b']' | b'}')) {
                    return None;
                }
            }
            b if b == close => break,
            _ => return None,
        }
    }
    let pos = position(text, row, at);
    let value = if is_map {
        Value::Map(map)
    } else {
        Value::List(items)
    };
    Some((Node::new(pos, value), i + 1))
}

fn skip_spaces(text: &str, at: usize) -> usize {
    at + spaces(&text[at..])
}

/// A value inside a flow collection: a nested collection or a scalar.
fn flow_value(text: &str, row: usize, at: usize, depth: usize) -> Option<(Node, usize)> {
    match text.as_bytes().get(at)? {
        b'[' | b'{' => flow(text, row, at, depth + 1),
        _ => flow_scalar(text, row, at, false),
    }
}

/// A quoted or plain scalar inside a flow collection, at byte `at`: the node and the byte after
/// it. A plain key ends at its colon; a plain value at `,` or a closing bracket.
fn flow_scalar(text: &str, row: usize, at: usize, key: bool) -> Option<(Node, usize)> {
    let rest = &text[at..];
    let pos = position(text, row, at);
    let (value, len) = match *rest.as_bytes().first()? {
        b'"' | b'\'' => {
            let (s, len) = quoted(rest)?;
            (Value::Str(s), len)
        }
        _ if starts_with_indicator(rest) => return None,
        _ => {
            let len = rest.find([',', '[', ']', '{', '}', ':', '#'])?;
            let stop = rest.as_bytes()[len];
            let raw = &rest[..len];
            let fits = if key {
                stop == b':' && !raw.ends_with(' ')
            } else {
                matches!(stop, b',' | b']' | b'}')
            };
            // A lone `-` or `?` after a space would start a new scalar for the full parser, which
            // then refuses it before `,` or a bracket.
            let lone_indicator = raw.split(' ').skip(1).any(|w| matches!(w, "-" | "?"));
            if !fits || lone_indicator {
                return None;
            }
            let raw = raw.trim_end_matches(' ');
            (plain(raw), raw.len())
        }
    };
    Some((Node::new(pos, value), at + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full parser's answer, for comparison.
    fn full(text: &str) -> Result<Vec<Node>, super::super::YamlError> {
        super::super::Builder::new(text).run()
    }

    /// The fast reader must either decline or agree with the full parser exactly.
    fn agrees(text: &str) -> bool {
        let Some(fast) = parse(text) else {
            return false;
        };
        let full = full(text).unwrap_or_else(|e| panic!("fast reader accepted {e}:\n{text}"));
        if !super::super::same_documents(&fast, &full) {
            let (fast, full) = (format!("{fast:#?}"), format!("{full:#?}"));
            let first = fast
                .lines()
                .zip(full.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let context = |s: &str| {
                s.lines()
                    .skip(first.saturating_sub(12))
                    .take(16)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "fast reader disagrees on:\n{text}\n--- fast\n{}\n--- full\n{}",
                context(&fast),
                context(&full)
            );
        }
        true
    }

    /// A mapping collects its entries on the reader's stack until it passes `INDEX_FROM` keys, then
    /// moves them into an indexed map: on both sides of that switch, and nested inside one, it
    /// must read what the full parser reads and decline a duplicate key wherever it comes.
    #[test]
    fn large_mappings_agree_and_refuse_duplicates_on_both_sides_of_the_index() {
        let mapping = |keys: usize, indent: &str| -> String {
            (0..keys)
                .map(|i| format!("{indent}key{i}: [{i}, v{i}]\n"))
                .collect()
        };
        for keys in [
            1,
            INDEX_FROM - 1,
            INDEX_FROM,
            INDEX_FROM + 1,
            3 * INDEX_FROM,
        ] {
            let flat = mapping(keys, "");
            assert!(agrees(&flat), "{keys} keys");
            let nested = format!(
                "outer:\n{}inner:\n{}after: 1\n",
                mapping(keys, "  "),
                mapping(2, "  ")
            );
            assert!(agrees(&nested), "{keys} nested keys");
            let list = format!("- {}\n{}- last\n", "first: 1", mapping(keys, "  "));
            assert!(agrees(&list), "{keys} keys in a list item");
            let doc = &parse(&flat).expect("read")[0];
            assert_eq!(doc.as_map().map(Map::len), Some(keys));
            assert_eq!(
                doc.get(&format!("key{}", keys - 1)).map(|n| n.pos.line),
                Some(keys as u32)
            );
        }
        for (keys, repeated) in [
            (10, 9),
            (INDEX_FROM + 5, 3),
            (INDEX_FROM + 5, INDEX_FROM + 2),
        ] {
            let text = format!("{}key{repeated}: again\n", mapping(keys, ""));
            assert!(parse(&text).is_none(), "{keys} keys, key{repeated} twice");
            assert!(
                full(&text).is_err(),
                "the full parser refuses key{repeated} twice"
            );
        }
    }

    #[test]
    fn reads_a_manifest_like_the_full_parser() {
        let text = "\
# comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.2.3
          args: [\"--port=8443\", --log-level=info, 12]
          env:
            - name: MODE
              value: \"true\"
            - name: QUOTE
              value: 'it''s'
          securityContext:
            runAsNonRoot: true
            capabilities:
              drop: [\"ALL\"]
      volumes:
      - name: tmp
        emptyDir: {}
      - name: conf
        configMap: { }
      - {name: cache, emptyDir: {medium: Memory}, items: [a, \"b\"]}
data:
  script: |
    #!/bin/sh
    echo \"hi\"  # kept

      indented
  key: |-
    no newline
empty:
url: https://example.com/a#frag # comment
nested:
  - - a
    - b
  -
    x: 1
---
kind: Second
";
        assert!(agrees(text));
    }

    #[test]
    fn keys_read_as_words_agree_with_the_core_schema() {
        // Keys that are words skip resolving; the others (nulls, booleans, numbers) do not.
        for key in [
            "name", "x1", "True1", "nullable", "falsey", "TRUEISH", "inf", "nan", "e5", "true",
            "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "1x", "0x1f", "-1",
            "+2", ".5", "1e3", "_under", "~",
        ] {
            let text = format!("{key}: v\nother: w\n");
            assert!(agrees(&text), "{text}");
        }
        assert_eq!(word_key("name"), Some("name"));
        assert_eq!(word_key("true"), None);
        assert_eq!(word_key("1x"), None);
    }

    #[test]
    fn values_holding_a_key_colon_go_to_the_full_parser() {
        for (value, colon) in [
            ("a: b", true),
            ("a:", true),
            ("http://x", false),
            ("a:b", false),
            ("::", true),
            ("plain", false),
            ("x :y", false),
        ] {
            assert_eq!(has_key_colon(value), colon, "{value}");
            assert_eq!(
                has_key_colon(value),
                value.contains(": ") || value.ends_with(':'),
                "{value}"
            );
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: >\n  folded\n",
            "a: |2\n   x\n",
            "a: plain\n  continued\n",
            "a: \"open\n  quote\"\n",
            "a: [1,\n  2]\n",
            "a: {b: 1,\n  c: 2}\n",
            "a: {b}\n",
            "a: {\n  b: 1}\n",
            "a: {b: 1, \n  c: 2}\n",
            "a: [\n  1]\n",
            "- {\n",
            "a: {b:1}\n",
            "a: 1\na: 2\n",
            "a:\n\tb: 1\n",
            "a: 1\rb: 2\n",
            "a: {\u{0}b: 1}\n",
            "a:\n  --- b: true\n",
            "kl: [z -]\n",
            "k: [  -]\n",
            "k: -]\n",
            "-: x\n",
            "kl: [z ?, y]\n",
            "a: ... b\n",
            &format!("{}: 1\n", "k".repeat(2000)),
            &format!("a: {{{}: 1}}\n", "k".repeat(2000)),
            "a: x\u{7f}\n",
            "a: x\u{85}y\n",
            "a: x\u{1b}[0m\n",
            "a: 1\r",
            "? complex\n: key\n",
            "\"quoted\": key\n",
            "- a\n-\n- b\n",
            "kind: A\n---\n",
            "just a scalar\n",
            "a: b: c\n",
            "a:\n  - x\n - y\n",
            "%YAML 1.2\n---\na: 1\n",
        ] {
            assert!(parse(text).is_none(), "should decline:\n{text}");
        }
    }

    /// Every YAML file in the repository (packs, test data, fixtures): the fast reader agrees with
    /// the full parser wherever it reads, and reads most of them.
    #[test]
    fn agrees_on_the_repository_yaml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (mut files, mut read) = (0, 0);
        for dir in ["policies", "testdata", "tests", "examples"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let path = entry.path();
                if !matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                ) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                files += 1;
                if agrees(&text) {
                    read += 1;
                }
            }
        }
        assert!(files >= 20, "only {files} YAML files found");
        assert!(
            read * 2 > files,
            "the fast reader read only {read} of {files} files"
        );
    }

    /// Every `.yaml`/`.yml` file under the directories in `VIGIL_YAML_CORPUS` (separated by `:`),
    /// for a wider check than the repository's own files:
    /// `VIGIL_YAML_CORPUS=/usr/share:$HOME/src cargo test --lib yaml::block -- --ignored`.
    #[test]
    #[ignore = "reads a corpus named by VIGIL_YAML_CORPUS"]
    fn agrees_on_a_corpus() {
        let dirs = std::env::var("VIGIL_YAML_CORPUS").expect("set VIGIL_YAML_CORPUS");
        let (mut files, mut read) = (0, 0);
        for dir in dirs.split(':') {
            for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
                let path = entry.path();
                let yaml = matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                );
                if !yaml || !entry.file_type().is_file() {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                files += 1;
                let outcome = std::panic::catch_unwind(|| agrees(&text));
                match outcome {
                    Ok(true) => read += 1,
                    Ok(false) => {}
                    Err(_) => panic!("disagreement on {}", path.display()),
                }
            }
        }
        eprintln!("the direct reader read {read} of {files} YAML files");
    }

    #[test]
    fn positions_count_characters() {
        assert!(agrees("naïve: \"ü\"\nlist: [é, ö]\n"));
        assert!(agrees("- ключ: значение\n  second: 2\n"));
    }

    #[test]
    fn long_flow_lines_go_to_the_full_parser() {
        let line = format!("a: [{}]\n", vec!["é"; 2000].join(", "));
        assert!(parse(&line).is_none());
        let line = format!("a: [{}]\n", vec!["x"; 2000].join(", "));
        assert!(parse(&line).is_none());
        assert!(agrees(&format!("a: [{}]\n", vec!["é"; 20].join(", "))));
    }

    #[test]
    fn empty_streams_have_no_documents() {
        assert_eq!(parse(""), Some(vec![]));
        assert_eq!(parse("# only a comment\n\n"), Some(vec![]));
        assert_eq!(full("# only a comment\n\n"), Ok(vec![]));
    }

    /// Random documents built from the subset's pieces and from pieces just outside it: every one
    /// the fast reader accepts must parse identically in the full parser, and many must be accepted
    /// (pieces outside the subset, and empty entries, make the rest decline).
    #[test]
    fn random_documents_agree_with_the_full_parser() {
        let mut rng = Lcg(0x5eed);
        let mut accepted = 0;
        const CASES: usize = 3000;
        for _ in 0..CASES {
            let mut text = String::new();
            if rng.below(4) == 0 {
                text.push_str("---\n");
            }
            random_block(&mut rng, &mut text, 0, 0);
            if rng.below(5) == 0 {
                text.push_str("---\n");
                random_block(&mut rng, &mut text, 0, 0);
            }
            if agrees(&text) {
                accepted += 1;
            }
            agrees(&text.replace('\n', "\r\n"));
        }
        assert!(accepted > CASES / 3, "only {accepted} of {CASES} accepted");
    }

    /// Random documents with random edits (characters YAML gives meaning to, inserted, deleted or
    /// doubled anywhere): the fast reader never panics, and reads a text only as the full parser
    /// does.
    #[test]
    fn mutated_documents_never_disagree() {
        const EDITS: &[u8] = b"{}[],:#-'\"|>&*!?% \n\r\t\\x\0\x7f";
        let mut rng = Lcg(0xfacade);
        for _ in 0..4000 {
            let mut text = String::new();
            random_block(&mut rng, &mut text, 0, 0);
            let mut bytes = text.into_bytes();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bytes.len() as u64 + 1) as usize;
                match rng.below(3) {
                    0 => bytes.insert(at, EDITS[rng.below(EDITS.len() as u64) as usize]),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ if at < bytes.len() => bytes.insert(at, bytes[at]),
                    _ => {}
                }
            }
            // Edits may split a multi-byte character; such bytes are not text.
            if let Ok(text) = String::from_utf8(bytes) {
                agrees(&text);
            }
        }
    }

    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len() as u64) as usize]
        }
    }

    const SCALARS: &[&str] = &[
        "plain",
        "two words",
        "1",
        "-3",
        "0x1F",
        "1.5",
        "true",
        "False",
        "~",
        "null",
        "\"quoted\"",
        "\"esc \\\" \\\\ \\n\"",
        "'single'",
        "'it''s'",
        "https://example.com/x?y=1",
        "a#b",
        "--flag=1",
        "value # comment",
        "[a, \"b\", 3]",
        "[]",
        "{}",
        "{a: 1, b: [x, \"y\"]}",
        "{a: {b: c}, 'k': ''}",
        "{a}",
        "[a: b]",
        "[[1, 2], [], {}]",
        "é",
        "a:b",
        "b[0], {x}",
        "x,y",
        "*ref",
        "!tag x",
        "\"unclosed",
        "[a, b",
        "x: y",
        "",
        "\"\"",
        "''",
        "1e3",
        ".inf",
        ".nan",
    ];

    const KEYS: &[&str] = &[
        "name",
        "image",
        "a",
        "b",
        "key with space",
        "1",
        "true",
        "x.y/z",
    ];

    fn random_block(rng: &mut Lcg, out: &mut String, indent: usize, depth: usize) {
        let pad = " ".repeat(indent);
        if rng.below(3) == 0 {
            // A sequence.
            for _ in 0..1 + rng.below(3) {
                out.push_str(&pad);
                out.push_str("- ");
                match rng.below(if depth < 3 { 4 } else { 1 }) {
                    0 => {
                        out.push_str(rng.pick(SCALARS));
                        out.push('\n');
                    }
                    1 => {
                        // A mapping in the entry, its later keys at the entry's column.
                        out.push_str(rng.pick(KEYS));
                        out.push_str(": ");
                        out.push_str(rng.pick(SCALARS));
                        out.push('\n');
                        random_mapping_tail(rng, out, indent + 2, depth + 1);
                    }
                    2 => {
                        out.push('\n');
                        random_block(rng, out, indent + 2, depth + 1);
                    }
                    _ => {
                        out.push_str("|\n");
                        out.push_str(&" ".repeat(indent + 2));
                        out.push_str("line one\n\n");
                        out.push_str(&" ".repeat(indent + 4));
                        out.push_str("deeper # not a comment\n");
                    }
                }
            }
        } else {
            let n = 1 + rng.below(4);
            for _ in 0..n {
                random_entry(rng, out, indent, depth);
            }
        }
        if rng.below(6) == 0 {
            out.push_str(&pad);
            out.push_str("# between\n\n");
        }
    }

    fn random_mapping_tail(rng: &mut Lcg, out: &mut String, indent: usize, depth: usize) {
        for _ in 0..rng.below(3) {
            random_entry(rng, out, indent, depth);
        }
    }

    fn random_entry(rng: &mut Lcg, out: &mut String, indent: usize, depth: usize) {
        out.push_str(&" ".repeat(indent));
        out.push_str(rng.pick(KEYS));
        out.push(':');
        match rng.below(if depth < 3 { 5 } else { 2 }) {
            0 | 1 => {
                out.push(' ');
                out.push_str(rng.pick(SCALARS));
                out.push('\n');
            }
            2 => {
                out.push('\n');
                random_block(rng, out, indent + 2, depth + 1);
            }
            3 => {
                // A sequence at the key's own column.
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(rng.pick(SCALARS));
                out.push('\n');
            }
            _ => {
                out.push_str(if rng.below(2) == 0 { " |\n" } else { " |-\n" });
                out.push_str(&" ".repeat(indent + 2));
                out.push_str("text\n");
            }
        }
    }
}
