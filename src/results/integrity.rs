//! Integrity of a result document: a SHA-256 digest over its canonical JSON form.
//!
//! The digest is computed over the whole document except the `integrity` member itself, serialized
//! as in RFC 8785 (JSON Canonicalization Scheme): object members sorted by key, no insignificant
//! whitespace, strings with the minimal escapes of ECMAScript `JSON.stringify`. Any change to a
//! finding, a count, a policy digest or the run metadata changes the digest, and `vigil verify`
//! recomputes it.
//!
//! The digest is computed as the document is written, without holding it: in canonical order the
//! top-level members are `controls`, `findings`, then `inventory`, `policies`, `run`,
//! `scan_errors`, `schema_version`, `summary`, `tool`, so the header's controls are hashed first,
//! each finding as it is made (its compact JSON is its canonical form), and the rest at the end
//! ([`DigestBuilder`]). Verification streams the same way ([`verify_file`]), whatever the order of
//! the members in the file.
//!
//! The `integrity` member is an object so that a signature over the same canonical bytes can be
//! added later (a `signature` member next to `digest`) without changing what is hashed.

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::results::read::{self, Event, ReadError};
use crate::results::{Header, Trailer};
use crate::text::hex;

/// The name of the digest algorithm, as recorded.
pub const ALGORITHM: &str = "sha256";
/// The name of the canonical form, as recorded.
pub const CANONICALIZATION: &str = "RFC8785";

/// The integrity record of a result document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Integrity {
    /// Always `sha256`.
    pub algorithm: String,
    /// Always `RFC8785`.
    pub canonicalization: String,
    /// Lowercase hex SHA-256 of the canonical document without its `integrity` member.
    pub digest: String,
}

impl Integrity {
    fn of(hasher: Sha256) -> Integrity {
        Integrity {
            algorithm: ALGORITHM.into(),
            canonicalization: CANONICALIZATION.into(),
            digest: hex(&hasher.finalize()),
        }
    }
}

/// Why a document's integrity could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The text is not a JSON object, or cannot be read.
    #[error("not a vigil result document: {0}")]
    NotAResult(String),
    /// The document has no `integrity` member.
    #[error("the document has no integrity record")]
    Missing,
    /// The record names an algorithm or canonical form this version does not know.
    #[error(
        "unsupported integrity record: algorithm {algorithm}, canonicalization {canonicalization}"
    )]
    Unsupported {
        /// The recorded algorithm.
        algorithm: String,
        /// The recorded canonical form.
        canonicalization: String,
    },
    /// The recomputed digest differs: the document was changed after it was written.
    #[error(
        "digest mismatch: the document records {recorded} but its content hashes to {computed}"
    )]
    Mismatch {
        /// The digest in the document.
        recorded: String,
        /// The digest of the content.
        computed: String,
    },
}

impl From<ReadError> for VerifyError {
    fn from(e: ReadError) -> VerifyError {
        VerifyError::NotAResult(e.to_string())
    }
}

/// Computes the digest of a result document as it is written: the header first, then each finding,
/// then the trailer.
pub struct DigestBuilder {
    hasher: Sha256,
    findings: u64,
}

impl DigestBuilder {
    /// Starts with the members that sort before `findings` (only `controls`).
    pub fn new(header: &Header) -> DigestBuilder {
        let mut hasher = Sha256::new();
        hasher.update(b"{\"controls\":");
        hash_value(&mut hasher, &to_value(&header.controls));
        hasher.update(b",\"findings\":[");
        DigestBuilder {
            hasher,
            findings: 0,
        }
    }

    /// Adds one finding, given as its canonical (compact) JSON.
    pub fn finding(&mut self, canonical: &[u8]) {
        if self.findings > 0 {
            self.hasher.update(b",");
        }
        self.hasher.update(canonical);
        self.findings += 1;
    }

    /// Adds the members that sort after `findings` and returns the record.
    pub fn finish(mut self, header: &Header, trailer: &Trailer) -> Integrity {
        self.hasher.update(b"]");
        let mut after: Vec<(&str, Value)> = vec![
            ("inventory", to_value(&trailer.inventory)),
            ("policies", to_value(&header.policies)),
            ("run", to_value(&trailer.run)),
            ("scan_errors", to_value(&trailer.scan_errors)),
            ("schema_version", to_value(&header.schema_version)),
            ("summary", to_value(&trailer.summary)),
            ("tool", to_value(&header.tool)),
        ];
        // Present only when a waiver file or a baseline was given, so results without them hash
        // as before; in canonical (sorted) order.
        if !trailer.waivers.is_empty() {
            after.push(("waivers", to_value(&trailer.waivers)));
        }
        if let Some(k) = &trailer.known_failures {
            after.push(("known_failures", to_value(k)));
        }
        after.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in &after {
            self.hasher.update(b",");
            hash_value(&mut self.hasher, &Value::String((*key).to_string()));
            self.hasher.update(b":");
            hash_value(&mut self.hasher, value);
        }
        self.hasher.update(b"}");
        Integrity::of(self.hasher)
    }
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).expect("result members serialize")
}

/// The RFC 8785 form of `v` as a string.
pub fn canonical_string(v: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

fn hash_value(hasher: &mut Sha256, v: &Value) {
    hash_value_with(hasher, v, &mut Vec::new());
}

/// [`hash_value`], writing the canonical form into `scratch` (cleared first), which a caller
/// hashing many values keeps from one to the next.
fn hash_value_with(hasher: &mut Sha256, v: &Value, scratch: &mut Vec<u8>) {
    scratch.clear();
    write_canonical(v, scratch);
    hasher.update(&*scratch);
}

/// RFC 8785 orders keys by their UTF-16 code units (the same as code point order except above
/// U+FFFF).
fn key_order(a: &str, b: &str) -> Ordering {
    // Where either key is ASCII, the first difference has an ASCII character on one side (or one
    // key ends), and UTF-8 bytes order as UTF-16 units do: the common case, compared as bytes.
    if a.is_ascii() || b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Appends the RFC 8785 form of `v`. Numbers in results are integers, which serde_json writes as
/// ECMAScript does; strings get serde_json's escapes, which are those of `JSON.stringify`.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => super::compact::string(s, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            serde_json::to_writer(&mut *out, v).expect("writing to memory");
        }
        Value::Array(items) => super::compact::array(items, out, write_canonical),
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| key_order(a.0, b.0));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                super::compact::string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Checks the integrity record of a result file without holding its findings. Returns the verified
/// digest.
pub fn verify_file(path: &Path) -> Result<String, VerifyError> {
    // One pass when every member that sorts before `findings` precedes it in the file (as vigil
    // writes it); otherwise a second pass, knowing them all.
    let first = hash_file(path, None)?;
    let (members, computed) = match first.digest {
        Some(d) => (first.members, d),
        None => {
            let second = hash_file(path, Some(&first.members))?;
            let d = second
                .digest
                .ok_or_else(|| VerifyError::NotAResult("the document changed while read".into()))?;
            (first.members, d)
        }
    };
    check(&members, computed)
}

/// Checks, for the `results` fuzz target, that the digest [`verify_file`] computes as it streams
/// the file at `path` (holding `data`) is the SHA-256 of the canonical form of the whole document
/// without its `integrity` member, whatever the order of its members.
pub fn assert_digest_agrees(data: &[u8], path: &Path) {
    let computed = match verify_file(path) {
        Ok(digest)
        | Err(VerifyError::Mismatch {
            computed: digest, ..
        }) => digest,
        // Not a result, no record, or one this version does not know: nothing was computed.
        Err(_) => return,
    };
    let Ok(Value::Object(mut whole)) = serde_json::from_slice::<Value>(data) else {
        panic!("a digest of a document that is not a JSON object: {computed}");
    };
    whole.remove("integrity");
    let canonical = canonical_string(&Value::Object(whole));
    assert_eq!(computed, hex(&Sha256::digest(canonical.as_bytes())));
}

/// Replays a result into `sinks` (as [`read::replay`]) and checks its digest in the same pass.
/// The sinks have seen the whole document when the digest is known: a caller that must not show
/// an altered result holds their output back until this returns `Ok` (as `vigil report` does).
pub fn replay_verified(
    path: &Path,
    sinks: Vec<Box<dyn super::Sink + '_>>,
) -> Result<(super::Trailer, String), VerifyError> {
    let mut hashing = Hashing::new(None);
    let trailer = read::replay_observed(path, sinks, &mut |e| hashing.on(e))
        .map_err(|e| VerifyError::NotAResult(e.to_string()))?;
    let pass = hashing.finish();
    let digest = match pass.digest {
        Some(d) => check(&pass.members, d)?,
        // Members out of vigil's order: the digest needs a pass of its own.
        None => verify_file(path)?,
    };
    Ok((trailer, digest))
}

/// Compares a computed digest with the document's integrity record.
fn check(members: &[(String, Value)], computed: String) -> Result<String, VerifyError> {
    let record = members
        .iter()
        .find(|(k, _)| k == "integrity")
        .map(|(_, v)| v.clone())
        .ok_or(VerifyError::Missing)?;
    let recorded: Integrity = serde_json::from_value(record)
        .map_err(|e| VerifyError::NotAResult(format!("integrity record: {e}")))?;
    if recorded.algorithm != ALGORITHM || recorded.canonicalization != CANONICALIZATION {
        return Err(VerifyError::Unsupported {
            algorithm: recorded.algorithm,
            canonicalization: recorded.canonicalization,
        });
    }
    if computed != recorded.digest {
        return Err(VerifyError::Mismatch {
            recorded: recorded.digest,
            computed,
        });
    }
    Ok(computed)
}

/// What one pass over a result file gave: every member but the findings, and the digest when the
/// pass could compute it.
struct Pass {
    members: Vec<(String, Value)>,
    digest: Option<String>,
}

/// Hashes a document in canonical order. `known` holds every member from an earlier pass; without
/// it, the members that sort before `findings` must come before it in the file, or the digest is
/// left for a second pass.
fn hash_file(path: &Path, known: Option<&[(String, Value)]>) -> Result<Pass, VerifyError> {
    let file = std::fs::File::open(path)
        .map_err(|e| VerifyError::NotAResult(format!("cannot read {}: {e}", path.display())))?;
    let mut hashing = Hashing::new(known);
    read::events(file, &mut |event| hashing.on(&event))?;
    Ok(hashing.finish())
}

/// The canonical-form hash of a document, fed its events in file order.
struct Hashing<'k> {
    known: Option<&'k [(String, Value)]>,
    members: Vec<(String, Value)>,
    hasher: Option<Sha256>,
    hashed_before: Vec<String>,
    findings: u64,
    saw_findings: bool,
    /// The buffer each finding's canonical form is written to, kept for the next one.
    scratch: Vec<u8>,
}

impl<'k> Hashing<'k> {
    fn new(known: Option<&'k [(String, Value)]>) -> Self {
        Hashing {
            known,
            members: Vec::new(),
            hasher: None,
            hashed_before: Vec::new(),
            findings: 0,
            saw_findings: false,
            scratch: Vec::new(),
        }
    }

    fn on(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Member(key, value) => {
                if self.members.iter().any(|(k, _)| k == key) || key == "findings" {
                    return Err(format!("duplicate member `{key}`"));
                }
                self.members.push((key.clone(), value.clone()));
            }
            Event::FindingsStart => {
                if self.saw_findings {
                    return Err("duplicate member `findings`".into());
                }
                self.saw_findings = true;
                let source = self.known.unwrap_or(&self.members);
                let mut before: Vec<&(String, Value)> = source
                    .iter()
                    .filter(|(k, _)| k != "integrity" && key_order(k, "findings").is_lt())
                    .collect();
                before.sort_by(|a, b| key_order(&a.0, &b.0));
                let mut h = Sha256::new();
                h.update(b"{");
                for (k, v) in before {
                    hash_value(&mut h, &Value::String(k.clone()));
                    h.update(b":");
                    hash_value(&mut h, v);
                    h.update(b",");
                    self.hashed_before.push(k.clone());
                }
                h.update(b"\"findings\":[");
                self.hasher = Some(h);
            }
            Event::Finding(v) => {
                let h = self.hasher.as_mut().expect("findings start first");
                if self.findings > 0 {
                    h.update(b",");
                }
                hash_value_with(h, v, &mut self.scratch);
                self.findings += 1;
            }
            Event::FindingsEnd => {}
        }
        Ok(())
    }

    fn finish(self) -> Pass {
        let members = self.members;
        let mut rest: Vec<&(String, Value)> =
            members.iter().filter(|(k, _)| k != "integrity").collect();
        rest.sort_by(|a, b| key_order(&a.0, &b.0));
        let digest = match self.hasher {
            None => {
                // No findings member at all: hash the members as they are.
                let mut h = Sha256::new();
                let object: serde_json::Map<String, Value> =
                    rest.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                hash_value(&mut h, &Value::Object(object));
                Some(hex(&h.finalize()))
            }
            Some(mut h) => {
                let before: Vec<&String> = rest
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| key_order(k, "findings").is_lt())
                    .collect();
                if before.len() != self.hashed_before.len()
                    || before.iter().zip(&self.hashed_before).any(|(a, b)| *a != b)
                {
                    None
                } else {
                    h.update(b"]");
                    for (k, v) in rest
                        .iter()
                        .filter(|(k, _)| key_order(k, "findings").is_gt())
                    {
                        h.update(b",");
                        hash_value(&mut h, &Value::String(k.clone()));
                        h.update(b":");
                        hash_value(&mut h, v);
                    }
                    h.update(b"}");
                    Some(hex(&h.finalize()))
                }
            }
        };
        Pass { members, digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let s = canonical_string(&json!({"b": [1, true, null], "a": {"z": "é\n\u{1f}", "y": 2}}));
        assert_eq!(
            s,
            "{\"a\":{\"y\":2,\"z\":\"é\\n\\u001f\"},\"b\":[1,true,null]}"
        );
        assert_eq!(
            canonical_string(&json!({"\u{10000}": 1, "\u{ffff}": 2})),
            "{\"\u{10000}\":1,\"\u{ffff}\":2}",
            "keys sort by UTF-16 code units"
        );
    }

    #[test]
    fn keys_order_by_utf16_units_whether_or_not_one_is_ascii() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "~",
            "\u{7f}",
            "é",
            "aé",
            "\u{e000}",
            "a\u{e000}",
            "\u{ff21}",
            "\u{ffff}",
            "\u{10000}",
            "a\u{10000}",
            "\u{1f600}",
            "\u{1f600}\u{ffff}",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    key_order(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} against {b:?}"
                );
            }
        }
    }

    fn write(dir: &Path, name: &str, v: &Value) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
        p
    }

    fn sealed(mut doc: Value) -> Value {
        let digest = hex(&Sha256::digest(canonical_string(&doc).as_bytes()));
        doc["integrity"] =
            json!({"algorithm": ALGORITHM, "canonicalization": CANONICALIZATION, "digest": digest});
        doc
    }

    #[test]
    fn verify_detects_any_change_in_any_member_order() {
        let dir = tempfile::tempdir().unwrap();
        let doc = sealed(
            json!({"controls": [1], "findings": [{"state": "fail"}, {"state": "pass"}], "run": {"host": "h"}, "aaa": 1}),
        );
        let expected = doc["integrity"]["digest"].as_str().unwrap().to_string();
        let p = write(dir.path(), "a.json", &doc);
        assert_eq!(verify_file(&p).unwrap(), expected);
        // `aaa` sorts before `findings` but comes after it in this file: two passes, same digest.
        let text = std::fs::read_to_string(&p).unwrap();
        let reordered: Value = serde_json::from_str(&text).unwrap();
        let mut m = serde_json::Map::new();
        for k in ["run", "findings", "controls", "integrity", "aaa"] {
            m.insert(k.into(), reordered[k].clone());
        }
        let p2 = write(dir.path(), "b.json", &Value::Object(m));
        assert_eq!(verify_file(&p2).unwrap(), expected);
        let tampered = text.replace("\"fail\"", "\"pass\"");
        std::fs::write(&p, tampered).unwrap();
        assert!(matches!(verify_file(&p), Err(VerifyError::Mismatch { .. })));
        let p3 = write(dir.path(), "c.json", &json!({"findings": []}));
        assert!(matches!(verify_file(&p3), Err(VerifyError::Missing)));
        std::fs::write(&p3, "[1, 2]").unwrap();
        assert!(matches!(verify_file(&p3), Err(VerifyError::NotAResult(_))));
    }
}
