//! PEM blocks found anywhere in a file, with the line each one begins on.
//!
//! Certificates and keys hide in bundles, chains, kubeconfigs, YAML block scalars and Java
//! properties files, so the scanner does not expect a file to be "a PEM file": it looks for
//! `-----BEGIN X-----` on any line (indented or after a key) and reads up to the matching END line.
//! PEM embedded in JSON or code strings on one line (`"-----BEGIN ...-----\\nMIIB...\\n-----END
//! ...-----"`) is read too.
//!
//! In a file named for certificates and keys (`strict`), a block that cannot be read is reported
//! with the line and the reason. Elsewhere a BEGIN marker whose next line is not base64 is text
//! that merely mentions PEM (source code, documentation) and is not a block at all; once a block's
//! first base64 line is seen, it is a block and every later problem is reported, except the two
//! marks of an example in a document: an ellipsis that shortens it (`...`, `…`), and a body of one
//! character repeated (`XXXX`), which no certificate or key encodes to.

use std::sync::LazyLock;

use base64::Engine;
use memchr::memmem::Finder;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`, `RSA PRIVATE KEY`.
    pub label: String,
    /// 1-based line of the BEGIN marker.
    pub line: u32,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`), in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// A block that was begun but could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PEM block `{label}` at line {line}: {message}")]
pub struct BlockError {
    /// The label of the BEGIN marker.
    pub label: String,
    /// 1-based line of the BEGIN marker.
    pub line: u32,
    /// What is wrong, with the line of the offending text when there is one.
    pub message: String,
}

/// Whether `c` is a byte of base64 text (the alphabet and padding). Arithmetic without branches, so
/// that a whole line is checked at once: every byte of every line inside a block is.
fn is_base64(c: u8) -> bool {
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    letter | digit | (c == b'+') | (c == b'/') | (c == b'=')
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";

/// Whether the bytes hold a PEM BEGIN marker anywhere (a cheap test before [`blocks`]). The finder
/// is built once: `memmem::find` would build one per call, for every file the scan reads.
pub fn has_marker(bytes: &[u8]) -> bool {
    static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(BEGIN));
    FINDER.find(bytes).is_some()
}

/// The label of a marker on `line` (`BEGIN` or `END` given by `marker`), when there is one.
fn marker_label<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let rest = &line[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

struct Open {
    label: String,
    line: u32,
    headers: Vec<(String, String)>,
    /// The base64 text so far (ASCII only: every byte was checked with [`is_base64`]).
    body: Vec<u8>,
    /// Still reading RFC 1421 headers (before the first base64 line).
    in_headers: bool,
    /// A base64 line was read: this is a PEM block, not a mention of one.
    confirmed: bool,
    error: Option<String>,
}

impl Open {
    fn finish(self) -> Result<Block, BlockError> {
        let fail = |message: String| BlockError {
            label: self.label.clone(),
            line: self.line,
            message,
        };
        if let Some(e) = self.error.clone() {
            return Err(fail(e));
        }
        if self.body.is_empty() {
            return Err(fail("the block has no content".into()));
        }
        match base64::engine::general_purpose::STANDARD.decode(&self.body) {
            Ok(der) => Ok(Block {
                label: self.label,
                line: self.line,
                headers: self.headers,
                der,
            }),
            Err(e) => Err(fail(format!("invalid base64: {e}"))),
        }
    }
}

/// Whether a block's base64 is a placeholder written in a document: one character repeated.
fn is_placeholder(body: &[u8]) -> bool {
    body.first().is_some_and(|&c| body.iter().all(|&b| b == c))
}

/// Whether a line inside a block shortens it with an ellipsis (`...`, `…`), as documents do.
fn is_elision(content: &[u8]) -> bool {
    memchr::memmem::find(content, b"...").is_some()
        || memchr::memmem::find(content, "…".as_bytes()).is_some()
}

/// A whole block on one line, its newlines escaped as `\\n` (JSON, code strings), and whether its
/// body is a placeholder.
fn inline_block(line: &str, label: &str, line_no: u32) -> Option<(Block, bool)> {
    let begin = format!("{BEGIN}{label}-----");
    let end = format!("{END}{label}-----");
    let start = line.find(&begin)? + begin.len();
    let stop = start + line[start..].find(&end)?;
    let body: String = line[start..stop]
        .replace("\\n", "")
        .replace("\\r", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .ok()?;
    let block = Block {
        label: label.to_string(),
        line: line_no,
        headers: Vec::new(),
        der,
    };
    Some((block, is_placeholder(body.as_bytes())))
}

/// The error for a block whose END line never came before the next BEGIN at `next`.
fn unterminated(block: Open, next: u32) -> BlockError {
    BlockError {
        message: format!(
            "no `{END}{}-----` line before the next BEGIN at line {next}",
            block.label
        ),
        label: block.label,
        line: block.line,
    }
}

/// The lines of `bytes`, split at each `\n` as `split` would, found with `memchr`.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Every PEM block of `bytes` (UTF-8 is not required), in file order: decoded blocks and blocks
/// that could not be read (no END line, a wrong END label, a character outside base64, bad
/// padding). With `strict` unset, BEGIN markers not followed by base64 are not blocks (see above).
pub fn blocks(bytes: &[u8], strict: bool) -> Vec<Result<Block, BlockError>> {
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    let keep = |block: &Open| strict || block.confirmed;
    for (i, raw) in lines(bytes).enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        // Base64 has no `-`: most lines of a block, and of any other file, skip the marker
        // searches and are never decoded as text.
        if memchr::memchr(b'-', raw).is_some() {
            let line = String::from_utf8_lossy(raw);
            if let Some(label) = marker_label(&line, BEGIN) {
                if line.contains(END) {
                    if let Some((block, placeholder)) = inline_block(&line, label, line_no) {
                        if let Some(prev) = open.take().filter(keep) {
                            out.push(Err(unterminated(prev, line_no)));
                        }
                        if strict || !placeholder {
                            out.push(Ok(block));
                        }
                        continue;
                    }
                }
                if let Some(prev) = open.take().filter(keep) {
                    out.push(Err(unterminated(prev, line_no)));
                }
                open = Some(Open {
                    label: label.to_string(),
                    line: line_no,
                    headers: Vec::new(),
                    // A certificate's base64 is 1-2 KiB: grow once, not line by line.
                    body: Vec::with_capacity(2048),
                    in_headers: true,
                    confirmed: false,
                    error: None,
                });
                continue;
            }
            if let (Some(label), Some(_)) = (marker_label(&line, END), open.as_ref()) {
                let mut block = open.take().expect("a block is open");
                if !keep(&block)
                    || (!strict && block.error.is_none() && is_placeholder(&block.body))
                {
                    continue;
                }
                if label != block.label && block.error.is_none() {
                    block.error = Some(format!(
                        "ends with `{END}{label}-----` at line {line_no} instead of `{END}{}-----`",
                        block.label
                    ));
                }
                out.push(block.finish());
                continue;
            }
        }
        let Some(block) = open.as_mut() else { continue };
        if block.error.is_some() {
            continue;
        }
        let content = raw.trim_ascii();
        if block.in_headers {
            if memchr::memchr(b':', content).is_some() {
                let text = String::from_utf8_lossy(content);
                if let Some((k, v)) = text.split_once(':') {
                    block
                        .headers
                        .push((k.trim().to_string(), v.trim().to_string()));
                }
                continue;
            }
            if content.is_empty() {
                continue;
            }
            block.in_headers = false;
        }
        // Checked whole first (without stopping at the first bad byte, which lets the compiler
        // check many bytes at once): almost every line is good.
        let all_good = content.iter().fold(true, |ok, &c| ok & is_base64(c));
        let bad = if all_good {
            None
        } else {
            content.iter().position(|&c| !is_base64(c))
        };
        if let Some(offset) = bad {
            if !strict && (!block.confirmed || is_elision(content)) {
                open = None;
                continue;
            }
            let leading = raw.len() - raw.trim_ascii_start().len();
            let text = String::from_utf8_lossy(&content[offset..]);
            let c = text.chars().next().unwrap_or('\u{fffd}');
            let column = leading + offset + 1;
            block.error = Some(format!(
                "invalid base64 character {c:?} at line {line_no}, column {column}"
            ));
            continue;
        }
        block.confirmed = true;
        block.body.extend_from_slice(content);
    }
    if let Some(block) = open.filter(keep) {
        let message = format!(
            "no `{END}{}-----` line before the end of the file (truncated?)",
            block.label
        );
        out.push(Err(BlockError {
            label: block.label,
            line: block.line,
            message,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_base64_bytes_are_those_of_the_plain_forms() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\nb",
            "\n\nx\n\n",
            "-----BEGIN X-----\r\nQQ==\r\n",
        ] {
            let ours: Vec<&[u8]> = lines(text.as_bytes()).collect();
            let plain: Vec<&[u8]> = text.as_bytes().split(|&b| b == b'\n').collect();
            assert_eq!(ours, plain, "{text:?}");
        }
        for c in 0..=255u8 {
            let alphabet = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
            assert_eq!(is_base64(c), alphabet, "{c}");
        }
    }

    #[test]
    fn mentions_of_pem_in_code_are_not_blocks_unless_strict() {
        let code = "let begin = \"-----BEGIN CERTIFICATE-----\";\nparse(begin);\n";
        assert!(blocks(code.as_bytes(), false).is_empty());
        assert_eq!(
            blocks(code.as_bytes(), true).len(),
            1,
            "a .pem file reports it"
        );
    }

    #[test]
    fn examples_in_documents_are_not_blocks_unless_strict() {
        let elided = "Output::\n\n    -----BEGIN CERTIFICATE-----\n    MIIEDzCCAvegAwIBAgIRAJuJ8f6Z\n\
                      \x20       ....certificate body truncated for brevity....\n    KQNy73D6LtmdOE==\n\
                      \x20   -----END CERTIFICATE-----\n";
        let unicode = "-----BEGIN CERTIFICATE-----\nMIIEDzCCAvegAwIBAgIRAJuJ8f6Z\nMIIE…\n-----END CERTIFICATE-----\n";
        let placeholder = "-----BEGIN PRIVATE KEY-----\nXXXX\nXXXX\n-----END PRIVATE KEY-----\n";
        let inline = r#"key="-----BEGIN PRIVATE KEY-----\nXXXX\nXXXX\n-----END PRIVATE KEY-----""#;
        for text in [elided, unicode, placeholder, inline] {
            assert!(blocks(text.as_bytes(), false).is_empty(), "{text}");
            assert_eq!(blocks(text.as_bytes(), true).len(), 1, "{text}");
        }
        assert!(blocks(elided.as_bytes(), true)[0].is_err());
        // A bad character that is no ellipsis is still an error, in any file.
        let damaged = elided.replace("....certificate body truncated for brevity....", "MIIE;AAA");
        let found = blocks(damaged.as_bytes(), false);
        assert_eq!(found.len(), 1);
        assert!(found[0].as_ref().unwrap_err().message.contains("';'"));
    }

    #[test]
    fn reads_escaped_single_line_blocks() {
        let json = r#"{"cert": "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"}"#;
        let b = blocks(json.as_bytes(), false).remove(0).unwrap();
        assert_eq!((b.line, b.der), (1, vec![1, 2, 3]));
    }

    #[test]
    fn finds_indented_blocks_with_their_lines() {
        let text =
            "a: 1\ncert: |\n  -----BEGIN CERTIFICATE-----\n  AQID\n  -----END CERTIFICATE-----\n";
        let b = blocks(text.as_bytes(), false);
        assert_eq!(b.len(), 1);
        let b = b[0].as_ref().unwrap();
        assert_eq!(
            (b.label.as_str(), b.line, b.der.as_slice()),
            ("CERTIFICATE", 3, &[1u8, 2, 3][..])
        );
    }

    #[test]
    fn keeps_rfc1421_headers() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(text.as_bytes(), false).remove(0).unwrap();
        assert_eq!(b.headers[0], ("Proc-Type".into(), "4,ENCRYPTED".into()));
    }

    #[test]
    fn reports_every_broken_block_precisely() {
        let text = "-----BEGIN CERTIFICATE-----\nAQ*D\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\nAQI\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\nAQID\n-----END X509 CRL-----\n\
                    -----BEGIN CERTIFICATE-----\nAQID\n";
        let msgs: Vec<String> = blocks(text.as_bytes(), true)
            .into_iter()
            .map(|b| b.unwrap_err().to_string())
            .collect();
        assert_eq!(
            msgs,
            [
                "PEM block `CERTIFICATE` at line 1: invalid base64 character '*' at line 2, column 3",
                "PEM block `CERTIFICATE` at line 4: invalid base64: Invalid padding",
                "PEM block `CERTIFICATE` at line 7: ends with `-----END X509 CRL-----` at line 9 instead of `-----END CERTIFICATE-----`",
                "PEM block `CERTIFICATE` at line 10: no `-----END CERTIFICATE-----` line before the end of the file (truncated?)",
            ]
        );
    }
}
