//! Opening a file by its name in a directory the thread opened recently.
//!
//! `open("/a/b/c/d/file")` makes the kernel look up every component of the path, and that lookup
//! was most of the cost of opening a file deep in a tree: files of one directory reach a worker
//! together, so each would walk the same components again. A worker keeps the last few directories
//! it read from open (`O_PATH`, which reads nothing and needs no permission beyond search) and
//! opens a file there with `openat`, which looks up one name.
//!
//! The file is the same one `open` would reach: the same name in the same directory, symbolic
//! links followed the same way, the same errors. A directory renamed or replaced during the scan
//! is read from where it was opened, the same race a scan of a changing tree always has.

use std::cell::RefCell;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Directories a thread keeps open: the walk hands a worker a batch of neighbouring files, which
/// come from a handful of directories (a directory's files, interrupted by its subdirectories').
const KEPT: usize = 8;

thread_local! {
    static DIRECTORIES: RefCell<Vec<(PathBuf, OwnedFd)>> = const { RefCell::new(Vec::new()) };
}

/// Opens `path` for reading with `flags` added to `O_RDONLY | O_CLOEXEC`.
pub fn open_read(path: &Path, flags: i32) -> io::Result<File> {
    let opened = in_directory(path, |dir, name| {
        // SAFETY: the directory descriptor is open and owned by the thread's list; the name is a
        // valid C string; a non-negative result is a new descriptor that nothing else owns.
        let fd =
            unsafe { libc::openat(dir, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    });
    opened.unwrap_or_else(|| plain(path, flags))
}

/// The status of the file at `path`, symbolic links followed (`stat(2)`, as
/// `std::fs::metadata`), looked up the same way.
pub fn stat(path: &Path) -> io::Result<libc::stat> {
    let looked = in_directory(path, |dir, name| {
        // SAFETY: all-zero bytes are a valid `stat`, which `fstatat` fills in.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as in `open_read`; `st` is a valid place for the result.
        if unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    });
    looked.unwrap_or_else(|| {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: as above, with the whole path.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::stat(c.as_ptr(), &mut st) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    })
}

/// What in a file's status tells whether it changed, as the `metadata` cache strategy compares
/// files: device, inode, size and mode, and the modification and change times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Device, inode, size and mode (type and permission bits).
    pub fields: [u64; 4],
    /// Last modification, in nanoseconds since the epoch.
    pub mtime: i128,
    /// Last change of the contents or the inode, in nanoseconds since the epoch.
    pub ctime: i128,
}

impl Identity {
    /// The identity in `st`.
    pub fn of(st: &libc::stat) -> Identity {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        // The field types differ between platforms: every one fits 64 bits.
        #[allow(clippy::unnecessary_cast)]
        Identity {
            fields: [
                st.st_dev as u64,
                st.st_ino as u64,
                st.st_size as u64,
                st.st_mode as u64,
            ],
            mtime: ns(st.st_mtime, st.st_mtime_nsec),
            ctime: ns(st.st_ctime, st.st_ctime_nsec),
        }
    }

    /// When the file last changed: the later of its two times.
    pub fn changed(&self) -> i128 {
        self.mtime.max(self.ctime)
    }
}

/// Runs `f` with a kept descriptor of `path`'s directory and its name there; `None` when the path
/// has no directory part, or its directory cannot be opened (the caller then lets the whole path
/// say what is wrong).
fn in_directory<T>(
    path: &Path,
    f: impl FnOnce(libc::c_int, &CString) -> io::Result<T>,
) -> Option<io::Result<T>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return None;
    };
    if dir.as_os_str().is_empty() || name.as_bytes().contains(&0) {
        return None;
    }
    DIRECTORIES.with_borrow_mut(|kept| {
        let at = match kept
            .iter()
            .rposition(|(d, _)| d.as_os_str().as_bytes() == dir.as_os_str().as_bytes())
        {
            Some(i) => i,
            None => {
                let fd = open_directory(dir).ok()?;
                if kept.len() == KEPT {
                    kept.remove(0);
                }
                kept.push((dir.to_path_buf(), fd));
                kept.len() - 1
            }
        };
        let name = CString::new(name.as_bytes()).expect("checked for NUL above");
        Some(f(kept[at].1.as_raw_fd(), &name))
    })
}

fn plain(path: &Path, flags: i32) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

fn open_directory(dir: &Path) -> io::Result<OwnedFd> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map(OwnedFd::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(path: &Path) -> io::Result<String> {
        let mut s = String::new();
        open_read(path, libc::O_NONBLOCK)?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn stats_what_stat_stats() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "12345").unwrap();
        std::os::unix::fs::symlink(&f, dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("absent"), dir.path().join("dangling")).unwrap();
        for p in [
            f.clone(),
            dir.path().join("link"),
            dir.path().join(".").join("f"),
        ] {
            let st = stat(&p).unwrap();
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!(
                (st.st_ino as u64, st.st_size as u64, st.st_mtime_nsec as i64),
                (m.ino(), m.size(), m.mtime_nsec()),
                "{}",
                p.display()
            );
        }
        for p in ["dangling", "absent", "f/below"] {
            let ours = stat(&dir.path().join(p)).unwrap_err().kind();
            let theirs = std::fs::metadata(dir.path().join(p)).unwrap_err().kind();
            assert_eq!(ours, theirs, "{p}");
        }
    }

    #[test]
    fn opens_what_open_opens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut files = Vec::new();
        for i in 0..(KEPT + 3) {
            let d = root.join(format!("d{i}"));
            std::fs::create_dir(&d).unwrap();
            for j in 0..3 {
                let f = d.join(format!("f{j}"));
                std::fs::write(&f, format!("{i}/{j}")).unwrap();
                files.push(f);
            }
        }
        std::os::unix::fs::symlink(root.join("d0/f1"), root.join("d1/link")).unwrap();
        std::os::unix::fs::symlink(root.join("d2"), root.join("dirlink")).unwrap();
        std::os::unix::fs::symlink(root.join("absent"), root.join("d3/dangling")).unwrap();
        // Twice over, and interleaved, so that kept directories are reused and evicted.
        for round in 0..2 {
            for (k, f) in files.iter().enumerate() {
                let f = if round == 1 {
                    &files[(k * 7) % files.len()]
                } else {
                    f
                };
                assert_eq!(read(f).unwrap(), std::fs::read_to_string(f).unwrap());
            }
        }
        assert_eq!(read(&root.join("d1/link")).unwrap(), "0/1");
        assert_eq!(read(&root.join("dirlink/f2")).unwrap(), "2/2");
        assert_eq!(read(&root.join("d4/../d5/f0")).unwrap(), "5/0");
        for missing in ["d3/dangling", "d3/none", "none/f0", "d0/f0/below"] {
            let ours = read(&root.join(missing)).unwrap_err();
            let theirs = std::fs::read(root.join(missing)).unwrap_err();
            assert_eq!(ours.kind(), theirs.kind(), "{missing}");
        }
        // A file that appears after its directory was kept open is found.
        std::fs::write(root.join("d0/late"), "late").unwrap();
        assert_eq!(read(&root.join("d0/late")).unwrap(), "late");
        // Relative paths and bare names go through `open`.
        assert!(read(Path::new("Cargo.toml")).unwrap().contains("[package]"));
    }
}
