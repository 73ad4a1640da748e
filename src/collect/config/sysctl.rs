//! Kernel parameters as sysctl would apply them at boot: one merged document per configuration root.
//!
//! `sysctl --system` reads `/etc/sysctl.d/*.conf` in lexical order and `/etc/sysctl.conf` last; a
//! later assignment of a key wins. Judging each file alone would be wrong both ways (a drop-in
//! without `ip_forward` is not a failure; a setting in sysctl.conf overrides a drop-in), so this
//! format merges the files of one root (`<dir>/sysctl.conf` and `<dir>/sysctl.d/*.conf`) into a
//! single document. The document is produced once, for the root's representative file: its
//! sysctl.conf when there is one (Debian 13 no longer ships one), else its first drop-in; the other
//! files of the root produce no document, so each root is judged once.
//!
//! Runtime-only directories (`/run/sysctl.d`, `/usr/lib/sysctl.d`) are not read.

use std::path::{Path, PathBuf};

use super::{ParseError, keyvalue};
use crate::collect::Document;
use crate::collect::gate::Gate;
use crate::doc::{Map, Node, Pos, Value};

/// The files of the root `path` belongs to, in the order sysctl applies them.
fn root_files(path: &Path) -> (PathBuf, Vec<PathBuf>) {
    let parent = path.parent().unwrap_or(Path::new(""));
    let in_dropin_dir = parent.file_name().is_some_and(|n| n == "sysctl.d");
    let root = if in_dropin_dir {
        parent.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        parent.to_path_buf()
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("sysctl.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf") && p.is_file())
        .collect();
    files.sort();
    let main = root.join("sysctl.conf");
    if main.is_file() {
        files.push(main);
    }
    (root, files)
}

/// Parses the root that `path` (whose contents are `text`) belongs to.
pub fn parse(path: &Path, text: &str, gate: &Gate) -> Result<Vec<Document>, ParseError> {
    let (_, files) = root_files(path);
    let representative = files
        .iter()
        .find(|f| f.file_name().is_some_and(|n| n == "sysctl.conf"))
        .or_else(|| files.first());
    let is_representative = match representative {
        Some(r) => same_file(r, path),
        None => true,
    };
    if !is_representative {
        return Ok(Vec::new());
    }
    let mut merged = Map::new();
    let mut included = Vec::new();
    let sources: Vec<PathBuf> = if files.is_empty() {
        vec![path.to_path_buf()]
    } else {
        files
    };
    for source in &sources {
        let (own_text, file_index) = if same_file(source, path) {
            (text.to_string(), 0u16)
        } else {
            // Drop-ins go through the gate: regular files, the size limit, the named paths.
            let t = gate
                .read_included(source)
                .map_err(|e| ParseError::new(0, 0, format!("drop-in {}: {e}", source.display())))?;
            included.push(source.clone());
            (t, u16::try_from(included.len()).unwrap_or(u16::MAX))
        };
        let doc = keyvalue::parse(&own_text).map_err(|e| {
            if file_index == 0 {
                e
            } else {
                ParseError::new(0, 0, format!("in {}: {e}", source.display()))
            }
        })?;
        let Some(map) = doc.as_map() else { continue };
        for (k, v) in map.iter() {
            let mut v = v.clone();
            v.pos.file = file_index;
            match merged.get_mut(k) {
                Some(existing) => *existing = v,
                None => merged.insert(k.to_string(), v),
            }
        }
    }
    Ok(vec![Document {
        included,
        ..Document::new(Node::new(Pos::line(1), Value::Map(merged)))
    }])
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_a_root_in_sysctl_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sysctl.d")).unwrap();
        std::fs::write(
            d.join("sysctl.d/10-a.conf"),
            "net.ipv4.ip_forward = 1\nkernel.dmesg_restrict = 1\n",
        )
        .unwrap();
        std::fs::write(d.join("sysctl.d/20-b.conf"), "kernel.dmesg_restrict = 0\n").unwrap();
        let main = "net.ipv4.ip_forward = 0\n";
        std::fs::write(d.join("sysctl.conf"), main).unwrap();
        let docs = parse(&d.join("sysctl.conf"), main, &Gate::default()).unwrap();
        let root = &docs[0].root;
        let fwd = root.get("net.ipv4.ip_forward").unwrap();
        assert_eq!(
            (fwd.as_str(), fwd.pos.file),
            (Some("0"), 0),
            "sysctl.conf is applied last"
        );
        let dm = root.get("kernel.dmesg_restrict").unwrap();
        assert_eq!((dm.as_str(), dm.pos.file), (Some("0"), 2));
        assert_eq!(docs[0].included[1], d.join("sysctl.d/20-b.conf"));
        let again = parse(
            &d.join("sysctl.d/10-a.conf"),
            "net.ipv4.ip_forward = 1\n",
            &Gate::default(),
        )
        .unwrap();
        assert!(
            again.is_empty(),
            "the root is judged once, through sysctl.conf"
        );
    }

    #[test]
    fn a_root_without_sysctl_conf_is_judged_through_its_first_drop_in() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sysctl.d")).unwrap();
        std::fs::write(d.join("sysctl.d/10-a.conf"), "fs.suid_dumpable = 0\n").unwrap();
        std::fs::write(d.join("sysctl.d/20-b.conf"), "fs.suid_dumpable = 2\n").unwrap();
        let docs = parse(
            &d.join("sysctl.d/10-a.conf"),
            "fs.suid_dumpable = 0\n",
            &Gate::default(),
        )
        .unwrap();
        assert_eq!(
            docs[0].root.get("fs.suid_dumpable").unwrap().as_str(),
            Some("2")
        );
        assert!(
            parse(
                &d.join("sysctl.d/20-b.conf"),
                "fs.suid_dumpable = 2\n",
                &Gate::default()
            )
            .unwrap()
            .is_empty()
        );
    }
}
