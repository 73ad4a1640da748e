//! Kinds `sysctl_live` (the running kernel's parameters, from /proc/sys) and `sysctl_persisted`
//! (what the root's sysctl files set at boot). They can disagree: a value written by hand since
//! boot, or a drop-in that was never applied, leaves them different, so each is judged on its own.

use super::{Root, document};
use crate::collect::config::sysctl::merge_root;
use crate::collect::{Document, Fields};
use crate::doc::{Map, Node, Pos, Value};

/// The live parameters the controls name (every readable one for `vigil facts`); `None` when the
/// root is not the running machine, whose kernel is not the one a mounted image boots.
pub fn live(root: &Root<'_>, fields: &Fields) -> Result<Option<Document>, String> {
    if !root.live {
        return Ok(None);
    }
    let mut map = Map::new();
    let (keys, listing): (Vec<String>, bool) = match fields {
        Fields::Some(keys) => (
            keys.iter()
                .filter(|k| !k.starts_with('/') && k.contains('.'))
                .cloned()
                .collect(),
            false,
        ),
        Fields::All => (every_key(root), true),
    };
    for key in keys {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        // `kernel.yama.ptrace_scope` is also asked as `kernel` and `kernel.yama`: directories.
        if root.followed(&path).is_dir() {
            continue;
        }
        // A key the running kernel does not have (a module not loaded) is absent. Listing every
        // key for `vigil facts`, the write-only ones are left out; a key a control names must read.
        let read = root.read(&path);
        if listing && read.is_err() {
            continue;
        }
        if let Some(value) = read? {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            map.insert(key, Node::str(Pos::default(), value));
        }
    }
    Ok(Some(Document::new(Node::new(
        Pos::default(),
        Value::Map(map),
    ))))
}

/// Every readable parameter under /proc/sys, in sorted order.
fn every_key(root: &Root<'_>) -> Vec<String> {
    let base = root.followed("/proc/sys");
    walkdir::WalkDir::new(&base)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(&base).ok()?;
            Some(rel.to_string_lossy().replace('/', "."))
        })
        .collect()
}

pub fn persisted(root: &Root<'_>) -> Result<Document, String> {
    let (map, files) = merge_root(root.dir, root.gate).map_err(|e| e.message)?;
    let host_files = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(root.dir).unwrap_or(f);
            format!("/{}", rel.to_string_lossy().trim_start_matches('/'))
        })
        .collect();
    Ok(document(
        Node::new(Pos::default(), Value::Map(map)),
        host_files,
    ))
}
