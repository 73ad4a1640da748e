//! Integrity of a result document: a SHA-256 digest over its canonical JSON form.
//!
//! The digest is computed over the whole document except the `integrity` member itself, serialized
//! as in RFC 8785 (JSON Canonicalization Scheme): object members sorted by key, no insignificant
//! whitespace, strings with the minimal escapes of ECMAScript `JSON.stringify`. Any change to a
//! finding, a count, a policy digest or the run metadata changes the digest, and `vigil verify`
//! recomputes it.
//!
//! The `integrity` member is an object so that a signature over the same canonical bytes can be
//! added later (a `signature` member next to `digest`) without changing what is hashed.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The name of the digest algorithm, as recorded.
pub const ALGORITHM: &str = "sha256";
/// The name of the canonical form, as recorded.
pub const CANONICALIZATION: &str = "RFC8785";

/// The integrity record of a result document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Integrity {
    /// Always `sha256`.
    pub algorithm: String,
    /// Always `RFC8785`.
    pub canonicalization: String,
    /// Lowercase hex SHA-256 of the canonical document without its `integrity` member.
    pub digest: String,
}

/// Why a document's integrity could not be confirmed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The text is not a JSON object.
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

/// Computes the integrity record of a document (its `integrity` member, if any, is ignored).
pub fn compute(document: &Value) -> Integrity {
    let mut without = document.clone();
    if let Some(map) = without.as_object_mut() {
        map.remove("integrity");
    }
    let mut canonical = String::new();
    write_canonical(&without, &mut canonical);
    Integrity {
        algorithm: ALGORITHM.into(),
        canonicalization: CANONICALIZATION.into(),
        digest: hex(&Sha256::digest(canonical.as_bytes())),
    }
}

/// Checks the integrity record of a document's text. Returns the verified digest.
pub fn verify(text: &str) -> Result<String, VerifyError> {
    let document: Value =
        serde_json::from_str(text).map_err(|e| VerifyError::NotAResult(e.to_string()))?;
    let recorded = document
        .get("integrity")
        .ok_or(VerifyError::Missing)
        .and_then(|i| {
            serde_json::from_value::<Integrity>(i.clone())
                .map_err(|e| VerifyError::NotAResult(format!("integrity record: {e}")))
        })?;
    if recorded.algorithm != ALGORITHM || recorded.canonicalization != CANONICALIZATION {
        return Err(VerifyError::Unsupported {
            algorithm: recorded.algorithm,
            canonicalization: recorded.canonicalization,
        });
    }
    let computed = compute(&document).digest;
    if computed != recorded.digest {
        return Err(VerifyError::Mismatch {
            recorded: recorded.digest,
            computed,
        });
    }
    Ok(computed)
}

/// Lowercase hex of a digest (policy digests, result digests, fingerprints).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends the RFC 8785 form of `v`. Keys sort by their UTF-16 code units, as the RFC requires (the
/// same as code point order except above U+FFFF).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&v.to_string()),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let mut s = String::new();
        write_canonical(
            &json!({"b": [1, true, null], "a": {"z": "é\n", "y": 2}}),
            &mut s,
        );
        assert_eq!(s, "{\"a\":{\"y\":2,\"z\":\"é\\n\"},\"b\":[1,true,null]}");
    }

    #[test]
    fn verify_detects_any_change() {
        let mut doc = json!({"findings": [{"state": "fail"}], "run": {"host": "h"}});
        let integrity = compute(&doc);
        doc["integrity"] = serde_json::to_value(&integrity).unwrap();
        let text = serde_json::to_string_pretty(&doc).unwrap();
        assert_eq!(verify(&text), Ok(integrity.digest.clone()));
        let tampered = text.replace("\"fail\"", "\"pass\"");
        assert!(matches!(
            verify(&tampered),
            Err(VerifyError::Mismatch { .. })
        ));
        let reordered = serde_json::to_string(&json!({"run": {"host": "h"}, "findings": [{"state": "fail"}], "integrity": doc["integrity"]})).unwrap();
        assert!(
            verify(&reordered).is_ok(),
            "member order and whitespace do not matter"
        );
        assert_eq!(verify("{}"), Err(VerifyError::Missing));
    }
}
