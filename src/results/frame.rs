//! Splitting a JSON document read from a stream into complete values, each parsed from a slice.
//!
//! serde_json reads an `io::Read` a byte at a time; reading a slice it finds the end of a string in
//! whole-word steps, several times faster. A result document is one object whose `findings` array
//! may hold millions of findings, more than should be read whole. So the document's outer
//! structure (the object's braces, member names, colons and commas, the array's brackets) is read
//! here, from blocks of the stream, and each value inside it is found whole in the buffer (only its
//! strings and nesting are tracked, not its grammar) and parsed by serde_json from that slice.
//! Memory is one value and one block, as before.
//!
//! Errors name the line and column in the document (bytes from the start of the line, counted
//! from 1, as serde_json counts them), whether the outer structure is wrong or a value is.

use std::io::{self, Read};

use serde::de::DeserializeOwned;

/// Bytes asked of the stream at a time.
const BLOCK: usize = 64 * 1024;

/// The longest literal, or run of garbage where a value should be, buffered whole: far longer
/// than any a result holds. A number is read to its last digit whatever its length, as a string
/// is to its closing quote: serde_json reads it, and the framer must not refuse what it reads.
const MAX_SCALAR: usize = 4096;

/// serde_json's recursion limit: the depth of nesting, counted from the document's root, that it
/// refuses on reaching it.
const MAX_DEPTH: usize = 128;

/// A document being read: the unread part of the last blocks, and where it starts.
pub struct Framer<R> {
    reader: R,
    /// Storage for the blocks, kept (and zeroed) once: `buf[start..end]` is read and unconsumed.
    buf: Vec<u8>,
    /// The first byte of `buf` not yet consumed.
    start: usize,
    /// The end of what was read into `buf`.
    end: usize,
    eof: bool,
    /// Line and column (from 1) of `buf[start]` in the document.
    line: usize,
    column: usize,
    /// The objects and arrays being read around the current position, as [`Framer::object`] and
    /// [`Framer::array`] entered them: a value inside them may nest only as deep as serde_json
    /// lets a whole document nest.
    nesting: usize,
}

/// Why a document could not be framed: it could not be read, or is not JSON of the expected shape.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// What was wrong, already followed by its line and column.
    #[error("{0}")]
    Syntax(String),
}

/// `what` at `line` and `column`, worded as serde_json words its errors.
fn syntax(what: impl std::fmt::Display, line: usize, column: usize) -> FrameError {
    FrameError::Syntax(format!("{what} at line {line} column {column}"))
}

/// Whether `b` may continue a JSON number (its digits, fraction and exponent).
fn in_number(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: Read> Framer<R> {
    pub fn new(reader: R) -> Self {
        Framer {
            reader,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            line: 1,
            column: 1,
            nesting: 0,
        }
    }

    /// `what` at the current position, as serde_json words its own errors; at the end of the
    /// document, where serde_json places its errors: on the last byte read (column 0 when the
    /// last line is empty).
    pub fn error(&self, what: impl std::fmt::Display) -> FrameError {
        let at_end = self.eof && self.start == self.end;
        syntax(what, self.line, self.column - usize::from(at_end))
    }

    /// Reads one more block into the buffer, first dropping what was consumed. False at the end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Grown only for a value longer than what the buffer holds.
        if self.buf.len() < self.end + BLOCK {
            self.buf.resize(self.end + BLOCK, 0);
        }
        let read = loop {
            match self.reader.read(&mut self.buf[self.end..self.end + BLOCK]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += read;
        self.eof = read == 0;
        Ok(read > 0)
    }

    /// Line and column of the byte `n` bytes past the current position.
    fn position_after(&self, n: usize) -> (usize, usize) {
        let bytes = &self.unread()[..n];
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => (
                self.line + memchr::memchr_iter(b'\n', bytes).count(),
                n - last,
            ),
            None => (self.line, self.column + n),
        }
    }

    /// What was read and not yet consumed.
    fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the next `n` bytes read, keeping the line and column.
    fn consume(&mut self, n: usize) {
        (self.line, self.column) = self.position_after(n);
        self.start += n;
    }

    /// The next byte that is not white space, without consuming it; `None` at the end.
    pub fn peek(&mut self) -> Result<Option<u8>, FrameError> {
        loop {
            let spaces = self.unread().iter().take_while(|&&b| is_space(b)).count();
            self.consume(spaces);
            if let Some(&b) = self.unread().first() {
                return Ok(Some(b));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes the next byte that is not white space if it is `b`; says so.
    pub fn eat(&mut self, b: u8) -> Result<bool, FrameError> {
        if self.peek()? == Some(b) {
            self.consume(1);
            return Ok(true);
        }
        Ok(false)
    }

    /// Consumes `b`, the next byte that is not white space, or fails saying `expected`.
    pub fn expect(&mut self, b: u8, expected: &str) -> Result<(), FrameError> {
        if self.eat(b)? {
            return Ok(());
        }
        Err(match self.peek()? {
            None => self.error(format_args!("EOF while parsing {expected}")),
            Some(_) => self.error(format_args!("expected {expected}")),
        })
    }

    /// Reads an object (after white space), handing each member's name to `each`, which reads its
    /// value; `expected` names the object in the error when it does not begin.
    pub fn object(
        &mut self,
        expected: &str,
        mut each: impl FnMut(&mut Self, String) -> Result<(), FrameError>,
    ) -> Result<(), FrameError> {
        self.container((b'{', b'}'), expected, |f| {
            if f.peek()? != Some(b'"') {
                return Err(f.error("expected a member name"));
            }
            let key: String = f.value()?;
            f.expect(b':', "`:`")?;
            each(f, key)
        })
    }

    /// Reads an array (after white space), handing each element to `each` as it is parsed;
    /// `expected` names the array in the error when it does not begin.
    pub fn array<T: DeserializeOwned>(
        &mut self,
        expected: &str,
        mut each: impl FnMut(&Self, T) -> Result<(), FrameError>,
    ) -> Result<(), FrameError> {
        self.container((b'[', b']'), expected, |f| {
            let element = f.value()?;
            each(f, element)
        })
    }

    /// Reads an object or array between `open` and `close`: its brackets and commas here, each
    /// member or element with `item`.
    fn container(
        &mut self,
        (open, close): (u8, u8),
        expected: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), FrameError>,
    ) -> Result<(), FrameError> {
        self.expect(open, expected)?;
        self.nesting += 1;
        if !self.eat(close)? {
            let between = format!("`,` or `{}`", char::from(close));
            loop {
                item(self)?;
                if self.eat(close)? {
                    break;
                }
                self.expect(b',', &between)?;
            }
        }
        self.nesting -= 1;
        Ok(())
    }

    /// Reads and parses the next value (after white space).
    pub fn value<T: DeserializeOwned>(&mut self) -> Result<T, FrameError> {
        if self.peek()?.is_none() {
            return Err(self.error("EOF while parsing a value"));
        }
        let n = self.extent()?;
        if n == 0 {
            return Err(self.error("expected value"));
        }
        let bytes = &self.unread()[..n];
        // UTF-8 checked once for the whole value, not string by string; serde_json words the
        // error when it fails.
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        };
        match parsed {
            Ok(v) => {
                self.consume(n);
                Ok(v)
            }
            // A number or literal cut short by the delimiter after it (`t,`, `1.]`): serde_json
            // reading the whole document meets that delimiter and says what it expected instead.
            Err(e) if e.is_eof() && n < self.unread().len() => {
                let with_next = &self.unread()[..=n];
                let e = serde_json::from_slice::<T>(with_next).err().unwrap_or(e);
                Err(self.located(&e))
            }
            Err(e) => Err(self.located(&e)),
        }
    }

    /// A serde_json error in the value that starts at the current position, placed in the
    /// document.
    fn located(&self, e: &serde_json::Error) -> FrameError {
        let text = e.to_string();
        let what = match text.rfind(" at line ") {
            Some(at) => &text[..at],
            None => &text,
        };
        let (line, column) = match e.line() {
            0 => (self.line, self.column),
            1 => (self.line, self.column + e.column().saturating_sub(1)),
            l => (self.line + l - 1, e.column()),
        };
        syntax(what, line, column)
    }

    /// The error for the value at the current position, nested past serde_json's limit at its
    /// byte `i`: what serde_json finds wrong before that byte, as it reads a document in order,
    /// or else the limit.
    fn too_deep(&self, i: usize) -> FrameError {
        // Parsed as a `Value`, as the value itself is: serde_json places some errors (a control
        // character in a string) one byte earlier when it only skips a value.
        match serde_json::from_slice::<serde_json::Value>(&self.unread()[..i]) {
            Err(e) if !e.is_eof() => self.located(&e),
            _ => {
                let (line, column) = self.position_after(i);
                syntax("recursion limit exceeded", line, column)
            }
        }
    }

    /// Length of the value that starts at `buf[start]`, reading blocks until it is all in the
    /// buffer. Only strings and nesting are followed; serde_json checks the rest.
    fn extent(&mut self) -> Result<usize, FrameError> {
        let first = self.unread()[0];
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let number = first == b'-' || first.is_ascii_digit();
        // A string value starts inside its string; the opening quote is byte 0.
        let mut in_string = first == b'"';
        let mut i = usize::from(in_string);
        let mut depth = 0usize;
        let mut escaped = false;
        loop {
            let bytes = self.unread();
            while i < bytes.len() {
                if escaped {
                    escaped = false;
                    i += 1;
                    continue;
                }
                if in_string {
                    // Strings are most of a finding: jump to the next quote or backslash.
                    match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                        None => i = bytes.len(),
                        Some(k) => {
                            i += k;
                            if bytes[i] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                                if depth == 0 {
                                    return Ok(i + 1);
                                }
                            }
                            i += 1;
                        }
                    }
                    continue;
                }
                let b = bytes[i];
                if scalar {
                    // A number or literal ends at a delimiter; a run longer than any literal is
                    // handed over as it is, for serde_json to refuse (or for the next delimiter
                    // check to), without buffering the rest of the run, unless it is still a
                    // number's characters.
                    let long = i >= MAX_SCALAR && !(number && in_number(b));
                    if is_space(b) || matches!(b, b',' | b']' | b'}') || long {
                        return Ok(i);
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => {
                            depth += 1;
                            if self.nesting + depth >= MAX_DEPTH {
                                // Deeper than serde_json lets the whole document nest: refused
                                // here, without buffering the rest of a hostile value.
                                return Err(self.too_deep(i));
                            }
                        }
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(i + 1);
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            if !self.fill()? {
                if scalar {
                    return Ok(i);
                }
                // Unterminated: serde_json words and places the error at the end.
                let e = serde_json::from_slice::<serde_json::Value>(self.unread())
                    .expect_err("an unterminated value does not parse");
                return Err(self.located(&e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A reader that hands out one byte per call, so every value straddles blocks.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((&b, rest)), Some(o)) => {
                    *o = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// The values of a top-level array, read through the framer.
    fn elements(text: impl AsRef<[u8]>) -> Result<Vec<Value>, FrameError> {
        let mut f = Framer::new(Trickle(text.as_ref()));
        let mut out = Vec::new();
        f.array("`[`", |_, v| {
            out.push(v);
            Ok(())
        })?;
        match f.peek()? {
            None => Ok(out),
            Some(_) => Err(f.error("trailing characters")),
        }
    }

    fn message(r: Result<Vec<Value>, FrameError>) -> String {
        r.expect_err("an error").to_string()
    }

    #[test]
    fn values_are_found_whole_whatever_they_hold() {
        let text = "[ {\"a\": \"}]\\\"{[\", \"b\": [1, {\"c\": null}]},\n\t\"x\\\\\", -1.5e3 ,true,null , [] ,{}]";
        let got = elements(text).unwrap();
        let want: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Value::Array(got), want);
        assert!(elements("[]").unwrap().is_empty());
        assert_eq!(elements(" [ 7 ] \n").unwrap(), vec![Value::from(7)]);
    }

    #[test]
    fn errors_inside_a_value_are_placed_where_serde_json_places_them() {
        for text in [
            "[1,\n  {\"a\": tru}]",
            "[{\"a\": 1},\n{\"b\": 2,\n \"c\" 3}]",
            "[\"ok\", {\"s\": \"bad \\q escape\"}]",
            "[{\"a\": [1, 2}]",
            "[{\"a\": 1}, {\"a\": \"unterminated",
        ] {
            let ours = message(elements(text));
            let theirs = serde_json::from_str::<Value>(text).unwrap_err().to_string();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    /// The error reading the second element of the array `text`, and how many bytes of `text`
    /// the framer left unread.
    fn second_element_error(text: &str) -> (String, usize) {
        let mut f = Framer::new(Trickle(text.as_bytes()));
        let e = f.array("`[`", |_, _: Value| Ok(())).unwrap_err();
        (e.to_string(), f.reader.0.len())
    }

    #[test]
    fn a_value_nested_past_serde_json_s_limit_is_refused_without_reading_the_rest() {
        let text = format!("[1, {}", "[".repeat(1_000_000));
        let (e, unread) = second_element_error(&text);
        assert_eq!(e, "recursion limit exceeded at line 1 column 131");
        let theirs = serde_json::from_str::<Value>(&text).unwrap_err();
        assert_eq!(e, theirs.to_string());
        assert!(unread > 999_000, "the framer read on past the limit");
    }

    /// An object of arrays, as a result holds its findings, read through the framer.
    fn object_of_arrays(text: &str) -> Result<Vec<Value>, FrameError> {
        let mut f = Framer::new(Trickle(text.as_bytes()));
        let mut out = Vec::new();
        f.object("`{`", |f, _| {
            f.array("`[`", |_, v| {
                out.push(v);
                Ok(())
            })
        })?;
        Ok(out)
    }

    #[test]
    fn values_nest_as_deep_as_serde_json_lets_the_whole_document_nest() {
        for depth in 124..=128 {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            for (text, ours) in [
                (format!("[1, {nested}]"), elements(format!("[1, {nested}]"))),
                (
                    format!("{{\"a\": [{nested}]}}"),
                    object_of_arrays(&format!("{{\"a\": [{nested}]}}")),
                ),
            ] {
                let theirs = serde_json::from_str::<Value>(&text);
                match (ours, theirs) {
                    (Ok(_), Ok(_)) => {}
                    (Err(ours), Err(theirs)) => {
                        assert_eq!(ours.to_string(), theirs.to_string())
                    }
                    (ours, theirs) => {
                        panic!("{depth} deep: {ours:?} against serde_json's {theirs:?}")
                    }
                }
            }
        }
        // An error before the limit is the one serde_json meets first, reading in order.
        for (before, error) in [
            ("1 2", "expected `,` or `]`"),
            ("\"a\0\"", "control character"),
        ] {
            let text = format!("[1, [{before} {}", "[".repeat(200));
            let theirs = serde_json::from_str::<Value>(&text)
                .unwrap_err()
                .to_string();
            assert_eq!(message(elements(&text)), theirs);
            assert!(theirs.starts_with(error), "{theirs}");
        }
    }

    #[test]
    fn a_run_of_garbage_is_refused_without_reading_the_rest() {
        let (e, unread) = second_element_error(&format!("[1, t{}", "x".repeat(1_000_000)));
        assert_eq!(e, "expected ident at line 1 column 6");
        assert!(unread > 990_000, "the framer read on past the limit");
        // A number is read whole however long, as serde_json reads it, and an error after its
        // digits is placed where serde_json places it.
        for zeros in [MAX_SCALAR - 3, MAX_SCALAR, 5 * BLOCK] {
            let long = format!("[1, 0.{}1e-2]", "0".repeat(zeros));
            let want = serde_json::from_str::<Value>(&long).unwrap();
            assert_eq!(
                Value::Array(elements(&long).unwrap()),
                want,
                "{zeros} zeros"
            );
            let broken = format!("[1, -{}x]", "7".repeat(zeros));
            let theirs = serde_json::from_str::<Value>(&broken)
                .unwrap_err()
                .to_string();
            assert_eq!(message(elements(&broken)), theirs, "{zeros} digits");
        }
    }

    #[test]
    fn invalid_utf8_in_a_value_is_placed_where_serde_json_places_it() {
        let text: &[u8] = b"[\"ok\",\n {\"s\": \"bad \xff byte\"}]";
        let ours = message(elements(text));
        let theirs = serde_json::from_slice::<Value>(text).unwrap_err();
        assert_eq!(ours, theirs.to_string());
        assert_eq!(theirs.line(), 2);
    }

    #[test]
    fn errors_between_values_name_their_line_and_column() {
        for (text, error) in [
            ("[1 2]", "expected `,` or `]` at line 1 column 4"),
            ("[1,\n 2,\n]", "expected value at line 3 column 1"),
            ("[1]\n x", "trailing characters at line 2 column 2"),
            ("[1,\n  ", "EOF while parsing a value at line 2 column 2"),
            ("[1,\n", "EOF while parsing a value at line 2 column 0"),
            ("", "EOF while parsing `[` at line 1 column 0"),
            // Literals and numbers cut short, by each delimiter.
            ("[1, t ]", "expected ident at line 1 column 6"),
            ("[nul,1]", "expected ident at line 1 column 5"),
            ("[1.]", "invalid number at line 1 column 4"),
            ("[-\n]", "invalid number at line 2 column 0"),
            ("[1e}", "invalid number at line 1 column 4"),
        ] {
            let ours = message(elements(text));
            assert_eq!(ours, error, "{text:?}");
            // Where serde_json places its error reading the whole document.
            let theirs = serde_json::from_str::<Value>(text).unwrap_err().to_string();
            let at = |m: &str| m[m.rfind(" at line ").unwrap()..].to_string();
            assert_eq!(at(&ours), at(&theirs), "{text:?}");
        }
    }
}
