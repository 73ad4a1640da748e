//! Reading a saved result document as a stream, so that `vigil report` and `vigil verify` never
//! hold every finding: schema 2.0 as written by this version, and schema 1.0 from earlier ones
//! (converted finding by finding).

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::frame::{FrameError, Framer};
use super::{
    ControlInfo, Finding, Header, Inventory, PolicyInfo, RunInfo, SCHEMA_VERSION, ScanError, Sink,
    Target, Tool, Trailer,
};

/// What a streamed document yields, in file order.
#[derive(Debug)]
pub enum Event {
    /// A top-level member other than `findings`.
    Member(String, Value),
    /// The `findings` array begins.
    FindingsStart,
    /// One finding.
    Finding(Value),
    /// The `findings` array ends.
    FindingsEnd,
}

/// Why a result document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON, or not a result document.
    #[error("{0}")]
    Invalid(String),
    /// An output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

type Callback<'c> = dyn FnMut(Event) -> Result<(), String> + 'c;

/// Parses a document from `reader`, calling `on` for each top-level member and each finding. The
/// document must be a JSON object; its findings never are all in memory. An error `on` returns is
/// placed at the line and column the document had been read to.
pub fn events(reader: impl Read, on: &mut Callback<'_>) -> Result<(), ReadError> {
    let mut doc = Framer::new(reader);
    walk(&mut doc, on).map_err(|e| match e {
        FrameError::Io(e) => ReadError::Io(e),
        FrameError::Syntax(what) => ReadError::Invalid(what),
    })
}

/// The document's object member by member, and its `findings` array finding by finding.
fn walk<R: Read>(doc: &mut Framer<R>, on: &mut Callback<'_>) -> Result<(), FrameError> {
    let mut call = |doc: &Framer<R>, event: Event| on(event).map_err(|what| doc.error(what));
    doc.expect(b'{', "a result document (a JSON object)")?;
    if !doc.eat(b'}')? {
        loop {
            if doc.peek()? != Some(b'"') {
                return Err(doc.error("expected a member name"));
            }
            let key: String = doc.value()?;
            doc.expect(b':', "`:`")?;
            if key == "findings" {
                call(doc, Event::FindingsStart)?;
                doc.array("a list of findings", |doc, finding: Value| {
                    call(doc, Event::Finding(finding))
                })?;
                call(doc, Event::FindingsEnd)?;
            } else {
                let value: Value = doc.value()?;
                call(doc, Event::Member(key, value))?;
            }
            if doc.eat(b'}')? {
                break;
            }
            doc.expect(b',', "`,` or `}`")?;
        }
    }
    match doc.peek()? {
        None => Ok(()),
        Some(_) => Err(doc.error("trailing characters")),
    }
}

/// The shape version of a document, from its `schema_version` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    V1,
    V2,
}

fn schema_of(version: &str) -> Result<Schema, String> {
    match version.split('.').next() {
        Some("1") => Ok(Schema::V1),
        Some("2") => Ok(Schema::V2),
        _ => Err(format!(
            "schema_version {version} is not one this version of vigil reads (1.x, 2.x)"
        )),
    }
}

/// A finding of a schema 1.0 document, as it was written.
#[derive(Deserialize)]
struct FindingV1 {
    control: String,
    severity: crate::policy::Severity,
    state: super::State,
    target: TargetV1,
    #[serde(default)]
    location: Option<super::Location>,
    observed: String,
    message: String,
    #[serde(default)]
    evidence: Vec<super::Evidence>,
    fingerprint: String,
}

#[derive(Deserialize)]
struct TargetV1 {
    kind: String,
    path: String,
    #[serde(default)]
    object: Option<String>,
}

/// Converts one finding of either schema to the current shape.
fn finding(v: Value, schema: Schema) -> Result<Finding<'static>, String> {
    match schema {
        Schema::V2 => serde_json::from_value(v).map_err(|e| format!("finding: {e}")),
        Schema::V1 => {
            let f: FindingV1 = serde_json::from_value(v).map_err(|e| format!("finding: {e}"))?;
            Ok(Finding {
                blocked_controls: Vec::new(),
                control: Cow::Owned(f.control),
                evidence: f.evidence,
                fingerprint: (!f.fingerprint.is_empty()).then_some(f.fingerprint),
                location: f.location,
                message: Some(f.message),
                observed: Some(f.observed),
                severity: f.severity,
                state: f.state,
                suppression: None,
                target: Target {
                    element: None,
                    endpoint: None,
                    file: (f.target.path != "*").then_some(Cow::Owned(f.target.path)),
                    host: None,
                    kind: Cow::Owned(f.target.kind),
                    object: f.target.object,
                },
                waiver: None,
            })
        }
    }
}

fn member<T: for<'de> Deserialize<'de>>(
    members: &[(String, Value)],
    key: &str,
) -> Result<T, String> {
    let v = members
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| format!("the document has no `{key}`"))?;
    serde_json::from_value(v).map_err(|e| format!("`{key}`: {e}"))
}

fn header(members: &[(String, Value)]) -> Result<Header, String> {
    Ok(Header {
        schema_version: SCHEMA_VERSION.into(),
        tool: member::<Tool>(members, "tool")?,
        policies: member::<Vec<PolicyInfo>>(members, "policies")?,
        controls: member::<Vec<ControlInfo>>(members, "controls")?,
    })
}

/// Where findings go while the document is read: straight to the sinks once the header is known
/// (the order vigil writes), or to a spool when they come first.
enum Flow<'s> {
    Waiting(Vec<Box<dyn Sink + 's>>),
    Streaming(Box<super::Recorder<'s>>),
    Spooling(Vec<Box<dyn Sink + 's>>, Spool),
}

/// Reads a saved result and feeds it to `sinks` as a scan would: the header, every finding in
/// order, the trailer (with the summary and digest recomputed: for an unaltered schema 2.0
/// document they are the recorded ones). This does not verify the document:
/// [`super::integrity::replay_verified`] does both in one pass.
pub fn replay(path: &Path, sinks: Vec<Box<dyn Sink + '_>>) -> Result<Trailer, ReadError> {
    replay_observed(path, sinks, &mut |_| Ok(()))
}

/// [`replay`], showing every event to `observe` first (the integrity check hashes them).
pub fn replay_observed(
    path: &Path,
    sinks: Vec<Box<dyn Sink + '_>>,
    observe: &mut dyn FnMut(&Event) -> Result<(), String>,
) -> Result<Trailer, ReadError> {
    let file = std::fs::File::open(path)?;
    let mut members: Vec<(String, Value)> = Vec::new();
    let mut schema = None;
    let mut flow = Flow::Waiting(sinks);
    let mut on = |event: Event| -> Result<(), String> {
        observe(&event)?;
        match event {
            Event::Member(k, v) => members.push((k, v)),
            Event::FindingsStart => {
                let version: String = member(&members, "schema_version")?;
                schema = Some(schema_of(&version)?);
                let Flow::Waiting(sinks) = std::mem::replace(&mut flow, Flow::Waiting(Vec::new()))
                else {
                    return Err("duplicate member `findings`".into());
                };
                flow = match header(&members) {
                    Ok(h) => Flow::Streaming(Box::new(
                        super::Recorder::new(&h, sinks).map_err(|e| e.to_string())?,
                    )),
                    Err(_) => Flow::Spooling(sinks, Spool::new().map_err(|e| e.to_string())?),
                };
            }
            Event::Finding(v) => {
                let f = finding(v, schema.expect("findings start first"))?;
                match &mut flow {
                    Flow::Streaming(rec) => rec.record(&f),
                    Flow::Spooling(_, spool) => spool.push(&f),
                    Flow::Waiting(_) => Ok(()),
                }
                .map_err(|e| e.to_string())?;
            }
            Event::FindingsEnd => {}
        }
        Ok(())
    };
    events(file, &mut on)?;
    let invalid = ReadError::Invalid;
    let rec = match flow {
        Flow::Streaming(rec) => *rec,
        Flow::Spooling(sinks, spool) => {
            let mut rec = super::Recorder::new(&header(&members).map_err(invalid)?, sinks)?;
            spool.replay(|f| rec.record(&f))?;
            rec
        }
        // A document without findings.
        Flow::Waiting(sinks) => super::Recorder::new(&header(&members).map_err(invalid)?, sinks)?,
    };
    let scan_errors: Vec<ScanError> = member(&members, "scan_errors").map_err(invalid)?;
    let inventory: Inventory = member(&members, "inventory").map_err(invalid)?;
    let run: RunInfo = member(&members, "run").map_err(invalid)?;
    // Only results of a scan with a waiver file have `waivers`.
    let waivers: Vec<super::WaiverStatus> = if members.iter().any(|(k, _)| k == "waivers") {
        member(&members, "waivers").map_err(invalid)?
    } else {
        Vec::new()
    };
    let known_failures: Option<super::KnownFailures> =
        if members.iter().any(|(k, _)| k == "known_failures") {
            Some(member(&members, "known_failures").map_err(invalid)?)
        } else {
            None
        };
    Ok(rec.finish(scan_errors, inventory, run, waivers, known_failures)?)
}

/// Findings waiting on disk, one JSON line each.
struct Spool {
    file: std::io::BufWriter<std::fs::File>,
}

impl Spool {
    fn new() -> std::io::Result<Spool> {
        Ok(Spool {
            file: std::io::BufWriter::new(tempfile::tempfile()?),
        })
    }

    fn push(&mut self, f: &Finding<'_>) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.file, f).map_err(std::io::Error::other)?;
        self.file.write_all(b"\n")
    }

    fn replay(
        self,
        mut each: impl FnMut(Finding<'static>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        for line in BufReader::new(file).lines() {
            let f: Finding<'static> =
                serde_json::from_str(&line?).map_err(std::io::Error::other)?;
            each(f)?;
        }
        Ok(())
    }
}
