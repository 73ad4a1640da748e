//! Whether a self-issued certificate's signature verifies with its own key, for every algorithm a
//! certificate may use, not only those the chain validator (ring) accepts: DSA, RSA of any size and
//! any public exponent, ECDSA on P-256, P-384, P-521 and secp256k1 with any SHA hash. A root of
//! 1024-bit RSA or P-521 is still self-signed, and must be judged as one (CERT-011), even though no
//! modern client would accept its signature.

use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::der::parse_der;
use x509_parser::public_key::PublicKey;

use super::names;

/// The hash a signature algorithm uses.
#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The hash of a signature algorithm OID (RSA PKCS#1 v1.5, ECDSA, DSA).
fn hash_of(oid: &str) -> Option<Hash> {
    Some(match oid {
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" => Hash::Sha1,
        "1.2.840.113549.1.1.14" | "1.2.840.10045.4.3.1" | "2.16.840.1.101.3.4.3.1" => Hash::Sha224,
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" | "2.16.840.1.101.3.4.3.2" => Hash::Sha256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Hash::Sha384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Hash::Sha512,
        _ => return None,
    })
}

fn digest(hash: Hash, data: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha1 => Sha1::digest(data).to_vec(),
        Hash::Sha224 => Sha224::digest(data).to_vec(),
        Hash::Sha256 => Sha256::digest(data).to_vec(),
        Hash::Sha384 => Sha384::digest(data).to_vec(),
        Hash::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// Whether `cert`'s signature verifies with its own public key.
pub fn verifies_with_own_key(cert: &X509Certificate<'_>) -> bool {
    if cert.verify_signature(None).is_ok() {
        return true;
    }
    let Some(hash) = hash_of(&names::dotted(&cert.signature_algorithm.algorithm)) else {
        return false;
    };
    let hashed = digest(hash, cert.tbs_certificate.as_ref());
    let signature: &[u8] = &cert.signature_value.data;
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(key)) => {
            rsa_verifies(key.modulus, key.exponent, hash, &hashed, signature)
        }
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| names::dotted(&o))
                .unwrap_or_default();
            ecdsa_verifies(&curve, point.data(), &hashed, signature)
        }
        Ok(PublicKey::DSA(y)) => {
            let params = spki.algorithm.parameters.as_ref().map(|p| p.as_bytes());
            dsa_verifies(params, y, &hashed, signature)
        }
        _ => false,
    }
}

fn rsa_verifies(n: &[u8], e: &[u8], hash: Hash, hashed: &[u8], signature: &[u8]) -> bool {
    let key = RsaPublicKey::new_unchecked(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e));
    let scheme = match hash {
        Hash::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
        Hash::Sha224 => Pkcs1v15Sign::new::<Sha224>(),
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    };
    key.verify(scheme, hashed, signature).is_ok()
}

fn ecdsa_verifies(curve: &str, point: &[u8], hashed: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    macro_rules! verify {
        ($curve:ident) => {{
            let (Ok(key), Ok(sig)) = (
                $curve::ecdsa::VerifyingKey::from_sec1_bytes(point),
                $curve::ecdsa::Signature::from_der(signature),
            ) else {
                return false;
            };
            key.verify_prehash(hashed, &sig).is_ok()
        }};
    }
    match curve {
        "1.2.840.10045.3.1.7" => verify!(p256),
        "1.3.132.0.34" => verify!(p384),
        "1.3.132.0.35" => verify!(p521),
        "1.3.132.0.10" => verify!(k256),
        _ => false,
    }
}

/// The INTEGERs that follow each other in `content` (the body of DSA's parameter SEQUENCE: p, q,
/// g), big-endian.
fn integers(mut content: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (rest, obj) = parse_der(content).ok()?;
        out.push(obj.as_slice().ok()?.to_vec());
        content = rest;
    }
    Some(out)
}

fn dsa_verifies(params: Option<&[u8]>, y: &[u8], hashed: &[u8], signature: &[u8]) -> bool {
    use dsa::signature::hazmat::PrehashVerifier;
    let Some(pqg) = params.and_then(integers) else {
        return false;
    };
    let [p, q, g] = pqg.as_slice() else {
        return false;
    };
    let big = |b: &[u8]| dsa::BigUint::from_bytes_be(b);
    let Ok(components) = dsa::Components::from_components(big(p), big(q), big(g)) else {
        return false;
    };
    // x509-parser gives y's bytes; a DER INTEGER around them is taken off if present.
    let y = match parse_der(y) {
        Ok((rest, o)) if y.first() == Some(&0x02) && rest.is_empty() => {
            o.as_slice().map_or_else(|_| y.to_vec(), <[u8]>::to_vec)
        }
        _ => y.to_vec(),
    };
    let Ok(key) = dsa::VerifyingKey::from_components(components, big(&y)) else {
        return false;
    };
    let Ok(sig) = dsa::Signature::try_from(signature) else {
        return false;
    };
    key.verify_prehash(hashed, &sig).is_ok()
}
