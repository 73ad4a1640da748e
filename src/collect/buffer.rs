//! The buffers the workers read files into, and the memory budget their large files share.
//!
//! A file is read whole (a parser wants all of it, and a secret pattern may span any two lines),
//! so a worker holds the largest file it is judging, with what its collectors make of it. Without a
//! bound that is one file of up to `--max-file-size` per worker, kept for the next: eight workers
//! meeting the large shared libraries of `/usr/lib` held 540 MiB, and a 64-core host would hold
//! gigabytes. Each buffer holds up to [`UNMETERED`] without asking, which is every file of a source
//! tree or a configuration directory. A larger file is read into a region of memory taken from a
//! pool the workers share, whose regions together never exceed the budget; the region goes back to
//! the pool once its target is judged, so a worker between targets holds none. The next large file
//! takes the smallest free region it fits in (its pages are already there); when none fits and the
//! budget is spent, free regions are unmapped to make room, and when none is free, the worker waits
//! for another to finish its target. A file larger than the whole budget waits for all of it and is
//! judged alone, so any file up to `--max-file-size` can still be read.
//!
//! Regions are mapped rather than allocated because the allocator keeps a freed block resident
//! for a while, so that memory given back to the budget would still count against the process.

use std::sync::{Condvar, Mutex, MutexGuard};

use memmap2::MmapMut;

use super::gate::{GateError, Opened};

/// What a buffer holds without taking from the budget: 1 MiB.
pub const UNMETERED: u64 = 1 << 20;

/// The bytes the regions of the workers' large files may take together: 128 MiB. Two files of the
/// default `--max-file-size` (64 MiB) fit.
pub const DEFAULT_BUDGET: u64 = 128 << 20;

/// The memory the workers' large files share: a pool of mapped regions.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    unmetered: u64,
    pool: Mutex<Pool>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct Pool {
    /// What the regions, in use or free, count against the budget.
    used: u64,
    /// Regions no buffer holds.
    free: Vec<Region>,
}

/// Memory for one large file.
#[derive(Debug)]
struct Region {
    map: MmapMut,
    /// What it counts against the budget: its length, or the whole budget if it is larger.
    weight: u64,
}

impl Budget {
    /// A budget of `total` bytes for files larger than `unmetered`.
    pub fn new(total: u64, unmetered: u64) -> Budget {
        Budget {
            total: total.max(1),
            unmetered,
            pool: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A region of at least `len` bytes: a free one it fits in, or a new one once the budget has
    /// room for it, unmapping free regions to make that room and waiting when none is free.
    fn acquire(&self, len: usize) -> std::io::Result<Region> {
        let weight = (len as u64).min(self.total);
        let mut unmapped = Vec::new();
        let mut pool = self.pool();
        loop {
            let fitting = pool
                .free
                .iter()
                .enumerate()
                .filter(|(_, r)| r.map.len() >= len);
            if let Some((i, _)) = fitting.min_by_key(|(_, r)| r.map.len()) {
                return Ok(pool.free.swap_remove(i));
            }
            if pool.used + weight <= self.total {
                break;
            }
            match pool.free.pop() {
                Some(r) => {
                    pool.used -= r.weight;
                    unmapped.push(r);
                }
                None => pool = self.returned.wait(pool).unwrap_or_else(|e| e.into_inner()),
            }
        }
        pool.used += weight;
        drop(pool);
        drop(unmapped);
        MmapMut::map_anon(len)
            .map(|map| Region { map, weight })
            .inspect_err(|_| self.give_back(weight))
    }

    /// Puts a region back in the pool, free for the next large file.
    fn restore(&self, region: Region) {
        self.pool().free.push(region);
        self.returned.notify_all();
    }

    fn give_back(&self, weight: u64) {
        self.pool().used -= weight;
        self.returned.notify_all();
    }

    /// What the regions, in use or free, count against the budget now.
    pub fn used(&self) -> u64 {
        self.pool().used
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(DEFAULT_BUDGET, UNMETERED)
    }
}

/// One worker's read buffer: a vector reused from file to file for the files that hold no more
/// than the unmetered size, and a region of the pool for a larger one.
#[derive(Debug)]
pub struct Buffer<'b> {
    small: Vec<u8>,
    /// The region of the large file read, and its length there.
    large: Option<(Region, usize)>,
    budget: &'b Budget,
}

impl<'b> Buffer<'b> {
    /// An empty buffer drawing on `budget`.
    pub fn new(budget: &'b Budget) -> Buffer<'b> {
        Buffer {
            small: Vec::new(),
            large: None,
            budget,
        }
    }

    /// The bytes read.
    pub fn bytes(&self) -> &[u8] {
        match &self.large {
            Some((region, len)) => &region.map[..*len],
            None => &self.small,
        }
    }

    /// Reads an opened file, in place of what the buffer held: up to the size it had when opened,
    /// never past `limit`. A file over the unmetered size goes into a region of the pool, taken
    /// first, which may wait.
    pub fn fill(&mut self, file: &Opened, limit: u64) -> Result<(), GateError> {
        self.small.clear();
        self.trim();
        if file.size <= self.budget.unmetered || file.size > limit {
            return file.read_to_end(limit, &mut self.small);
        }
        let size = usize::try_from(file.size).map_err(|_| GateError::TooLarge {
            size: file.size,
            limit,
        })?;
        let mut region = self.budget.acquire(size)?;
        let read = file.read_into(&mut region.map[..size]);
        let len = match read {
            Ok(len) => len,
            Err(e) => {
                self.budget.restore(region);
                return Err(e.into());
            }
        };
        self.large = Some((region, len));
        Ok(())
    }

    /// After a target is judged: the region of a large file goes back to the pool.
    pub fn trim(&mut self) {
        if let Some((region, _)) = self.large.take() {
            self.budget.restore(region);
        }
        // Only a file that did not say its size (`/proc`) grows the vector that far.
        if self.small.capacity() as u64 > self.budget.unmetered {
            self.small = Vec::new();
        }
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::gate;
    use std::path::{Path, PathBuf};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A file of `n` bytes counting up from `seed`, so that two files' bytes differ.
    fn file(dir: &Path, n: usize, seed: u8) -> PathBuf {
        let p = dir.join(format!("f{n}-{seed}"));
        let bytes: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_add(seed)).collect();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn fill(buf: &mut Buffer<'_>, path: &Path) {
        buf.fill(&gate::open(path).unwrap(), 1 << 20).unwrap();
        assert_eq!(buf.bytes(), &std::fs::read(path).unwrap()[..]);
    }

    #[test]
    fn a_large_file_waits_until_another_gives_its_region_back() {
        let dir = tempfile::tempdir().unwrap();
        let (f2000, f1500) = (file(dir.path(), 2000, 1), file(dir.path(), 1500, 2));
        let budget = Budget::new(3000, 100);
        let mut first = Buffer::new(&budget);
        fill(&mut first, &f2000);
        assert_eq!(budget.used(), 2000);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            let (budget, f1500) = (&budget, &f1500);
            s.spawn(move || {
                let mut second = Buffer::new(budget);
                fill(&mut second, f1500);
                tx.send(budget.used()).unwrap();
            });
            // However long it is given, the second buffer cannot have 1500 of the 1000 left.
            assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
            // Once the first buffer's target is judged, its region serves the second.
            first.trim();
            assert_eq!(rx.recv().unwrap(), 2000);
        });
    }

    #[test]
    fn free_regions_serve_the_next_large_files_and_make_room_for_larger_ones() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(5000, 100);
        let mut buf = Buffer::new(&budget);
        // Small files take nothing.
        fill(&mut buf, &file(dir.path(), 100, 0));
        assert_eq!(budget.used(), 0);
        fill(&mut buf, &file(dir.path(), 2000, 1));
        assert_eq!(budget.used(), 2000);
        buf.trim();
        // A file that fits in the free region is read there.
        fill(&mut buf, &file(dir.path(), 1500, 3));
        assert_eq!(budget.used(), 2000);
        // One that does not gets a region of its own while the budget has room,
        fill(&mut buf, &file(dir.path(), 2500, 4));
        assert_eq!(budget.used(), 4500);
        // and free regions are unmapped to make room when it has not.
        fill(&mut buf, &file(dir.path(), 3000, 5));
        assert_eq!(budget.used(), 5000);
        buf.trim();
        // Two buffers share the pool, and a file takes the smallest free region it fits in.
        let region = |b: &Buffer<'_>| b.large.as_ref().map(|(r, _)| r.map.len());
        fill(&mut buf, &file(dir.path(), 1999, 6));
        assert_eq!(region(&buf), Some(2000));
        let mut other = Buffer::new(&budget);
        fill(&mut other, &file(dir.path(), 2999, 7));
        assert_eq!(region(&other), Some(3000));
        assert_eq!(budget.used(), 5000);
        fill(&mut buf, &file(dir.path(), 3, 8));
        assert_eq!(region(&buf), None);
    }

    #[test]
    fn a_file_larger_than_the_budget_takes_all_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(1000, 10);
        let mut buf = Buffer::new(&budget);
        fill(&mut buf, &file(dir.path(), 5000, 0));
        assert_eq!(budget.used(), 1000);
        buf.trim();
        // The next large file, however small, finds the budget spent and the region free to reuse.
        fill(&mut buf, &file(dir.path(), 20, 1));
        assert_eq!(budget.used(), 1000);
    }
}
