//! Chain validation with a real path validator (rustls-webpki): signatures, validity at the
//! evaluation clock, CA flags, path length and name constraints, from an end-entity certificate
//! through the other certificates of its file to an anchor of the trust store.

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, Error, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage};
use x509_parser::certificate::X509Certificate;

use super::store::TrustStore;
use super::x509::short_name;
use crate::clock::rfc3339;

/// The outcome of validating one end-entity certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOutcome {
    /// Whether a path to a trust anchor was found and verified.
    pub valid: bool,
    /// Why not, in words (expired intermediate, unknown issuer, bad signature...).
    pub error: Option<String>,
    /// The verified path, leaf first, as short names.
    pub path: Vec<String>,
}

/// Signature algorithms accepted in a path: those of the Web PKI. SHA-1, MD5, RSA keys under 2048
/// bits and P-521 (which *ring* cannot verify) are not, so chains using them do not validate.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// The purpose a leaf is validated for, from its own extended key usage: TLS server (also when it
/// has none, which permits any use), TLS client, or any other purpose, for which the path is judged
/// on its own and the usage is left to other controls.
enum Purpose {
    Server,
    Client,
    Any,
}

impl ExtendedKeyUsageValidator for Purpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), Error> {
        match self {
            Purpose::Server => KeyUsage::server_auth().validate(iter),
            Purpose::Client => KeyUsage::client_auth().validate(iter),
            Purpose::Any => Ok(()),
        }
    }
}

/// One certificate of the file, as both DER and parsed form.
pub struct Member<'a> {
    /// The DER bytes.
    pub der: &'a [u8],
    /// The parsed certificate.
    pub cert: &'a X509Certificate<'a>,
}

/// Validates `leaf` at `at`, using the other certificates of its file as intermediates.
pub fn validate(
    leaf: &Member<'_>,
    file: &[Member<'_>],
    store: &TrustStore,
    at: OffsetDateTime,
) -> ChainOutcome {
    let fail = |error: String| ChainOutcome {
        valid: false,
        error: Some(error),
        path: Vec::new(),
    };
    let leaf_der = CertificateDer::from(leaf.der);
    let ee = match EndEntityCert::try_from(&leaf_der) {
        Ok(ee) => ee,
        Err(e) => return fail(describe(&e, leaf, file)),
    };
    let intermediates: Vec<CertificateDer<'_>> = file
        .iter()
        .filter(|m| m.der != leaf.der)
        .map(|m| CertificateDer::from(m.der))
        .collect();
    let seconds = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    let purpose = match leaf.cert.extended_key_usage().ok().flatten() {
        None => Purpose::Server,
        Some(e) if e.value.server_auth || e.value.any => Purpose::Server,
        Some(e) if e.value.client_auth => Purpose::Client,
        Some(_) => Purpose::Any,
    };
    let result = ee.verify_for_usage(
        ALGORITHMS,
        store.anchors(),
        &intermediates,
        time,
        purpose,
        None,
        None,
    );
    match result {
        Ok(path) => {
            let mut names = vec![short_name(leaf.cert)];
            for c in path.intermediate_certificates() {
                let der = c.der();
                names.push(
                    file.iter()
                        .find(|m| m.der == der.as_ref())
                        .map_or_else(|| "(intermediate)".to_string(), |m| short_name(m.cert)),
                );
            }
            names.push(store.anchor_name(path.anchor()));
            ChainOutcome {
                valid: true,
                error: None,
                path: names,
            }
        }
        Err(e) => fail(describe(&e, leaf, file)),
    }
}

/// Which certificate of the candidate path a time error is about, named by its role.
fn whose_time(seconds: u64, leaf: &Member<'_>, file: &[Member<'_>], not_after: bool) -> String {
    let matches = |m: &Member<'_>| {
        let v = m.cert.validity();
        let t = if not_after {
            &v.not_after
        } else {
            &v.not_before
        };
        u64::try_from(t.timestamp()).ok() == Some(seconds)
    };
    if matches(leaf) {
        return "the certificate".to_string();
    }
    match file.iter().find(|m| m.der != leaf.der && matches(m)) {
        Some(m) => format!("issuer {}", short_name(m.cert)),
        None => "a certificate of the path".to_string(),
    }
}

fn at_text(t: &UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_else(|_| secs.to_string())
}

/// The validator's error in words, naming the certificate concerned where it can be told.
fn describe(e: &Error, leaf: &Member<'_>, file: &[Member<'_>]) -> String {
    match e {
        Error::UnknownIssuer => format!(
            "unknown issuer: no certificate in the file or the trust store issued {}",
            leaf_issuer(leaf, file)
        ),
        Error::CertExpired { not_after, .. } => format!(
            "expired: {} expired at {}",
            whose_time(not_after.as_secs(), leaf, file, true),
            at_text(not_after)
        ),
        Error::CertNotValidYet { not_before, .. } => format!(
            "not yet valid: {} is valid from {}",
            whose_time(not_before.as_secs(), leaf, file, false),
            at_text(not_before)
        ),
        Error::InvalidSignatureForPublicKey => {
            "bad signature: a signature in the path does not verify with its issuer's key".into()
        }
        Error::UnsupportedSignatureAlgorithmContext(_)
        | Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "unsupported signature algorithm in the path (SHA-1, MD5, RSA keys under 2048 bits and P-521 are not accepted)".into()
        }
        Error::CaUsedAsEndEntity => {
            "the certificate has CA:TRUE and cannot be validated as an end-entity certificate".into()
        }
        Error::EndEntityUsedAsCa => {
            "an issuer in the path is not a CA (basicConstraints CA:TRUE is missing)".into()
        }
        Error::PathLenConstraintViolated => {
            "an issuer's path length constraint is violated".into()
        }
        Error::NameConstraintViolation => {
            "the certificate's names violate an issuer's name constraints".into()
        }
        Error::RequiredEkuNotFoundContext(_) => {
            "an extended key usage in the path does not allow the certificate's purpose".into()
        }
        Error::UnsupportedCertVersion => "not an X.509 v3 certificate".into(),
        Error::InvalidSerialNumber => "invalid serial number (negative, zero or too long)".into(),
        Error::BadDer | Error::BadDerTime | Error::TrailingData(_) => {
            "the certificate is not strictly valid DER".into()
        }
        Error::MaximumPathDepthExceeded | Error::MaximumPathBuildCallsExceeded => {
            "the path is too long".into()
        }
        other => format!("{other:?}"),
    }
}

/// The issuer a failed search was looking for, or the first issuer missing along the file's chain.
fn leaf_issuer(leaf: &Member<'_>, file: &[Member<'_>]) -> String {
    let mut current = leaf.cert;
    for _ in 0..file.len() {
        match file.iter().find(|m| {
            m.cert.subject().as_raw() == current.issuer().as_raw() && !std::ptr::eq(m.cert, current)
        }) {
            Some(next) => current = next.cert,
            None => break,
        }
    }
    current.issuer().to_string()
}
