//! Kind `os`: what the root says it is (os-release) and, on the live machine, the running kernel.

use super::{Root, at, document};
use crate::collect::Document;
use crate::doc::{Map, Node, Pos, Value};

/// The facts of an `os` document.
pub const FIELDS: &[&str] = &[
    "id",
    "id_like",
    "name",
    "pretty_name",
    "version_id",
    "version_codename",
    "kernel_release",
];

/// os-release is read from /etc first, then /usr/lib, as systemd does.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

pub fn collect(root: &Root<'_>) -> Result<Document, String> {
    let mut map = Map::new();
    let mut files = Vec::new();
    for path in OS_RELEASE {
        if let Some(text) = root.read(path)? {
            files.push(path.to_string());
            for (n, line) in text.lines().enumerate() {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let field = key.trim().to_ascii_lowercase();
                if !FIELDS.contains(&field.as_str()) || line.trim_start().starts_with('#') {
                    continue;
                }
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                map.insert(field, Node::str(at(1, n + 1), value));
            }
            break;
        }
    }
    if files.is_empty() {
        return Err(
            "cannot read os-release: neither /etc/os-release nor /usr/lib/os-release exists".into(),
        );
    }
    if root.live {
        if let Some(release) = root.read("/proc/sys/kernel/osrelease")? {
            map.insert("kernel_release", Node::str(Pos::default(), release.trim()));
        }
    }
    Ok(document(Node::new(Pos::line(1), Value::Map(map)), files))
}
