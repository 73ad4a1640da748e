//! A linear pre-check of how deeply an HCL text nests, before hcl-edit parses it.
//!
//! hcl-edit's parser backtracks, and on some invalid inputs its time grows exponentially with
//! the nesting of brackets: a 900-byte text of 50 unclosed `[` between operators took 3 s, and
//! each level more took about 30% longer, up to the parser's own limit of 64 levels (minutes).
//! This pass reads the text once, splitting it as HCL's lexer does (comments, quoted strings,
//! heredocs and the interpolations inside both), and finds the deepest point, so that a text
//! nested deeper than [`MAX_DEPTH`] is refused before the parser sees it. Brackets inside strings,
//! heredoc text and comments do not count; an interpolation (`${`, `%{`) counts as a level, as
//! it does in the parser.

/// The deepest nesting of brackets and interpolations a Terraform file may have. Real files
/// nest a few levels (a `jsonencode` policy inside a resource: about ten); at this depth the
/// parser's worst case known is a few milliseconds.
pub const MAX_DEPTH: usize = 32;

/// What an open level is, so that its closing character returns to the right place.
enum Frame<'t> {
    /// `[`, `(` or `{` in code.
    Bracket,
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

/// The byte offset at which `text` first nests deeper than `limit` levels, if it does.
pub fn too_deep(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
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
                    stack.push(Frame::Bracket);
                    if stack.len() > limit {
                        return Some(i);
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
                        Some(Frame::Bracket) | None => {}
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
                        return Some(i);
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
                            return Some(i);
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

    #[test]
    fn counts_brackets_and_interpolations_in_code() {
        assert_eq!(too_deep("x = [[1]]\n", 2), None);
        assert_eq!(too_deep("x = [[[1]]]\n", 2), Some(6));
        // An interpolation is a level; the brackets inside it count too.
        assert_eq!(too_deep("x = \"${[1]}\"\n", 2), None);
        assert_eq!(too_deep("x = \"${[[1]]}\"\n", 2), Some(8));
        assert_eq!(too_deep("x = <<EOT\n  a ${[[1]]}\nEOT\n", 2), Some(17));
        // Closed levels are not counted again.
        assert_eq!(too_deep("a = [[1]]\nb = [[2]]\nc = {d = [1]}\n", 2), None);
    }

    #[test]
    fn brackets_in_text_and_comments_do_not_count() {
        let text = "# [[[[\n// ((((\n/* {{{{ */\nx = \"[[[[ $${ %%{\"\ny = <<-EOT\n  [[[[\n  EOT\nz = [1]\n";
        assert_eq!(too_deep(text, 1), None);
        // A closing bracket inside a string does not close a level of the code around it.
        let text = "x = [\"]\", [\"]\", [\"]\", [1]]]]\n";
        assert_eq!(too_deep(text, 3), Some(22));
        // Escaped quotes stay inside their string.
        assert_eq!(too_deep("x = \"\\\"[[[[\"\n", 1), None);
    }

    #[test]
    fn a_heredoc_ends_at_its_marker_alone_on_a_line() {
        // `EOTX` and `x EOT` do not end it; the brackets after the real end count.
        let text = "x = <<EOT\n[[[[\nEOTX\nx EOT\n  EOT  \ny = [[[1]]]\n";
        assert_eq!(too_deep(text, 2), Some(text.find("[[[1").unwrap() + 2));
        // Not a heredoc (no line break after the marker): `<<` is code.
        assert_eq!(too_deep("x = a << b [[1]]\n", 1), Some(12));
    }
}
