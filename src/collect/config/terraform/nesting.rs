//! A linear pre-check of how deeply an HCL text nests, before hcl-edit parses it.
//!
//! hcl-edit's parser backtracks, and on some invalid inputs its time grows exponentially with
//! the nesting of square brackets between operators: a 900-byte text of 50 unclosed `[` took 3 s
//! (each level about 30% more), and a 307-byte one of 32 took 83 s (each level twice as long).
//! Parentheses and braces do not do it. This pass reads the text once, splitting it as HCL's lexer
//! does (comments, quoted strings, heredocs and the interpolations inside both), so that a text
//! nested deeper than [`MAX_DEPTH`] levels, or [`MAX_SQUARE_DEPTH`] of them square brackets, is
//! refused before the parser sees it. Brackets inside strings, heredoc text and comments do not
//! count; an interpolation (`${`, `%{`) counts as a level, as it does in the parser.

/// The deepest nesting of brackets and interpolations a Terraform file may have. Real files
/// nest a few levels (a `jsonencode` policy inside a resource: about ten).
pub const MAX_DEPTH: usize = 32;

/// The deepest nesting of square brackets: lists of lists and indexes inside indexes, three or
/// four deep in real files. At this depth the slowest input the fuzzer found parses in 1 ms.
pub const MAX_SQUARE_DEPTH: usize = 12;

/// Where a text first nests too deeply.
#[derive(Debug, PartialEq, Eq)]
pub struct TooDeep {
    /// The byte offset of the bracket past the limit.
    pub offset: usize,
    /// Whether it passed the limit of square brackets (else the limit of all levels).
    pub square: bool,
}

/// What an open level is, so that its closing character returns to the right place.
enum Frame<'t> {
    /// `[` (`true`), `(` or `{` in code.
    Bracket(bool),
    /// `${` or `%{` in a quoted string (`None`) or in the heredoc ending at this marker.
    Interpolation(Option<&'t str>),
}

/// Where the reader is.
enum Mode<'t> {
    Code,
    Quoted,
    /// In a heredoc's text, which ends at a line holding this marker alone.
    Heredoc {
        marker: &'t str,
        line_start: bool,
    },
}

/// Where `text` first nests deeper than `limit` levels, or than `square_limit` square brackets.
pub fn too_deep(text: &str, limit: usize, square_limit: usize) -> Option<TooDeep> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut squares = 0;
    let past = |offset, square| Some(TooDeep { offset, square });
    let mut mode = Mode::Code;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match mode {
            Mode::Code => match b {
                b'#' => i = line_end(bytes, i),
                b'/' if next == Some(b'/') => i = line_end(bytes, i),
                b'/' if next == Some(b'*') => {
                    i = memchr::memmem::find(&bytes[i + 2..], b"*/")
                        .map_or(bytes.len(), |p| i + 2 + p + 2);
                }
                b'"' => {
                    mode = Mode::Quoted;
                    i += 1;
                }
                b'<' if next == Some(b'<') => match heredoc(text, i) {
                    Some((marker, body)) => {
                        mode = Mode::Heredoc {
                            marker,
                            line_start: true,
                        };
                        i = body;
                    }
                    None => i += 2,
                },
                b'[' | b'(' | b'{' => {
                    let square = b == b'[';
                    stack.push(Frame::Bracket(square));
                    squares += usize::from(square);
                    if squares > square_limit {
                        return past(i, true);
                    }
                    if stack.len() > limit {
                        return past(i, false);
                    }
                    i += 1;
                }
                b']' | b')' | b'}' => {
                    match stack.pop() {
                        Some(Frame::Interpolation(None)) => mode = Mode::Quoted,
                        Some(Frame::Interpolation(Some(marker))) => {
                            mode = Mode::Heredoc {
                                marker,
                                line_start: false,
                            }
                        }
                        Some(Frame::Bracket(square)) => squares -= usize::from(square),
                        None => {}
                    }
                    i += 1;
                }
                _ => i += 1,
            },
            Mode::Quoted => match b {
                b'\\' => i += 2,
                b'"' => {
                    mode = Mode::Code;
                    i += 1;
                }
                // A quoted string ends at its line, valid or not: a stray quote hides nothing.
                b'\n' => {
                    mode = Mode::Code;
                    i += 1;
                }
                b'$' | b'%' if next == Some(b) && bytes.get(i + 2) == Some(&b'{') => i += 3,
                b'$' | b'%' if next == Some(b'{') => {
                    stack.push(Frame::Interpolation(None));
                    if stack.len() > limit {
                        return past(i, false);
                    }
                    mode = Mode::Code;
                    i += 2;
                }
                _ => i += 1,
            },
            Mode::Heredoc { marker, line_start } => {
                if line_start {
                    let end = line_end(bytes, i);
                    if text[i..end].trim() == marker {
                        mode = Mode::Code;
                        i = end;
                        continue;
                    }
                    mode = Mode::Heredoc {
                        marker,
                        line_start: false,
                    };
                }
                match b {
                    b'\n' => {
                        mode = Mode::Heredoc {
                            marker,
                            line_start: true,
                        };
                        i += 1;
                    }
                    b'$' | b'%' if next == Some(b) && bytes.get(i + 2) == Some(&b'{') => i += 3,
                    b'$' | b'%' if next == Some(b'{') => {
                        stack.push(Frame::Interpolation(Some(marker)));
                        if stack.len() > limit {
                            return past(i, false);
                        }
                        mode = Mode::Code;
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
        }
    }
    None
}

/// The offset of the line break ending the line at `i` (or the text's end).
fn line_end(bytes: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |p| i + p)
}

/// A heredoc opened at `i` (`<<EOT` or `<<-EOT`, then a line break): its marker and the offset
/// of its first line.
fn heredoc(text: &str, i: usize) -> Option<(&str, usize)> {
    let rest = &text[i + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let start = text.len() - rest.len();
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    let after = rest[len..]
        .strip_prefix("\r\n")
        .or_else(|| rest[len..].strip_prefix('\n'))?;
    (len > 0).then(|| (&text[start..start + len], text.len() - after.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `text` passes `limit` levels of either kind.
    fn at(text: &str, limit: usize) -> Option<usize> {
        too_deep(text, limit, limit).map(|t| t.offset)
    }

    #[test]
    fn square_brackets_have_a_limit_of_their_own() {
        let text = "x = [[({1})]]\n";
        assert_eq!(too_deep(text, 4, 2), None);
        assert_eq!(
            too_deep(text, 3, 2),
            Some(TooDeep {
                offset: 7,
                square: false
            })
        );
        assert_eq!(
            too_deep("x = [[[1]]]\n", 4, 2),
            Some(TooDeep {
                offset: 6,
                square: true
            })
        );
        // Closed square brackets no longer count.
        assert_eq!(too_deep("x = [[1], [2], [[3]]]\n", 4, 3), None);
    }

    #[test]
    fn counts_brackets_and_interpolations_in_code() {
        assert_eq!(at("x = [[1]]\n", 2), None);
        assert_eq!(at("x = [[[1]]]\n", 2), Some(6));
        // An interpolation is a level; the brackets inside it count too.
        assert_eq!(at("x = \"${[1]}\"\n", 2), None);
        assert_eq!(at("x = \"${[[1]]}\"\n", 2), Some(8));
        assert_eq!(at("x = <<EOT\n  a ${[[1]]}\nEOT\n", 2), Some(17));
        // Closed levels are not counted again.
        assert_eq!(at("a = [[1]]\nb = [[2]]\nc = {d = [1]}\n", 2), None);
    }

    #[test]
    fn brackets_in_text_and_comments_do_not_count() {
        let text = "# [[[[\n// ((((\n/* {{{{ */\nx = \"[[[[ $${ %%{\"\ny = <<-EOT\n  [[[[\n  EOT\nz = [1]\n";
        assert_eq!(at(text, 1), None);
        // A closing bracket inside a string does not close a level of the code around it.
        let text = "x = [\"]\", [\"]\", [\"]\", [1]]]]\n";
        assert_eq!(at(text, 3), Some(22));
        // Escaped quotes stay inside their string.
        assert_eq!(at("x = \"\\\"[[[[\"\n", 1), None);
    }

    #[test]
    fn a_heredoc_ends_at_its_marker_alone_on_a_line() {
        // `EOTX` and `x EOT` do not end it; the brackets after the real end count.
        let text = "x = <<EOT\n[[[[\nEOTX\nx EOT\n  EOT  \ny = [[[1]]]\n";
        assert_eq!(at(text, 2), Some(text.find("[[[1").unwrap() + 2));
        // Not a heredoc (no line break after the marker): `<<` is code.
        assert_eq!(at("x = a << b [[1]]\n", 1), Some(12));
    }
}
