//! The `file` collector: a file's bytes (for pattern checks) and its metadata facts.

use std::io::Read;
use std::path::Path;

use crate::doc::{Map, Node, Pos, Value};

/// How many leading bytes are inspected to decide that a file is binary (as git and ripgrep do).
const BINARY_SNIFF: usize = 8192;

/// Whether the bytes look binary: a NUL byte in the first 8 KiB.
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF)]).is_some()
}

/// Reads a whole file, refusing to read past `limit` bytes even if it grew since it was listed.
pub fn read(path: &Path, size_hint: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(usize::try_from(size_hint.min(limit)).unwrap_or(0) + 1);
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "file grew past the --max-file-size limit of {limit} bytes while being read"
        )));
    }
    Ok(buf)
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
    fn read_refuses_growth_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        assert_eq!(read(&p, 100, 100).unwrap().len(), 100);
        assert!(read(&p, 10, 50).is_err());
    }
}
