//! The `host` collectors: facts about a machine, read from its root filesystem (`--root /` for the
//! live machine, `--root DIR` for a mounted image, a chroot or a container's filesystem), never by
//! running a command and never by writing.
//!
//! Each kind reads its own sources (os-release, stat of named paths, /proc/sys and the sysctl
//! files, the dpkg status database, passwd/shadow/group and login.defs, systemd unit directories,
//! /proc/mounts or fstab). Kinds whose documents are keyed by names a policy chooses (file paths,
//! sysctl keys, unit names) read only the names the loaded controls ask for (`Request::fields`),
//! so that a new control never needs Rust. What cannot be read is an error for that kind, so that
//! its controls are `error`, never `pass`.

mod accounts;
mod files;
mod limits;
mod mounts;
mod os;
mod packages;
mod services;
mod sysctl;

use std::path::{Path, PathBuf};

use super::gate::{Gate, GateError};
use super::{Collected, Collector, Document, Input, Kind, Request, Source};
use crate::doc::{Node, Pos};

/// Kinds of the host collector.
pub struct HostCollector;

const KINDS: &[Kind] = &[
    Kind {
        name: "os",
        summary: "the operating system: os-release fields (id, version_id, version_codename, name, pretty_name) and, on the live machine, kernel_release",
    },
    Kind {
        name: "file_meta",
        summary: "metadata of the absolute paths the controls name as keys (`[\"/etc/shadow\"].mode`); a key with a glob holds a list of the matches: exists, type, mode, permissions, owner, group, uid, gid, size, setuid, setgid, sticky, world_writable, symlink_target",
    },
    Kind {
        name: "filesystem",
        summary: "a walk of the root's local filesystem: world-writable files, world-writable directories without the sticky bit, files with no owner or group in the root's own passwd and group",
    },
    Kind {
        name: "sysctl_live",
        summary: "kernel parameters as the running kernel has them (/proc/sys), live machine only: keys are sysctl names",
    },
    Kind {
        name: "sysctl_persisted",
        summary: "kernel parameters as the root's sysctl.conf and sysctl.d files set them at boot, merged in `sysctl --system` order",
    },
    Kind {
        name: "packages",
        summary: "installed packages from the dpkg status database: keys are package names, each with version, architecture and status",
    },
    Kind {
        name: "accounts",
        summary: "users and groups from passwd, shadow and group, with password states, ageing fields, duplicates, uid 0 accounts, privileged group members, and login.defs settings",
    },
    Kind {
        name: "limits",
        summary: "resource limits set at login by pam_limits (limits.conf, then limits.d/*.conf): `entries`, each with domain, type, item and value",
    },
    Kind {
        name: "services",
        summary: "systemd units read from the unit directories and their .wants links: keys are unit names, each with state (enabled, disabled, static, masked) and file",
    },
    Kind {
        name: "mounts",
        summary: "mounted filesystems (/proc/mounts on the live machine, fstab under --root DIR): keys are mount points, each with device, fstype and options",
    },
];

impl Collector for HostCollector {
    fn source(&self) -> Source {
        Source::Host
    }

    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    fn known_fields(
        &self,
        kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        match kind {
            "os" => Some(os::FIELDS),

            "accounts" => Some(accounts::FIELDS),
            _ => None,
        }
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let super::Target::Host(host) = input.target else {
            return;
        };
        let root = Root::new(&host.root, &request.settings.gate);
        for kind in KINDS.iter().map(|k| k.name) {
            if !request.wants(kind) {
                continue;
            }
            let collected = match kind {
                "os" => os::collect(&root),
                "file_meta" => files::file_meta(&root, request.fields.of(kind)),
                "filesystem" => files::filesystem(&root, request.fields.of(kind)),
                "sysctl_live" => match sysctl::live(&root, request.fields.of(kind)) {
                    Ok(None) => continue,
                    Ok(Some(d)) => Ok(d),
                    Err(e) => Err(e),
                },
                "sysctl_persisted" => sysctl::persisted(&root),
                "packages" => packages::collect(&root),
                "accounts" => accounts::collect(&root),
                "limits" => limits::collect(&root),
                "services" => services::collect(&root, request.fields.of(kind)),
                "mounts" => mounts::collect(&root),
                _ => continue,
            };
            out.push(match collected {
                Ok(document) => Collected::Document {
                    kind,
                    variant: None,
                    document,
                },
                Err(message) => Collected::Error {
                    kind: Some(kind),
                    variant: None,
                    pos: None,
                    message,
                },
            });
        }
    }
}

/// The root filesystem of a host, read through the scan's gate.
pub(crate) struct Root<'a> {
    dir: &'a Path,
    gate: &'a Gate,
    /// Whether this is the running machine (`/`): only then do /proc and the live kernel count.
    live: bool,
    /// Files given in memory instead of read from `dir` (the fuzz harness).
    memory: Option<&'a [(&'a str, &'a str)]>,
}

impl<'a> Root<'a> {
    fn new(dir: &'a Path, gate: &'a Gate) -> Root<'a> {
        let live = std::fs::canonicalize(dir).is_ok_and(|d| d == Path::new("/"));
        Root {
            dir,
            gate,
            live,
            memory: None,
        }
    }

    /// The path of `abs` (an absolute path as the host sees it) inside the root, its last
    /// component not followed (as `lstat` sees it). Links in the directories above it resolve as
    /// the host would resolve them: an absolute link target starts again at the root, never at
    /// the scanning machine's `/` (a mounted image's `/lib -> /usr/lib`).
    fn path(&self, abs: &str) -> PathBuf {
        self.resolve(abs, false)
    }

    /// The path of `abs` inside the root with every link followed, the last one too.
    fn followed(&self, abs: &str) -> PathBuf {
        self.resolve(abs, true)
    }

    fn resolve(&self, abs: &str, follow_last: bool) -> PathBuf {
        use std::ffi::OsString;
        use std::path::Component;
        /// As many links as Linux follows in one lookup.
        const MAX_LINKS: usize = 40;
        let normal = |p: &Path| -> Vec<OsString> {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_os_string()),
                    Component::ParentDir => Some(OsString::from("..")),
                    _ => None,
                })
                .collect()
        };
        let mut pending: std::collections::VecDeque<OsString> = normal(Path::new(abs)).into();
        let mut resolved = PathBuf::new();
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c == ".." {
                resolved.pop();
                continue;
            }
            let candidate = resolved.join(&c);
            let last = pending.is_empty();
            if last && !follow_last {
                resolved = candidate;
                continue;
            }
            if links == MAX_LINKS {
                // Linux gives ELOOP here; handing the rest to the kernel would follow an absolute
                // link from the scanning machine's `/`. A path with a NUL byte fails every file
                // operation (InvalidInput, never "not found"), so the fact is an error.
                return self.dir.join("too many levels of symbolic links\0");
            }
            match std::fs::read_link(self.dir.join(&candidate)) {
                Ok(target) => {
                    links += 1;
                    if target.is_absolute() {
                        resolved = PathBuf::new();
                    }
                    for part in normal(&target).into_iter().rev() {
                        pending.push_front(part);
                    }
                }
                Err(_) => resolved = candidate,
            }
        }
        self.dir.join(resolved)
    }

    /// The text of `abs`, `None` when it does not exist; any other failure (permission, not a
    /// regular file, too large, a link leaving the root) is an error naming the file.
    fn read(&self, abs: &str) -> Result<Option<String>, String> {
        if let Some(files) = self.memory {
            return Ok(files
                .iter()
                .find(|(p, _)| *p == abs)
                .map(|(_, t)| t.to_string()));
        }
        match self.gate.read_included(&self.followed(abs)) {
            Ok(text) => Ok(Some(text)),
            Err(GateError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {abs}: {e}")),
        }
    }

    /// The text of `abs`, which must exist.
    fn read_required(&self, abs: &str) -> Result<String, String> {
        self.read(abs)?
            .ok_or_else(|| format!("cannot read {abs}: it does not exist"))
    }
}

/// Runs the readers of host files (os-release, dpkg status, passwd, shadow, group, login.defs,
/// fstab, limits.conf) over `files`, given in memory as (host path, text): the fuzz harness.
pub fn read_in_memory(files: &[(&str, &str)]) -> Vec<Result<Document, String>> {
    let gate = Gate::default();
    let root = Root {
        dir: Path::new("/nonexistent-vigil-fuzz-root"),
        gate: &gate,
        live: false,
        memory: Some(files),
    };
    vec![
        os::collect(&root),
        packages::collect(&root),
        accounts::collect(&root),
        mounts::collect(&root),
        limits::collect(&root),
    ]
}

/// A document whose values name the files they came from (`files`, as host paths): `Pos::file`
/// `n` is `files[n - 1]`.
fn document(root: Node, files: Vec<String>) -> Document {
    Document {
        included: files.into_iter().map(PathBuf::from).collect(),
        ..Document::new(root)
    }
}

/// The position of line `line` of the `n`-th (1-based) file of a document.
fn at(file: u16, line: usize) -> Pos {
    Pos {
        file,
        ..Pos::line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mounted image's absolute links resolve inside the image, never on the scanning machine.
    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("usr/lib/systemd")).unwrap();
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(d.join("usr/lib/os-release"), "ID=inside\n").unwrap();
        std::os::unix::fs::symlink("/usr/lib", d.join("lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib/os-release", d.join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", d.join("usr/lib/escape")).unwrap();
        let gate = Gate::for_paths(&[d.to_path_buf()], 1 << 20);
        let root = Root::new(d, &gate);
        assert!(!root.live);
        assert_eq!(root.followed("/lib/systemd"), d.join("usr/lib/systemd"));
        assert_eq!(root.path("/etc/os-release"), d.join("etc/os-release"));
        assert_eq!(
            root.followed("/etc/os-release"),
            d.join("usr/lib/os-release")
        );
        assert_eq!(
            root.read("/etc/os-release").unwrap().as_deref(),
            Some("ID=inside\n")
        );
        // `..` stops at the root, as it does at `/`.
        assert_eq!(root.followed("/lib/escape"), d.join("etc"));
        assert_eq!(root.read("/etc/missing").unwrap(), None);
        // A chain of links longer than Linux follows is an error, not the machine's own file.
        std::os::unix::fs::symlink("/loop", d.join("loop")).unwrap();
        let e = root.read("/loop/passwd").unwrap_err();
        assert!(e.contains("cannot read /loop/passwd"), "{e}");
    }
}
