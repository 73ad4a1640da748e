//! vigil: a parallel security and compliance audit scanner.
//!
//! The flow, one module per step:
//!
//! ```text
//! command line ──> collect::walk (sorted file list)
//!                        │
//! policies/*.yaml ──> policy (validated, compiled once) ──> engine (rayon over files; each file read
//!                        │                                   once, every applicable control judged)
//!                        └──────────────> collect::{file, config, cert} (fact documents;
//!                                                   cert: the --at clock and the trust store,
//!                                                   loaded once per scan)
//!                                                   │
//!                                    results::ScanRun (findings with evidence, sorted)
//!                                                   │
//!                                     report::{console, json}
//! ```
//!
//! Collectors produce facts and know nothing of policies; a control is a predicate over fact fields
//! and knows nothing of Rust. The engine is the only place where the two meet.

pub mod cli;
pub mod clock;
pub mod collect;
pub mod doc;
pub mod engine;
pub mod integrity;
pub mod policy;
pub mod redact;
pub mod report;
pub mod results;
pub mod yaml;
