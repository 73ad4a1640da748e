//! The file walk: every path named on the command line, expanded into a sorted list of files.
//!
//! The walk only lists; it reads nothing. Symbolic links are not followed unless asked (and then
//! loops are detected and reported, not followed forever). Whatever cannot be listed is kept as an
//! entry with its error, so the engine can turn it into an `error` finding for the controls that
//! would have judged it.

use std::path::{Path, PathBuf};

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
    /// A regular file of this many bytes.
    File {
        /// Size from the file's metadata.
        size: u64,
    },
    /// A symbolic link that was not followed.
    Symlink,
    /// The path could not be walked: a broken link, a loop, a permission error.
    Error(String),
}

/// Counts of what the walk saw, reported in the results' inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Regular files found.
    pub files: u64,
    /// Symbolic links not followed.
    pub symlinks_skipped: u64,
    /// Files and directories left out by `--exclude` or `--include`.
    pub excluded: u64,
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

/// Walks every root and returns the entries, roots in the order given, each tree in sorted order.
pub fn walk(roots: &[PathBuf], opts: &WalkOptions) -> Result<(Vec<Entry>, WalkStats), WalkError> {
    let include = glob_set(&opts.include)?;
    let exclude = glob_set(&opts.exclude)?;
    let mut entries = Vec::new();
    let mut stats = WalkStats::default();
    for root in roots {
        std::fs::symlink_metadata(root).map_err(|source| WalkError::Root {
            path: root.display().to_string(),
            source,
        })?;
        let root_is_dir = std::fs::metadata(root).map(|m| m.is_dir()).unwrap_or(false);
        let excluded = |p: &Path| {
            let (display, rel) = names(root, p, root_is_dir);
            exclude.is_match(&display) || exclude.is_match(&rel)
        };
        let walker = walkdir::WalkDir::new(root)
            .follow_links(opts.follow_symlinks)
            .follow_root_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !excluded(e.path()));
        for item in walker {
            match item {
                Ok(e) => {
                    let ft = e.file_type();
                    if ft.is_dir() {
                        continue;
                    }
                    let (display, relative) = names(root, e.path(), root_is_dir);
                    if !include.is_empty()
                        && !include.is_match(&display)
                        && !include.is_match(&relative)
                    {
                        stats.excluded += 1;
                        continue;
                    }
                    let kind = if ft.is_symlink() {
                        stats.symlinks_skipped += 1;
                        EntryKind::Symlink
                    } else if ft.is_file() {
                        stats.files += 1;
                        match e.metadata() {
                            Ok(m) => EntryKind::File { size: m.len() },
                            Err(err) => EntryKind::Error(err.to_string()),
                        }
                    } else {
                        // Sockets, FIFOs, devices: never read (a FIFO would block the scan).
                        continue;
                    };
                    entries.push(Entry {
                        path: e.path().to_path_buf(),
                        display,
                        relative,
                        kind,
                    });
                }
                Err(err) => {
                    let Some(path) = err.path().map(Path::to_path_buf) else {
                        continue;
                    };
                    let message = match err.loop_ancestor() {
                        Some(a) => format!("symbolic link loop back to {}", a.display()),
                        None => match err.io_error() {
                            Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
                                "broken symbolic link: its target does not exist".to_string()
                            }
                            Some(io) => io.to_string(),
                            None => err.to_string(),
                        },
                    };
                    let (display, relative) = names(root, &path, root_is_dir);
                    entries.push(Entry {
                        path,
                        display,
                        relative,
                        kind: EntryKind::Error(message),
                    });
                }
            }
        }
    }
    Ok((entries, stats))
}

fn names(root: &Path, path: &Path, root_is_dir: bool) -> (String, String) {
    let display = path.to_string_lossy();
    let display = display.strip_prefix("./").unwrap_or(&display).to_string();
    let relative = if root_is_dir {
        path.strip_prefix(root)
            .map(|r| r.to_string_lossy().to_string())
            .unwrap_or_else(|_| display.clone())
    } else {
        display.clone()
    };
    (display, relative)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (entries, stats) = walk(&[d.to_path_buf()], &opts).unwrap();
        let rel: Vec<(&str, &EntryKind)> = entries
            .iter()
            .map(|e| (e.relative.as_str(), &e.kind))
            .collect();
        assert_eq!(
            rel,
            vec![
                ("a.txt", &EntryKind::File { size: 1 }),
                ("b/z.txt", &EntryKind::File { size: 1 }),
                ("broken", &EntryKind::Symlink),
                ("link", &EntryKind::Symlink),
            ]
        );
        assert_eq!(stats.symlinks_skipped, 2);
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
        let (entries, _) = walk(&[d.to_path_buf()], &opts).unwrap();
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
    fn missing_root_is_an_error() {
        assert!(walk(&[PathBuf::from("/nonexistent/x")], &WalkOptions::default()).is_err());
    }
}
