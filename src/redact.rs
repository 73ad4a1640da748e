//! Redaction of secrets before they are stored in any finding.
//!
//! A finding of a secret control keeps at most the first four characters of the match (fewer for
//! short values: never more than a quarter of it) and its length, so that an auditor can tell which
//! key it was (`AKIA…`) without the report becoming a copy of the secret.

/// Redacts a matched secret: `AKIA…[redacted, 20 chars]`.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    let keep = (len / 4).min(4);
    let prefix: String = secret.chars().take(keep).collect();
    format!("{prefix}…[redacted, {len} chars]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_four_characters_and_the_length() {
        assert_eq!(redact("AKIAIOSFODNN7EXAMPLE"), "AKIA…[redacted, 20 chars]");
        assert_eq!(redact("hunter2"), "h…[redacted, 7 chars]");
        assert_eq!(redact("abc"), "…[redacted, 3 chars]");
    }
}
