//! Kernel parameters as sysctl would apply them at boot: one merged document per configuration root.
//!
//! `sysctl --system` (and systemd-sysctl) read the drop-ins of `/etc/sysctl.d`, `/run/sysctl.d`,
//! `/usr/local/lib/sysctl.d`, `/usr/lib/sysctl.d` and `/lib/sysctl.d` in the lexical order of their
//! file names, a file of an earlier directory masking one of the same name in a later one, and
//! `/etc/sysctl.conf` last; a later assignment of a key wins. Judging each file alone would be wrong
//! both ways (a drop-in without `ip_forward` is not a failure; a setting in sysctl.conf overrides a
//! drop-in), so this format merges the files of one root into a single document, produced once, for
//! the root's representative file: its sysctl.conf when there is one (Debian 13 no longer ships
//! one), else its first drop-in. A root is a filesystem root when the file sits in one of those
//! directories (`R/etc/sysctl.conf`, `R/usr/lib/sysctl.d/50-default.conf`: root `R`), otherwise the
//! file's own directory with its `sysctl.d`. Vendor directories outside the paths named on the
//! command line are not read (name the filesystem root to merge them all); when one exists, what
//! the kernel applies is not known (a file there may set any key after `/etc`'s drop-ins), so the
//! root is an error that says which directory to name, never a verdict on part of its files.
//!
//! As systemd-sysctl does: a key may be a glob (`net.ipv4.conf.*.rp_filter = 2`), which sets the
//! `all` and `default` interface keys unless they are assigned explicitly, anywhere; a bare `-key`
//! line keeps a glob off that key; a leading `-` on an assignment (ignore errors) is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ParseError, keyvalue};
use crate::collect::Document;
use crate::collect::canonical::canonical;
use crate::collect::gate::Gate;
use crate::doc::{Map, Node, Pos, Value};

/// Drop-in directories under a filesystem root, in order of precedence.
const DROPIN_DIRS: [&str; 5] = [
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
];

/// The drop-in directories and the main file of the root `path` belongs to, and the directory
/// that holds them all.
fn root_of(path: &Path) -> (Vec<PathBuf>, PathBuf, PathBuf) {
    let parent = path.parent().unwrap_or(Path::new(""));
    let in_dropin_dir = parent.file_name().is_some_and(|n| n == "sysctl.d");
    let dir = if in_dropin_dir {
        parent.parent().unwrap_or(Path::new(""))
    } else {
        parent
    };
    let fs_root = if in_dropin_dir {
        DROPIN_DIRS.iter().find_map(|d| {
            let above = Path::new(d).parent()?;
            let n = above.components().count();
            dir.ends_with(above).then(|| ancestor(dir, n))
        })
    } else if dir.ends_with("etc") {
        Some(ancestor(dir, 1))
    } else {
        None
    };
    match fs_root {
        Some(r) => (
            DROPIN_DIRS.iter().map(|d| r.join(d)).collect(),
            r.join("etc/sysctl.conf"),
            r,
        ),
        None => (
            vec![dir.join("sysctl.d")],
            dir.join("sysctl.conf"),
            dir.to_path_buf(),
        ),
    }
}

/// `dir` without its last `n` components.
fn ancestor(dir: &Path, n: usize) -> PathBuf {
    dir.ancestors()
        .nth(n)
        .unwrap_or(Path::new(""))
        .to_path_buf()
}

/// What the gate shows of the root `path` belongs to: the listing of each drop-in directory it
/// reaches, in order of precedence, and the main file when it is one. Directories the gate does not
/// reach (outside the named paths) are not read; those that exist are `left_out`, and so is a main
/// file outside them.
struct Root {
    listings: Vec<Arc<[PathBuf]>>,
    main: Option<PathBuf>,
    left_out: Vec<PathBuf>,
    /// The directory that holds the root's files: the one to name to read them all.
    top: PathBuf,
}

impl Root {
    fn of(path: &Path, gate: &Gate) -> Root {
        let (dirs, main, top) = root_of(path);
        let mut listings = Vec::new();
        let mut left_out = Vec::new();
        for d in dirs {
            // The gate's answer records whether the directory exists, inside the named paths or
            // not, so that the cache sees one appear or go.
            if gate.reaches(&d) {
                listings.push(gate.files_in(&d));
            } else if d.is_dir() {
                left_out.push(d);
            }
        }
        // The gate first, so that the cache knows of a sysctl.conf that appears later.
        let main = if gate.reaches(&main) {
            main.is_file().then_some(main)
        } else {
            if main.is_file() {
                left_out.push(main);
            }
            None
        };
        Root {
            listings,
            main,
            left_out,
            top,
        }
    }

    /// The drop-ins sysctl reads: `.conf` files, a name found in two directories read from the
    /// first.
    fn dropins(&self) -> impl Iterator<Item = &PathBuf> {
        self.listings
            .iter()
            .flat_map(|l| l.iter())
            .filter(|p| is_conf(p))
    }

    /// The files in the order sysctl applies them: drop-ins by name, then the main file.
    fn files(&self) -> Vec<PathBuf> {
        let mut by_name: BTreeMap<&std::ffi::OsStr, &PathBuf> = BTreeMap::new();
        for p in self.dropins() {
            if let Some(name) = p.file_name() {
                by_name.entry(name).or_insert(p);
            }
        }
        by_name
            .into_values()
            .chain(self.main.as_ref())
            .cloned()
            .collect()
    }

    /// The file that stands for the root: the first of [`Root::files`] named `sysctl.conf`, or else
    /// the first of all. Each file of a root asks, so it is found without ordering every drop-in:
    /// a listing is sorted by name, so a name is looked up in it and its first `.conf` file is its
    /// first by name.
    fn representative(&self) -> Option<&PathBuf> {
        let main_name = Some(std::ffi::OsStr::new("sysctl.conf"));
        let named = self.listings.iter().find_map(|l| {
            let at = l.binary_search_by(|p| p.file_name().cmp(&main_name)).ok()?;
            Some(&l[at])
        });
        named.or(self.main.as_ref()).or_else(|| {
            self.listings
                .iter()
                .filter_map(|l| l.iter().find(|p| is_conf(p)))
                .reduce(|a, b| if b.file_name() < a.file_name() { b } else { a })
        })
    }
}

/// Whether sysctl reads a file of a drop-in directory.
fn is_conf(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "conf")
}

/// Parses the root that `path` (whose contents are `text`) belongs to.
pub fn parse(path: &Path, text: &str, gate: &Gate) -> Result<Vec<Document>, ParseError> {
    let root = Root::of(path, gate);
    let is_representative = match root.representative() {
        Some(r) => same_file(r, path),
        None => true,
    };
    if !is_representative {
        return Ok(Vec::new());
    }
    if !root.left_out.is_empty() {
        let unread: Vec<String> = root
            .left_out
            .iter()
            .map(|d| format!("`{}`", d.display()))
            .collect();
        let top = match root.top.as_os_str() {
            t if t.is_empty() => ".".into(),
            t => t.to_string_lossy(),
        };
        return Err(ParseError::new(
            0,
            0,
            format!(
                "{} {} outside the paths named on the command line and not read, so the \
                 parameters sysctl applies are not known; name `{top}` to merge them all",
                unread.join(", "),
                if unread.len() == 1 { "is" } else { "are" },
            ),
        ));
    }
    let files = root.files();
    let mut merged = Merged::default();
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
        merged.apply(&own_text, file_index).map_err(|e| {
            if file_index == 0 {
                e
            } else {
                ParseError::new(0, 0, format!("in {}: {e}", source.display()))
            }
        })?;
    }
    Ok(vec![Document {
        included,
        ..Document::new(Node::new(Pos::line(1), Value::Map(merged.finish())))
    }])
}

/// The kernel parameters a whole filesystem root sets at boot (`root/etc/sysctl.conf` and the
/// drop-in directories under `root`), every value naming its file as an included one (`Pos::file`
/// `n` is the `n`-th path returned): the host collector's view, where no file is the target.
pub fn merge_root(root: &Path, gate: &Gate) -> Result<(Map, Vec<PathBuf>), ParseError> {
    let files = Root::of(&root.join("etc/sysctl.conf"), gate).files();
    let mut merged = Merged::default();
    for (i, source) in files.iter().enumerate() {
        let text = gate
            .read_included(source)
            .map_err(|e| ParseError::new(0, 0, format!("{}: {e}", source.display())))?;
        let index = u16::try_from(i + 1).unwrap_or(u16::MAX);
        merged
            .apply(&text, index)
            .map_err(|e| ParseError::new(0, 0, format!("in {}: {e}", source.display())))?;
    }
    Ok((merged.finish(), files))
}

/// The assignments of a root so far.
#[derive(Default)]
struct Merged {
    /// Keys assigned by name, the last assignment winning.
    explicit: Map,
    /// Glob assignments, in order.
    globs: Vec<(String, Node)>,
    /// Keys a bare `-key` line keeps globs off.
    excluded: BTreeSet<String>,
}

impl Merged {
    /// Applies one file.
    fn apply(&mut self, text: &str, file: u16) -> Result<(), ParseError> {
        for (i, raw) in text.lines().enumerate() {
            let t = raw.trim();
            if let Some(key) = t.strip_prefix('-')
                && !key.is_empty()
                && !key.contains(['=', ' ', '\t'])
            {
                self.excluded.insert(keyvalue::normalise_key(key));
                continue;
            }
            let Some(map) = keyvalue::parse_line(raw, i + 1)? else {
                continue;
            };
            let (key, mut value) = map;
            value.pos.file = file;
            if key.contains(['*', '?']) {
                self.globs.push((key.clone(), value.clone()));
            }
            match self.explicit.get_mut(&key) {
                Some(existing) => *existing = value,
                None => self.explicit.insert(key, value),
            }
        }
        Ok(())
    }

    /// The document: explicit keys, and the interface keys globs set.
    fn finish(mut self) -> Map {
        let mut from_globs: BTreeMap<String, Node> = BTreeMap::new();
        for (pattern, value) in self.globs {
            for key in interface_keys(&pattern) {
                if !self.excluded.contains(&key) {
                    from_globs.insert(key, value.clone());
                }
            }
        }
        for (key, value) in from_globs {
            if self.explicit.get(&key).is_none() {
                self.explicit.insert(key, value);
            }
        }
        self.explicit
    }
}

/// The `all` and `default` keys a glob over interface names sets (`net.ipv4.conf.*.rp_filter`);
/// a glob anywhere else names keys that only the running kernel knows, and sets none here.
fn interface_keys(pattern: &str) -> Vec<String> {
    let parts: Vec<&str> = pattern.split('.').collect();
    let Some(at) = parts
        .iter()
        .position(|p| *p == "*")
        .filter(|&i| i > 0 && matches!(parts[i - 1], "conf" | "neigh"))
    else {
        return Vec::new();
    };
    if parts.iter().skip(at + 1).any(|p| p.contains(['*', '?'])) {
        return Vec::new();
    }
    ["all", "default"]
        .iter()
        .map(|name| {
            let mut p = parts.clone();
            p[at] = name;
            p.join(".")
        })
        .collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (canonical(a), canonical(b)) {
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
        assert_eq!(docs.len(), 1);
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
    fn the_representative_is_the_first_file_named_sysctl_conf_or_else_the_first_file() {
        // Layouts of a filesystem root, as the files under it.
        let layouts: [&[&str]; 6] = [
            &[
                "etc/sysctl.conf",
                "etc/sysctl.d/10-a.conf",
                "usr/lib/sysctl.d/05-b.conf",
            ],
            &[
                "etc/sysctl.d/10-a.conf",
                "usr/lib/sysctl.d/05-b.conf",
                "usr/lib/sysctl.d/00.txt",
            ],
            &[
                "run/sysctl.d/20-x.conf",
                "usr/lib/sysctl.d/20-x.conf",
                "lib/sysctl.d/30.conf",
            ],
            &[
                "etc/sysctl.d/sysctl.conf",
                "etc/sysctl.conf",
                "etc/sysctl.d/00-a.conf",
            ],
            &["usr/lib/sysctl.d/sysctl.conf", "etc/sysctl.d/99-z.conf"],
            &["etc/sysctl.d/README", "etc/sysctl.d/a.txt"],
        ];
        for files in layouts {
            let dir = tempfile::tempdir().unwrap();
            let r = dir.path();
            for f in files {
                std::fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
                std::fs::write(r.join(f), "").unwrap();
            }
            let gate = Gate::default();
            let root = Root::of(&r.join("etc/sysctl.conf"), &gate);
            let all = root.files();
            let expected = all
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == "sysctl.conf"))
                .or_else(|| all.first());
            assert_eq!(root.representative(), expected, "{files:?}");
        }
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

    #[test]
    fn a_filesystem_root_merges_vendor_drop_ins_by_name_with_globs_as_systemd_applies_them() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let write = |rel: &str, text: &str| {
            let p = r.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        // systemd's stock file: a glob, and the `all` key kept off it.
        write(
            "usr/lib/sysctl.d/50-default.conf",
            "net.ipv4.conf.default.rp_filter = 2\nnet.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.all.rp_filter\nnet.ipv4.conf.*.accept_source_route = 0\nkernel.*_restrict = 1\n",
        );
        // Masked by /etc's file of the same name.
        write("usr/lib/sysctl.d/60-masked.conf", "fs.suid_dumpable = 2\n");
        write("etc/sysctl.d/60-masked.conf", "fs.suid_dumpable = 0\n");
        // An explicit key wins over a glob, whatever the order.
        write(
            "etc/sysctl.d/10-explicit.conf",
            "net.ipv4.conf.default.accept_source_route = 1\n",
        );
        let main = "net.ipv4.ip_forward = 0\n";
        write("etc/sysctl.conf", main);
        let gate = Gate::default();
        let docs = parse(&r.join("etc/sysctl.conf"), main, &gate).unwrap();
        let root = &docs[0].root;
        let get = |k: &str| root.get(k).and_then(|n| n.as_str()).map(str::to_string);
        assert_eq!(
            get("net.ipv4.conf.all.rp_filter"),
            None,
            "kept off the glob"
        );
        assert_eq!(get("net.ipv4.conf.default.rp_filter").as_deref(), Some("2"));
        assert_eq!(
            get("net.ipv4.conf.all.accept_source_route").as_deref(),
            Some("0")
        );
        assert_eq!(
            get("net.ipv4.conf.default.accept_source_route").as_deref(),
            Some("1"),
            "explicit beats glob"
        );
        assert_eq!(
            get("fs.suid_dumpable").as_deref(),
            Some("0"),
            "/etc masks /usr/lib"
        );
        assert_eq!(
            get("kernel.dmesg_restrict"),
            None,
            "a non-interface glob names no key"
        );
        let names: Vec<String> = docs[0]
            .included
            .iter()
            .map(|p| p.strip_prefix(r).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "etc/sysctl.d/10-explicit.conf",
                "usr/lib/sysctl.d/50-default.conf",
                "etc/sysctl.d/60-masked.conf"
            ]
        );
        for vendor in [
            "usr/lib/sysctl.d/50-default.conf",
            "etc/sysctl.d/10-explicit.conf",
        ] {
            assert!(
                parse(&r.join(vendor), "", &gate).unwrap().is_empty(),
                "{vendor}: the root is judged once, through etc/sysctl.conf"
            );
        }
        // With only `etc` named, the vendor directory is not read, and what the kernel applies is
        // not known: an error naming the directory to scan, not a verdict on `etc`'s files alone.
        let etc_only = Gate::within(vec![std::fs::canonicalize(r.join("etc")).unwrap()]);
        let error = parse(&r.join("etc/sysctl.conf"), main, &etc_only)
            .map(|docs| docs.len())
            .expect_err("vendor directories outside the named paths are not read");
        let vendor = r.join("usr/lib/sysctl.d");
        assert_eq!(
            error.message,
            format!(
                "`{}` is outside the paths named on the command line and not read, so the \
                 parameters sysctl applies are not known; name `{}` to merge them all",
                vendor.display(),
                r.display()
            )
        );
        // Nor is the main file, which sysctl applies last, when only the drop-ins are named.
        let dropins_only =
            Gate::within(vec![std::fs::canonicalize(r.join("etc/sysctl.d")).unwrap()]);
        let error = parse(&r.join("etc/sysctl.d/10-explicit.conf"), "", &dropins_only)
            .map(|docs| docs.len())
            .expect_err("the main file outside the named paths is not read");
        assert!(
            error.message.starts_with(&format!(
                "`{}`, `{}` are outside",
                vendor.display(),
                r.join("etc/sysctl.conf").display()
            )),
            "{}",
            error.message
        );
        // A root without vendor directories is judged with `etc` alone.
        std::fs::remove_dir_all(&vendor).unwrap();
        let docs = parse(&r.join("etc/sysctl.conf"), main, &etc_only).unwrap();
        assert_eq!(docs[0].included.len(), 2);
    }
}
