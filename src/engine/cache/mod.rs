//! The verdict cache (`vigil scan --cache FILE`): each file's verdicts are kept with a key of what
//! decided them, and the next scan with the same policies and options reuses them for every file
//! whose key has not changed, instead of parsing and judging it again.
//!
//! What a file's verdicts depend on, and how each is covered:
//! - its bytes and owner and mode: the key. `content` (the default) is the SHA-256 of the bytes
//!   read and the owner and mode of the descriptor they were read through; `metadata` is device,
//!   inode, size, modification and change times, so that an unchanged file is not even opened,
//!   as `git status` and `make` decide. A file changed within two seconds of the scan's start is
//!   not kept under `metadata`: a later change in the same clock tick would go unseen.
//! - its path: entries are kept by path.
//! - the policies, options and vigil build: a fingerprint in the file's header; any difference
//!   and the whole cache is judged afresh (and rewritten).
//! - the clock and the trust anchors, for certificates: the [`crate::collect::Environment`] of
//!   each collector that produced documents of a kind depending on one, digested per entry.
//!   Verdicts on certificates are reused only at the same `--at`.
//! - other files (an sshd `Include`, the `nginx.conf` that loads a site, a sysctl root's drop-ins):
//!   what the collectors learnt of them through the gate ([`gate::Observation`]: a file's text, a
//!   directory's files, whether a path may be read) is kept with the verdicts, and the gate is asked
//!   again before they are reused.
//!
//! A file that could not be read, a panic, or an `error` about the file itself is never kept. A
//! cache that cannot be read, or is damaged, costs a fresh judgement, never a verdict: reused
//! verdicts give byte-for-byte the results of judging afresh. Each record carries a checksum
//! ([`Record::checksum`]), since a flipped bit in its verdicts would still decode, as others.
//!
//! The cache is written in target order to a temporary file beside it and renamed over it when the
//! scan finishes; the previous one is read alongside the walk, in the same order, so neither is
//! ever held in memory.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::judge::{self, Judged, Memo, codec};
use crate::collect::gate::{self, Access, Gate, Observation, Question, Reads};
use crate::collect::open::Identity;
use crate::collect::walk::EntryKind;
use crate::collect::{Prepared, Target};
use crate::parallel::Remembered;

/// What starts a cache file.
const MAGIC: &[u8; 20] = b"vigil verdict cache\n";

/// The layout of the file and of [`codec`]; a cache of another format is judged afresh.
const FORMAT: u32 = 3;

/// Bytes of a file's key, whichever the strategy.
const KEY_LEN: usize = 48;

/// The longest path, the most observations and the most bytes of verdicts one entry may hold: past
/// these the file is damaged, and read no further.
const MAX_PATH: usize = 1 << 16;
const MAX_OBSERVATIONS: usize = 1 << 12;
const MAX_VERDICTS: usize = 1 << 28;

/// How long before the scan started a file must have last changed to be kept under `metadata`.
const SETTLED_NS: i128 = 2_000_000_000;

/// How many answers of the gate one scan remembers before it starts over (bounded memory).
const REMEMBERED_ANSWERS: usize = 1 << 14;

/// How a file is recognised as unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// By the SHA-256 of its bytes, with its owner and mode: every file is read.
    #[default]
    Content,
    /// By device, inode, size, modification and change time: an unchanged file is not opened. A
    /// change that keeps all five (only the clock set back, or root, can keep the change time)
    /// goes unseen.
    Metadata,
}

impl Strategy {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Content => "content",
            Strategy::Metadata => "metadata",
        }
    }
}

/// Where the cache is and how files are recognised (`--cache`, `--cache-strategy`).
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// The cache file; created when missing.
    pub path: PathBuf,
    /// How an unchanged file is recognised.
    pub strategy: Strategy,
}

/// What the cache did in a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Files whose verdicts were reused.
    pub reused: u64,
    /// Files judged afresh.
    pub judged: u64,
    /// Files kept in the new cache.
    pub kept: u64,
    /// Whether the cache file was written: not when it would have been the same.
    pub rewritten: bool,
}

/// Why the cache could not be written (a cache that cannot be read is judged afresh instead).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the cache {path}: {source}")]
pub struct CacheError {
    /// The cache file.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

/// One file's cached verdicts and the key they were judged under.
pub struct Record {
    key: [u8; KEY_LEN],
    environment: [u8; 16],
    /// What was learnt of other files while judging it.
    beside: Vec<Observation>,
    /// Where it lies in the previous cache file, when it was read from there.
    origin: Option<(u64, u64)>,
    environments: Vec<usize>,
    verdicts: Vec<u8>,
    /// [`Record::checksum`] when the record was made, as the file holds it.
    check: [u8; CHECK_LEN],
}

/// Bytes of a record's checksum.
const CHECK_LEN: usize = 4;

impl Record {
    /// A record as a cache file holds it, with the checksum it was kept with.
    fn kept(
        key: [u8; KEY_LEN],
        environment: [u8; 16],
        beside: Vec<Observation>,
        environments: Vec<usize>,
        verdicts: Vec<u8>,
        check: [u8; CHECK_LEN],
    ) -> Record {
        Record {
            key,
            environment,
            beside,
            origin: None,
            environments,
            verdicts,
            check,
        }
    }

    /// The record with the checksum of what it holds: a record made afresh, to be kept.
    fn checksummed(mut self) -> Record {
        self.check = self.checksum();
        self
    }

    /// Writes the record after its path, as the file holds it, without its checksum.
    fn write_body(&self, w: &mut impl Write) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        w.write_all(&self.key)?;
        w.write_all(&self.environment)?;
        w.write_all(&(self.beside.len() as u16).to_le_bytes())?;
        for o in &self.beside {
            let p = o.path.as_os_str().as_bytes();
            w.write_all(&[o.question.number()])?;
            w.write_all(&(p.len() as u32).to_le_bytes())?;
            w.write_all(p)?;
            w.write_all(&o.answer)?;
        }
        w.write_all(&[self.environments.len() as u8])?;
        for &c in &self.environments {
            w.write_all(&(c as u16).to_le_bytes())?;
        }
        w.write_all(&(self.verdicts.len() as u32).to_le_bytes())?;
        w.write_all(&self.verdicts)
    }

    /// The CRC-32 of the record's body. A record damaged on disk (a flipped bit in a state, a
    /// line, a message) would still decode, as another verdict: its checksum no longer holds, and
    /// the file is judged afresh. A CRC catches every flipped bit and every burst of up to 32,
    /// and other damage but once in about four billion, for a fraction of a SHA-256's time (the
    /// check is on the path of every reused file). Its path is not covered: a damaged path names
    /// no file the walk meets, or one whose key then differs.
    fn checksum(&self) -> [u8; CHECK_LEN] {
        struct Crc(crc32fast::Hasher);
        impl Write for Crc {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut crc = Crc(crc32fast::Hasher::new());
        self.write_body(&mut crc)
            .expect("a checksum never fails to write");
        crc.0.finalize().to_le_bytes()
    }
}

/// A scan's view of the cache, shared by its workers.
pub struct Cache {
    strategy: Strategy,
    controls: usize,
    /// Each collector's environment, by plan index.
    environments: Vec<Vec<u8>>,
    /// The digest of no environment, and of each collector's alone.
    no_environment: [u8; 16],
    one_environment: Vec<[u8; 16]>,
    /// Under `metadata`, files changed after this instant (ns since the epoch) are not kept.
    settled_before: i128,
    /// The gate's answers asked again this scan. The files of one host share their drop-in
    /// directories and includes: a tree of hosts asks each question many times, and once is
    /// enough for one scan's view of the tree, as a collector reading them would have had. Paths
    /// are kept as bytes, which hash for less than a `Path`.
    answers: Remembered<(Question, OsString), [u8; 16]>,
}

impl Cache {
    /// The cache of a scan judging with `controls` controls and the `prepared` collectors,
    /// started at `started`.
    pub fn new(
        strategy: Strategy,
        controls: usize,
        prepared: &[Option<Prepared>],
        started: time::OffsetDateTime,
    ) -> Cache {
        let environments: Vec<Vec<u8>> = prepared
            .iter()
            .map(|p| {
                p.as_ref()
                    .and_then(|p| p.environment.as_ref())
                    .map_or_else(Vec::new, |e| e.bytes.clone())
            })
            .collect();
        let digest = |of: &[usize]| environment_digest(&environments, of).unwrap_or_default();
        Cache {
            strategy,
            controls,
            no_environment: digest(&[]),
            one_environment: (0..environments.len()).map(|c| digest(&[c])).collect(),
            environments,
            settled_before: started.unix_timestamp_nanos() - SETTLED_NS,
            answers: Remembered::new(REMEMBERED_ANSWERS),
        }
    }

    /// How the files beside a target are recorded and asked again: by their status under
    /// `metadata`, which reads no file it can stat, by their text under `content`.
    fn reads(&self) -> Reads {
        match self.strategy {
            Strategy::Content => Reads::Text,
            Strategy::Metadata => Reads::Status {
                settled_before: self.settled_before,
            },
        }
    }

    /// The gate's answer to `question` about `path` now, asked once per scan.
    fn answer(&self, gate: &Gate, question: Question, path: &Path) -> [u8; 16] {
        self.answers
            .get_or(&(question, path.as_os_str().to_owned()), || {
                gate.observe(question, path, self.reads())
            })
    }

    /// The digest of the environments of the collectors `environments`; `None` for an index the
    /// plan lacks. A target's list is nearly always empty or one collector: those digests were
    /// taken once, in [`Cache::new`].
    fn environment(&self, environments: &[usize]) -> Option<[u8; 16]> {
        match environments {
            [] => Some(self.no_environment),
            [c] => self.one_environment.get(*c).copied(),
            more => environment_digest(&self.environments, more),
        }
    }
}

/// The digest of the environments (`all`, by collector) of the collectors `of`; `None` for an
/// index `all` lacks.
fn environment_digest(all: &[Vec<u8>], of: &[usize]) -> Option<[u8; 16]> {
    let mut h = Sha256::new();
    for &c in of {
        let env = all.get(c)?;
        h.update((c as u64).to_le_bytes());
        h.update((env.len() as u64).to_le_bytes());
        h.update(env);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    Some(out)
}

/// What judging one target with the cache gave.
pub struct Judgement {
    /// Its verdicts.
    pub judged: Judged,
    /// What to keep for it in the new cache.
    pub record: Option<Record>,
    /// Whether the verdicts were reused.
    pub reused: bool,
}

/// Judges `target`, reusing `previous` when its key still holds.
pub fn judge(
    ctx: &judge::Context<'_>,
    cache: Option<&Cache>,
    target: &Target,
    previous: Option<Record>,
    buf: &mut crate::collect::buffer::Buffer<'_>,
) -> Judgement {
    let cache = match (cache, target) {
        (Some(c), Target::File(e)) if e.kind == EntryKind::File => c,
        _ => {
            return Judgement {
                judged: judge::judge(ctx, target, buf, None),
                record: None,
                reused: false,
            };
        }
    };
    let mut lookup = Lookup {
        cache,
        gate: &ctx.settings.gate,
        previous,
        key: None,
        reused: false,
    };
    gate::record_beside(cache.reads());
    let judged = judge::judge(ctx, target, buf, Some(&mut lookup));
    let beside = gate::recorded_beside();
    if lookup.reused {
        return Judgement {
            judged,
            record: lookup.previous,
            reused: true,
        };
    }
    let record = lookup.key.and_then(|key| {
        if beside.len() > MAX_OBSERVATIONS {
            return None;
        }
        let environment = cache.environment(&judged.environments)?;
        let mut verdicts = Vec::new();
        codec::encode(&judged, &mut verdicts)?;
        let environments = judged.environments.clone();
        let check = [0; CHECK_LEN];
        Some(Record::kept(key, environment, beside, environments, verdicts, check).checksummed())
    });
    Judgement {
        judged,
        record,
        reused: false,
    }
}

/// One file's look-up, asked by the judge before and after it reads the file.
struct Lookup<'c> {
    cache: &'c Cache,
    gate: &'c Gate,
    previous: Option<Record>,
    /// The file's key, once known, when it may be kept.
    key: Option<[u8; KEY_LEN]>,
    reused: bool,
}

impl Lookup<'_> {
    fn reuse(&mut self, key: &[u8; KEY_LEN]) -> Option<Judged> {
        let p = self.previous.as_ref()?;
        if p.key != *key || Some(p.environment) != self.cache.environment(&p.environments) {
            return None;
        }
        // The files beside it as they were: the same answers to the same questions.
        if p.beside
            .iter()
            .any(|o| self.cache.answer(self.gate, o.question, &o.path) != o.answer)
        {
            return None;
        }
        if p.checksum() != p.check {
            return None;
        }
        let judged = codec::decode(&p.verdicts, self.cache.controls, p.environments.clone())?;
        self.reused = true;
        Some(judged)
    }
}

impl Memo for Lookup<'_> {
    fn before_read(&mut self, target: &Target) -> Option<Judged> {
        if self.cache.strategy != Strategy::Metadata {
            return None;
        }
        // By the name in a directory the worker keeps open, as the file would be opened.
        let st = crate::collect::open::stat(&target.file()?.path).ok()?;
        let (key, changed) = metadata_key(&st);
        if changed < self.cache.settled_before {
            self.key = Some(key);
        }
        self.reuse(&key)
    }

    fn after_read(&mut self, bytes: &[u8], access: Access) -> Option<Judged> {
        if self.cache.strategy != Strategy::Content {
            return None;
        }
        let key = content_key(bytes, access);
        self.key = Some(key);
        self.reuse(&key)
    }

    fn may_answer_after_read(&self) -> bool {
        self.cache.strategy == Strategy::Content && self.previous.is_some()
    }
}

/// The `content` key: SHA-256 of the bytes, then mode, owner and group.
fn content_key(bytes: &[u8], access: Access) -> [u8; KEY_LEN] {
    let mut key = [0; KEY_LEN];
    key[..32].copy_from_slice(&Sha256::digest(bytes));
    key[32..36].copy_from_slice(&access.mode.to_le_bytes());
    key[36..40].copy_from_slice(&access.uid.to_le_bytes());
    key[40..44].copy_from_slice(&access.gid.to_le_bytes());
    key
}

/// The `metadata` key (device, inode, size, modification and change times to the nanosecond), and
/// when the file last changed, whichever time is later.
fn metadata_key(st: &libc::stat) -> ([u8; KEY_LEN], i128) {
    let id = Identity::of(st);
    let mut key = [0; KEY_LEN];
    // Device, inode and size: the mode is left out, its changes move the change time.
    for (i, v) in id.fields[..3].iter().enumerate() {
        key[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    key[24..40].copy_from_slice(&id.mtime.to_le_bytes());
    key[40..48].copy_from_slice(&(id.ctime as i64).to_le_bytes());
    (key, id.changed())
}

/// The fingerprint of everything besides the files that decides verdicts: this build of vigil and
/// the `parts` the scan names (its header with every policy and control, and its options).
pub fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // Two builds of one version may judge differently: the executable's size and time tell them
    // apart without hashing it.
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        use std::os::unix::fs::MetadataExt;
        h.update(meta.size().to_le_bytes());
        h.update(meta.mtime().to_le_bytes());
        h.update(meta.mtime_nsec().to_le_bytes());
    }
    // Who reads decides what can be read: under `metadata` a file is not opened again, so verdicts
    // judged by one user must not stand for another, who may not be able to read it.
    h.update(credentials());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The effective user and group of this process and its supplementary groups.
fn credentials() -> Vec<u8> {
    // SAFETY: these calls only read the process's credentials; `getgroups` is given a buffer of
    // the length it reported, and its answer is trusted only up to what it says it wrote.
    let (uid, gid, groups) = unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut()).max(0);
        let mut groups = vec![0 as libc::gid_t; n as usize];
        let got = libc::getgroups(n, groups.as_mut_ptr()).max(0) as usize;
        groups.truncate(got);
        (libc::geteuid(), libc::getegid(), groups)
    };
    let mut out = Vec::with_capacity(8 + 4 * groups.len());
    out.extend_from_slice(&uid.to_le_bytes());
    out.extend_from_slice(&gid.to_le_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_le_bytes());
    }
    out
}

/// The length of [`header`].
fn header_len() -> u64 {
    (MAGIC.len() + 4 + 1 + 32) as u64
}

/// The header both files start with.
fn header(strategy: Strategy, fingerprint: &[u8; 32]) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&FORMAT.to_le_bytes());
    h.push(strategy as u8);
    h.extend_from_slice(fingerprint);
    h
}

/// Opens the cache at `path` for a scan with this strategy and fingerprint: the previous cache
/// (empty when it is missing, damaged or of another scan) and the new one, which replaces it when
/// the scan finishes.
pub fn open(
    path: &Path,
    strategy: Strategy,
    fingerprint: &[u8; 32],
) -> Result<(Previous, Next), CacheError> {
    let expected = header(strategy, fingerprint);
    let old = File::open(path).ok().and_then(|f| {
        let mut got = vec![0; expected.len()];
        (&f).read_exact(&mut got).ok()?;
        (got == expected).then_some(f)
    });
    // One open file for both: the bytes copied from it are the bytes the walk read.
    let copy = old.as_ref().and_then(|f| {
        let len = f.metadata().ok()?.len();
        Some((f.try_clone().ok()?, len))
    });
    let previous = Previous {
        reader: old.map(|f| Counted {
            inner: BufReader::with_capacity(1 << 16, f),
            at: expected.len() as u64,
        }),
        head: None,
    };
    let next = Next::create(path, expected, copy)?;
    Ok((previous, next))
}

/// The previous cache, read alongside the walk.
pub struct Previous {
    reader: Option<Counted<BufReader<File>>>,
    head: Option<(PathBuf, Record)>,
}

/// A reader that counts the bytes read: where each record lies in the file.
struct Counted<R> {
    inner: R,
    at: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl Previous {
    /// The record kept for `path`, if any. Paths must be asked in the walk's order, the order the
    /// cache was written in; records of paths passed over (files since removed) are dropped.
    pub fn take(&mut self, path: &Path) -> Option<Record> {
        loop {
            if self.head.is_none() {
                self.head = self.next();
            }
            let (p, _) = self.head.as_ref()?;
            if path.as_os_str() == p.as_os_str() {
                return self.head.take().map(|(_, r)| r);
            }
            // The walk's order: directories depth first, entries by name, which is how paths
            // compare component by component.
            match path.cmp(p) {
                std::cmp::Ordering::Less => return None,
                std::cmp::Ordering::Equal => return self.head.take().map(|(_, r)| r),
                std::cmp::Ordering::Greater => self.head = None,
            }
        }
    }

    /// The next record; at the end or on damage, `None` from then on.
    fn next(&mut self) -> Option<(PathBuf, Record)> {
        let r = self.reader.as_mut()?;
        let start = r.at;
        match read_record(r) {
            Some((path, mut record)) => {
                record.origin = Some((start, r.at));
                Some((path, record))
            }
            None => {
                self.reader = None;
                None
            }
        }
    }
}

/// Reads `data` as the records of a cache file (after its header) and decodes each one's verdicts,
/// as a scan does, but whether or not its checksum holds, so that the fuzzer reaches the decoder:
/// the fuzz target `cache` (`crate::harness`).
pub fn read_untrusted(mut data: &[u8]) -> usize {
    let mut decoded = 0;
    while let Some((_, record)) = read_record(&mut data) {
        if let Some(judged) = codec::decode(&record.verdicts, 256, record.environments) {
            decoded += judged.verdicts.len();
        }
    }
    decoded
}

fn read_record(r: &mut impl Read) -> Option<(PathBuf, Record)> {
    let mut u32_at = || -> Option<usize> {
        let mut b = [0; 4];
        r.read_exact(&mut b).ok()?;
        Some(u32::from_le_bytes(b) as usize)
    };
    let path_len = u32_at().filter(|&n| n <= MAX_PATH)?;
    let mut path = vec![0; path_len];
    r.read_exact(&mut path).ok()?;
    let mut key = [0; KEY_LEN];
    r.read_exact(&mut key).ok()?;
    let mut environment = [0; 16];
    r.read_exact(&mut environment).ok()?;
    let mut count = [0; 2];
    r.read_exact(&mut count).ok()?;
    let count = usize::from(u16::from_le_bytes(count));
    if count > MAX_OBSERVATIONS {
        return None;
    }
    let mut beside = Vec::with_capacity(count);
    for _ in 0..count {
        let mut q = [0; 1];
        r.read_exact(&mut q).ok()?;
        let question = Question::from_number(q[0])?;
        let mut len = [0; 4];
        r.read_exact(&mut len).ok()?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_PATH {
            return None;
        }
        let mut path = vec![0; len];
        r.read_exact(&mut path).ok()?;
        let mut answer = [0; 16];
        r.read_exact(&mut answer).ok()?;
        beside.push(Observation {
            question,
            path: path_of(path),
            answer,
        });
    }
    let mut n = [0; 1];
    r.read_exact(&mut n).ok()?;
    let mut environments = Vec::with_capacity(usize::from(n[0]));
    for _ in 0..n[0] {
        let mut c = [0; 2];
        r.read_exact(&mut c).ok()?;
        environments.push(usize::from(u16::from_le_bytes(c)));
    }
    let len = {
        let mut b = [0; 4];
        r.read_exact(&mut b).ok()?;
        u32::from_le_bytes(b) as usize
    };
    if len > MAX_VERDICTS {
        return None;
    }
    // Room for the whole blob up front: growing by doubling, with a probing read at each step,
    // cost a repeat scan about a tenth of its time on the thread that walks. Bounded, so that a
    // damaged length reserves no more than a read can fill.
    let mut verdicts = Vec::with_capacity(len.min(1 << 20));
    r.take(len as u64).read_to_end(&mut verdicts).ok()?;
    if verdicts.len() != len {
        return None;
    }
    let mut check = [0; CHECK_LEN];
    r.read_exact(&mut check).ok()?;
    Some((
        path_of(path),
        Record::kept(key, environment, beside, environments, verdicts, check),
    ))
}

fn path_of(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The cache's own files. A cache inside a scanned tree is not judged: its verdicts would change
/// with every scan, and its temporary file would be found or not depending on timing.
pub struct OwnFiles {
    names: Vec<std::ffi::OsString>,
    real: Vec<PathBuf>,
}

impl OwnFiles {
    /// Whether `path` is one of them (by name first: the walk's other files cost no system call).
    pub fn holds(&self, path: &Path) -> bool {
        path.file_name()
            .is_some_and(|n| self.names.iter().any(|o| o == n))
            && crate::collect::canonical::canonical(path).is_ok_and(|p| self.real.contains(&p))
    }
}

/// The new cache, written in target order. While every record is the next one of the previous
/// cache, nothing is written: a scan of an unchanged tree leaves the cache file as it was. At the
/// first difference, the previous cache's records so far are copied over and writing goes on.
pub struct Next {
    out: BufWriter<tempfile::NamedTempFile>,
    dest: PathBuf,
    /// The previous cache (its header matched) and its length.
    previous: Option<(File, u64)>,
    /// While the new cache is the previous one's first bytes: where they end.
    same_upto: Option<u64>,
}

impl Next {
    /// Starts a new cache to replace the one at `dest` when the scan finishes, with `header`;
    /// `previous` is the cache there when its header is the same.
    fn create(
        dest: &Path,
        header: Vec<u8>,
        previous: Option<(File, u64)>,
    ) -> Result<Next, CacheError> {
        let error = |source| CacheError {
            path: dest.display().to_string(),
            source,
        };
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".vigil-cache")
            .tempfile_in(dir)
            .map_err(error)?;
        let mut out = BufWriter::with_capacity(1 << 16, tmp);
        out.write_all(&header).map_err(error)?;
        let same_upto = previous.as_ref().map(|_| header.len() as u64);
        Ok(Next {
            out,
            dest: dest.to_path_buf(),
            previous,
            same_upto,
        })
    }

    /// Copies the previous cache's records that the new one repeated so far, and writes from now
    /// on.
    fn diverge(&mut self) -> std::io::Result<()> {
        let (Some(upto), Some((file, _))) = (self.same_upto.take(), &self.previous) else {
            return Ok(());
        };
        let mut at = header_len();
        let mut chunk = vec![0; 1 << 16];
        while at < upto {
            let want = usize::try_from((upto - at).min(chunk.len() as u64)).unwrap_or(chunk.len());
            let n = std::os::unix::fs::FileExt::read_at(file, &mut chunk[..want], at)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.out.write_all(&chunk[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// The cache's own files (the one it replaces and the one being written), which the walk
    /// leaves out.
    pub fn own_files(&self) -> OwnFiles {
        let real = |p: &Path| -> Option<(std::ffi::OsString, PathBuf)> {
            let name = p.file_name()?.to_os_string();
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            Some((name.clone(), std::fs::canonicalize(dir).ok()?.join(name)))
        };
        let (names, real) = [real(&self.dest), real(self.out.get_ref().path())]
            .into_iter()
            .flatten()
            .unzip();
        OwnFiles { names, real }
    }

    /// Keeps `record` for the file at `path`.
    pub fn put(&mut self, path: &Path, record: &Record) -> Result<(), CacheError> {
        use std::os::unix::ffi::OsStrExt;
        let path = path.as_os_str().as_bytes();
        if path.len() > MAX_PATH
            || record.verdicts.len() > MAX_VERDICTS
            || record.environments.len() > usize::from(u8::MAX)
            || record.beside.len() > MAX_OBSERVATIONS
            || record
                .beside
                .iter()
                .any(|o| o.path.as_os_str().len() > MAX_PATH)
            || record
                .environments
                .iter()
                .any(|&c| c > usize::from(u16::MAX))
        {
            return Ok(());
        }
        if let Some(upto) = self.same_upto {
            if let Some((start, end)) = record.origin
                && start == upto
            {
                self.same_upto = Some(end);
                return Ok(());
            }
            let copied = self.diverge();
            copied.map_err(|e| self.error(e))?;
        }
        let mut write = || -> std::io::Result<()> {
            let w = &mut self.out;
            w.write_all(&(path.len() as u32).to_le_bytes())?;
            w.write_all(path)?;
            record.write_body(w)?;
            w.write_all(&record.check)
        };
        let written = write();
        written.map_err(|e| self.error(e))
    }

    fn error(&self, source: std::io::Error) -> CacheError {
        CacheError {
            path: self.dest.display().to_string(),
            source,
        }
    }

    /// Replaces the previous cache with this one, unless they are the same; whether it did.
    pub fn finish(mut self) -> Result<bool, CacheError> {
        if let (Some(upto), Some((_, len))) = (self.same_upto, &self.previous)
            && upto == *len
        {
            // The temporary file goes when it is dropped.
            return Ok(false);
        }
        let copied = self.diverge();
        copied.map_err(|e| self.error(e))?;
        let dest = self.dest.clone();
        let error = |source| CacheError {
            path: dest.display().to_string(),
            source,
        };
        let tmp = self.out.into_inner().map_err(|e| error(e.into_error()))?;
        tmp.persist(&dest).map_err(|e| error(e.error))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Record {
        Record::kept(
            [n; KEY_LEN],
            [n; 16],
            vec![Observation {
                question: Question::Files,
                path: PathBuf::from(format!("dir{n}")),
                answer: [n; 16],
            }],
            vec![usize::from(n), 300],
            vec![n; usize::from(n)],
            [0; CHECK_LEN],
        )
        .checksummed()
    }

    /// Writes a cache at `path` holding `record(n)` for each (path, n).
    fn write(path: &Path, fp: &[u8; 32], records: &[(&str, u8)]) {
        let (_, mut next) = open(path, Strategy::Content, fp).unwrap();
        for &(p, n) in records {
            next.put(Path::new(p), &record(n)).unwrap();
        }
        next.finish().unwrap();
    }

    /// Opens the cache at `path` as a scan would.
    fn previous(path: &Path, strategy: Strategy, fp: &[u8; 32]) -> Previous {
        open(path, strategy, fp).unwrap().0
    }

    #[test]
    fn records_are_found_by_path_in_walk_order_and_removed_files_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let fp = [7; 32];
        // Walk order: `a/x` (inside directory `a`) before `a-b`, though `a-b` < `a/x` as text.
        write(
            &path,
            &fp,
            &[("r/a/x", 1), ("r/a-b", 2), ("r/c", 3), ("r/d", 4)],
        );
        let mut prev = previous(&path, Strategy::Content, &fp);
        assert_eq!(prev.take(Path::new("r/a/x")).unwrap().key, [1; KEY_LEN]);
        assert!(prev.take(Path::new("r/a/y")).is_none(), "a new file");
        // `r/a-b` was removed: passed over on the way to `r/c`.
        let c = prev.take(Path::new("r/c")).unwrap();
        assert_eq!((c.environments, c.verdicts), (vec![3, 300], vec![3; 3]));
        assert_eq!(c.beside[0].path, PathBuf::from("dir3"));
        assert_eq!(c.beside[0].answer, [3; 16]);
        assert!(prev.take(Path::new("r/e")).is_none());
        assert!(prev.take(Path::new("r/f")).is_none());

        // Another fingerprint or strategy: nothing.
        assert!(
            previous(&path, Strategy::Content, &[8; 32])
                .take(Path::new("r/a/x"))
                .is_none()
        );
        assert!(
            previous(&path, Strategy::Metadata, &fp)
                .take(Path::new("r/a/x"))
                .is_none()
        );
    }

    #[test]
    fn the_fuzzers_seed_is_a_cache_of_this_format() {
        // The records of `vigil scan testdata/ssh --at 2030-01-15 --cache FILE`, after the header;
        // write it again when the format changes.
        let seed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/regressions/cache/testdata-ssh-records"),
        )
        .unwrap();
        assert_eq!(
            read_untrusted(&seed),
            37,
            "the seed's 4 files and their verdicts decode"
        );
    }

    /// The records of the cache at `path`, as (path, first key byte).
    fn contents(path: &Path, fp: &[u8; 32]) -> Vec<(String, u8)> {
        let mut prev = previous(path, Strategy::Content, fp);
        std::iter::from_fn(|| prev.next())
            .map(|(p, r)| (p.display().to_string(), r.key[0]))
            .collect()
    }

    #[test]
    fn an_unchanged_cache_is_not_written_and_a_changed_one_keeps_what_it_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let fp = [2; 32];
        write(&path, &fp, &[("a", 1), ("b", 2), ("c", 3)]);
        let written = std::fs::read(&path).unwrap();
        // Scans that reuse some records and judge others, as (path, reused, record number).
        let scan = |files: &[(&str, bool, u8)]| -> bool {
            let (mut prev, mut next) = open(&path, Strategy::Content, &fp).unwrap();
            for &(p, reused, n) in files {
                let kept = prev.take(Path::new(p));
                let record = if reused { kept.unwrap() } else { record(n) };
                next.put(Path::new(p), &record).unwrap();
            }
            next.finish().unwrap()
        };
        assert!(
            !scan(&[("a", true, 0), ("b", true, 0), ("c", true, 0)]),
            "unchanged"
        );
        assert_eq!(std::fs::read(&path).unwrap(), written);
        assert!(
            scan(&[("a", true, 0), ("b", false, 9), ("c", true, 0)]),
            "b judged again"
        );
        assert_eq!(
            contents(&path, &fp),
            [("a".into(), 1), ("b".into(), 9), ("c".into(), 3)]
        );
        assert!(scan(&[("a", true, 0), ("c", true, 0)]), "b removed");
        assert_eq!(contents(&path, &fp), [("a".into(), 1), ("c".into(), 3)]);
        assert!(scan(&[("a", true, 0)]), "c removed, at the end");
        assert_eq!(contents(&path, &fp), [("a".into(), 1)]);
        assert!(scan(&[("a", true, 0), ("d", false, 4)]), "d added");
        assert_eq!(contents(&path, &fp), [("a".into(), 1), ("d".into(), 4)]);
        let other = [3; 32];
        let (_, next) = open(&path, Strategy::Content, &other).unwrap();
        assert!(next.finish().unwrap(), "another scan's cache is replaced");
        assert!(contents(&path, &other).is_empty());
    }

    #[test]
    fn a_truncated_cache_gives_what_it_holds_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let fp = [1; 32];
        write(&path, &fp, &[("a", 5), ("b", 6)]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let mut prev = previous(&path, Strategy::Content, &fp);
        assert!(prev.take(Path::new("a")).is_some());
        assert!(prev.take(Path::new("b")).is_none());
    }

    /// The digests taken once agree with digesting afresh, whatever the list, and an index the
    /// plan lacks still gives none.
    #[test]
    fn environment_digests_taken_once_are_the_ones_digested_afresh() {
        let with = |bytes: &[u8]| {
            let mut p = Prepared::nothing();
            p.environment = Some(crate::collect::Environment {
                kinds: &["certificate"],
                bytes: bytes.to_vec(),
            });
            Some(p)
        };
        let prepared = vec![
            with(b"clock and anchors"),
            None,
            with(b"other"),
            Some(Prepared::nothing()),
        ];
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let cache = Cache::new(Strategy::Metadata, 10, &prepared, at);
        let all = &cache.environments;
        for list in [
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![3],
            vec![0, 2],
            vec![2, 0],
        ] {
            assert_eq!(
                cache.environment(&list),
                environment_digest(all, &list),
                "{list:?}"
            );
        }
        assert_ne!(cache.environment(&[0]), cache.environment(&[2]));
        assert_ne!(
            cache.environment(&[]),
            cache.environment(&[1]),
            "the index is digested"
        );
        assert_eq!(cache.environment(&[4]), None);
        assert_eq!(cache.environment(&[0, 4]), None);
    }
}
