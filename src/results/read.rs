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
    doc.object("a result document (a JSON object)", |doc, key| {
        if key == "findings" {
            call(doc, Event::FindingsStart)?;
            doc.array("a list of findings", |doc, finding: Value| {
                call(doc, Event::Finding(finding))
            })?;
            call(doc, Event::FindingsEnd)
        } else {
            let value: Value = doc.value()?;
            call(doc, Event::Member(key, value))
        }
    })?;
    match doc.peek()? {
        None => Ok(()),
        Some(_) => Err(doc.error("trailing characters")),
    }
}

/// Checks, for the `results` fuzz target, that [`events`] reads `data` as serde_json reads the
/// whole document, whether the stream hands it over at once or in small pieces (so that values
/// straddle the framer's blocks): the same members and findings, or the same error at the same
/// line and column.
pub fn assert_framing_agrees(data: &[u8]) {
    let whole = serde_json::from_slice::<Value>(data);
    for piece in [usize::MAX, 61] {
        let framed = framed_object(Pieces(data, piece));
        // Where a JSON document is not a result's shape (not an object, `findings` not an
        // array), the framer says so, before any error serde_json finds further on.
        let shape = |e: &str| {
            e.starts_with("expected a list of findings") || e.starts_with("expected a result")
        };
        match (&whole, framed) {
            (Ok(Value::Object(want)), Ok(got)) => assert_eq!(&got, want, "pieces of {piece}"),
            (Ok(Value::Object(_)), Err(e)) => assert!(
                e.starts_with("expected a list of findings"),
                "refused a JSON object: {e}"
            ),
            (_, Err(e)) if shape(&e) => {}
            (Ok(_), Err(e)) => panic!("refused a JSON value that is not an object: {e}"),
            (Ok(other), Ok(_)) => panic!("framed a document that is not an object: {other}"),
            (Err(want), Ok(_)) => panic!("framed a document serde_json refuses: {want}"),
            // The same place; the words differ where the framer names what a result needs.
            (Err(want), Err(got)) => assert_eq!(
                position(&got),
                position(&want.to_string()),
                "pieces of {piece}: {got} against serde_json's {want}"
            ),
        }
    }
}

/// The `line L column C` an error message ends with.
fn position(error: &str) -> &str {
    error.rfind(" at line ").map_or(error, |at| &error[at..])
}

/// The object [`events`] reads from `reader`, put together again.
fn framed_object(reader: impl Read) -> Result<serde_json::Map<String, Value>, String> {
    let mut object = serde_json::Map::new();
    let mut findings = Vec::new();
    let mut on = |event: Event| {
        match event {
            Event::Member(k, v) => drop(object.insert(k, v)),
            Event::FindingsStart => findings.clear(),
            Event::Finding(v) => findings.push(v),
            Event::FindingsEnd => {
                let list = std::mem::take(&mut findings);
                object.insert("findings".into(), Value::Array(list));
            }
        }
        Ok(())
    };
    events(reader, &mut on).map_err(|e| e.to_string())?;
    Ok(object)
}

/// A stream that hands out its bytes at most `.1` at a time.
struct Pieces<'a>(&'a [u8], usize);

impl Read for Pieces<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(out.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
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
/// (the order vigil writes), or to a spool when they come first (as in a document whose members
/// were sorted, `jq -S`).
enum Flow<'s> {
    Waiting(Vec<Box<dyn Sink + 's>>),
    Streaming(Box<super::Recorder<'s>>, Schema),
    Spooling(Vec<Box<dyn Sink + 's>>, Spool),
}

/// Reads a saved result and feeds it to `sinks` as a scan would: the header, every finding in
/// order, the trailer (with the summary and digest recomputed: for an unaltered schema 2.0
/// document they are the recorded ones). This does not verify the document:
/// [`super::integrity::replay_verified`] does both in one pass.
pub fn replay(path: &Path, sinks: Vec<Box<dyn Sink + '_>>) -> Result<Trailer, ReadError> {
    replay_observed(path, sinks, &mut |_| Ok(()))
}

/// How much of a document's end [`host_hint`] looks at: the run record (the last member but the
/// integrity record in vigil's order) with room for a long command line.
const HINT_TAIL: u64 = 64 * 1024;

/// The host a result document's run record names, read from the last [`HINT_TAIL`] bytes of the
/// file without reading the rest: the last `"run":` there, and the object after it. Only a hint
/// (the document is not checked, and the run record may lie further back): `None` when it cannot
/// be found this way.
pub fn host_hint(path: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct RunHost {
        host: String,
    }
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(std::io::SeekFrom::Start(len.saturating_sub(HINT_TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    file.take(HINT_TAIL).read_to_end(&mut tail).ok()?;
    // `"run"` and a colon is a member named `run` (a string's own quotes are escaped); the last
    // one is the run record's in vigil's order and in sorted order alike.
    let mut end = tail.len();
    let value = loop {
        let at = memchr::memmem::rfind(&tail[..end], b"\"run\"")?;
        let rest = tail[at + 5..].trim_ascii_start();
        if let Some(value) = rest.strip_prefix(b":") {
            break value;
        }
        end = at;
    };
    let mut de = serde_json::Deserializer::from_slice(value);
    RunHost::deserialize(&mut de).ok().map(|r| r.host)
}

/// The document's schema, from its `schema_version` member.
fn schema(members: &[(String, Value)]) -> Result<Schema, String> {
    schema_of(&member::<String>(members, "schema_version")?)
}

/// [`replay`], showing every event to `observe` first (the integrity check hashes them).
pub fn replay_observed(
    path: &Path,
    sinks: Vec<Box<dyn Sink + '_>>,
    observe: &mut dyn FnMut(&Event) -> Result<(), String>,
) -> Result<Trailer, ReadError> {
    let file = std::fs::File::open(path)?;
    let mut members: Vec<(String, Value)> = Vec::new();
    let mut flow = Flow::Waiting(sinks);
    let mut on = |event: Event| -> Result<(), String> {
        observe(&event)?;
        match event {
            Event::Member(k, v) => members.push((k, v)),
            Event::FindingsStart => {
                let Flow::Waiting(sinks) = std::mem::replace(&mut flow, Flow::Waiting(Vec::new()))
                else {
                    return Err("duplicate member `findings`".into());
                };
                // A schema_version given after the findings is checked at the end.
                let known = members.iter().any(|(k, _)| k == "schema_version");
                let schema = if known { Some(schema(&members)?) } else { None };
                flow = match (schema, header(&members)) {
                    (Some(schema), Ok(h)) => {
                        let rec = super::Recorder::new(&h, sinks).map_err(|e| e.to_string())?;
                        Flow::Streaming(Box::new(rec), schema)
                    }
                    (schema, _) => {
                        Flow::Spooling(sinks, Spool::new(schema).map_err(|e| e.to_string())?)
                    }
                };
            }
            Event::Finding(v) => match &mut flow {
                Flow::Streaming(rec, schema) => {
                    let f = finding(v, *schema)?;
                    rec.record(&f).map_err(|e| e.to_string())?;
                }
                Flow::Spooling(_, spool) => spool.push(v)?,
                Flow::Waiting(_) => {}
            },
            Event::FindingsEnd => {}
        }
        Ok(())
    };
    events(file, &mut on)?;
    let invalid = ReadError::Invalid;
    let schema = schema(&members).map_err(invalid)?;
    let rec = match flow {
        Flow::Streaming(rec, _) => *rec,
        Flow::Spooling(sinks, spool) => {
            let mut rec = super::Recorder::new(&header(&members).map_err(invalid)?, sinks)?;
            spool.replay(schema, |f| rec.record(&f))?;
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

/// Findings waiting on disk, one JSON line each: converted to the current shape when the
/// document's schema was known as they were read (a conversion error is then placed in the
/// document), as they were written otherwise, to be converted once it is.
struct Spool {
    file: std::io::BufWriter<std::fs::File>,
    schema: Option<Schema>,
}

impl Spool {
    fn new(schema: Option<Schema>) -> std::io::Result<Spool> {
        Ok(Spool {
            file: std::io::BufWriter::new(tempfile::tempfile()?),
            schema,
        })
    }

    fn push(&mut self, v: Value) -> Result<(), String> {
        let written = match self.schema {
            Some(schema) => serde_json::to_writer(&mut self.file, &finding(v, schema)?),
            None => serde_json::to_writer(&mut self.file, &v),
        };
        written
            .map_err(std::io::Error::other)
            .and_then(|()| self.file.write_all(b"\n"))
            .map_err(|e| format!("cannot spool a finding: {e}"))
    }

    /// Hands each finding to `each`, in the document's order; `schema` is the document's.
    fn replay(
        self,
        schema: Schema,
        mut each: impl FnMut(Finding<'static>) -> std::io::Result<()>,
    ) -> Result<(), ReadError> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            let f: Finding<'static> = match self.schema {
                Some(_) => serde_json::from_str(&line).map_err(std::io::Error::other)?,
                None => {
                    let v = serde_json::from_str(&line).map_err(std::io::Error::other)?;
                    finding(v, schema).map_err(|e| {
                        ReadError::Invalid(format!("{e} (the document's finding {})", n + 1))
                    })?
                }
            };
            each(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(document: &str) -> Option<String> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), document).unwrap();
        host_hint(file.path())
    }

    #[test]
    fn the_host_hint_is_the_run_records_in_either_member_order() {
        // vigil's order: a finding and an argument that say `run` come before or inside it.
        let written = r#"{"findings": [{"evidence": {"run" : {"host": "finding"}}}],
            "run": {"host": "web-01", "arguments": ["vigil", "run", "--at"]}, "integrity": {}}"#;
        assert_eq!(hint(written).as_deref(), Some("web-01"));
        let sorted = r#"{"findings":[{"run":{"host":"finding"}}],"integrity":{},
            "run":{"arguments":["run"],"host":"db-01"},"schema_version":"2.0","tool":{}}"#;
        assert_eq!(hint(sorted).as_deref(), Some("db-01"));
    }

    #[test]
    fn no_host_hint_where_the_tail_does_not_hold_a_run_record() {
        assert_eq!(hint(r#"{"findings": []}"#), None);
        assert_eq!(hint(r#"{"run": {"host": 7}}"#), None);
        assert_eq!(hint(r#"{"run": "#), None);
        assert_eq!(hint(""), None);
        // A command line longer than the tail pushes the record's start out of it.
        let long = "a".repeat(HINT_TAIL as usize);
        let far = format!(r#"{{"run": {{"host": "far", "arguments": ["{long}"]}}}}"#);
        assert_eq!(hint(&far), None);
    }
}
