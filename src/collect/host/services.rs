//! Kind `services`: systemd units and whether they start at boot, read from the unit directories
//! and their `.wants`/`.requires` links as systemd reads them, without asking systemctl (which
//! needs the running manager, and cannot look at a mounted image).
//!
//! A unit is `masked` when its first unit file is a link to /dev/null, `enabled` when a
//! `.wants` or `.requires` directory links to it (under its own name or an alias), `static` when it
//! has no `[Install]` section (it runs when another unit pulls it in), `disabled` otherwise, and
//! `not-found` when no unit directory has it.

use std::collections::BTreeSet;

use super::Root;
use crate::collect::{Document, Fields};
use crate::doc::{Map, Node, Pos, Value};

/// Unit directories, in systemd's order of precedence.
const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

const UNIT_SUFFIXES: [&str; 7] = [
    ".service",
    ".socket",
    ".timer",
    ".mount",
    ".target",
    ".path",
    ".automount",
];

pub fn collect(root: &Root<'_>, fields: &Fields) -> Result<Document, String> {
    let units: Vec<String> = match fields {
        Fields::Some(keys) => keys
            .iter()
            .filter(|k| !k.starts_with('/') && UNIT_SUFFIXES.iter().any(|s| k.ends_with(s)))
            .cloned()
            .collect(),
        Fields::All => every_unit(root),
    };
    let links = wants_links(root)?;
    let p = Pos::default();
    let mut map = Map::new();
    for unit in units {
        let mut u = Map::new();
        u.set_label(format!("unit {unit}"));
        let state = match unit_file(root, &unit) {
            None => "not-found".to_string(),
            Some((file, target)) => {
                u.insert("file", Node::str(p, file.clone()));
                let real = target
                    .as_deref()
                    .and_then(|t| t.rsplit('/').next())
                    .unwrap_or(&unit)
                    .to_string();
                if target.as_deref() == Some("/dev/null") {
                    "masked".to_string()
                } else {
                    let by: Vec<&(String, String)> = links
                        .iter()
                        .filter(|(_, linked)| *linked == unit || *linked == real)
                        .collect();
                    if !by.is_empty() {
                        let wanted: Vec<Node> =
                            by.iter().map(|(t, _)| Node::str(p, t.clone())).collect();
                        u.insert("wanted_by", Node::new(p, Value::List(wanted)));
                        "enabled".to_string()
                    } else if has_install_section(root, &file)? {
                        "disabled".to_string()
                    } else {
                        "static".to_string()
                    }
                }
            }
        };
        u.insert("state", Node::str(p, state));
        map.insert(unit, Node::new(p, Value::Map(u)));
    }
    Ok(Document::new(Node::new(p, Value::Map(map))))
}

/// The first unit file named `unit` (host path) and, when it is a link, where it points.
fn unit_file(root: &Root<'_>, unit: &str) -> Option<(String, Option<String>)> {
    UNIT_DIRS.iter().find_map(|dir| {
        let abs = format!("{dir}/{unit}");
        let meta = std::fs::symlink_metadata(root.path(&abs)).ok()?;
        let target = meta
            .file_type()
            .is_symlink()
            .then(|| std::fs::read_link(root.path(&abs)).ok())
            .flatten()
            .map(|t| t.to_string_lossy().into_owned());
        Some((abs, target))
    })
}

/// Every (target, unit) pair of a `.wants`/`.requires` link in the unit directories.
fn wants_links(root: &Root<'_>) -> Result<BTreeSet<(String, String)>, String> {
    let mut out = BTreeSet::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(root.followed(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(target) = name
                .strip_suffix(".wants")
                .or_else(|| name.strip_suffix(".requires"))
            else {
                continue;
            };
            // The .wants directory itself may be a link: resolved inside the root.
            let links = std::fs::read_dir(root.followed(&format!("{dir}/{name}")))
                .map_err(|e| format!("cannot read {dir}/{name}: {e}"))?;
            for link in links.flatten() {
                let linked = link.file_name().to_string_lossy().into_owned();
                // A link's own name is the unit it enables; its target names the unit file.
                out.insert((target.to_string(), linked.clone()));
                if let Ok(t) = std::fs::read_link(link.path())
                    && let Some(base) = t.file_name()
                {
                    out.insert((target.to_string(), base.to_string_lossy().into_owned()));
                }
            }
        }
    }
    Ok(out)
}

/// Whether the unit file (following links inside the root) has an `[Install]` section.
fn has_install_section(root: &Root<'_>, file: &str) -> Result<bool, String> {
    let text = root.read(file)?.unwrap_or_default();
    Ok(text.lines().any(|l| l.trim() == "[Install]"))
}

/// Every unit name in the unit directories (for `vigil facts`).
fn every_unit(root: &Root<'_>) -> Vec<String> {
    let mut names = BTreeSet::new();
    for dir in UNIT_DIRS {
        for entry in std::fs::read_dir(root.followed(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if UNIT_SUFFIXES.iter().any(|s| name.ends_with(s)) && !name.contains('@') {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}
