//! Names for the object identifiers a certificate or key carries, as auditors and OpenSSL spell
//! them, so that policies compare readable text (`sha1WithRSAEncryption`, `P-256`, `serverAuth`)
//! rather than dotted numbers.

use x509_parser::der_parser::oid::Oid;

/// An OID in dotted form (`1.2.840.113549.1.1.11`), as `Oid::to_id_string` writes it, without its
/// string per arc: a certificate's facts name several OIDs, and that way of writing them cost more
/// than the rest of its facts.
pub fn dotted(oid: &Oid<'_>) -> String {
    let Some(arcs) = oid.iter() else {
        // An arc wider than 64 bits: the crate's own (rare, slow) form.
        return oid.to_id_string();
    };
    let mut out = String::with_capacity(24);
    let mut digits = itoa::Buffer::new();
    for (i, arc) in arcs.enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(digits.format(arc));
    }
    out
}

/// A signature algorithm's name and the hash it uses, by OID (dotted form).
pub fn signature_algorithm(oid: &str) -> Option<(&'static str, &'static str)> {
    Some(match oid {
        "1.2.840.113549.1.1.2" => ("md2WithRSAEncryption", "md2"),
        "1.2.840.113549.1.1.3" => ("md4WithRSAEncryption", "md4"),
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", "md5"),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", "sha1"),
        "1.2.840.113549.1.1.14" => ("sha224WithRSAEncryption", "sha224"),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", "sha256"),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", "sha384"),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", "sha512"),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", "sha1"),
        "1.2.840.10045.4.3.1" => ("ecdsa-with-SHA224", "sha224"),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", "sha256"),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", "sha384"),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", "sha512"),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", "sha1"),
        "2.16.840.1.101.3.4.3.1" => ("dsa-with-SHA224", "sha224"),
        "2.16.840.1.101.3.4.3.2" => ("dsa-with-SHA256", "sha256"),
        "1.3.101.112" => ("Ed25519", "sha512"),
        "1.3.101.113" => ("Ed448", "shake256"),
        _ => return None,
    })
}

/// The OID of RSASSA-PSS, whose hash is in its parameters.
pub const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// A hash algorithm's short name, by OID (the hash inside RSASSA-PSS parameters).
pub fn hash(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.3.14.3.2.26" => "sha1",
        "2.16.840.1.101.3.4.2.4" => "sha224",
        "2.16.840.1.101.3.4.2.1" => "sha256",
        "2.16.840.1.101.3.4.2.2" => "sha384",
        "2.16.840.1.101.3.4.2.3" => "sha512",
        "1.2.840.113549.2.5" => "md5",
        _ => return None,
    })
}

/// A public key algorithm's short name, by OID.
pub fn key_algorithm(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.1" => "rsa",
        RSASSA_PSS => "rsassa-pss",
        "1.2.840.10045.2.1" => "ec",
        "1.2.840.10040.4.1" => "dsa",
        "1.3.101.110" => "x25519",
        "1.3.101.111" => "x448",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        _ => return None,
    })
}

/// The bits of keys whose size is fixed by their algorithm (Ed25519, X25519...).
pub fn fixed_key_bits(algorithm: &str) -> Option<i64> {
    Some(match algorithm {
        "ed25519" | "x25519" => 256,
        "ed448" => 456,
        "x448" => 448,
        _ => return None,
    })
}

/// A named elliptic curve and its size in bits, by OID. The size comes from the curve, not from the
/// encoded point (whose length overstates P-521 as 528 bits).
pub fn curve(oid: &str) -> Option<(&'static str, i64)> {
    Some(match oid {
        "1.2.840.10045.3.1.1" => ("P-192", 192),
        "1.3.132.0.33" => ("P-224", 224),
        "1.2.840.10045.3.1.7" => ("P-256", 256),
        "1.3.132.0.34" => ("P-384", 384),
        "1.3.132.0.35" => ("P-521", 521),
        "1.3.132.0.10" => ("secp256k1", 256),
        "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1", 256),
        "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1", 384),
        "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1", 512),
        _ => return None,
    })
}

/// An OpenSSH curve name (`nistp256`) as the curve name and size used for X.509 keys.
pub fn ssh_curve(name: &str) -> Option<(&'static str, i64)> {
    Some(match name {
        "nistp256" => ("P-256", 256),
        "nistp384" => ("P-384", 384),
        "nistp521" => ("P-521", 521),
        _ => return None,
    })
}

/// Bits of a big-endian unsigned integer (an RSA modulus), ignoring leading zero bytes.
pub fn integer_bits(bytes: &[u8]) -> i64 {
    let Some(first) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let len = i64::try_from(bytes.len() - first).unwrap_or(i64::MAX);
    (len - 1) * 8 + i64::from(8 - bytes[first].leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids_read_as_the_crate_writes_them() {
        for text in [
            "1.2.840.113549.1.1.11",
            "2.5.29.17",
            "1.3.6.1.4.1.11129.2.4.2",
            "2.5.4.3",
            "0.0",
            "1.2.18446744073709551615",
        ] {
            let oid: Oid<'static> = text.parse().unwrap();
            assert_eq!(dotted(&oid), oid.to_id_string(), "{text}");
        }
        // 1.2.(2^64): an arc wider than 64 bits.
        let wide = [
            0x2a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        let oid = Oid::new(std::borrow::Cow::Borrowed(&wide[..]));
        assert!(oid.iter().is_none());
        assert_eq!(dotted(&oid), oid.to_id_string());
    }

    #[test]
    fn integer_bits_counts_from_the_top_bit() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(
            integer_bits(&[0x7f, 0xff]),
            15,
            "a 2047-bit-style modulus is not rounded up"
        );
        assert_eq!(integer_bits(&[]), 0);
    }
}
