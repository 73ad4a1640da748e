//! The compact JSON of a finding, written field by field: the bytes `serde_json::to_writer` writes
//! for it (and therefore its canonical form, which the integrity digest hashes), in a quarter of
//! the instructions.
//!
//! Every finding of a scan is written once, on the one thread that orders the output, so this is
//! on the scan's critical path. Through serde, most of a finding's cost was its strings: paths and
//! certificate names, checked for escapes one byte at a time and copied in small pieces. Here a
//! string is checked eight bytes at a time and copied whole; the rare string that needs an escape
//! is written by serde_json itself, so the escaping rules are serde_json's and nothing else.
//!
//! The fields are written in their declared (alphabetical) order, with the same omissions as the
//! derived `Serialize`. The tests compare both writers on findings with every field set and unset
//! and on strings of every escape class; a field added to [`Finding`] fails to compile there until
//! it is written here.

use super::{Evidence, Finding, Location, SuppressionRef, Target, WaiverRef};

/// Appends the compact JSON of `f` to `out`.
pub fn write_finding(f: &Finding<'_>, out: &mut Vec<u8>) {
    object(out, |o| {
        if !f.blocked_controls.is_empty() {
            o.key("blocked_controls");
            array(&f.blocked_controls, o.out, |c, out| string(c, out));
        }
        o.str("control", &f.control);
        if !f.evidence.is_empty() {
            o.key("evidence");
            array(&f.evidence, o.out, evidence);
        }
        o.opt_str("fingerprint", f.fingerprint.as_deref());
        if let Some(l) = &f.location {
            o.key("location");
            location(l, o.out);
        }
        o.opt_str("message", f.message.as_deref());
        o.opt_str("observed", f.observed.as_deref());
        o.str("severity", f.severity.as_str());
        o.str("state", f.state.as_str());
        if let Some(s) = &f.suppression {
            o.key("suppression");
            suppression(s, o.out);
        }
        o.key("target");
        target(&f.target, o.out);
        if let Some(w) = &f.waiver {
            o.key("waiver");
            waiver(w, o.out);
        }
    });
}

/// Appends a JSON object whose members `members` writes.
fn object(out: &mut Vec<u8>, members: impl FnOnce(&mut Object<'_>)) {
    out.push(b'{');
    members(&mut Object::new(out));
    out.push(b'}');
}

/// Appends a JSON array of `items`, each written by `item`.
pub(super) fn array<T>(items: &[T], out: &mut Vec<u8>, item: impl Fn(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(x, out);
    }
    out.push(b']');
}

fn evidence(e: &Evidence, out: &mut Vec<u8>) {
    object(out, |o| {
        o.str("field", &e.field);
        o.opt_int("line", e.line);
        o.str("observed", &e.observed);
        o.opt_str("path", e.path.as_deref());
    });
}

fn location(l: &Location, out: &mut Vec<u8>) {
    object(out, |o| {
        o.opt_int("column", l.column);
        o.opt_int("end_column", l.end_column);
        o.opt_int("line", Some(l.line));
        o.opt_str("path", l.path.as_deref());
    });
}

fn suppression(s: &SuppressionRef, out: &mut Vec<u8>) {
    object(out, |o| {
        o.opt_int("line", Some(s.line));
        o.str("reason", &s.reason);
    });
}

fn target(t: &Target<'_>, out: &mut Vec<u8>) {
    object(out, |o| {
        o.opt_str("element", t.element.as_deref());
        o.opt_str("endpoint", t.endpoint.as_deref());
        o.opt_str("file", t.file.as_deref());
        o.opt_str("host", t.host.as_deref());
        o.str("kind", &t.kind);
        o.opt_str("object", t.object.as_deref());
    });
}

fn waiver(w: &WaiverRef, out: &mut Vec<u8>) {
    object(out, |o| {
        o.str("approved_by", &w.approved_by);
        o.str("expires", &w.expires);
        o.str("justification", &w.justification);
        o.opt_str("ticket", w.ticket.as_deref());
    });
}

/// The members of one JSON object being written: puts the commas between them.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut Vec<u8>) -> Object<'o> {
        Object { out, first: true }
    }

    /// A member's key and colon. Keys are plain ASCII names: no escape to look for.
    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        string(value, self.out);
    }

    fn opt_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(name, v);
        }
    }

    fn opt_int(&mut self, name: &str, value: Option<u32>) {
        if let Some(v) = value {
            self.key(name);
            self.out
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
    }
}

/// Appends `s` as a JSON string, exactly as serde_json writes it.
pub(super) fn string(s: &str, out: &mut Vec<u8>) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("writing to memory cannot fail");
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Whether any byte is one serde_json escapes: a control character below 0x20, `"` or `\`.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// Per byte, the high bit set where the byte is zero (the classic "has a zero byte" test; it
    /// may also flag a byte above a true zero, which is harmless for a yes-or-no answer).
    fn zero_byte(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    let (words, tail) = bytes.split_at(bytes.len() - bytes.len() % 8);
    for w in words.chunks_exact(8) {
        let x = u64::from_ne_bytes(w.try_into().expect("chunks of eight"));
        // Below 0x20: the byte minus 0x20 borrows into its high bit, unless the byte had it set.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let quote = zero_byte(x ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(x ^ (ONES * u64::from(b'\\')));
        if control | quote | backslash != 0 {
            return true;
        }
    }
    tail.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::policy::Severity;
    use crate::results::State;

    fn both(f: &Finding<'_>) {
        let mut ours = Vec::new();
        write_finding(f, &mut ours);
        let theirs = serde_json::to_vec(f).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    /// Strings of every class: plain, escaped at every offset of a word, multi-byte, empty.
    fn strings() -> Vec<String> {
        let mut out = vec![
            String::new(),
            "plain".into(),
            "/tmp/vigil-bench-certs/d00/host00000.bench.example.pem".into(),
            "CN=host sha256:498da86ce8c8be9e758ebc55051f0a9c618cd8d43bad85d7be39d5b6e6a2af21"
                .into(),
            "é ü 日本 \u{1F600} \u{7f} \u{80} \u{2028}".into(),
            "!#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~".into(),
        ];
        for special in [
            '"', '\\', '\n', '\t', '\r', '\u{0}', '\u{1f}', '\u{8}', '\u{c}',
        ] {
            for at in 0..17 {
                let mut s: String = "abcdefghijklmnopq".chars().take(at).collect();
                s.push(special);
                s.push_str("xyz12345");
                out.push(s);
            }
        }
        // Bytes just around the ones that are escaped, in every position of a word.
        for b in [0x1fu8, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f] {
            for at in 0..9 {
                let mut s = vec![b'a'; at];
                s.push(b);
                s.extend_from_slice(b"0123456");
                out.push(String::from_utf8(s).unwrap());
            }
        }
        out
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in strings() {
            let mut ours = Vec::new();
            string(&s, &mut ours);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn findings_are_written_as_serde_json_writes_them() {
        let strings = strings();
        for (i, s) in strings.iter().enumerate() {
            let other = &strings[(i * 7 + 3) % strings.len()];
            let full = Finding {
                blocked_controls: vec![Cow::Borrowed("A-1"), Cow::Owned(s.clone())],
                control: Cow::Borrowed(other),
                evidence: vec![
                    Evidence {
                        field: s.clone(),
                        line: Some(7),
                        observed: other.clone(),
                        path: Some(s.clone()),
                    },
                    Evidence {
                        field: "x".into(),
                        line: None,
                        observed: String::new(),
                        path: None,
                    },
                ],
                fingerprint: Some(s.clone()),
                location: Some(Location {
                    column: Some(3),
                    end_column: Some(u32::MAX),
                    line: 0,
                    path: Some(other.clone()),
                }),
                message: Some(s.clone()),
                observed: Some(other.clone()),
                severity: Severity::ALL_DESCENDING[i % Severity::ALL_DESCENDING.len()],
                state: State::ALL[i % State::ALL.len()],
                suppression: Some(SuppressionRef {
                    line: 12,
                    reason: s.clone(),
                }),
                target: Target {
                    element: Some(s.clone()),
                    endpoint: Some(Cow::Borrowed(other)),
                    file: Some(Cow::Owned(s.clone())),
                    host: Some(Cow::Borrowed("h")),
                    kind: Cow::Borrowed(s),
                    object: Some(other.clone()),
                },
                waiver: Some(WaiverRef {
                    approved_by: s.clone(),
                    expires: "2027-01-01".into(),
                    justification: other.clone(),
                    ticket: Some(s.clone()),
                }),
            };
            both(&full);
            let bare = Finding {
                blocked_controls: Vec::new(),
                evidence: Vec::new(),
                fingerprint: None,
                location: Some(Location {
                    column: None,
                    end_column: None,
                    line: 1,
                    path: None,
                }),
                message: None,
                observed: None,
                suppression: None,
                target: Target {
                    element: None,
                    endpoint: None,
                    file: None,
                    host: None,
                    kind: Cow::Borrowed("certificate"),
                    object: None,
                },
                waiver: Some(WaiverRef {
                    ticket: None,
                    ..full.waiver.clone().unwrap()
                }),
                ..full.clone()
            };
            both(&bare);
            both(&Finding {
                location: None,
                waiver: None,
                ..bare
            });
        }
    }
}
