//! Splits an nginx configuration into tokens as nginx's own reader does (`ngx_conf_read_token`), and
//! the body of an OpenResty `*_by_lua_block` as `lua-nginx-module` does.
//!
//! The rules that matter for real files:
//! - a word ends at whitespace, `;` or `{`; a `}` or a quote inside a word is part of it, and `#`
//!   starts a comment only where a word could start;
//! - `{` right after `$` is part of the word (`${host}`, and the `${VAR}` of an envsubst template);
//! - a backslash escapes the next character anywhere (`\;` and `\{` do not end a word); on reading,
//!   `\"`, `\'` and `\\` lose their backslash and `\t`, `\r`, `\n` become the control characters,
//!   while any other escape keeps it (`"^/a\.b"` stays a regular expression);
//! - a quoted string must be followed by whitespace, `;`, `{` or `)`;
//! - the block of a directive named `*_by_lua_block` (`content_by_lua_block { ... }`,
//!   `set_by_lua_block $v { ... }`) is Lua code, read whole up to its matching `}` with Lua's strings,
//!   long brackets and comments skipped, so that braces and `;` in the code are the code's.

use super::super::ParseError;
use crate::doc::Pos;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    Semi,
    Open,
    Close,
    /// The text of a Lua block, between the `Open` and `Close` around it.
    Code(String),
}

/// The characters of a text with the line and column of the next one.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn error(at: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(at.line as usize, at.col as usize, message)
    }
}

pub fn tokenize(text: &str) -> Result<Vec<(Tok, Pos)>, ParseError> {
    let mut cur = Cursor {
        chars: text.chars().peekable(),
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    // The first word of the statement being read: it decides whether a block is Lua.
    let mut directive: Option<String> = None;
    while let Some(c) = cur.peek() {
        let here = cur.pos();
        match c {
            c if c.is_whitespace() => {
                cur.bump();
            }
            '#' => while cur.bump().is_some_and(|c| c != '\n') {},
            ';' | '}' => {
                cur.bump();
                out.push((if c == ';' { Tok::Semi } else { Tok::Close }, here));
                directive = None;
            }
            '{' => {
                cur.bump();
                out.push((Tok::Open, here));
                if directive
                    .take()
                    .is_some_and(|d| d.ends_with("_by_lua_block"))
                {
                    let code = lua_block(&mut cur, here)?;
                    out.push((Tok::Code(code), here));
                    out.push((Tok::Close, cur.pos()));
                    // The block's `}`, which `lua_block` stopped before.
                    cur.bump();
                }
            }
            '"' | '\'' => {
                cur.bump();
                let word = quoted(&mut cur, c, here)?;
                match cur.peek() {
                    Some(n) if !(n.is_whitespace() || matches!(n, ';' | '{' | ')')) => {
                        return Err(Cursor::error(
                            cur.pos(),
                            format!("unexpected `{n}` after a quoted string"),
                        ));
                    }
                    _ => {}
                }
                directive.get_or_insert_with(|| word.clone());
                out.push((Tok::Word(word), here));
            }
            _ => {
                let word = bare(&mut cur);
                directive.get_or_insert_with(|| word.clone());
                out.push((Tok::Word(word), here));
            }
        }
    }
    Ok(out)
}

/// An unquoted word, from its first character.
fn bare(cur: &mut Cursor) -> String {
    let mut raw = String::new();
    let mut after_dollar = false;
    while let Some(c) = cur.peek() {
        match c {
            '{' if after_dollar => {}
            c if c.is_whitespace() || c == ';' || c == '{' => break,
            _ => {}
        }
        cur.bump();
        raw.push(c);
        after_dollar = c == '$';
        if c == '\\' {
            if let Some(e) = cur.bump() {
                raw.push(e);
            }
        }
    }
    unescape(&raw)
}

/// A quoted string's content, after its opening `quote` at `open`.
fn quoted(cur: &mut Cursor, quote: char, open: Pos) -> Result<String, ParseError> {
    let mut raw = String::new();
    while let Some(c) = cur.bump() {
        if c == quote {
            return Ok(unescape(&raw));
        }
        raw.push(c);
        if c == '\\' {
            if let Some(e) = cur.bump() {
                raw.push(e);
            }
        }
    }
    Err(Cursor::error(open, "unterminated quoted string"))
}

/// A word's value as nginx stores it.
fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The Lua code of a block opened at `open`, up to (not including) its closing `}`.
fn lua_block(cur: &mut Cursor, open: Pos) -> Result<String, ParseError> {
    let unclosed = || Cursor::error(open, "Lua block opened here is never closed with `}`");
    let mut code = String::new();
    let mut depth = 0usize;
    loop {
        let Some(c) = cur.peek() else {
            return Err(unclosed());
        };
        match c {
            '}' if depth == 0 => return Ok(code),
            '{' | '}' => {
                depth = if c == '{' { depth + 1 } else { depth - 1 };
                code.push(c);
                cur.bump();
            }
            '"' | '\'' => {
                let at = cur.pos();
                code.push(c);
                cur.bump();
                loop {
                    let Some(d) = cur.bump() else {
                        return Err(Cursor::error(at, "unterminated Lua string"));
                    };
                    code.push(d);
                    if d == '\\' {
                        code.extend(cur.bump());
                    } else if d == c {
                        break;
                    }
                }
            }
            '[' => {
                cur.bump();
                code.push('[');
                long_bracket(cur, &mut code).ok_or_else(unclosed)?;
            }
            '-' => {
                cur.bump();
                code.push('-');
                if cur.peek() != Some('-') {
                    continue;
                }
                cur.bump();
                code.push('-');
                if cur.peek() == Some('[') {
                    cur.bump();
                    code.push('[');
                    if long_bracket(cur, &mut code).ok_or_else(unclosed)? {
                        continue;
                    }
                }
                // A line comment, to the end of its line.
                while let Some(d) = cur.peek() {
                    if d == '\n' {
                        break;
                    }
                    code.push(d);
                    cur.bump();
                }
            }
            _ => {
                code.push(c);
                cur.bump();
            }
        }
    }
}

/// After a `[`: when it opens a long bracket (`[[`, `[==[`), reads through its matching close and
/// returns true; otherwise reads nothing more and returns false. `None` when it is never closed.
fn long_bracket(cur: &mut Cursor, code: &mut String) -> Option<bool> {
    let mut level = 0;
    let mut probe = cur.chars.clone();
    while probe.peek() == Some(&'=') {
        probe.next();
        level += 1;
    }
    if probe.peek() != Some(&'[') {
        return Some(false);
    }
    for _ in 0..=level {
        code.extend(cur.bump());
    }
    let close: String = std::iter::once(']')
        .chain(std::iter::repeat_n('=', level))
        .chain(std::iter::once(']'))
        .collect();
    loop {
        code.push(cur.bump()?);
        if code.ends_with(&close) {
            return Some(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Tok> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    fn w(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn braces_after_a_dollar_belong_to_the_variable() {
        assert_eq!(
            words("proxy_pass http://${BACKEND}:8000;\nserver_name ${HOST}.example.org;"),
            [
                w("proxy_pass"),
                w("http://${BACKEND}:8000"),
                Tok::Semi,
                w("server_name"),
                w("${HOST}.example.org"),
                Tok::Semi,
            ]
        );
        // Without the dollar, a brace opens a block even inside a word.
        assert_eq!(
            words("location /a{}"),
            [w("location"), w("/a"), Tok::Open, Tok::Close]
        );
    }

    #[test]
    fn escapes_follow_nginx() {
        assert_eq!(
            words(r"location /\{\;\}\ #\ x {}"),
            [w(r"location"), w(r"/\{\;\}\ #\ x"), Tok::Open, Tok::Close]
        );
        assert_eq!(
            words(r#"return 200 "a\"b\\c\n\.d";"#),
            [w("return"), w("200"), w("a\"b\\c\n\\.d"), Tok::Semi]
        );
        // A `#` inside a word, and a quote inside a word, are the word's.
        assert_eq!(
            words("add_header X a#b;  # comment\nif ($a = x\"y\") {}"),
            [
                w("add_header"),
                w("X"),
                w("a#b"),
                Tok::Semi,
                w("if"),
                w("($a"),
                w("="),
                w("x\"y\")"),
                Tok::Open,
                Tok::Close,
            ]
        );
    }

    #[test]
    fn a_quoted_string_must_end_its_word() {
        let e = tokenize("root \"/srv\"x;").unwrap_err();
        assert_eq!((e.line, e.col), (1, 12));
        assert!(e.message.contains("unexpected `x`"), "{e:?}");
        assert_eq!(
            words("if ($a = \"b\") {}"),
            [
                w("if"),
                w("($a"),
                w("="),
                w("b"),
                w(")"),
                Tok::Open,
                Tok::Close
            ]
        );
        let e = tokenize("root \"/srv;\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 6));
    }

    #[test]
    fn lua_blocks_are_code() {
        let text = "content_by_lua_block { -- a } in a comment\n  local t = { a = \"}\", b = '{' }\n  local s = [==[ } ]] ]==] --[[ { ]]\n  ngx.say(t.a);\n}\nlisten 80;\n";
        let toks = tokenize(text).unwrap();
        let kinds: Vec<&Tok> = toks.iter().map(|(t, _)| t).collect();
        assert_eq!(kinds.len(), 7, "{kinds:?}");
        assert_eq!(kinds[0], &w("content_by_lua_block"));
        assert_eq!(kinds[1], &Tok::Open);
        let Tok::Code(code) = kinds[2] else {
            panic!("{kinds:?}")
        };
        assert!(code.starts_with(" -- a } in a comment\n"), "{code:?}");
        assert!(code.ends_with("ngx.say(t.a);\n"), "{code:?}");
        assert_eq!((kinds[3], toks[3].1.line), (&Tok::Close, 5));
        assert_eq!(&kinds[4..], [&w("listen"), &w("80"), &Tok::Semi]);
        // Arguments before the block, and a quoted name, as `set_by_lua_block $v {` is written.
        let toks =
            words("set_by_lua_block $res { return 1 }\n\"rewrite_by_lua_block\" { a = {1} }");
        assert_eq!(toks[0..3], [w("set_by_lua_block"), w("$res"), Tok::Open]);
        assert_eq!(toks[3], Tok::Code(" return 1 ".into()));
        assert_eq!(toks[6], Tok::Open);
        assert_eq!(toks[7], Tok::Code(" a = {1} ".into()));
        // Only the directive's name makes a block Lua.
        assert_eq!(
            words("upstream content_by_lua_block { server a; }")[2..4],
            [Tok::Open, w("server")]
        );
        let e = tokenize("access_by_lua_block {\n  local s = \"}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = tokenize("access_by_lua_block {\n  if a then\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 21));
    }
}
