//! RFC 5280's rules for how validity dates are encoded (section 4.1.2.5): a date through 2049 is a
//! UTCTime `YYMMDDHHMMSSZ`, a date from 2050 on a GeneralizedTime `YYYYMMDDHHMMSSZ`, both in UTC with
//! seconds and no fraction. Issuers have written every other variant, and readers differ on them
//! (openssl accepts them, strict validators such as webpki reject the certificate). x509-parser
//! reads them leniently, so the dates are still judged; this module reads the raw encoding and
//! names what departs from the rule, as its own fact.

use super::der;

/// Tag of an ASN.1 UTCTime.
const UTC_TIME: u8 = 0x17;
/// Tag of an ASN.1 GeneralizedTime.
const GENERALIZED_TIME: u8 = 0x18;
/// Tag of the explicit `[0]` version field of a TBSCertificate.
const VERSION: u8 = 0xa0;

/// What is wrong with the encoding of the validity dates of a DER certificate, each in words;
/// empty when both follow RFC 5280 (or the structure cannot be walked, which the parser reports).
pub fn problems(cert_der: &[u8]) -> Vec<String> {
    let Some(validity) = validity(cert_der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = validity;
    for field in ["notBefore", "notAfter"] {
        let Some((tag, content, next)) = der::read(rest) else {
            break;
        };
        rest = next;
        if let Some(problem) = problem(tag, content) {
            let text: String = String::from_utf8_lossy(content)
                .chars()
                .take(32)
                .map(|c| if c.is_ascii_graphic() { c } else { '?' })
                .collect();
            out.push(format!("{field} {text} {problem}"));
        }
    }
    out
}

/// The content of the Validity SEQUENCE: Certificate → TBSCertificate → (version), serial,
/// signature, issuer, validity.
fn validity(cert_der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = der::expect(cert_der, der::SEQUENCE)?;
    let (tbs, _) = der::expect(cert, der::SEQUENCE)?;
    let (tag, _, after) = der::read(tbs)?;
    let mut rest = if tag == VERSION { after } else { tbs };
    for _ in 0..3 {
        rest = der::read(rest)?.2; // serial, signature algorithm, issuer
    }
    der::expect(rest, der::SEQUENCE).map(|(content, _)| content)
}

/// What departs from RFC 5280 in one encoded time, or `None` when it conforms.
fn problem(tag: u8, content: &[u8]) -> Option<String> {
    let digits = content.iter().take_while(|b| b.is_ascii_digit()).count();
    let tail = &content[digits..];
    let (kind, want) = match tag {
        UTC_TIME => ("UTCTime", 12),
        GENERALIZED_TIME => ("GeneralizedTime", 14),
        _ => {
            return Some(format!(
                "is neither a UTCTime nor a GeneralizedTime (tag {tag:#04x})"
            ));
        }
    };
    let zone = |tail: &[u8]| match tail.first() {
        None => Some("has no time zone (RFC 5280 requires Z, UTC)".to_string()),
        Some(b'+' | b'-') => Some("has a time-zone offset (RFC 5280 requires Z, UTC)".to_string()),
        Some(b'Z') if tail.len() == 1 => None,
        Some(_) => Some(format!("is not a valid {kind}")),
    };
    if digits < want && digits + 2 == want {
        return Some(format!(
            "is a {kind} without seconds (RFC 5280 requires them)"
        ));
    }
    if digits != want {
        return Some(format!("is not a valid {kind}"));
    }
    if tag == GENERALIZED_TIME {
        if tail.first() == Some(&b'.') {
            return Some("has fractional seconds (RFC 5280 forbids them)".to_string());
        }
        let year: u32 = std::str::from_utf8(&content[..4]).ok()?.parse().ok()?;
        if let Some(p) = zone(tail) {
            return Some(p);
        }
        if year < 2050 {
            return Some(format!(
                "is a GeneralizedTime for a year before 2050 ({year}; RFC 5280 requires a UTCTime)"
            ));
        }
        return None;
    }
    zone(tail)
}

#[cfg(test)]
mod tests {
    use super::problem;

    fn utc(s: &str) -> Option<String> {
        problem(0x17, s.as_bytes())
    }

    fn gen_time(s: &str) -> Option<String> {
        problem(0x18, s.as_bytes())
    }

    #[test]
    fn conforming_times_have_no_problem() {
        assert_eq!(utc("290101000000Z"), None);
        assert_eq!(gen_time("20500101000000Z"), None);
    }

    #[test]
    fn each_departure_is_named() {
        let cases = [
            (utc("2901010000Z"), "UTCTime without seconds"),
            (utc("290101000000+0100"), "time-zone offset"),
            (utc("290101000000"), "no time zone"),
            (utc("29010100000xZ"), "not a valid UTCTime"),
            (gen_time("20290101000000Z"), "year before 2050 (2029"),
            (gen_time("20290101000000.25Z"), "fractional seconds"),
            (gen_time("205001010000Z"), "GeneralizedTime without seconds"),
            (problem(0x04, b"x"), "neither a UTCTime"),
        ];
        for (got, want) in cases {
            let got = got.expect(want);
            assert!(got.contains(want), "{got:?} should say {want:?}");
        }
    }
}
