//! `vigil report` (render a saved result) and `vigil verify` (check its integrity digest).

use std::path::{Path, PathBuf};

use clap::Args;

use super::output::{OutputArgs, write_outputs};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, usage_error};
use crate::integrity::{self, VerifyError};
use crate::report::json;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result written by `vigil scan --format json`.
    results: PathBuf,

    #[command(flatten)]
    output: OutputArgs,
}

/// Renders a saved result. The result's integrity digest is checked first: a report is never
/// rendered from a document that was altered after the scan.
pub fn run(args: ReportArgs) -> u8 {
    if let Err(e) = args.output.validate() {
        return usage_error(e);
    }
    let text = match std::fs::read_to_string(&args.results) {
        Ok(t) => t,
        Err(e) => return usage_error(format!("cannot read {}: {e}", args.results.display())),
    };
    if let Err(e) = integrity::verify(&text) {
        return usage_error(format!("{}: {e}", args.results.display()));
    }
    let run = match json::read(&text) {
        Ok(r) => r,
        Err(e) => {
            return usage_error(format!(
                "{} is not a vigil result document: {e}",
                args.results.display()
            ));
        }
    };
    match write_outputs(&run, &args.output, None) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// Checks a result's digest: exit 0 when it matches, 1 when the file was altered, 2 when it is not
/// a result document.
pub fn verify(path: &Path) -> u8 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return usage_error(format!("cannot read {}: {e}", path.display())),
    };
    match integrity::verify(&text) {
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
