//! The audit workflow around a scan: accepted risks (waivers) and known failures (baselines),
//! applied to the verdicts as they are recorded, whatever the target kind; and the inline
//! suppressions that the owners of scanned files write in them ([`suppressions`]), applied to the
//! verdicts of each file as it is judged.

pub mod baseline;
pub mod suppressions;
pub mod waivers;
