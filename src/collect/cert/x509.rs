//! Certificate facts: one fact document per X.509 certificate, with everything the certificate
//! pack judges (dates against the evaluation clock, key size, signature algorithm, names, usages,
//! constraints) and the evidence that identifies it (SHA-256 fingerprint, file, PEM line).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

use super::{Facts, chain::ChainOutcome};
use super::{der, names, time_encoding};
use crate::clock::rfc3339;
use crate::collect::Fields;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Parses one DER certificate, refusing trailing garbage inside its outer SEQUENCE. An extension
/// that does not parse does not make the certificate unreadable (openssl still shows its key,
/// dates and names, and an expired 512-bit key must still be judged): [`extension_errors`] names
/// it, and the facts drawn from that extension are left out, so no check passes on them.
pub fn parse(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| match e {
        x509_parser::nom::Err::Incomplete(_) => {
            "truncated DER: the certificate ends before its declared length".to_string()
        }
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => match e {
            x509_parser::error::X509Error::Der(ber) => {
                der_problem(&x509_parser::nom::Err::Error(ber))
            }
            x509_parser::error::X509Error::NomError(_) => "the encoding is malformed".into(),
            other => other.to_string(),
        },
    })?;
    Ok(cert)
}

/// The extensions of `cert` that do not parse or are invalid, each in words.
pub fn extension_errors(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
            out.push(format!(
                "extension {} ({}) cannot be parsed: {}",
                extension_name(&names::dotted(&ext.oid)),
                names::dotted(&ext.oid),
                der_problem(error)
            ));
        }
    }
    for (what, r) in [
        ("basicConstraints", cert.basic_constraints().map(|_| ())),
        ("keyUsage", cert.key_usage().map(|_| ())),
        ("extendedKeyUsage", cert.extended_key_usage().map(|_| ())),
        (
            "subjectAltName",
            cert.subject_alternative_name().map(|_| ()),
        ),
    ] {
        if let Err(e) = r {
            let message = format!("extension {what} is invalid: {e}");
            if !out.iter().any(|m| m.contains(what)) {
                out.push(message);
            }
        }
    }
    out
}

/// A DER decoding error in words: "expected a SEQUENCE, found a BOOLEAN" rather than the parser's
/// `UnexpectedTag { expected: Some(Tag(16)), actual: Tag(1) }`.
fn der_problem(e: &x509_parser::nom::Err<x509_parser::der_parser::error::BerError>) -> String {
    use x509_parser::asn1_rs::Error as E;
    let e = match e {
        x509_parser::nom::Err::Incomplete(_) => return "the encoding is truncated".into(),
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
    };
    match e {
        E::UnexpectedTag { expected, actual } => format!(
            "expected {}, found {}",
            expected.map_or("another type".to_string(), tag_name),
            tag_name(*actual)
        ),
        E::UnexpectedClass { .. } => "a value has an unexpected tag class".into(),
        E::InvalidValue { tag, .. } => format!("{} has an invalid value", tag_name(*tag)),
        E::UnknownTag(t) => format!("unknown tag number {t}"),
        E::DerConstraintFailed(_) => "the encoding breaks a DER rule".into(),
        E::Incomplete(_) => "the encoding is truncated".into(),
        E::NomError(_) => "the encoding is malformed".into(),
        // The other variants display as plain words ("Invalid Length").
        other => other.to_string().to_lowercase(),
    }
}

/// An ASN.1 universal tag by name: `a SEQUENCE`, `a BOOLEAN`, or `tag 42`.
fn tag_name(tag: x509_parser::asn1_rs::Tag) -> String {
    let name = match tag.0 {
        1 => "a BOOLEAN",
        2 => "an INTEGER",
        3 => "a BIT STRING",
        4 => "an OCTET STRING",
        5 => "a NULL",
        6 => "an OBJECT IDENTIFIER",
        10 => "an ENUMERATED",
        12 => "a UTF8String",
        16 => "a SEQUENCE",
        17 => "a SET",
        19 => "a PrintableString",
        22 => "an IA5String",
        23 => "a UTCTime",
        24 => "a GeneralizedTime",
        30 => "a BMPString",
        n => return format!("tag {n}"),
    };
    name.to_string()
}

fn extension_name(oid: &str) -> &str {
    match oid {
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.15" => "keyUsage",
        "2.5.29.17" => "subjectAltName",
        "2.5.29.19" => "basicConstraints",
        "2.5.29.30" => "nameConstraints",
        "2.5.29.31" => "cRLDistributionPoints",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.33" => "policyMappings",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.36" => "policyConstraints",
        "2.5.29.37" => "extendedKeyUsage",
        "2.5.29.54" => "inhibitAnyPolicy",
        "1.3.6.1.4.1.11129.2.4.2" => "signedCertificateTimestampList",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        _ => "unnamed",
    }
}

/// The SHA-256 fingerprint of a certificate's DER, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(der))
}

/// The common name of a distinguished name, when it has one.
pub fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}

/// A certificate's subject as people name it: `CN=...`, else the whole subject.
pub fn short_name(cert: &X509Certificate<'_>) -> String {
    match common_name(cert.subject()) {
        Some(cn) => format!("CN={cn}"),
        None if cert.subject().as_raw().len() > 2 => cert.subject().to_string(),
        None => "(empty subject)".to_string(),
    }
}

/// A name for a certificate in findings: its short name and SHA-256 fingerprint.
pub fn label(cert: &X509Certificate<'_>, sha256: &str) -> String {
    format!("{} sha256:{sha256}", short_name(cert))
}

/// Whether the certificate is self-issued (subject equals issuer) and its signature verifies with
/// its own public key, whatever the algorithm (`selfsig`).
pub fn self_signed(cert: &X509Certificate<'_>) -> bool {
    cert.subject().as_raw() == cert.issuer().as_raw() && super::selfsig::verifies_with_own_key(cert)
}

/// Whether basicConstraints says `cA: TRUE` (the certificate may issue others).
pub fn is_ca(cert: &X509Certificate<'_>) -> bool {
    cert.basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|b| b.value.ca)
}

/// Everything the collector knows about one certificate besides the certificate itself.
pub struct Context<'a> {
    /// The DER bytes (date encodings).
    pub der: &'a [u8],
    /// The SHA-256 fingerprint of the DER, lowercase hex ([`fingerprint`]): computed once, as the
    /// certificate's label names it too.
    pub sha256: &'a str,
    /// The evaluation clock.
    pub at: OffsetDateTime,
    /// Whether the trust store holds this certificate (same subject and key); `None` when no
    /// control reads it.
    pub in_trust_store: Option<bool>,
    /// The chain validation of an end-entity certificate; `None` for CA certificates and when no
    /// control reads it.
    pub chain: Option<ChainOutcome>,
    /// The facts the controls read: names that no control reads are not written out, and a
    /// self-issued certificate's signature is verified with its own key only for `self_signed`.
    pub fields: &'a Fields,
}

/// The fact document of one certificate.
pub fn facts(cert: &X509Certificate<'_>, ctx: &Context<'_>, f: &mut Facts) {
    let tbs = &cert.tbs_certificate;
    // Distinguished names are written out as text only when read: that is most of the cost of a
    // certificate's facts after parsing it.
    let wants = |key: &str| ctx.fields.contains(key);
    if wants("subject") {
        f.str("subject", cert.subject().to_string());
    }
    if let Some(cn) = common_name(cert.subject()) {
        f.str("subject_cn", cn);
    }
    if wants("issuer") {
        f.str("issuer", cert.issuer().to_string());
    }
    if let Some(cn) = common_name(cert.issuer()) {
        f.str("issuer_cn", cn);
    }
    let serial = tbs.raw_serial();
    if wants("serial") {
        f.str("serial", crate::text::hex(serial));
    }
    f.int("serial_octets", serial.len() as i64);
    f.bool(
        "serial_negative",
        serial.first().is_some_and(|b| b & 0x80 != 0),
    );
    f.str("sha256", ctx.sha256);
    f.int("version", i64::from(tbs.version.0) + 1);

    validity(cert, ctx.at, f);
    public_key(cert, f);
    signature(cert, f);
    // Facts drawn from an extension that does not parse are left out (absent fails closed); the
    // extension is named in `extension_errors`.
    let errors = extension_errors(cert);
    let broken = |what: &str| errors.iter().any(|e| e.contains(what));
    if !broken("subjectAltName") {
        let (dns, has_san) = subject_alt_names(cert, f);
        let wildcard = dns.iter().any(|d| d.starts_with("*."))
            || common_name(cert.subject()).is_some_and(|cn| cn.starts_with("*."));
        f.bool("has_san", has_san);
        f.bool("wildcard", wildcard);
    }
    if !errors.is_empty() {
        f.strs("extension_errors", errors.iter().cloned());
    }
    // Odd date encodings are read leniently above (the dates are still judged) and named here.
    let time_errors = time_encoding::problems(ctx.der);
    if !time_errors.is_empty() {
        f.strs("time_encoding_errors", time_errors);
    }

    let is_ca = is_ca(cert);
    if !broken("basicConstraints") {
        f.bool("is_ca", is_ca);
    }
    let bc = cert.basic_constraints().ok().flatten();
    if let Some(len) = bc.and_then(|b| b.value.path_len_constraint) {
        f.int("path_length", i64::from(len));
    }
    if let Some(ku) = cert.key_usage().ok().flatten() {
        let k = ku.value;
        let names = [
            (k.digital_signature(), "digitalSignature"),
            (k.non_repudiation(), "nonRepudiation"),
            (k.key_encipherment(), "keyEncipherment"),
            (k.data_encipherment(), "dataEncipherment"),
            (k.key_agreement(), "keyAgreement"),
            (k.key_cert_sign(), "keyCertSign"),
            (k.crl_sign(), "cRLSign"),
            (k.encipher_only(), "encipherOnly"),
            (k.decipher_only(), "decipherOnly"),
        ];
        f.strs(
            "key_usage",
            names
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string()),
        );
    }
    let eku = cert.extended_key_usage().ok().flatten();
    let mut server_capable = true;
    if let Some(e) = &eku {
        let e = e.value;
        let known = [
            (e.any, "anyExtendedKeyUsage"),
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
            (e.time_stamping, "timeStamping"),
            (e.ocsp_signing, "OCSPSigning"),
        ];
        let list: Vec<String> = known
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .chain(e.other.iter().map(|o| names::dotted(o)))
            .collect();
        server_capable = e.server_auth || e.any;
        f.strs("extended_key_usage", list);
    }
    if !broken("basicConstraints") && !broken("extendedKeyUsage") {
        f.bool("tls_server", !is_ca && server_capable);
    }
    f.bool(
        "self_issued",
        cert.subject().as_raw() == cert.issuer().as_raw(),
    );
    if wants("self_signed") {
        f.bool("self_signed", self_signed(cert));
    }
    if let Some(t) = ctx.in_trust_store {
        f.bool("in_trust_store", t);
    }
    if let Some(chain) = &ctx.chain {
        f.bool("chain_valid", chain.valid);
        match &chain.error {
            Some(e) => f.str("chain_error", e.clone()),
            None => f.strs("chain", chain.path.iter().cloned()),
        }
    }
}

fn validity(cert: &X509Certificate<'_>, at: OffsetDateTime, f: &mut Facts) {
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    f.str("not_before", rfc3339(nb));
    f.str("not_after", rfc3339(na));
    let left = na.unix_timestamp() - at.unix_timestamp();
    f.int("days_until_expiry", left.div_euclid(DAY));
    // The Baseline Requirements count both ends: a period is notAfter - notBefore + 1 second.
    let period = na.unix_timestamp() - nb.unix_timestamp() + 1;
    f.int("validity_days", (period + DAY - 1).div_euclid(DAY));
    f.bool("expired", at > na);
    f.bool("not_yet_valid", at < nb);
}

fn public_key(cert: &X509Certificate<'_>, f: &mut Facts) {
    let spki = cert.public_key();
    let oid = names::dotted(&spki.algorithm.algorithm);
    let algorithm = names::key_algorithm(&oid).map_or(oid.clone(), str::to_string);
    let mut bits = names::fixed_key_bits(&algorithm);
    f.str("key_algorithm", algorithm.clone());
    if algorithm == "ec" {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| names::dotted(&o));
        match curve.as_deref().and_then(names::curve) {
            Some((name, b)) => {
                f.str("key_curve", name);
                bits = Some(b);
            }
            None => f.str("key_curve", curve.unwrap_or_else(|| "explicit".into())),
        }
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => bits = Some(names::integer_bits(rsa.modulus)),
        Ok(PublicKey::DSA(_)) => bits = dsa_bits(spki.algorithm.parameters.as_ref()),
        _ => {}
    }
    if let Some(b) = bits {
        f.int("key_bits", b);
    }
}

/// DSA size is the size of `p` in the parameters `SEQUENCE { p, q, g }` (whose content `Any` holds).
fn dsa_bits(params: Option<&x509_parser::der_parser::asn1_rs::Any<'_>>) -> Option<i64> {
    let (p, _) = der::expect(params?.data, der::INTEGER)?;
    Some(names::integer_bits(p))
}

fn signature(cert: &X509Certificate<'_>, f: &mut Facts) {
    let oid = names::dotted(&cert.signature_algorithm.algorithm);
    if oid == names::RSASSA_PSS {
        f.str("signature_algorithm", "rsassaPss");
        let hash = cert
            .signature_algorithm
            .parameters
            .as_ref()
            .and_then(|p| x509_parser::signature_algorithm::RsaSsaPssParams::try_from(p).ok())
            .map_or("sha1", |p| {
                names::hash(&names::dotted(p.hash_algorithm_oid())).unwrap_or("unknown")
            });
        f.str("signature_hash", hash);
        return;
    }
    match names::signature_algorithm(&oid) {
        Some((name, hash)) => {
            f.str("signature_algorithm", name);
            f.str("signature_hash", hash);
        }
        None => {
            f.str("signature_algorithm", oid);
            f.str("signature_hash", "unknown");
        }
    }
}

/// Records the SAN lists; returns the DNS names and whether the extension is present.
fn subject_alt_names(cert: &X509Certificate<'_>, f: &mut Facts) -> (Vec<String>, bool) {
    let (mut dns, mut ip, mut email, mut uri) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let san = cert.subject_alternative_name().ok().flatten();
    if let Some(san) = &san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(b) => ip.push(ip_text(b)),
                GeneralName::RFC822Name(e) => email.push(e.to_string()),
                GeneralName::URI(u) => uri.push(u.to_string()),
                _ => {}
            }
        }
    }
    f.strs("san_dns", dns.iter().cloned());
    f.strs("san_ip", ip);
    f.strs("san_email", email);
    f.strs("san_uri", uri);
    (dns, san.is_some())
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => crate::text::hex(b),
    }
}
