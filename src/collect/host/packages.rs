//! Kind `packages`: the installed packages of a Debian-family root, from dpkg's status database
//! (`/var/lib/dpkg/status`), keyed by package name. Versions compare in dpkg's order with
//! `as: debian-version`. An rpm-based root is an error: its database is not read.

use super::{Root, at, document};
use crate::collect::Document;
use crate::doc::{Map, Node, Pos, Value};

const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// Where rpm keeps its database, old and new layout.
const RPM_DATABASES: [&str; 2] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"];

pub fn collect(root: &Root<'_>) -> Result<Document, String> {
    let Some(text) = root.read(DPKG_STATUS)? else {
        if RPM_DATABASES.iter().any(|d| root.followed(d).is_dir()) {
            return Err(
                "the rpm package database is not supported (only dpkg's status database is read)"
                    .into(),
            );
        }
        return Err(format!("no package database: {DPKG_STATUS} does not exist"));
    };
    let mut map = Map::new();
    for stanza in stanzas(&text) {
        let field = |name: &str| stanza.fields.iter().find(|(k, _, _)| *k == name);
        let (Some(&(_, package, line)), Some(&(_, status, _))) =
            (field("Package"), field("Status"))
        else {
            continue;
        };
        // Installed in any state but `not-installed` and `config-files` (its files removed): a
        // half-configured or trigger-pending package is on the disk.
        let state = status.split_whitespace().nth(2).unwrap_or("not-installed");
        if matches!(state, "not-installed" | "config-files") || map.contains_key(package) {
            continue;
        }
        let pos = at(1, line);
        let mut p = Map::new();
        p.set_label(format!("package {package}"));
        p.insert("status", Node::str(pos, status));
        for (key, name) in [
            ("version", "Version"),
            ("architecture", "Architecture"),
            ("source", "Source"),
        ] {
            if let Some(&(_, value, vline)) = field(name) {
                p.insert(key, Node::str(at(1, vline), value));
            }
        }
        map.insert(package.to_string(), Node::new(pos, Value::Map(p)));
    }
    Ok(document(
        Node::new(Pos::default(), Value::Map(map)),
        vec![DPKG_STATUS.to_string()],
    ))
}

/// One paragraph of a deb822 file: (field, value, 1-based line) for single-line fields.
struct Stanza<'t> {
    fields: Vec<(&'t str, &'t str, usize)>,
}

/// The paragraphs of a deb822 file (blank-line separated). Continuation lines (leading blank) are
/// skipped: no field the collector reads spans lines.
fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    let mut out = Vec::new();
    let mut current = Stanza { fields: Vec::new() };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Stanza { fields: Vec::new() },
                ));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            current.fields.push((k.trim(), v.trim(), n + 1));
        }
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    out
}
