//! Sharded scans (`--shard I/N`): N processes, each judging a deterministic 1/N of the targets,
//! together cover every target exactly once, and `vigil merge` puts their results back together
//! in the order one scan would have written.
//!
//! Targets are numbered in scan order (files as walked, then endpoints, then hosts; every process
//! walks the whole tree, which costs little next to judging) and dealt round-robin in blocks of
//! [`Shard::BLOCK`] consecutive targets. A block keeps neighbouring files together, and
//! round-robin keeps the shards even whatever the tree's shape; the part records how many findings
//! each of its blocks gave ([`crate::results::ShardRecord`]), which is all a merge needs.

/// One shard of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0 (a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
    pub index: u64,
    /// How many shards the scan is cut into.
    pub count: u64,
}

impl Shard {
    /// Consecutive targets dealt to one shard.
    pub const BLOCK: u64 = 64;

    /// Parses `I/N` (0 <= I < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not I/N (shard I of N, counted from 0)"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a number of shards"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index} of {count}: shards are counted from 0, so I must be below N"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the target numbered `ordinal` is this shard's.
    pub fn owns(&self, ordinal: u64) -> bool {
        (ordinal / Self::BLOCK) % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_target_once() {
        for count in [1, 3, 8] {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            for ordinal in 0..2000 {
                assert_eq!(shards.iter().filter(|s| s.owns(ordinal)).count(), 1);
            }
        }
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert!(Shard::parse("8/8").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
