//! Streaming a result: the [`Sink`] every output format implements, and the [`Recorder`] that
//! feeds them, the integrity digest and the counts, one finding at a time.

use std::io;

use super::integrity::{DigestBuilder, Integrity};
use super::{Finding, Header, Inventory, RunInfo, ScanError, Tally, Trailer};

/// An output that receives the result as it is made: the header, each finding in order, then the
/// trailer. JSON, SARIF and JUnit write as findings arrive; console, Markdown and HTML aggregate and
/// write at the end.
pub trait Sink {
    /// The header, before any finding.
    fn begin(&mut self, header: &Header) -> io::Result<()>;

    /// One finding. `control` is its control's index in the header; `canonical` is its compact JSON,
    /// which is also its canonical form.
    fn finding(&mut self, f: &Finding<'_>, control: usize, canonical: &[u8]) -> io::Result<()>;

    /// An `error` finding of another control that also kept the control at `control` from judging
    /// its target (see [`Finding::blocked_controls`]); called after [`Sink::finding`]. The finding
    /// is not one of this control's: it is counted once, under its own control.
    fn blocked(&mut self, f: &Finding<'_>, control: usize) -> io::Result<()> {
        let _ = (f, control);
        Ok(())
    }

    /// The trailer, after the last finding.
    fn finish(&mut self, header: &Header, trailer: &Trailer) -> io::Result<()>;
}

/// Feeds findings to the digest, the tally and every sink.
pub struct Recorder<'s> {
    header: Header,
    sinks: Vec<Box<dyn Sink + 's>>,
    digest: DigestBuilder,
    tally: Tally,
    buf: Vec<u8>,
}

impl<'s> Recorder<'s> {
    /// Starts a result: hashes the header and hands it to every sink.
    pub fn new(header: &Header, mut sinks: Vec<Box<dyn Sink + 's>>) -> io::Result<Self> {
        for s in &mut sinks {
            s.begin(header)?;
        }
        Ok(Recorder {
            header: header.clone(),
            sinks,
            digest: DigestBuilder::new(header),
            tally: Tally::new(header),
            buf: Vec::with_capacity(512),
        })
    }

    /// The header the result started with.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Records one finding. Its control must be in the header.
    pub fn record(&mut self, f: &Finding<'_>) -> io::Result<()> {
        let control = self
            .header
            .control(&f.control)
            .map(|(i, _)| i)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("finding of unknown control `{}`", f.control),
                )
            })?;
        self.record_indexed(f, control)
    }

    /// Records one finding of the control at `control` in the header.
    pub fn record_indexed(&mut self, f: &Finding<'_>, control: usize) -> io::Result<()> {
        self.buf.clear();
        super::compact::write_finding(f, &mut self.buf);
        self.digest.finding(&self.buf);
        self.tally.add(f, control);
        for s in &mut self.sinks {
            s.finding(f, control, &self.buf)?;
        }
        for id in &f.blocked_controls {
            let Some((other, _)) = self.header.control(id) else {
                continue;
            };
            if other == control {
                continue;
            }
            self.tally.block(other);
            for s in &mut self.sinks {
                s.blocked(f, other)?;
            }
        }
        Ok(())
    }

    /// The counts so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Ends the result: computes the summary and the digest, hands the trailer to every sink and
    /// returns it.
    pub fn finish(
        mut self,
        scan_errors: Vec<ScanError>,
        inventory: Inventory,
        run: RunInfo,
        waivers: Vec<super::WaiverStatus>,
        known_failures: Option<super::KnownFailures>,
    ) -> io::Result<Trailer> {
        let mut trailer = Trailer {
            scan_errors,
            inventory,
            summary: self.tally.summary(),
            run,
            integrity: Integrity::default(),
            waivers,
            known_failures,
        };
        trailer.integrity = self.digest.finish(&self.header, &trailer);
        for s in &mut self.sinks {
            s.finish(&self.header, &trailer)?;
        }
        Ok(trailer)
    }
}

/// A sink that keeps every finding in memory: for tests and small embedded scans (a
/// [`super::Document`] is the header, these findings and the trailer).
pub struct Capture<'v> {
    findings: &'v mut Vec<Finding<'static>>,
}

impl<'v> Capture<'v> {
    /// Appends every finding to `findings`.
    pub fn new(findings: &'v mut Vec<Finding<'static>>) -> Capture<'v> {
        Capture { findings }
    }
}

impl Sink for Capture<'_> {
    fn begin(&mut self, _header: &Header) -> io::Result<()> {
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, _control: usize, _canonical: &[u8]) -> io::Result<()> {
        self.findings.push(f.clone().into_owned());
        Ok(())
    }

    fn finish(&mut self, _header: &Header, _trailer: &Trailer) -> io::Result<()> {
        Ok(())
    }
}
