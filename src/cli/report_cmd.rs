//! `vigil report` (render a saved result) and `vigil verify` (check its integrity digest).

use std::path::{Path, PathBuf};

use clap::Args;

use super::output::{OutputArgs, print_summary};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, usage_error};
use crate::report::console::summary_line;
use crate::results::integrity::{self, VerifyError};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result written by `vigil scan --format json`.
    results: PathBuf,

    #[command(flatten)]
    output: OutputArgs,
}

/// Renders a saved result (schema 2.0, or 1.0 from earlier versions). The result's integrity digest
/// is checked first: a report is never rendered from a document that was altered after the scan.
pub fn run(args: ReportArgs) -> u8 {
    if let Err(e) = args.output.validate() {
        return usage_error(e);
    }
    let (sinks, held) = match args.output.held_sinks() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    // One pass renders and verifies; the output is written only once the digest matched.
    match integrity::replay_verified(&args.results, sinks) {
        Ok((trailer, _)) => {
            if let Err(e) = held.commit() {
                return usage_error(format!("cannot write the report: {e}"));
            }
            // Every control is counted once, under its worst state.
            let controls: u64 = trailer.summary.controls_by_state.values().sum();
            let line = summary_line(
                usize::try_from(controls).unwrap_or(usize::MAX),
                &trailer.inventory,
                &trailer.summary,
                None,
            );
            print_summary(&args.output, &line);
            EXIT_OK
        }
        Err(e) => usage_error(format!("{}: {e}", args.results.display())),
    }
}

/// Checks a result's digest: exit 0 when it matches, 1 when the file was altered, 2 when it is not
/// a result document.
pub fn verify(path: &Path) -> u8 {
    match integrity::verify_file(path) {
        Ok(digest) => {
            println!("{}: ok (sha256:{digest})", path.display());
            EXIT_OK
        }
        Err(e @ VerifyError::Mismatch { .. }) => {
            eprintln!("vigil: {}: {e}", path.display());
            EXIT_FINDINGS
        }
        Err(e) => {
            eprintln!("vigil: {}: {e}", path.display());
            EXIT_USAGE
        }
    }
}
