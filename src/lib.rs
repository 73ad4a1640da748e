//! vigil: a parallel security and compliance audit scanner.
//!
//! The flow, one module per step (`docs/ARCHITECTURE.md` has the whole picture):
//!
//! ```text
//! command line ──> cli ──> policy (validated against the collector registry)
//!                   │
//!                   └──> engine: targets (collect::walk | endpoints | hosts)
//!                          │  ordered parallel pipeline, one target at a time per worker
//!                          ├──> collect::{file, config, cert, ...}: fact documents (Collector)
//!                          ├──> policy::eval: verdicts, one per failing element
//!                          ▼
//!                        results::Recorder (in target order): digest, counts
//!                          ▼
//!                        report::{json, sarif, junit, console, markdown, html},
//!                        history::Recording (SQLite or PostgreSQL, --history) (Sink)
//! ```
//!
//! Collectors produce facts and know nothing of policies; a control is a predicate over fact fields and
//! knows nothing of Rust. The engine is the only place where the two meet, and it names no collector:
//! it dispatches through [`collect::Registry`].

pub mod cli;
pub mod clock;
pub mod collect;
pub mod doc;
pub mod engine;
pub mod harness;
pub mod history;
pub mod parallel;
pub mod policy;
pub mod redact;
pub mod report;
pub mod results;
pub mod scrub;
pub mod text;
pub mod workflow;
pub mod yaml;

#[cfg(test)]
mod layering;

pub use results::integrity;
