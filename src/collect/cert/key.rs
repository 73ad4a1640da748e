//! Private key facts: format, algorithm, size and whether the key is encrypted at rest.
//!
//! The key is measured, never kept: the facts hold no byte of key material, only what an auditor
//! needs to judge it (an unencrypted 1024-bit RSA key in a repository is two findings).

use super::der::{self, BIT_STRING, CONTEXT_0, INTEGER, NULL, OCTET_STRING, OID, SEQUENCE};
use super::names;
use super::pem::Block;

/// What is known about one private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// `pkcs1`, `pkcs8`, `sec1`, `openssh` or `openssl-dsa`.
    pub format: &'static str,
    /// `rsa`, `ec`, `ed25519`, `dsa`...; `None` when the key is encrypted and its algorithm hidden.
    pub algorithm: Option<String>,
    /// Key size in bits, when known.
    pub bits: Option<i64>,
    /// The curve of an EC key.
    pub curve: Option<String>,
    /// Whether the key material is encrypted with a passphrase.
    pub encrypted: bool,
    /// The cipher or scheme protecting an encrypted key.
    pub encryption: Option<String>,
}

impl KeyFacts {
    fn plain(format: &'static str, algorithm: &str) -> KeyFacts {
        KeyFacts {
            format,
            algorithm: Some(algorithm.to_string()),
            bits: names::fixed_key_bits(algorithm),
            curve: None,
            encrypted: false,
            encryption: None,
        }
    }

    /// A short name for findings, e.g. `rsa 2048-bit private key (pkcs1)`.
    pub fn label(&self) -> String {
        let alg = self.algorithm.as_deref().unwrap_or("encrypted");
        match self.bits {
            Some(b) => format!("{alg} {b}-bit private key ({})", self.format),
            None => format!("{alg} private key ({})", self.format),
        }
    }
}

/// Whether a PEM label names a private key.
pub fn is_key_label(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

/// The facts of a PEM private key block.
pub fn from_pem(block: &Block) -> Result<KeyFacts, String> {
    let legacy_encryption = block
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"))
        .map(|_| {
            block
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("DEK-Info"))
                .map(|(_, v)| v.split(',').next().unwrap_or(v).to_string())
                .unwrap_or_else(|| "unknown".into())
        });
    let traditional = |format: &'static str, algorithm: &str| {
        legacy_encryption.as_ref().map(|cipher| KeyFacts {
            encrypted: true,
            encryption: Some(cipher.clone()),
            ..KeyFacts::plain(format, algorithm)
        })
    };
    let parsed = match block.label.as_str() {
        "PRIVATE KEY" => pkcs8(&block.der),
        "ENCRYPTED PRIVATE KEY" => encrypted_pkcs8(&block.der),
        "RSA PRIVATE KEY" => traditional("pkcs1", "rsa").or_else(|| pkcs1(&block.der)),
        "EC PRIVATE KEY" => traditional("sec1", "ec").or_else(|| sec1(&block.der, None)),
        "DSA PRIVATE KEY" => traditional("openssl-dsa", "dsa").or_else(|| openssl_dsa(&block.der)),
        "OPENSSH PRIVATE KEY" => openssh(&block.der),
        other => {
            return Err(format!(
                "unsupported private key format `{other}`: it cannot be judged"
            ));
        }
    };
    parsed.ok_or_else(|| {
        format!(
            "the `{}` block is not a well-formed key of that format (truncated or corrupt)",
            block.label
        )
    })
}

/// The facts of a DER private key (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1), when it is one.
pub fn from_der(der: &[u8]) -> Option<KeyFacts> {
    pkcs8(der)
        .or_else(|| pkcs1(der))
        .or_else(|| sec1(der, None))
        .or_else(|| encrypted_pkcs8(der))
}

/// Whether DER bytes that are neither a certificate nor a private key are one of the public
/// artefacts kept beside them under the same extensions: a public key (`SubjectPublicKeyInfo`, or
/// PKCS#1 `RSAPublicKey`), a certificate request (PKCS#10), or an algorithm identifier. Such a
/// file holds no secret and no certificate, so it is nothing to judge rather than an error.
pub fn is_public_der(der: &[u8]) -> bool {
    public_der(der).is_some()
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`:
/// whether `body` is the content of one.
fn spki(body: &[u8]) -> Option<()> {
    let (algorithm, rest) = der::expect(body, SEQUENCE)?;
    algorithm_identifier(algorithm)?;
    let (_key, rest) = der::expect(rest, BIT_STRING)?;
    rest.is_empty().then_some(())
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`:
/// whether `body` is the content of one. The parameters of the algorithms in use are a NULL, a
/// curve's OBJECT IDENTIFIER or a SEQUENCE (RSA-PSS), never a tagged field, which tells an
/// identifier from a PKCS#7 `ContentInfo` (an OID, then `[0]` holding certificates).
fn algorithm_identifier(body: &[u8]) -> Option<()> {
    let (_oid, rest) = der::expect(body, OID)?;
    if rest.is_empty() {
        return Some(());
    }
    let (tag, _, rest) = der::read(rest)?;
    ([NULL, OID, SEQUENCE].contains(&tag) && rest.is_empty()).then_some(())
}

fn public_der(der: &[u8]) -> Option<()> {
    // The content of an algorithm identifier or of a public key, without its SEQUENCE, as
    // libraries keep them to compare with what a peer sends (webpki's `alg-*.der`, `*.spki.der`).
    if algorithm_identifier(der).is_some() || spki(der).is_some() {
        return Some(());
    }
    let (outer, rest) = der::expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    if spki(outer).is_some() || algorithm_identifier(outer).is_some() {
        return Some(());
    }
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    if let Some((_n, rest)) = der::expect(outer, INTEGER)
        && let Some((_e, rest)) = der::expect(rest, INTEGER)
        && rest.is_empty()
    {
        return Some(());
    }
    // CertificationRequest ::= SEQUENCE { certificationRequestInfo SEQUENCE { version INTEGER (0),
    //   subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0] }, signatureAlgorithm,
    //   signature BIT STRING }
    let (info, rest) = der::expect(outer, SEQUENCE)?;
    let (algorithm, rest) = der::expect(rest, SEQUENCE)?;
    algorithm_identifier(algorithm)?;
    let (_signature, rest) = der::expect(rest, BIT_STRING)?;
    let (version, info) = der::expect(info, INTEGER)?;
    let (_subject, info) = der::expect(info, SEQUENCE)?;
    let (subject_key, info) = der::expect(info, SEQUENCE)?;
    let (_attributes, info) = der::expect(info, CONTEXT_0)?;
    (rest.is_empty() && info.is_empty() && version == [0] && spki(subject_key).is_some())
        .then_some(())
}

/// `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, privateExponent, ... }`
fn pkcs1(der: &[u8]) -> Option<KeyFacts> {
    let (seq, _) = der::expect(der, SEQUENCE)?;
    let (_version, rest) = der::expect(seq, INTEGER)?;
    let (modulus, rest) = der::expect(rest, INTEGER)?;
    let (_e, rest) = der::expect(rest, INTEGER)?;
    der::expect(rest, INTEGER)?;
    Some(KeyFacts {
        bits: Some(names::integer_bits(modulus)),
        ..KeyFacts::plain("pkcs1", "rsa")
    })
}

/// `ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }`
fn sec1(der: &[u8], curve_oid: Option<String>) -> Option<KeyFacts> {
    let (seq, _) = der::expect(der, SEQUENCE)?;
    let (version, rest) = der::expect(seq, INTEGER)?;
    if version != [1] {
        return None;
    }
    let (_key, rest) = der::expect(rest, OCTET_STRING)?;
    let oid = match der::expect(rest, CONTEXT_0) {
        Some((params, _)) => der::expect(params, OID).and_then(|(o, _)| der::oid_text(o)),
        None => curve_oid,
    };
    let mut facts = KeyFacts::plain("sec1", "ec");
    set_curve(&mut facts, oid);
    Some(facts)
}

fn set_curve(facts: &mut KeyFacts, oid: Option<String>) {
    match oid.as_deref().and_then(names::curve) {
        Some((name, bits)) => {
            facts.curve = Some(name.to_string());
            facts.bits = Some(bits);
        }
        None => facts.curve = oid,
    }
}

/// `PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING, ... }`
fn pkcs8(der: &[u8]) -> Option<KeyFacts> {
    let (seq, _) = der::expect(der, SEQUENCE)?;
    let (_version, rest) = der::expect(seq, INTEGER)?;
    let (alg, rest) = der::expect(rest, SEQUENCE)?;
    let (inner, _) = der::expect(rest, OCTET_STRING)?;
    let (oid, params) = der::expect(alg, OID)?;
    let oid = der::oid_text(oid)?;
    let algorithm = names::key_algorithm(&oid).map_or(oid.clone(), str::to_string);
    let mut facts = KeyFacts::plain("pkcs8", &algorithm);
    match algorithm.as_str() {
        "rsa" | "rsassa-pss" => facts.bits = pkcs1(inner)?.bits,
        "ec" => {
            // The curve is in the algorithm parameters; the inner SEC1 key usually omits it.
            sec1(inner, None)?;
            let curve = der::expect(params, OID).and_then(|(o, _)| der::oid_text(o));
            set_curve(&mut facts, curve);
        }
        "dsa" => {
            let (pqg, _) = der::expect(params, SEQUENCE)?;
            let (p, _) = der::expect(pqg, INTEGER)?;
            facts.bits = Some(names::integer_bits(p));
        }
        _ => {}
    }
    Some(facts)
}

/// `EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData }`
fn encrypted_pkcs8(der: &[u8]) -> Option<KeyFacts> {
    let (seq, _) = der::expect(der, SEQUENCE)?;
    let (alg, rest) = der::expect(seq, SEQUENCE)?;
    der::expect(rest, OCTET_STRING)?;
    let (oid, params) = der::expect(alg, OID)?;
    let oid = der::oid_text(oid)?;
    // PBES2 names its cipher in `encryptionScheme`, the second element of its parameters.
    let scheme = if oid == "1.2.840.113549.1.5.13" {
        der::expect(params, SEQUENCE)
            .and_then(|(p, _)| der::expect(p, SEQUENCE).map(|(_, rest)| rest))
            .and_then(|rest| der::expect(rest, SEQUENCE))
            .and_then(|(enc, _)| der::expect(enc, OID))
            .and_then(|(o, _)| der::oid_text(o))
            .map(|o| cipher_name(&o).map_or(o.clone(), |n| format!("PBES2 {n}")))
    } else {
        None
    };
    Some(KeyFacts {
        format: "pkcs8",
        algorithm: None,
        bits: None,
        curve: None,
        encrypted: true,
        encryption: Some(scheme.unwrap_or(oid)),
    })
}

fn cipher_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.16.840.1.101.3.4.1.2" => "aes-128-cbc",
        "2.16.840.1.101.3.4.1.22" => "aes-192-cbc",
        "2.16.840.1.101.3.4.1.42" => "aes-256-cbc",
        "1.2.840.113549.3.7" => "des-ede3-cbc",
        _ => return None,
    })
}

/// OpenSSL's traditional DSA key: `SEQUENCE { version, p, q, g, y, x }`.
fn openssl_dsa(der: &[u8]) -> Option<KeyFacts> {
    let (seq, _) = der::expect(der, SEQUENCE)?;
    let (_version, rest) = der::expect(seq, INTEGER)?;
    let (p, _) = der::expect(rest, INTEGER)?;
    Some(KeyFacts {
        bits: Some(names::integer_bits(p)),
        ..KeyFacts::plain("openssl-dsa", "dsa")
    })
}

/// Reads an SSH wire-format string (u32 length, bytes).
fn ssh_string(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(input.get(..4)?.try_into().ok()?) as usize;
    let body = input.get(4..4 + len)?;
    Some((body, &input[4 + len..]))
}

/// The `openssh-key-v1` format: cipher, KDF, then the public key in the clear, so algorithm and
/// size are known even for an encrypted key.
fn openssh(bytes: &[u8]) -> Option<KeyFacts> {
    let rest = bytes.strip_prefix(b"openssh-key-v1\0")?;
    let (cipher, rest) = ssh_string(rest)?;
    let (_kdf, rest) = ssh_string(rest)?;
    let (_kdf_options, rest) = ssh_string(rest)?;
    let rest = rest.get(4..)?;
    let (public, _) = ssh_string(rest)?;
    let (kind, key) = ssh_string(public)?;
    let kind = String::from_utf8_lossy(kind).into_owned();
    let cipher = String::from_utf8_lossy(cipher).into_owned();
    let encrypted = cipher != "none";
    let mut facts = KeyFacts {
        encrypted,
        encryption: encrypted.then_some(cipher),
        ..KeyFacts::plain("openssh", "unknown")
    };
    let (algorithm, bits, curve) = match kind.as_str() {
        "ssh-rsa" => {
            let (_e, key) = ssh_string(key)?;
            let (n, _) = ssh_string(key)?;
            ("rsa".to_string(), Some(names::integer_bits(n)), None)
        }
        "ssh-dss" => {
            let (p, _) = ssh_string(key)?;
            ("dsa".to_string(), Some(names::integer_bits(p)), None)
        }
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => ("ed25519".to_string(), Some(256), None),
        k if k.starts_with("ecdsa-sha2-") || k.starts_with("sk-ecdsa-sha2-") => {
            let (curve, _) = ssh_string(key)?;
            let curve = String::from_utf8_lossy(curve).into_owned();
            match names::ssh_curve(&curve) {
                Some((name, bits)) => ("ec".to_string(), Some(bits), Some(name.to_string())),
                None => ("ec".to_string(), None, Some(curve)),
            }
        }
        other => (other.to_string(), None, None),
    };
    facts.algorithm = Some(algorithm);
    facts.bits = bits;
    facts.curve = curve;
    Some(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn testdata(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/certs/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn public_keys_are_told_from_certificates_and_private_keys() {
        let cert = testdata("der/server-rsa.der");
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&cert).unwrap();
        let spki = parsed.tbs_certificate.subject_pki.raw;
        let rsa_public = &parsed.tbs_certificate.subject_pki.subject_public_key.data;
        assert!(is_public_der(spki));
        assert!(is_public_der(rsa_public));
        // Neither a certificate nor a private key is a public key.
        assert!(!is_public_der(&cert));
        let private = testdata("keys/rsa-pkcs8.der.key");
        assert!(from_der(&private).is_some());
        assert!(!is_public_der(&private));
        // Nor anything cut short, or followed by more bytes.
        assert!(!is_public_der(&spki[..spki.len() - 1]));
        assert!(!is_public_der(&[spki, &[0][..]].concat()));
        // A sequence of three integers is no RSA public key.
        assert!(!is_public_der(&[0x30, 0x09, 2, 1, 1, 2, 1, 1, 2, 1, 1]));
    }

    #[test]
    fn algorithm_identifiers_and_key_contents_are_public() {
        let cert = testdata("der/server-rsa.der");
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&cert).unwrap();
        let spki = parsed.tbs_certificate.subject_pki.raw;
        // The key without its SEQUENCE (webpki's `*.spki.der`), and its algorithm with and without.
        let (_, content, _) = der::read(spki).unwrap();
        assert!(is_public_der(content));
        let (_, algorithm, _) = der::read(content).unwrap();
        let rsa = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ];
        assert_eq!(algorithm, rsa);
        assert!(is_public_der(&rsa));
        assert!(is_public_der(&[&[0x30, 13][..], &rsa].concat()));
        // An identifier followed by anything more, or a PKCS#7 `ContentInfo` (an OID and `[0]`
        // holding certificates), is neither.
        assert!(!is_public_der(&[&rsa[..], &[0x05, 0x00]].concat()));
        let signed_data = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ];
        let content_info = [&[0x30, 15][..], &signed_data, &[0xa0, 2, 0x30, 0]].concat();
        assert!(!is_public_der(&content_info));
    }
}
