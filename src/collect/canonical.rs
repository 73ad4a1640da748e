//! Canonical paths without a `readlink(2)` per component each time.
//!
//! `std::fs::canonicalize` is `realpath(3)`, which resolves a path one component at a time with a
//! `readlink` each: eight system calls for a file eight directories deep. The gate and the config
//! readers canonicalize the files of every config they read (is an include inside the named paths?
//! is this site the one `nginx.conf` includes?), so on a large tree those calls were a twentieth of
//! the scan's time. Here a file's directory is resolved once per thread and remembered, and the file
//! itself costs one `lstat`: only a file that is itself a symbolic link is resolved in full, and a
//! directory not yet known costs one `lstat` more, its parent being resolved the same way.
//!
//! The answer is the one `realpath` gives at the time the directory was first resolved; a directory
//! renamed or replaced by a link while the scan runs can leave a stale answer for the rest of that
//! scan, as a path resolved once and used later always could.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How many directories a thread remembers before it starts over (bounded memory on any tree).
const REMEMBERED_DIRECTORIES: usize = 4096;

/// How many unknown directories up a path is resolved through parents before `realpath` takes
/// over: a tree nested thousands of directories deep must not run a thread out of stack.
const MAX_DEPTH: usize = 64;

thread_local! {
    static DIRECTORIES: RefCell<HashMap<PathBuf, PathBuf>> = RefCell::new(HashMap::new());
}

/// The absolute path `path` names with every link, `.` and `..` resolved, as
/// `std::fs::canonicalize` gives it; an error when it does not exist.
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    resolve(path, 0)
}

/// [`canonical`], `depth` unknown directories below the path asked for.
fn resolve(path: &Path, depth: usize) -> io::Result<PathBuf> {
    let (Some(dir), Some(Component::Normal(name))) = (path.parent(), path.components().next_back())
    else {
        return std::fs::canonicalize(path);
    };
    // `a/b/.` and `a/b/` name `b` through `b` itself, link or not: leave those to realpath.
    let bytes = path.as_os_str().as_bytes();
    let plain = !(bytes.ends_with(b"/") || bytes.ends_with(b"/."));
    if dir.as_os_str().is_empty() || !plain || depth > MAX_DEPTH {
        return std::fs::canonicalize(path);
    }
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return std::fs::canonicalize(path);
    }
    Ok(directory(dir, depth)?.join(name))
}

/// The canonical form of the directory `dir`, remembered per thread. A directory not yet known is
/// resolved the same way, through its own parent: one `lstat` per directory on the way up to one
/// already known, where `realpath` made a `readlink` for every component of it.
fn directory(dir: &Path, depth: usize) -> io::Result<PathBuf> {
    if let Some(known) = DIRECTORIES.with(|d| d.borrow().get(dir).cloned()) {
        return Ok(known);
    }
    let real = resolve(dir, depth + 1)?;
    DIRECTORIES.with(|d| {
        let mut d = d.borrow_mut();
        if d.len() >= REMEMBERED_DIRECTORIES {
            d.clear();
        }
        d.insert(dir.to_path_buf(), real.clone());
    });
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_realpath_through_links_dots_and_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        std::fs::write(root.join("real/sub/file.conf"), "x").unwrap();
        std::fs::write(root.join("outside.conf"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("dirlink")).unwrap();
        std::os::unix::fs::symlink(root.join("outside.conf"), root.join("real/sub/filelink"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("gone"), root.join("real/dangling")).unwrap();
        let cases = [
            "real/sub/file.conf",
            "dirlink/sub/file.conf",
            "real/sub/filelink",
            "dirlink/sub/filelink",
            "real/sub/../sub/file.conf",
            "dirlink/sub/../sub/file.conf",
            "dirlink/sub/../../real/sub/filelink",
            "real/sub/./file.conf",
            "real/sub/.",
            "dirlink/.",
            "dirlink/",
            "dirlink",
            "real/sub/..",
            "real/sub/missing.conf",
            "real/dangling",
            "missing/file.conf",
        ];
        // Twice: the second round answers from the remembered directories.
        for _ in 0..2 {
            for case in cases {
                let path = root.join(case);
                let want = std::fs::canonicalize(&path).ok();
                assert_eq!(canonical(&path).ok(), want, "{case}");
            }
        }
        let deep: PathBuf = std::iter::once(root.to_path_buf())
            .chain((0..2 * MAX_DEPTH).map(|_| PathBuf::from("d")))
            .collect();
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("f.conf"), "x").unwrap();
        assert_eq!(
            canonical(&deep.join("f.conf")).unwrap(),
            std::fs::canonicalize(deep.join("f.conf")).unwrap()
        );
        assert_eq!(
            canonical(&root.join("dirlink/sub/filelink")).unwrap(),
            std::fs::canonicalize(root.join("outside.conf")).unwrap()
        );
    }
}
