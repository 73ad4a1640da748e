//! A minimal DER reader for the few structures of private keys (PKCS#1, PKCS#8, SEC1), DSA
//! parameters, the public keys and certificate requests told apart from them, and PKCS#7 bundles,
//! that the collector inspects. It reads tag-length-value triples and nothing else:
//! keys are only measured (algorithm, size, encryption), never decoded further.

/// Tag of an ASN.1 INTEGER.
pub const INTEGER: u8 = 0x02;
/// Tag of an ASN.1 BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// Tag of an ASN.1 OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// Tag of an ASN.1 NULL.
pub const NULL: u8 = 0x05;
/// Tag of an ASN.1 OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// Tag of an ASN.1 SEQUENCE.
pub const SEQUENCE: u8 = 0x30;
/// Tag of an ASN.1 SET.
pub const SET: u8 = 0x31;
/// Tag of a constructed `[0]` field (SEC1 curve parameters, a PKCS#7 content and its certificates).
pub const CONTEXT_0: u8 = 0xa0;

/// Reads one element: (tag, content, rest). `None` when the input is not well-formed DER framing
/// (indefinite or oversized lengths, content running past the end).
pub fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Reads one element that must have `tag`: (content, rest).
pub fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = read(input)?;
    (t == tag).then_some((content, rest))
}

/// The dotted text of an OBJECT IDENTIFIER's content bytes.
pub fn oid_text(content: &[u8]) -> Option<String> {
    let (&first, rest) = content.split_first()?;
    let mut parts = vec![u64::from(first / 40).min(2), 0];
    parts[1] = u64::from(first) - parts[0] * 40;
    let mut value: u64 = 0;
    for &b in rest {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(value);
            value = 0;
        }
    }
    Some(
        parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Whether the bytes are exactly one DER SEQUENCE (a cheap test for DER certificates and keys in
/// files without a telling extension).
pub fn is_single_sequence(bytes: &[u8]) -> bool {
    matches!(read(bytes), Some((SEQUENCE, _, rest)) if rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths_and_oids() {
        let (tag, content, rest) = read(&[0x30, 0x81, 0x01, 0xff, 0x00]).unwrap();
        assert_eq!((tag, content, rest), (0x30, &[0xff][..], &[0x00][..]));
        assert!(read(&[0x30, 0x05, 0x00]).is_none(), "content past the end");
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]).unwrap(),
            "1.2.840.10045.3.1.7"
        );
        assert!(is_single_sequence(&[0x30, 0x00]));
        assert!(!is_single_sequence(&[0x30, 0x00, 0x00]));
    }
}
