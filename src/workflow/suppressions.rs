//! Inline suppressions: a comment in a scanned file, written by the people who own it, that accepts
//! the failures of named controls on one line or in the whole file, with a reason.
//!
//! ```text
//! # vigil:ignore SSH-001 the backup job logs in as root until Q3     (a line)
//! PermitRootLogin yes
//! password = "hunter2-for-the-fixture"  // vigil:ignore SEC-019 test fixture   (this line)
//! <!-- vigil:ignore-file CERT-*,K8S-012 vendored chart, reviewed in SEC-88 -->  (the whole file)
//! ```
//!
//! A comment starts with `#`, `;`, `//`, `/*`, `--` or `<!--`, at the start of a line or after a
//! blank. Ids are control ids, or globs over ids (`SSH-*`), separated by commas and matched
//! regardless of case; the reason is the rest of the comment. A suppression that follows code on
//! its line covers findings on that line; one alone on its line covers the next line that is
//! neither blank nor a comment (so stacked suppression lines all cover the same line); an
//! `ignore-file` one covers every line. Only `fail` verdicts are suppressed, and only by a
//! suppression that gives a reason; the `vigil-suppressions` pack reports those that give none or
//! name no known control.
//!
//! This module only reads comments: the judge applies them to the verdicts of a target, the
//! `suppression` collector turns them into facts. Files without the marker cost one substring
//! search.

use globset::{GlobBuilder, GlobMatcher};
use memchr::memmem;

/// What every suppression comment contains.
pub const MARKER: &str = "vigil:ignore";

/// At most this many suppressions are read from a file; the rest are not honoured (their
/// failures stay failures) and the collector reports the excess.
pub const MAX_PER_FILE: usize = 1000;

/// The longest reason kept, in characters; a longer one is cut with its length shown.
pub const MAX_REASON: usize = 500;

/// What a suppression covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Findings on one line: the comment's own (after code), or the next line of code (alone on
    /// its line); `None` when no line of code follows.
    Line(Option<u32>),
    /// Findings anywhere in the file (`vigil:ignore-file`).
    File,
}

impl Scope {
    /// `line` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Line(_) => "line",
            Scope::File => "file",
        }
    }
}

/// One id a suppression names: an exact id, or a glob over ids.
#[derive(Debug, Clone)]
pub struct IdPattern {
    /// As written.
    pub text: String,
    /// For a glob (`*`, `?`, `[`): the compiled glob; `None` for an exact id or an invalid glob.
    glob: Option<GlobMatcher>,
    /// Whether the text is a glob that does not compile: it matches nothing.
    invalid: bool,
}

impl IdPattern {
    fn new(text: &str) -> IdPattern {
        let is_glob = text.contains(['*', '?', '[', '{']);
        let glob = is_glob.then(|| {
            GlobBuilder::new(text)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map(|g| g.compile_matcher())
        });
        IdPattern {
            text: text.to_string(),
            invalid: matches!(glob, Some(Err(_))),
            glob: glob.and_then(Result::ok),
        }
    }

    /// Whether the pattern names control `id` (ASCII case ignored).
    pub fn matches(&self, id: &str) -> bool {
        if self.invalid {
            return false;
        }
        match &self.glob {
            Some(g) => g.is_match(id),
            None => self.text.eq_ignore_ascii_case(id),
        }
    }
}

/// One suppression comment.
#[derive(Debug, Clone)]
pub struct Suppression {
    /// 1-based line of the comment.
    pub line: u32,
    /// 1-based column (in characters) where the comment starts.
    pub column: u32,
    /// What it covers.
    pub scope: Scope,
    /// The ids it names, in order.
    pub ids: Vec<IdPattern>,
    /// Why, as written (trimmed, cut at [`MAX_REASON`] characters); empty when none is given.
    pub reason: String,
}

impl Suppression {
    /// Whether it gives a reason: a suppression without one suppresses nothing.
    pub fn has_reason(&self) -> bool {
        !self.reason.trim().is_empty()
    }

    /// Whether it covers a finding of control `id` located at `line` of the file (`None`: a
    /// finding without a line, which only a file-wide suppression covers).
    pub fn covers(&self, id: &str, line: Option<u32>) -> bool {
        let place = match self.scope {
            Scope::File => true,
            Scope::Line(covered) => covered.is_some() && covered == line,
        };
        place && self.has_reason() && self.ids.iter().any(|p| p.matches(id))
    }
}

/// The suppressions of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    /// Every suppression read, at most [`MAX_PER_FILE`].
    pub list: Vec<Suppression>,
    /// Suppression comments past [`MAX_PER_FILE`], not read.
    pub dropped: usize,
}

impl Suppressions {
    /// The first suppression that covers a failure of control `id` at `line`.
    pub fn covering(&self, id: &str, line: Option<u32>) -> Option<&Suppression> {
        self.list.iter().find(|s| s.covers(id, line))
    }
}

/// The marker's finder, built once rather than for every file searched.
fn finder() -> &'static memmem::Finder<'static> {
    static FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(MARKER));
    &FINDER
}

/// Whether `bytes` mention the marker at all (one substring search).
pub fn has_marker(bytes: &[u8]) -> bool {
    finder().find(bytes).is_some()
}

/// The suppression comments of a file's text; empty, at the cost of one substring search, when
/// the file has none.
pub fn parse(bytes: &[u8]) -> Suppressions {
    let mut out = Suppressions::default();
    if !has_marker(bytes) {
        return out;
    }
    let finder = finder();
    // Own-line suppressions waiting for the next line of code.
    let mut waiting: Vec<usize> = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let found = finder.find(line).and_then(|at| comment(line, at));
        let code_line = match found {
            Some(c) => {
                if out.list.len() >= MAX_PER_FILE {
                    out.dropped += 1;
                    !c.alone
                } else {
                    let scope = match (c.file, c.alone) {
                        (true, _) => Scope::File,
                        (false, false) => Scope::Line(Some(number)),
                        (false, true) => {
                            waiting.push(out.list.len());
                            Scope::Line(None)
                        }
                    };
                    out.list.push(Suppression {
                        line: number,
                        column: c.column,
                        scope,
                        ids: c.ids,
                        reason: c.reason,
                    });
                    !c.alone
                }
            }
            None => !is_blank_or_comment(line),
        };
        if code_line {
            for i in waiting.drain(..) {
                out.list[i].scope = Scope::Line(Some(number));
            }
        }
    }
    out
}

/// A suppression comment found on a line.
struct Comment {
    column: u32,
    alone: bool,
    file: bool,
    ids: Vec<IdPattern>,
    reason: String,
}

/// The comment leaders, longest first where one is a prefix of another's end.
const LEADERS: [&[u8]; 6] = [b"<!--", b"//", b"/*", b"--", b"#", b";"];

/// The suppression comment whose marker is at byte `at` of `line`, if the marker opens a comment:
/// a leader, then blanks, then the marker.
fn comment(line: &[u8], at: usize) -> Option<Comment> {
    let before = trim_end(&line[..at]);
    let leader = LEADERS.iter().find(|l| before.ends_with(l))?;
    let mut start = before.len() - leader.len();
    // `##`, `;;`, `///`: a run of the same leader is one comment.
    if leader.len() == 1 || **leader == *b"//" {
        let c = leader[0];
        while start > 0 && line[start - 1] == c {
            start -= 1;
        }
    }
    // A leader glued to a word is not a comment (`a#b` in YAML, a URL's `//`).
    if start > 0 && !line[start - 1].is_ascii_whitespace() {
        return None;
    }
    let mut rest = &line[at + MARKER.len()..];
    let file = rest.starts_with(b"-file");
    if file {
        rest = &rest[b"-file".len()..];
    }
    // `vigil:ignored`, `vigil:ignore-next`: not a directive.
    if rest.first().is_some_and(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    let mut rest = trim_end(rest);
    for close in [&b"-->"[..], b"*/"] {
        if let Some(r) = rest.strip_suffix(close) {
            rest = trim_end(r);
        }
    }
    let (ids, reason) = split_ids(&String::from_utf8_lossy(rest));
    Some(Comment {
        column: u32::try_from(String::from_utf8_lossy(&line[..start]).chars().count() + 1)
            .unwrap_or(u32::MAX),
        alone: trim_end(&line[..start]).is_empty(),
        file,
        ids,
        reason,
    })
}

/// The ids (the first word, continued across `, `) and the reason (the rest, without a leading
/// `-`, `--`, `:` or dash).
fn split_ids(text: &str) -> (Vec<IdPattern>, String) {
    let mut rest = text.trim_start();
    let mut ids = Vec::new();
    loop {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if word.is_empty() {
            break;
        }
        ids.extend(
            word.split(',')
                .filter(|w| !w.is_empty())
                .map(IdPattern::new),
        );
        rest = after.trim_start();
        // `SSH-001, SSH-002 reason` and `SSH-001 ,SSH-002 reason` continue the list.
        if word.ends_with(',') || rest.starts_with(',') {
            continue;
        }
        break;
    }
    let reason = rest
        .trim_start_matches(['-', ':', '\u{2013}', '\u{2014}'])
        .trim();
    (ids, clip(reason))
}

/// A reason cut at [`MAX_REASON`] characters, with its length shown.
fn clip(reason: &str) -> String {
    let total = reason.chars().count();
    if total <= MAX_REASON {
        return reason.to_string();
    }
    let cut: String = reason.chars().take(MAX_REASON).collect();
    format!("{cut}… ({total} characters)")
}

/// Whether a line holds nothing, or only a comment (for the next-line rule).
fn is_blank_or_comment(line: &[u8]) -> bool {
    let t = trim_start(line);
    if t.is_empty() {
        return true;
    }
    if t.starts_with(b"--") {
        // SQL and Lua comments; `---` (a YAML document marker) is not one.
        return t.get(2).is_none_or(|b| b.is_ascii_whitespace());
    }
    [&b"#"[..], b";", b"//", b"/*", b"*/", b"<!--", b"-->"]
        .iter()
        .any(|l| t.starts_with(l))
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, column, scope, ids, reason) of each suppression.
    fn read(text: &str) -> Vec<(u32, u32, Scope, Vec<String>, String)> {
        parse(text.as_bytes())
            .list
            .into_iter()
            .map(|s| {
                (
                    s.line,
                    s.column,
                    s.scope,
                    s.ids.iter().map(|i| i.text.clone()).collect(),
                    s.reason,
                )
            })
            .collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_file_without_the_marker_has_no_suppression() {
        assert!(read("PermitRootLogin yes\n# a comment\n").is_empty());
    }

    #[test]
    fn every_comment_syntax_of_the_config_formats() {
        let text = "\
# vigil:ignore SSH-001 hash
; vigil:ignore A-1 semicolon
// vigil:ignore A-2 slashes
/* vigil:ignore A-3 block */
-- vigil:ignore A-4 sql
<!-- vigil:ignore A-5 xml -->
## vigil:ignore A-6 doubled
#vigil:ignore A-7 glued to the leader
code
";
        let got = read(text);
        let reasons: Vec<&str> = got.iter().map(|s| s.4.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "hash",
                "semicolon",
                "slashes",
                "block",
                "sql",
                "xml",
                "doubled",
                "glued to the leader"
            ]
        );
        // Stacked suppression lines all cover the next line of code.
        assert!(got.iter().all(|s| s.2 == Scope::Line(Some(9))));
        assert_eq!(got[0].3, ids(&["SSH-001"]));
    }

    #[test]
    fn a_trailing_comment_covers_its_own_line() {
        let text = "a: 1\nimage: nginx:latest  # vigil:ignore K8S-011 pinned by the operator\n";
        assert_eq!(
            read(text),
            [(
                2,
                22,
                Scope::Line(Some(2)),
                ids(&["K8S-011"]),
                "pinned by the operator".to_string()
            )]
        );
        let js = "const key = \"AKIA...\"; // vigil:ignore SEC-001 documentation example\n";
        assert_eq!(read(js)[0].2, Scope::Line(Some(1)));
    }

    #[test]
    fn a_comment_alone_covers_the_next_line_of_code() {
        let text = "\
# vigil:ignore SSH-001 reason

# an ordinary comment
; another

PermitRootLogin yes
PasswordAuthentication yes
";
        assert_eq!(read(text)[0].2, Scope::Line(Some(6)));
        // Nothing follows: it covers nothing.
        assert_eq!(read("x\n# vigil:ignore A-1 r\n\n")[0].2, Scope::Line(None));
        // `---` is a YAML document marker, not a comment.
        assert_eq!(
            read("# vigil:ignore A-1 r\n---\nb: 1\n")[0].2,
            Scope::Line(Some(2))
        );
    }

    #[test]
    fn ignore_file_and_id_lists() {
        let got = read("<!-- vigil:ignore-file CERT-*,K8S-012 , SSH-001 -- vendored chart -->\n");
        assert_eq!(got[0].2, Scope::File);
        assert_eq!(got[0].3, ids(&["CERT-*", "K8S-012", "SSH-001"]));
        assert_eq!(got[0].4, "vendored chart");
        assert_eq!(read("# vigil:ignore SSH-001: because")[0].4, "because");
    }

    #[test]
    fn missing_parts_are_kept_empty() {
        let got = read("# vigil:ignore SSH-001\nx\n# vigil:ignore\ny\n");
        assert_eq!(got[0].3, ids(&["SSH-001"]));
        assert_eq!(got[0].4, "");
        assert!(got[1].3.is_empty());
        assert_eq!(got[1].4, "");
    }

    #[test]
    fn what_is_not_a_suppression() {
        for text in [
            "see the docs on vigil:ignore SSH-001 in the README",
            "url: http://example.org/vigil:ignore A-1 r",
            "key: a#vigil:ignore A-1 r",
            "Use `# vigil:ignore ID reason` to suppress",
            "# vigil:ignored A-1 r",
            "# vigil:ignore-next A-1 r",
        ] {
            assert!(read(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn covering_needs_the_id_the_line_and_a_reason() {
        let s = parse(b"# vigil:ignore ssh-00*,K8S-001 reason\nPermitRootLogin yes\n# vigil:ignore SSH-009\nx\n");
        assert!(s.covering("SSH-001", Some(2)).is_some(), "globs, any case");
        assert!(s.covering("K8S-001", Some(2)).is_some());
        assert!(s.covering("SSH-001", Some(1)).is_none(), "another line");
        assert!(s.covering("SSH-001", None).is_none(), "no line");
        assert!(s.covering("NGX-001", Some(2)).is_none(), "another control");
        assert!(s.covering("SSH-009", Some(4)).is_none(), "no reason");
        let f = parse(b"# vigil:ignore-file SSH-001 legacy host\n");
        assert!(f.covering("SSH-001", None).is_some());
        assert!(f.covering("SSH-001", Some(40)).is_some());
        let bad = parse(b"# vigil:ignore-file SSH-[ broken glob\n");
        assert!(bad.covering("SSH-[", Some(1)).is_none());
    }

    #[test]
    fn crlf_and_long_reasons() {
        let long = "x".repeat(MAX_REASON + 10);
        let text = format!("# vigil:ignore A-1 {long}\r\ncode\r\n");
        let got = read(&text);
        assert_eq!(got[0].2, Scope::Line(Some(2)));
        assert!(
            got[0]
                .4
                .ends_with(&format!("({} characters)", MAX_REASON + 10))
        );
    }

    #[test]
    fn the_number_read_is_bounded() {
        let text = "# vigil:ignore A-1 r\n".repeat(MAX_PER_FILE + 5);
        let s = parse(text.as_bytes());
        assert_eq!(s.list.len(), MAX_PER_FILE);
        assert_eq!(s.dropped, 5);
    }
}
