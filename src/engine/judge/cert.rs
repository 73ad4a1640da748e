//! Certificate and private key checks: the certificate collector reads the file once for both
//! kinds; each document is judged by the controls of its kind, each unreadable block or file
//! becomes an `error` finding at its line for the controls of the kind it would have been.

use super::{FileResult, error, judge_documents};
use crate::collect::cert::{self, CertContext, DocKind};
use crate::collect::walk::Entry;
use crate::policy::Control;
use crate::results::Location;

/// Judges `bytes` (the contents of `entry`) with the `certificate` controls `certs` and the
/// `private_key` controls `keys`.
pub fn judge(
    certs: &[&Control],
    keys: &[&Control],
    entry: &Entry,
    bytes: &[u8],
    ctx: &CertContext,
    out: &mut FileResult,
) {
    if certs.is_empty() && keys.is_empty() {
        return;
    }
    let found = cert::collect(&entry.path, &entry.display, bytes, ctx);
    for e in &found.errors {
        let controls: Vec<&&Control> = match e.kind {
            Some(DocKind::Certificate) => certs.iter().collect(),
            Some(DocKind::PrivateKey) => keys.iter().collect(),
            None => certs.iter().chain(keys).collect(),
        };
        let location = e.line.map(|line| Location {
            path: None,
            line,
            column: None,
            end_column: None,
        });
        for c in controls {
            out.findings
                .push(error(c, entry, location.clone(), e.message.clone()));
        }
    }
    for (kind, docs, cs) in [
        ("certificate", &found.certificates, certs),
        ("private_key", &found.keys, keys),
    ] {
        if cs.is_empty() || docs.is_empty() {
            continue;
        }
        *out.documents.entry(kind).or_default() += docs.len() as u64;
        for doc in docs {
            let first = out.findings.len();
            judge_documents(cs, entry, std::slice::from_ref(doc), out);
            // A verdict on an absent field (no keyUsage) still points at the certificate.
            if let Some(line) = doc.root.pos.known_line() {
                for f in &mut out.findings[first..] {
                    f.location.get_or_insert(Location {
                        path: None,
                        line,
                        column: None,
                        end_column: None,
                    });
                }
            }
        }
    }
}
