//! The JSON result document, written as the scan runs (see `docs/results.schema.json`).
//!
//! Members are indented as usual, except that each finding takes one line: the compact JSON that is
//! also its canonical form, so a 100,000-finding result can be searched with `grep` and holds no
//! indentation per field. The members known only at the end (`scan_errors`, `inventory`,
//! `summary`, `run`, `integrity`) follow the findings.

use std::io::{self, Write};

use serde::Serialize;

use crate::results::{Finding, Header, Sink, Trailer};

/// Writes the JSON result to `out`.
pub struct JsonSink<'w> {
    out: Box<dyn Write + 'w>,
    findings: u64,
}

impl<'w> JsonSink<'w> {
    /// A sink writing to `out`.
    pub fn new(out: Box<dyn Write + 'w>) -> JsonSink<'w> {
        JsonSink { out, findings: 0 }
    }

    fn member(&mut self, key: &str, value: &impl Serialize, last: bool) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        writeln!(
            self.out,
            "  {}: {}{}",
            serde_json::to_string(key).map_err(io::Error::other)?,
            text.replace('\n', "\n  "),
            if last { "" } else { "," }
        )
    }
}

impl Sink for JsonSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.out.write_all(b"{\n")?;
        self.member("schema_version", &header.schema_version, false)?;
        self.member("tool", &header.tool, false)?;
        self.member("policies", &header.policies, false)?;
        self.member("controls", &header.controls, false)?;
        self.out.write_all(b"  \"findings\": [")
    }

    fn finding(&mut self, _f: &Finding<'_>, _control: usize, canonical: &[u8]) -> io::Result<()> {
        self.out.write_all(if self.findings == 0 {
            b"\n    "
        } else {
            b",\n    "
        })?;
        self.out.write_all(canonical)?;
        self.findings += 1;
        Ok(())
    }

    fn finish(&mut self, _header: &Header, trailer: &Trailer) -> io::Result<()> {
        self.out.write_all(if self.findings == 0 {
            b"],\n"
        } else {
            b"\n  ],\n"
        })?;
        self.member("scan_errors", &trailer.scan_errors, false)?;
        self.member("inventory", &trailer.inventory, false)?;
        self.member("summary", &trailer.summary, false)?;
        self.member("run", &trailer.run, false)?;
        if !trailer.waivers.is_empty() {
            self.member("waivers", &trailer.waivers, false)?;
        }
        if let Some(k) = &trailer.known_failures {
            self.member("known_failures", k, false)?;
        }
        self.member("integrity", &trailer.integrity, true)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}
