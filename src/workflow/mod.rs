//! The audit workflow around a scan: accepted risks (waivers) and known failures (baselines)
//! applied to the verdicts as they are recorded, whatever the target kind.

pub mod baseline;
pub mod waivers;
