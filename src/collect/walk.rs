//! The file walk: every path named on the command line, expanded into a sorted list of files.
//!
//! The walk only lists; it reads nothing. Symbolic links are not followed unless asked; then
//! loops are detected and reported, not followed forever, and a link that leads out of the paths
//! the user named is not followed (a scan of a tree must not wander into the rest of the machine).
//! The kernel's pseudo-filesystems (`/proc`, `/sys`, `/dev`) are not entered unless a path named
//! on the command line is inside them. Whatever cannot be listed is kept as an entry with its
//! error, so the engine can turn it into an `error` finding for the controls that would have judged
//! it.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// How to walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Follow symbolic links (with loop detection).
    pub follow_symlinks: bool,
    /// Only files matching one of these globs are kept (all when empty).
    pub include: Vec<String>,
    /// Files and directories matching one of these globs are skipped.
    pub exclude: Vec<String>,
}

/// One walked file, or a path that could not be walked.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path as it can be opened.
    pub path: PathBuf,
    /// The path as shown in results: as given on the command line, joined with the walked part,
    /// without a leading `./`. Non-UTF-8 bytes are shown as U+FFFD.
    pub display: String,
    /// The path relative to the root it was found under (equal to `display` for a root that is a
    /// file).
    pub relative: String,
    /// What the walk found.
    pub kind: EntryKind,
}

/// What the walk found at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file. Its size is taken when it is opened, not during the walk, so that the walk
    /// itself makes no `stat` call per file and stays cheap enough to overlap with the reading.
    File,
    /// A symbolic link that was not followed.
    Symlink,
    /// The path could not be walked: a broken link, a loop, a permission error.
    Error(String),
}

/// An error that stops the scan before it starts (a path on the command line that does not exist,
/// an invalid glob).
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A command-line path does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Root {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An `--include` or `--exclude` glob is invalid.
    #[error("invalid glob `{glob}`: {message}")]
    Glob {
        /// The glob as given.
        glob: String,
        /// Why.
        message: String,
    },
}

/// Compiles globs the way every glob in vigil is compiled: `*` stays within one path component,
/// `**` crosses components.
pub fn glob_set(globs: &[String]) -> Result<GlobSet, WalkError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map_err(|e| WalkError::Glob {
                glob: g.clone(),
                message: e.kind().to_string(),
            })?;
        b.add(glob);
    }
    b.build().map_err(|e| WalkError::Glob {
        glob: globs.join(", "),
        message: e.to_string(),
    })
}

/// Why an entry listed by the walk could not be read: it was removed in the meantime. Its contents
/// are not known, so the controls that would have judged it get an `error`, as for any target that
/// could not be read.
pub const VANISHED: &str =
    "removed during the scan: it was listed, then gone before it could be read";

/// Walks every root: roots in the order given, each tree in sorted order. Every root is checked
/// before anything is returned, so a missing path fails the scan at once; the trees themselves are
/// walked lazily, as the caller consumes the entries.
pub fn walk(
    roots: &[PathBuf],
    opts: &WalkOptions,
) -> Result<impl Iterator<Item = Entry> + Send + use<>, WalkError> {
    let include = Arc::new(glob_set(&opts.include)?);
    let exclude = Arc::new(glob_set(&opts.exclude)?);
    let mut checked = Vec::new();
    for root in roots {
        std::fs::symlink_metadata(root).map_err(|source| WalkError::Root {
            path: root.display().to_string(),
            source,
        })?;
        let root_is_dir = std::fs::metadata(root).map(|m| m.is_dir()).unwrap_or(false);
        checked.push((root.clone(), root_is_dir));
    }
    let follow = opts.follow_symlinks;
    // Where the named paths really are: a followed link must lead inside one of them.
    let real_roots: Arc<Vec<PathBuf>> = Arc::new(
        checked
            .iter()
            .filter_map(|(r, _)| std::fs::canonicalize(r).ok())
            .collect(),
    );
    Ok(checked.into_iter().flat_map(move |(root, root_is_dir)| {
        let (include, exclude) = (include.clone(), exclude.clone());
        let filter_root = root.clone();
        let real_roots = real_roots.clone();
        let pseudo_ok = std::fs::canonicalize(&root)
            .map(|r| PSEUDO_FILESYSTEMS.iter().any(|p| r.starts_with(p)))
            .unwrap_or(false);
        // Links the filter declined to follow, reported in walk order before the next entry.
        let declined: Arc<Mutex<VecDeque<PathBuf>>> = Arc::default();
        let declined_by_filter = declined.clone();
        let entries = walkdir::WalkDir::new(&root)
            .follow_links(follow)
            .follow_root_links(true)
            // By file name. Siblings' paths are their directory's path joined with their names, so
            // comparing whole paths orders them as their names would; walkdir's
            // `sort_by_file_name` finds each name again at every comparison (1.5% of a scan).
            .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()))
            .into_iter()
            .filter_entry(move |e| {
                if e.depth() == 0 {
                    return true;
                }
                if !exclude.is_empty() {
                    let (display, rel) = names(&filter_root, e.path(), root_is_dir);
                    if exclude.is_match(&display) || exclude.is_match(&rel) {
                        return false;
                    }
                }
                if e.file_type().is_dir()
                    && !pseudo_ok
                    && is_pseudo_filesystem(e.path(), e.path_is_symlink())
                {
                    return false;
                }
                if follow && e.path_is_symlink() && !leads_inside(e.path(), &real_roots) {
                    let mut d = declined_by_filter.lock().expect("not poisoned");
                    d.push_back(e.path().to_path_buf());
                    return false;
                }
                true
            });
        Declined {
            inner: entries,
            declined,
            held: None,
        }
        .filter_map(move |item| match item {
            Walked::Item(item) => entry(&root, root_is_dir, &include, item),
            Walked::Declined(path) => {
                let (display, relative) = names(&root, &path, root_is_dir);
                Some(Entry {
                    path,
                    display,
                    relative,
                    kind: EntryKind::Symlink,
                })
            }
        })
    }))
}

/// Why a special file named on the command line is not read.
fn special_file(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO, not a regular file: it is never read (reading it could block the scan)"
    } else if ft.is_socket() {
        "a socket, not a regular file: it is never read"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device, not a regular file: it is never read"
    } else {
        "not a regular file: it is never read"
    }
}

/// The kernel's pseudo-filesystems: endless or live-changing files, and devices.
const PSEUDO_FILESYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Whether the directory at `dir` (a symbolic link when `is_link`) is one of them. A directory that
/// is not a link has its own name as the last component of its canonical path, so only one named
/// `proc`, `sys` or `dev`, or a link, needs resolving: resolving every directory of a tree cost
/// a `readlink` per component of each.
fn is_pseudo_filesystem(dir: &Path, is_link: bool) -> bool {
    let named_like_one = || {
        dir.file_name()
            .is_some_and(|n| PSEUDO_FILESYSTEMS.iter().any(|p| Path::new(p).ends_with(n)))
    };
    (is_link || named_like_one())
        && super::canonical::canonical(dir)
            .map(|d| PSEUDO_FILESYSTEMS.iter().any(|p| d == Path::new(p)))
            .unwrap_or(false)
}

/// Whether the link at `path` resolves to somewhere inside one of `roots`.
fn leads_inside(path: &Path, roots: &[PathBuf]) -> bool {
    match std::fs::canonicalize(path) {
        Ok(real) => roots.iter().any(|r| real.starts_with(r)),
        // A broken link: let the walk report it.
        Err(_) => true,
    }
}

/// A walk item, or a link the filter declined to follow.
enum Walked {
    Item(walkdir::Result<walkdir::DirEntry>),
    Declined(PathBuf),
}

/// Puts the links declined while looking for the next item before that item.
struct Declined<I> {
    inner: I,
    declined: Arc<Mutex<VecDeque<PathBuf>>>,
    held: Option<walkdir::Result<walkdir::DirEntry>>,
}

impl<I: Iterator<Item = walkdir::Result<walkdir::DirEntry>>> Iterator for Declined<I> {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
        if self.held.is_none() {
            self.held = self.inner.next();
        }
        if let Some(path) = self.declined.lock().expect("not poisoned").pop_front() {
            return Some(Walked::Declined(path));
        }
        self.held.take().map(Walked::Item)
    }
}

/// Turns one walkdir item into an entry; `None` for directories, special files and paths left out
/// by `--include`.
fn entry(
    root: &Path,
    root_is_dir: bool,
    include: &GlobSet,
    item: walkdir::Result<walkdir::DirEntry>,
) -> Option<Entry> {
    match item {
        Ok(e) => {
            let ft = e.file_type();
            if ft.is_dir() {
                return None;
            }
            let (display, relative) = names(root, e.path(), root_is_dir);
            if !include.is_empty() && !include.is_match(&display) && !include.is_match(&relative) {
                return None;
            }
            let kind = if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_file() {
                EntryKind::File
            } else if e.depth() == 0 {
                // Named on the command line: say why nothing was read.
                EntryKind::Error(special_file(ft).to_string())
            } else {
                // Sockets, FIFOs, devices inside a tree: never read (a FIFO would block the scan).
                return None;
            };
            Some(Entry {
                path: e.into_path(),
                display,
                relative,
                kind,
            })
        }
        Err(err) => {
            let path = err.path()?.to_path_buf();
            let message = match err.loop_ancestor() {
                Some(a) => format!("symbolic link loop back to {}", a.display()),
                None => match err.io_error() {
                    Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
                        // A link followed to nothing, or an entry removed between the listing of
                        // its directory and its own reading (a live tree changing under the scan):
                        // a directory, or with `--follow-symlinks` any entry.
                        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
                            "broken symbolic link: its target does not exist".to_string()
                        } else {
                            VANISHED.to_string()
                        }
                    }
                    Some(io) => io.to_string(),
                    None => err.to_string(),
                },
            };
            let (display, relative) = names(root, &path, root_is_dir);
            Some(Entry {
                path,
                display,
                relative,
                kind: EntryKind::Error(message),
            })
        }
    }
}

fn names(root: &Path, path: &Path, root_is_dir: bool) -> (String, String) {
    let lossy = path.to_string_lossy();
    let display = lossy.strip_prefix("./").unwrap_or(&lossy).to_string();
    if !root_is_dir {
        let relative = display.clone();
        return (display, relative);
    }
    let relative = match below(root, path) {
        // Valid UTF-8 throughout: the same bytes at the end of `lossy`. Otherwise converted on
        // their own, as they are in `lossy` (they follow a `/`, where no sequence is cut).
        Some(rest) => match &lossy {
            Cow::Borrowed(whole) => whole[whole.len() - rest.len()..].to_string(),
            Cow::Owned(_) => String::from_utf8_lossy(rest).into_owned(),
        },
        None => path
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().to_string())
            .unwrap_or_else(|_| display.clone()),
    };
    (display, relative)
}

/// The bytes of `path` after `root` and the `/` that follows it, when `path` is spelt as the
/// root's own bytes joined with plain names, as the walk makes every path below a root. Then they
/// are what `path.strip_prefix(root)` gives; anything else gives `None`, and the caller compares
/// components instead.
fn below<'p>(root: &Path, path: &'p Path) -> Option<&'p [u8]> {
    use std::os::unix::ffi::OsStrExt;
    let (root, path) = (root.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    let rest = path.strip_prefix(root)?;
    let rest = if root.ends_with(b"/") {
        rest
    } else {
        rest.strip_prefix(b"/")?
    };
    rest.split(|&b| b == b'/')
        .all(|name| !name.is_empty() && name != b"." && name != b"..")
        .then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_agree_with_components() {
        use std::os::unix::ffi::OsStrExt;
        // The shape of the old computation, by components, for every spelling of a root.
        let by_components = |root: &Path, path: &Path| {
            path.strip_prefix(root)
                .map(|r| r.to_string_lossy().to_string())
                .unwrap()
        };
        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let roots = [
            ".", "./", "./dir", "dir", "dir/", "dir//", "dir/.", "/abs/dir", "/", "a/../b",
        ];
        for root in roots.map(Path::new) {
            for below in ["x", "sub/x.yaml", "a/b/c"] {
                let path = root.join(below);
                assert_eq!(
                    names(root, &path, true).1,
                    by_components(root, &path),
                    "{root:?} {path:?}"
                );
                let path = root.join(odd).join(below);
                assert_eq!(names(root, &path, true).1, by_components(root, &path));
            }
            let odd_root = root.join(odd);
            let path = odd_root.join("x");
            assert_eq!(
                names(&odd_root, &path, true).1,
                by_components(&odd_root, &path)
            );
        }
        assert_eq!(
            names(Path::new("./d"), Path::new("./d/x"), true),
            ("d/x".to_string(), "x".to_string())
        );
        assert_eq!(
            names(Path::new("f.conf"), Path::new("./f.conf"), false),
            ("f.conf".to_string(), "f.conf".to_string())
        );
    }

    #[test]
    fn sorted_walk_with_excludes_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/vendor")).unwrap();
        std::fs::write(d.join("b/z.txt"), "z").unwrap();
        std::fs::write(d.join("a.txt"), "a").unwrap();
        std::fs::write(d.join("b/vendor/v.txt"), "v").unwrap();
        std::os::unix::fs::symlink(d.join("a.txt"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("missing"), d.join("broken")).unwrap();
        let opts = WalkOptions {
            exclude: vec!["**/vendor".into()],
            ..WalkOptions::default()
        };
        let entries: Vec<Entry> = walk(&[d.to_path_buf()], &opts).unwrap().collect();
        let rel: Vec<(&str, &EntryKind)> = entries
            .iter()
            .map(|e| (e.relative.as_str(), &e.kind))
            .collect();
        assert_eq!(
            rel,
            vec![
                ("a.txt", &EntryKind::File),
                ("b/z.txt", &EntryKind::File),
                ("broken", &EntryKind::Symlink),
                ("link", &EntryKind::Symlink),
            ]
        );
    }

    #[test]
    fn following_reports_loops_and_broken_links() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink(d, d.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(d.join("missing"), d.join("broken")).unwrap();
        let opts = WalkOptions {
            follow_symlinks: true,
            ..WalkOptions::default()
        };
        let entries: Vec<Entry> = walk(&[d.to_path_buf()], &opts).unwrap().collect();
        let errors: Vec<(&str, &str)> = entries
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Error(m) => Some((e.relative.as_str(), m.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, "broken");
        assert!(errors[0].1.contains("broken symbolic link"));
        assert_eq!(errors[1].0, "sub/up");
        assert!(errors[1].1.contains("loop"));
    }

    #[test]
    fn followed_links_stay_inside_the_named_paths_and_out_of_pseudo_filesystems() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("elsewhere.txt"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("a")).unwrap();
        std::fs::write(d.join("a/inside.txt"), "x").unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("alias")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.join("out")).unwrap();
        std::os::unix::fs::symlink("/proc/self", d.join("proc")).unwrap();
        let opts = WalkOptions {
            follow_symlinks: true,
            ..WalkOptions::default()
        };
        let entries: Vec<(String, EntryKind)> = walk(&[d.to_path_buf()], &opts)
            .unwrap()
            .map(|e| (e.relative, e.kind))
            .collect();
        assert_eq!(
            entries,
            [
                ("a/inside.txt".to_string(), EntryKind::File),
                ("alias/inside.txt".to_string(), EntryKind::File),
                ("out".to_string(), EntryKind::Symlink),
                ("proc".to_string(), EntryKind::Symlink),
            ]
        );
        assert!(is_pseudo_filesystem(Path::new("/proc"), false));
        assert!(!is_pseudo_filesystem(d, false));
        // A link to a pseudo-filesystem is one whatever its name; a directory is one only by its name.
        std::os::unix::fs::symlink("/proc", d.join("kernel-view")).unwrap();
        assert!(is_pseudo_filesystem(&d.join("kernel-view"), true));
        std::fs::create_dir(d.join("sys")).unwrap();
        assert!(!is_pseudo_filesystem(&d.join("sys"), false));
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(walk(&[PathBuf::from("/nonexistent/x")], &WalkOptions::default()).is_err());
    }
}
