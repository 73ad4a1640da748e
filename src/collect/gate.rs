//! The one gate every file the scan opens goes through, whether the walk found it or a config
//! reached it through `Include`, `include` or a drop-in directory: regular files only (a FIFO
//! would block the scan, `/dev/zero` never ends), opened without blocking, no larger than
//! `--max-file-size`, and, for files a config pulls in, inside the paths the user named: the content
//! of `/etc/shadow` must not reach a report because a scanned file includes it.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::parallel::Remembered;

thread_local! {
    /// What this thread's collectors learnt about files beside their target, while recorded, and
    /// how a `Read` is answered meanwhile.
    static SEEN_BESIDE: RefCell<Option<(Reads, Vec<Observation>)>> = const { RefCell::new(None) };
}

/// How the answer to a [`Question::Read`] is taken, when recorded and when asked again: the two
/// must agree for an unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// From the text read: any change to its bytes is seen.
    Text,
    /// From the file's status (device, inode, size, modification and change times, type and mode),
    /// as the `metadata` cache strategy judges the files themselves, so that asking again reads
    /// nothing. A file whose status changed at or after `settled_before` (ns since the epoch) when
    /// it was recorded gets an answer no later asking gives: a change in the same tick of its clock
    /// would go unseen.
    Status {
        /// Changes from this instant on are too recent to be trusted.
        settled_before: i128,
    },
}

/// The recorded answer of a file too recently changed: never the digest of a status.
const UNSETTLED: [u8; 16] = [0xfe; 16];

/// Something a collector learnt through the gate about a file or directory beside its target: a
/// target's verdicts depend on these too, so the verdict cache keeps them with the verdicts and
/// asks the gate again ([`Gate::observe`]) before reusing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// What was asked.
    pub question: Question,
    /// About which path.
    pub path: PathBuf,
    /// A digest of the answer.
    pub answer: [u8; 16],
}

/// The questions a collector may ask the gate about other files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    /// [`Gate::read_included`]: the file's text, or why it could not be read.
    Read,
    /// [`Gate::reaches`]: whether a config may read it, and whether it is a file or a directory.
    Reaches,
    /// [`Gate::files_in`]: the regular files of a directory.
    Files,
}

impl Question {
    /// Its number in the cache file.
    pub fn number(self) -> u8 {
        match self {
            Question::Read => 0,
            Question::Reaches => 1,
            Question::Files => 2,
        }
    }

    /// The question numbered `n`.
    pub fn from_number(n: u8) -> Option<Question> {
        [Question::Read, Question::Reaches, Question::Files]
            .into_iter()
            .find(|q| q.number() == n)
    }
}

/// Starts recording, on this thread, what collectors learn beside their target, answering reads
/// as `reads` says.
pub fn record_beside(reads: Reads) {
    SEEN_BESIDE.with_borrow_mut(|seen| *seen = Some((reads, Vec::new())));
}

/// Stops recording and gives what was learnt since [`record_beside`].
pub fn recorded_beside() -> Vec<Observation> {
    SEEN_BESIDE
        .with_borrow_mut(Option::take)
        .map(|(_, seen)| seen)
        .unwrap_or_default()
}

/// Records the answer to `question` about `path`, computed only while recording: a scan without
/// a cache pays nothing for it.
fn seen(question: Question, path: &Path, answer: impl FnOnce(Reads) -> [u8; 16]) {
    let Some(reads) = SEEN_BESIDE.with_borrow(|seen| seen.as_ref().map(|(reads, _)| *reads)) else {
        return;
    };
    let answer = answer(reads);
    SEEN_BESIDE.with_borrow_mut(|seen| {
        if let Some((_, seen)) = seen {
            seen.push(Observation {
                question,
                path: path.to_path_buf(),
                answer,
            });
        }
    });
}

fn digest(parts: &[&[u8]]) -> [u8; 16] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// The owner and permission bits of a file, from the descriptor it was read through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// What may be opened.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The largest file read.
    pub max_file_size: u64,
    /// Where included files may be read from: each directory named on the command line, and the
    /// directory of each file named (its drop-ins sit next to it). Canonical paths; empty means
    /// anywhere (a library caller that names no roots).
    pub roots: Vec<PathBuf>,
    /// What this gate has found out about directories during its scan.
    recalled: Recalled,
}

/// Most paths a gate remembers an answer about; past it, it starts again.
const RECALLED_PATHS: usize = 4096;

/// What a gate has found out about directories during its scan, so that the filesystem is asked
/// once per scan: every file of a host asks about the host's drop-in and include directories,
/// which a root with forty sysctl drop-ins listed forty-one times. The directories do not change
/// between files of one scan as far as its verdicts go. A new gate, or a clone, starts with
/// nothing: the answers hold for one scan and one set of roots. What the cache records is
/// unchanged: each asking is still recorded for the file that asked.
///
/// Paths are kept as their bytes (`OsString`): `Path` hashes and compares component by component,
/// which cost more than the lookups spared on a tree where most paths are asked about once.
struct Recalled {
    /// Whether a path lies inside the roots (its canonical path: an `lstat` at least).
    inside: Remembered<OsString, bool>,
    /// The regular files of a directory.
    files: Remembered<OsString, Listing>,
}

/// The regular files of a directory, by name, and the digest the cache records of them, taken once:
/// each drop-in of a root records the root's listings.
type Listing = (Arc<[PathBuf]>, Arc<OnceLock<[u8; 16]>>);

impl Default for Recalled {
    fn default() -> Recalled {
        Recalled {
            inside: Remembered::new(RECALLED_PATHS),
            files: Remembered::new(RECALLED_PATHS),
        }
    }
}

impl Clone for Recalled {
    /// Nothing: a clone may be given other roots.
    fn clone(&self) -> Recalled {
        Recalled::default()
    }
}

impl std::fmt::Debug for Recalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recalled")
    }
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A FIFO, socket, device or directory.
    #[error("not a regular file ({0}); it is never read")]
    NotRegular(&'static str),
    /// Larger than `--max-file-size`.
    #[error("{size} bytes, above the --max-file-size limit of {limit} bytes; it was not read")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An included file outside the named paths.
    #[error(
        "outside the paths named on the command line, so it was not read (name it to judge it)"
    )]
    Outside,
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
}

/// The largest file read when no other limit is given (`--max-file-size`): 64 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            roots: Vec::new(),
            recalled: Recalled::default(),
        }
    }
}

impl Gate {
    /// A gate for a scan of `paths`.
    pub fn for_paths(paths: &[PathBuf], max_file_size: u64) -> Gate {
        let roots = paths
            .iter()
            .filter_map(|p| {
                let real = std::fs::canonicalize(p).ok()?;
                if real.is_dir() {
                    Some(real)
                } else {
                    real.parent().map(Path::to_path_buf)
                }
            })
            .collect();
        Gate {
            max_file_size,
            roots,
            recalled: Recalled::default(),
        }
    }

    /// A gate that lets configs read inside `roots` (canonical directories) alone, with the
    /// default size limit.
    pub fn within(roots: Vec<PathBuf>) -> Gate {
        Gate {
            roots,
            ..Gate::default()
        }
    }

    /// Whether `path` lies inside the named paths, or none were named.
    fn inside(&self, path: &Path) -> bool {
        self.roots.is_empty()
            || self.recalled.inside.get_or(path.as_os_str(), || {
                super::canonical::canonical(path)
                    .is_ok_and(|real| self.roots.iter().any(|r| real.starts_with(r)))
            })
    }

    /// Whether a file or directory at `path` lies inside the named paths (any path when none were
    /// named), so that a config may read it.
    pub fn reaches(&self, path: &Path) -> bool {
        let inside = self.inside(path);
        seen(Question::Reaches, path, |_| {
            // What it is, too: the callers go on to ask `is_file` or list it.
            let what = match std::fs::metadata(path) {
                Ok(m) if m.is_file() => 1,
                Ok(m) if m.is_dir() => 2,
                Ok(_) => 3,
                Err(_) => 0,
            };
            digest(&[&[u8::from(inside), what]])
        });
        inside
    }

    /// The regular files (links followed) of the directory `dir`, by name; none when it cannot be
    /// listed. The caller asks [`Gate::reaches`] of the directory first.
    pub fn files_in(&self, dir: &Path) -> Arc<[PathBuf]> {
        let (files, recorded) = self.recalled.files.get_or(dir.as_os_str(), || {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            (Arc::from(files), Arc::default())
        });
        seen(Question::Files, dir, |_| {
            *recorded.get_or_init(|| {
                use std::os::unix::ffi::OsStrExt;
                let names: Vec<&[u8]> = files
                    .iter()
                    .filter_map(|f| f.file_name())
                    .map(|n| n.as_bytes())
                    .collect();
                digest(&names)
            })
        });
        files
    }

    /// Asks `question` about `path` again, answering reads as `reads` says: the answer's digest,
    /// to compare with an [`Observation`]'s. Nothing is recorded.
    pub fn observe(&self, question: Question, path: &Path, reads: Reads) -> [u8; 16] {
        if question == Question::Read && reads != Reads::Text {
            return self.status(path, None);
        }
        let outer = SEEN_BESIDE.with_borrow_mut(|seen| seen.replace((reads, Vec::new())));
        match question {
            Question::Read => drop(self.read_included(path)),
            Question::Reaches => drop(self.reaches(path)),
            Question::Files => drop(self.files_in(path)),
        }
        let asked = SEEN_BESIDE
            .with_borrow_mut(|seen| std::mem::replace(seen, outer))
            .map(|(_, seen)| seen)
            .unwrap_or_default();
        asked.first().map_or([0xff; 16], |o| o.answer)
    }

    /// The [`Reads::Status`] answer about `path`: whether it lies inside the named paths, and its
    /// status with links followed, as opening it would find it (or why there is none). Given
    /// `settled_before`, a file changed since then is answered [`UNSETTLED`].
    fn status(&self, path: &Path, settled_before: Option<i128>) -> [u8; 16] {
        let inside = self.inside(path);
        let st = match super::open::stat(path) {
            Ok(st) => st,
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(-1);
                return digest(&[b"no status", &[u8::from(inside)], &errno.to_le_bytes()]);
            }
        };
        let id = super::open::Identity::of(&st);
        if settled_before.is_some_and(|s| id.changed() >= s) {
            return UNSETTLED;
        }
        let fields: Vec<u8> = id.fields.iter().flat_map(|f| f.to_le_bytes()).collect();
        digest(&[
            b"status",
            &[u8::from(inside)],
            &fields,
            &id.mtime.to_le_bytes(),
            &id.ctime.to_le_bytes(),
        ])
    }

    /// Reads a file a config includes, as text, through the gate.
    pub fn read_included(&self, path: &Path) -> Result<String, GateError> {
        let text = self.read_inside(path);
        seen(Question::Read, path, |reads| match (reads, &text) {
            (Reads::Status { settled_before }, _) => self.status(path, Some(settled_before)),
            (Reads::Text, Ok(t)) => digest(&[b"text", t.as_bytes()]),
            (Reads::Text, Err(e)) => digest(&[b"error", e.to_string().as_bytes()]),
        });
        text
    }

    fn read_inside(&self, path: &Path) -> Result<String, GateError> {
        if !self.roots.is_empty() {
            let real = super::canonical::canonical(path)?;
            if !self.roots.iter().any(|r| real.starts_with(r)) {
                return Err(GateError::Outside);
            }
        }
        let mut buf = Vec::new();
        read(path, self.max_file_size, &mut buf)?;
        String::from_utf8(buf).map_err(|_| GateError::NotText)
    }
}

/// Reads a whole file into `buf` (cleared first) through the gate: regular files only, opened
/// without blocking, as large as they were when opened and never past `limit`. Returns the owner
/// and mode of the file read.
pub fn read(path: &Path, limit: u64, buf: &mut Vec<u8>) -> Result<Access, GateError> {
    buf.clear();
    let opened = open(path)?;
    opened.read_to_end(limit, buf)?;
    Ok(opened.access)
}

/// A regular file opened through the gate, not yet read.
#[derive(Debug)]
pub struct Opened {
    file: std::fs::File,
    /// Its owner and mode, from the open descriptor.
    pub access: Access,
    /// Its size when opened (0 for a file of `/proc`, which does not say).
    pub size: u64,
}

/// Opens a file through the gate: regular files only, opened without blocking, so that a FIFO
/// named like a config never hangs the scan.
pub fn open(path: &Path) -> Result<Opened, GateError> {
    let file = super::open::open_read(path, libc::O_NONBLOCK | libc::O_NOCTTY)?;
    let meta = file.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device"
        } else if ft.is_dir() {
            "a directory"
        } else {
            "a special file"
        };
        return Err(GateError::NotRegular(what));
    }
    use std::os::unix::fs::MetadataExt;
    Ok(Opened {
        file,
        access: Access {
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
        },
        size: meta.len(),
    })
}

impl Opened {
    /// Reads the file into `buf` (appended): up to the size it had when opened, and never past
    /// `limit`.
    pub fn read_to_end(&self, limit: u64, buf: &mut Vec<u8>) -> Result<(), GateError> {
        let size = self.size;
        if size > limit {
            return Err(GateError::TooLarge { size, limit });
        }
        buf.reserve(usize::try_from(size).unwrap_or(0) + 1);
        if size > 0 {
            // The file as large as it was when opened: reading stops there rather than asking once
            // more for an end already reached, one system call of five per file. A file that shrank
            // meanwhile ends early; one that grew is read as it was.
            (&self.file).take(size).read_to_end(buf)?;
            return Ok(());
        }
        // No size to go by (a file of `/proc` says 0): read to its end, but never past the limit.
        (&self.file).take(limit + 1).read_to_end(buf)?;
        if buf.len() as u64 > limit {
            return Err(GateError::TooLarge {
                size: buf.len() as u64,
                limit,
            });
        }
        Ok(())
    }

    /// Fills `buf` from the start of the file, up to its length or the file's end (a file that
    /// shrank since it was opened ends early); returns the bytes read.
    pub fn read_into(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match (&self.file).read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_lists_a_directory_once_a_scan_and_records_each_asking() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("conf.d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("a.conf"), "").unwrap();
        let names = |files: Arc<[PathBuf]>| -> Vec<String> {
            files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
                .collect()
        };
        let gate = Gate::for_paths(&[dir.path().to_path_buf()], 1 << 20);
        let ask = |gate: &Gate| {
            record_beside(Reads::Text);
            let files = names(gate.files_in(&d));
            assert!(gate.reaches(&d));
            (files, recorded_beside())
        };
        let (files, first) = ask(&gate);
        assert_eq!(files, ["a.conf"]);
        assert_eq!(first.len(), 2, "{first:?}");
        std::fs::write(d.join("b.conf"), "").unwrap();
        // The same scan: the listing it gave, recorded again for the file that asks.
        assert_eq!(ask(&gate), (files, first.clone()));
        // The next scan's gate, and a clone, list the directory again.
        for next in [
            Gate::for_paths(&[dir.path().to_path_buf()], 1 << 20),
            gate.clone(),
        ] {
            assert_eq!(names(next.files_in(&d)), ["a.conf", "b.conf"]);
            assert_ne!(
                next.observe(Question::Files, &d, Reads::Text),
                first[0].answer
            );
        }
        // Past the limit, the gate starts again rather than grow.
        for i in 0..RECALLED_PATHS {
            gate.files_in(&dir.path().join(format!("missing-{i}")));
        }
        assert_eq!(names(gate.files_in(&d)), ["a.conf", "b.conf"]);
    }

    #[test]
    fn reads_answered_by_status_match_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.conf");
        std::fs::write(&file, "a 1\n").unwrap();
        let gate = Gate::for_paths(&[dir.path().to_path_buf()], 1 << 20);
        let recorded = |settled_before| {
            record_beside(Reads::Status { settled_before });
            gate.read_included(&file).unwrap();
            let seen = recorded_beside();
            assert_eq!(seen.len(), 1);
            seen[0].answer
        };
        // Changed after the instant given: never matches.
        assert_eq!(recorded(0), UNSETTLED);
        let answer = recorded(i128::MAX);
        let asked = |f: &Path| gate.observe(Question::Read, f, Reads::Status { settled_before: 0 });
        assert_eq!(asked(&file), answer, "unchanged");
        assert_ne!(
            asked(&file),
            UNSETTLED,
            "asking again never answers unsettled"
        );
        std::fs::write(&file, "a 22\n").unwrap();
        assert_ne!(asked(&file), answer, "rewritten");
        assert_ne!(asked(&dir.path().join("gone.conf")), answer);
        // By text, as before.
        record_beside(Reads::Text);
        gate.read_included(&file).unwrap();
        let by_text = recorded_beside()[0].answer;
        assert_eq!(gate.observe(Question::Read, &file, Reads::Text), by_text);
    }

    #[test]
    fn only_regular_files_within_the_limit_and_the_roots() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("a.conf");
        std::fs::write(&inside, "x 1\n").unwrap();
        let gate = Gate::for_paths(&[dir.path().to_path_buf()], 10);
        assert_eq!(gate.read_included(&inside).unwrap(), "x 1\n");
        std::fs::write(&inside, "x".repeat(11)).unwrap();
        assert!(matches!(
            gate.read_included(&inside),
            Err(GateError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
        assert!(matches!(
            gate.read_included(Path::new("/etc/hostname")),
            Err(GateError::Outside) | Err(GateError::Io(_))
        ));
        let mut buf = Vec::new();
        assert!(matches!(
            read(Path::new("/dev/zero"), 1 << 20, &mut buf),
            Err(GateError::NotRegular("a device"))
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(
            read(&fifo, 1 << 20, &mut buf),
            Err(GateError::NotRegular("a FIFO"))
        ));
    }
}
