//! The JSON result document: [`ScanRun`] serialized with two-space indentation and a final newline.
//! Its shape is specified by `docs/results.schema.json`.

use std::io::{self, Write};

use crate::results::ScanRun;

/// Writes the result document.
pub fn write(run: &ScanRun, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, run).map_err(|e| match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}

/// Reads a result document back, for rendering later.
pub fn read(text: &str) -> Result<ScanRun, serde_json::Error> {
    serde_json::from_str(text)
}
