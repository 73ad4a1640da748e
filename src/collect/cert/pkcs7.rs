//! Certificates of a PKCS#7 bundle (`.p7b`, `.p7c`, `-----BEGIN PKCS7-----`): the form in which
//! Windows, Java's keytool and many certificate authorities hand out a chain. Only the
//! `certificates` field of a SignedData is read (RFC 5652 5.1); signatures, CRLs and signer
//! information are not.

use super::der::{self, CONTEXT_0, INTEGER, OID, SEQUENCE, SET};

/// The OID arc of the PKCS#7 content types, 1.2.840.113549.1.7.
const PKCS7_ARC: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07];
/// The last arc of `signedData`, 1.2.840.113549.1.7.2: the content type that carries
/// certificates (a bundle, or a signature with its signer's chain).
pub const SIGNED_DATA: u8 = 2;

/// The content type of a PKCS#7 `ContentInfo` (the last arc of its OID, 1.2.840.113549.1.7.n),
/// when `der` begins as one: the envelope of a bundle.
pub fn content_type(der: &[u8]) -> Option<u8> {
    content_info(der).map(|(kind, ..)| kind)
}

/// A `ContentInfo`'s content type, the rest of its content, and the bytes that follow it.
fn content_info(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (info, after) = der::expect(der, SEQUENCE)?;
    let (oid, rest) = der::expect(info, OID)?;
    match oid.split_last() {
        Some((&last, arc)) if arc == PKCS7_ARC => Some((last, rest, after)),
        _ => None,
    }
}

/// The DER of each certificate a bundle holds, in the bundle's order.
pub fn certificates(der: &[u8]) -> Result<Vec<&[u8]>, String> {
    const MALFORMED: &str = "the PKCS#7 bundle is malformed (truncated or corrupt)";
    let (kind, content, after) = content_info(der).ok_or(MALFORMED)?;
    if kind != SIGNED_DATA {
        return Err(format!(
            "a PKCS#7 content of type 1.2.840.113549.1.7.{kind} holds no certificates; a bundle \
             of certificates is signedData (1.2.840.113549.1.7.2)"
        ));
    }
    if !after.is_empty() {
        return Err("bytes follow the PKCS#7 bundle".into());
    }
    // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE,
    //   certificates [0] IMPLICIT SET OF Certificate OPTIONAL, crls [1] OPTIONAL, signerInfos SET }
    let signed = (|| {
        let (explicit, _) = der::expect(content, CONTEXT_0)?;
        let (signed, _) = der::expect(explicit, SEQUENCE)?;
        let (_version, rest) = der::expect(signed, INTEGER)?;
        let (_digests, rest) = der::expect(rest, SET)?;
        let (_encapsulated, rest) = der::expect(rest, SEQUENCE)?;
        Some(rest)
    })()
    .ok_or(MALFORMED)?;
    let Some((mut set, _)) = der::expect(signed, CONTEXT_0) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while !set.is_empty() {
        let (tag, _, rest) = der::read(set).ok_or(MALFORMED)?;
        // The other choices are obsolete or attribute certificates, which bind no public key.
        if tag == SEQUENCE {
            out.push(&set[..set.len() - rest.len()]);
        }
        set = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element of `tag` around `content` (short lengths only).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 0x80);
        [&[tag, content.len() as u8][..], content].concat()
    }

    fn bundle(kind: u8, certificates: &[&[u8]]) -> Vec<u8> {
        let signed = [
            tlv(INTEGER, &[1]),
            tlv(SET, &[]),
            tlv(SEQUENCE, &tlv(OID, &[PKCS7_ARC, &[1]].concat())),
            tlv(CONTEXT_0, &certificates.concat()),
            tlv(SET, &[]),
        ]
        .concat();
        let oid = tlv(OID, &[PKCS7_ARC, &[kind]].concat());
        tlv(
            SEQUENCE,
            &[oid, tlv(CONTEXT_0, &tlv(SEQUENCE, &signed))].concat(),
        )
    }

    #[test]
    fn certificates_are_read_in_order_and_whole() {
        let (a, b) = (tlv(SEQUENCE, &[2, 1, 1]), tlv(SEQUENCE, &[2, 1, 2]));
        let attribute_certificate = tlv(0xa2, &[0]);
        let der = bundle(SIGNED_DATA, &[&a, &attribute_certificate, &b]);
        assert_eq!(content_type(&der), Some(SIGNED_DATA));
        assert_eq!(certificates(&der).unwrap(), [&a[..], &b[..]]);
        assert_eq!(certificates(&bundle(SIGNED_DATA, &[])).unwrap().len(), 0);
    }

    #[test]
    fn other_contents_and_damage_are_errors() {
        let a = tlv(SEQUENCE, &[2, 1, 1]);
        let enveloped = bundle(3, &[&a]);
        assert_eq!(content_type(&enveloped), Some(3));
        assert!(
            certificates(&enveloped)
                .unwrap_err()
                .contains("7.3 holds no certificates")
        );
        let der = bundle(SIGNED_DATA, &[&a]);
        assert!(certificates(&der[..der.len() - 1]).is_err());
        assert!(
            certificates(&[&der[..], &[0]].concat())
                .unwrap_err()
                .contains("bytes follow")
        );
        // A certificate is a SEQUENCE whose first element is a SEQUENCE, never an OID.
        assert_eq!(content_type(&a), None);
    }
}
