//! The `file` collector: a file's bytes (for pattern checks) and its metadata facts.

use std::path::Path;

use super::buffer::Buffer;
use super::{Collected, Collector, Document, Input, Kind, Request, Source};
use crate::doc::{Map, Node, Pos, Value};

/// Kind `file`: any file, as raw text (pattern checks) and metadata (size, mode, owner).
pub struct FileCollector;

/// The facts of a `file` document.
pub const FIELDS: &[&str] = &[
    "path",
    "name",
    "extension",
    "size",
    "binary",
    "mode",
    "uid",
    "gid",
];

impl Collector for FileCollector {
    fn source(&self) -> Source {
        Source::File
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "file",
            summary: "any file: raw text for `pattern` checks, and metadata (path, name, extension, size, binary, mode, uid, gid)",
        }]
    }

    fn reads_text(&self) -> bool {
        true
    }

    fn known_fields(
        &self,
        _kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        Some(FIELDS)
    }

    fn collect(&self, input: &Input<'_>, _request: &Request<'_>, out: &mut Vec<Collected>) {
        let (Some(entry), Some(bytes)) = (input.target.file(), input.bytes) else {
            return;
        };
        out.push(Collected::Document {
            kind: "file",
            variant: None,
            document: Document::new(facts(&entry.path, &entry.display, bytes)),
        });
    }
}

/// How many leading bytes are inspected to decide that a file is binary (as git and ripgrep do).
const BINARY_SNIFF: usize = 8192;

/// Whether the bytes look binary: a NUL byte in the first 8 KiB.
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF)]).is_some()
}

/// What reading a file gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The whole file is in the buffer; its owner and mode as read.
    Read(super::gate::Access),
    /// The file is larger than the limit and was not read.
    TooLarge {
        /// Its size.
        size: u64,
    },
}

/// Reads a whole file into `buf` (in place of what it held, so one buffer serves every file of a
/// thread), unless its size exceeds `limit`. The size is taken from the open file, and reading
/// stops past `limit` even if the file grew in the meantime. A large file first waits for its share
/// of the budget `buf` draws on.
pub fn read_into(path: &Path, limit: u64, buf: &mut Buffer<'_>) -> std::io::Result<Loaded> {
    use super::gate::GateError;
    let read = super::gate::open(path).and_then(|file| {
        buf.fill(&file, limit)?;
        Ok(file.access)
    });
    match read {
        Ok(access) => Ok(Loaded::Read(access)),
        Err(GateError::TooLarge { size, .. }) => Ok(Loaded::TooLarge { size }),
        Err(GateError::Io(e)) => Err(e),
        Err(other) => Err(std::io::Error::other(other.to_string())),
    }
}

/// The metadata facts of a file: `path`, `name`, `extension`, `size`, `binary`, and on Unix `mode`
/// (octal text such as `"0600"`), `uid` and `gid`.
pub fn facts(path: &Path, display: &str, bytes: &[u8]) -> Node {
    let mut m = Map::new();
    let at = Pos::default();
    m.insert("path", Node::str(at, display));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    m.insert("name", Node::str(at, name));
    let ext = path
        .extension()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    m.insert("extension", Node::str(at, ext));
    m.insert(
        "size",
        Node::new(
            at,
            Value::Int(i64::try_from(bytes.len()).unwrap_or(i64::MAX)),
        ),
    );
    m.insert("binary", Node::new(at, Value::Bool(is_binary(bytes))));
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        m.insert(
            "mode",
            Node::str(at, format!("{:04o}", meta.mode() & 0o7777)),
        );
        m.insert("uid", Node::new(at, Value::Int(i64::from(meta.uid()))));
        m.insert("gid", Node::new(at, Value::Int(i64::from(meta.gid()))));
    }
    Node::new(Pos::line(1), Value::Map(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sniffing() {
        assert!(is_binary(b"ELF\0\x01"));
        assert!(!is_binary("plain text é".as_bytes()));
    }

    #[test]
    fn reads_up_to_the_limit_into_a_reused_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        // Held unmetered, and held in the budget's region.
        for unmetered in [1000, 10] {
            let budget = crate::collect::buffer::Budget::new(1000, unmetered);
            let mut buf = Buffer::new(&budget);
            assert!(matches!(
                read_into(&p, 100, &mut buf).unwrap(),
                Loaded::Read(_)
            ));
            assert_eq!(buf.bytes(), &[b'a'; 100][..]);
            assert_eq!(
                read_into(&p, 50, &mut buf).unwrap(),
                Loaded::TooLarge { size: 100 }
            );
            // A file too large is never read.
            assert!(buf.bytes().is_empty());
        }
    }
}
