//! The audit workflow around a scan: accepted risks (waivers) applied to the verdicts as they are
//! recorded, whatever the target kind.

pub mod waivers;
