//! Kinds `file_meta` (the metadata of the paths the controls name) and `filesystem` (a walk of the
//! directories the controls name, for world-writable and unowned files).
//!
//! Both are keyed by absolute paths written in the policy (`["/etc/shadow"].mode`,
//! `["/usr"].world_writable_files`), and only those keys are read: a control on a new file or
//! directory needs no Rust, and a scan stats and walks only what its controls judge.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::{Root, accounts};
use crate::collect::{Document, Fields};
use crate::doc::{Map, Node, Pos, Value};

/// The paths `vigil facts` shows when no control names any.
const DEFAULT_PATHS: [&str; 12] = [
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/ssh/sshd_config",
    "/etc/crontab",
    "/etc/cron.d",
    "/etc/cron.daily",
    "/etc/cron.hourly",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/etc/cron.d/*",
];

/// The directories `vigil facts` walks when no control names any.
const DEFAULT_DIRS: [&str; 2] = ["/etc", "/usr"];

/// How many matches a glob key may have, and how many paths of each list a `filesystem` entry
/// keeps (the counts are exact): the evidence stays bounded on any tree.
const MAX_LISTED: usize = 100;
/// How many entries a glob expansion visits before it stops with an error.
const MAX_GLOB_VISITS: usize = 100_000;

/// The facts of a path and of a walked directory: what can follow a path key in a field path.
const FACT_NAMES: [&str; 24] = [
    "path",
    "exists",
    "type",
    "mode",
    "permissions",
    "uid",
    "gid",
    "owner",
    "group",
    "size",
    "setuid",
    "setgid",
    "sticky",
    "world_writable",
    "symlink_target",
    "entries",
    "world_writable_files",
    "world_writable_dirs_without_sticky",
    "unowned",
    "ungrouped",
    "world_writable_files_count",
    "world_writable_dirs_without_sticky_count",
    "unowned_count",
    "ungrouped_count",
];

/// Whether `key` is another key followed by `.` and one of the facts (`/etc.mode` from
/// `["/etc"].mode`, since a dotted path is also asked whole), rather than a path of its own
/// (`/etc/sudoers.d/*` next to `/etc/sudoers`).
fn is_artefact(key: &str, keys: &[String]) -> bool {
    keys.iter().any(|p| {
        key.len() > p.len()
            && key.starts_with(p.as_str())
            && key.as_bytes()[p.len()] == b'.'
            && FACT_NAMES.contains(&key[p.len() + 1..].split(['.', '[']).next().unwrap_or(""))
    })
}

/// The absolute paths the controls read as keys (or the defaults for `vigil facts`).
fn keys<'f>(fields: &'f Fields, defaults: &'static [&'static str]) -> Vec<&'f str> {
    match fields {
        Fields::All => defaults.to_vec(),
        // `["/etc"].mode` is asked as `/etc` and `/etc.mode` (a dotted path may name one key
        // whole): a key that extends another by `.` is that artefact, not a path.
        Fields::Some(keys) => keys
            .iter()
            .map(String::as_str)
            .filter(|k| k.starts_with('/'))
            .filter(|k| !is_artefact(k, keys))
            .collect(),
    }
}

pub fn file_meta(root: &Root<'_>, fields: &Fields) -> Result<Document, String> {
    let names = accounts::id_names(root)?;
    let mut map = Map::new();
    for key in keys(fields, &DEFAULT_PATHS) {
        let node = if key.contains(['*', '?', '[']) {
            let mut list = Vec::new();
            for path in expand(root, key)? {
                if let Some(mut meta) = stat(root, &path, &names)? {
                    meta.set_label(path.clone());
                    list.push(Node::new(Pos::default(), Value::Map(meta)));
                }
            }
            Node::new(Pos::default(), Value::List(list))
        } else {
            let meta = stat(root, key, &names)?.unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert("path", Node::str(Pos::default(), key));
                m.insert("exists", Node::new(Pos::default(), Value::Bool(false)));
                m
            });
            Node::new(Pos::default(), Value::Map(meta))
        };
        map.insert(key.to_string(), node);
    }
    Ok(Document::new(Node::new(Pos::default(), Value::Map(map))))
}

/// The metadata of `abs` (not following a final symbolic link), `None` when it does not exist.
fn stat(root: &Root<'_>, abs: &str, names: &accounts::IdNames) -> Result<Option<Map>, String> {
    let meta = match std::fs::symlink_metadata(root.path(abs)) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot stat {abs}: {e}")),
    };
    let p = Pos::default();
    let mode = meta.mode() & 0o7777;
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "device"
    };
    let mut m = Map::new();
    let boolean = |b: bool| Node::new(p, Value::Bool(b));
    m.insert("path", Node::str(p, abs));
    m.insert("exists", boolean(true));
    m.insert("type", Node::str(p, kind));
    m.insert("mode", Node::str(p, format!("{mode:04o}")));
    m.insert("permissions", Node::str(p, permissions(mode)));
    m.insert("uid", Node::new(p, Value::Int(i64::from(meta.uid()))));
    m.insert("gid", Node::new(p, Value::Int(i64::from(meta.gid()))));
    if let Some(name) = names.users.get(&meta.uid()) {
        m.insert("owner", Node::str(p, name.clone()));
    }
    if let Some(name) = names.groups.get(&meta.gid()) {
        m.insert("group", Node::str(p, name.clone()));
    }
    m.insert("size", Node::new(p, Value::Int(meta.size() as i64)));
    m.insert("setuid", boolean(mode & 0o4000 != 0));
    m.insert("setgid", boolean(mode & 0o2000 != 0));
    m.insert("sticky", boolean(mode & 0o1000 != 0));
    m.insert(
        "world_writable",
        boolean(mode & 0o002 != 0 && !ft.is_symlink()),
    );
    if ft.is_symlink() {
        if let Ok(target) = std::fs::read_link(root.path(abs)) {
            m.insert("symlink_target", Node::str(p, target.to_string_lossy()));
        }
    }
    Ok(Some(m))
}

/// `ls -l` notation of the permission bits, without the type: `rw-r-----`, `rwsr-xr-x`.
fn permissions(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for (shift, special, set, unset) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// The host paths matching the glob `pattern`, sorted; at most [`MAX_LISTED`].
fn expand(root: &Root<'_>, pattern: &str) -> Result<Vec<String>, String> {
    let glob: GlobMatcher = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("bad path glob {pattern}: {e}"))?
        .compile_matcher();
    // Walk from the longest directory prefix without a glob character.
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|c| !c.contains(['*', '?', '[', '{']))
        .collect();
    let base = literal.join("/");
    let base = if base.is_empty() {
        "/".to_string()
    } else {
        base
    };
    let depth = if pattern.contains("**") {
        usize::MAX
    } else {
        pattern.split('/').count() - literal.len()
    };
    let mut out = Vec::new();
    let real_base = root.followed(&base);
    let shown = Shown {
        real: &real_base,
        host: &base,
    };
    let walk = walkdir::WalkDir::new(&real_base)
        .min_depth(1)
        .max_depth(depth)
        .same_file_system(true)
        .sort_by_file_name();
    for (visited, entry) in walk.into_iter().enumerate() {
        if visited >= MAX_GLOB_VISITS {
            return Err(format!(
                "{pattern} visits more than {MAX_GLOB_VISITS} entries; name a narrower glob"
            ));
        }
        let entry = entry.map_err(|e| format!("cannot expand {pattern}: {e}"))?;
        let host = shown.of(entry.path());
        if glob.is_match(&host) {
            if out.len() == MAX_LISTED {
                return Err(format!(
                    "{pattern} matches more than {MAX_LISTED} paths; name a narrower glob"
                ));
            }
            out.push(host);
        }
    }
    Ok(out)
}

/// How a walked path is shown: as the host names it under the directory the walk started from,
/// even when that directory is reached through a link (`/bin/...` for a root whose `/bin` links to
/// `usr/bin`).
#[derive(Clone, Copy)]
struct Shown<'p> {
    /// The directory walked, inside the root.
    real: &'p Path,
    /// Its name on the host.
    host: &'p str,
}

impl Shown<'_> {
    fn of(&self, path: &Path) -> String {
        let rel = path
            .strip_prefix(self.real)
            .unwrap_or(path)
            .to_string_lossy();
        match (self.host.trim_end_matches('/'), rel.is_empty()) {
            ("", true) => "/".to_string(),
            (base, true) => base.to_string(),
            (base, false) => format!("{base}/{rel}"),
        }
    }
}

pub fn filesystem(root: &Root<'_>, fields: &Fields) -> Result<Document, String> {
    let names = accounts::id_names(root)?;
    let mut map = Map::new();
    for dir in keys(fields, &DEFAULT_DIRS) {
        map.insert(dir.to_string(), walk(root, dir, &names)?);
    }
    Ok(Document::new(Node::new(Pos::default(), Value::Map(map))))
}

/// What one walk found, by list name: the first [`MAX_LISTED`] paths of each list and its count.
#[derive(Default)]
struct Found {
    entries: i64,
    lists: BTreeMap<&'static str, (Vec<String>, i64)>,
}

/// The lists a `filesystem` entry has, in the order they are shown.
const LISTS: [&str; 4] = [
    "world_writable_files",
    "world_writable_dirs_without_sticky",
    "unowned",
    "ungrouped",
];

impl Found {
    fn add(&mut self, list: &'static str, path: impl FnOnce() -> String) {
        let (paths, count) = self.lists.entry(list).or_default();
        if paths.len() < MAX_LISTED {
            paths.push(path());
        }
        *count += 1;
    }

    /// Appends what a later part of the walk found (walk order is kept: parts merge in order).
    fn append(&mut self, other: Found) {
        self.entries += other.entries;
        for (list, (paths, count)) in other.lists {
            let (mine, total) = self.lists.entry(list).or_default();
            let room = MAX_LISTED.saturating_sub(mine.len());
            mine.extend(paths.into_iter().take(room));
            *total += count;
        }
    }

    /// Judges one entry.
    fn see(
        &mut self,
        shown: Shown<'_>,
        path: &Path,
        meta: &std::fs::Metadata,
        names: &accounts::IdNames,
    ) {
        self.entries += 1;
        let mode = meta.mode();
        let ft = meta.file_type();
        let shown = || shown.of(path);
        if ft.is_file() && mode & 0o002 != 0 {
            self.add("world_writable_files", shown);
        }
        if ft.is_dir() && mode & 0o002 != 0 && mode & 0o1000 == 0 {
            self.add("world_writable_dirs_without_sticky", shown);
        }
        if !names.users.contains_key(&meta.uid()) {
            self.add("unowned", shown);
        }
        if !names.groups.contains_key(&meta.gid()) {
            self.add("ungrouped", shown);
        }
    }
}

/// Walks `dir` on its own filesystem (not into other mounts, /proc or /sys), without following
/// links, its subdirectories on every core; the result is the same as one sorted walk. A directory
/// that cannot be read makes the whole entry an error: a partial walk would pass on files it never
/// saw.
fn walk(root: &Root<'_>, dir: &str, names: &accounts::IdNames) -> Result<Node, String> {
    let p = Pos::default();
    let start = root.followed(dir);
    let fail = |e: &dyn std::fmt::Display| format!("cannot walk {dir}: {e}");
    let mut m = Map::new();
    let mut found = Found::default();
    match std::fs::symlink_metadata(&start) {
        Ok(meta) if meta.is_dir() => {
            let shown = Shown {
                real: &start,
                host: dir,
            };
            found.see(shown, &start, &meta, names);
            let mut children: Vec<PathBuf> = std::fs::read_dir(&start)
                .map_err(|e| fail(&e))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(|e| fail(&e))?;
            children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            for part in crate::parallel::in_parallel(&children, |child| {
                walk_part(shown, child, meta.dev(), names)
            }) {
                found.append(part.map_err(|e| fail(&e))?);
            }
        }
        Ok(_) => return Err(format!("cannot walk {dir}: not a directory")),
        // Nothing there, nothing to find (a root without /opt); the facts say it is absent.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            m.insert("exists", Node::new(p, Value::Bool(false)));
        }
        Err(e) => return Err(fail(&e)),
    }
    m.insert("entries", Node::new(p, Value::Int(found.entries)));
    for list in LISTS {
        let (paths, count) = found.lists.remove(list).unwrap_or_default();
        let items = paths.into_iter().map(|s| Node::str(p, s)).collect();
        m.insert(list, Node::new(p, Value::List(items)));
        m.insert(format!("{list}_count"), Node::new(p, Value::Int(count)));
    }
    Ok(Node::new(p, Value::Map(m)))
}

/// One child of a walked directory and everything under it on device `dev`.
fn walk_part(
    shown: Shown<'_>,
    child: &Path,
    dev: u64,
    names: &accounts::IdNames,
) -> Result<Found, walkdir::Error> {
    let mut found = Found::default();
    // A child that is a link is judged as the link, never followed (walkdir follows a root link
    // unless told not to).
    let walk = walkdir::WalkDir::new(child)
        .follow_root_links(false)
        .same_file_system(true)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry?;
        let meta = entry.metadata()?;
        // A mount point below the walked directory is another filesystem: not walked.
        if entry.depth() == 0 && meta.dev() != dev {
            break;
        }
        found.see(shown, entry.path(), &meta, names);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::permissions;

    #[test]
    fn dotted_field_paths_are_not_paths() {
        let keys: Vec<String> = [
            "/etc/sudoers",
            "/etc/sudoers.d/*",
            "/etc/sudoers.mode",
            "/etc",
        ]
        .map(String::from)
        .to_vec();
        assert!(super::is_artefact("/etc/sudoers.mode", &keys));
        assert!(!super::is_artefact("/etc/sudoers.d/*", &keys));
        assert!(!super::is_artefact("/etc", &keys));
    }

    #[test]
    fn permissions_read_as_ls_prints_them() {
        assert_eq!(permissions(0o644), "rw-r--r--");
        assert_eq!(permissions(0o4755), "rwsr-xr-x");
        assert_eq!(permissions(0o1777), "rwxrwxrwt");
        assert_eq!(permissions(0o2640), "rw-r-S---");
        assert_eq!(permissions(0), "---------");
    }
}
