//! The certificate collector: every X.509 certificate and private key in a file, found by content
//! (PEM blocks anywhere, base64-wrapped PEM in kubeconfigs, DER, PKCS#7 bundles in either), each
//! turned into a fact document.
//!
//! Certificate documents carry the dates computed against the evaluation clock and the chain
//! validated against the trust store; key documents carry the algorithm, size and encryption of the
//! key and never its material. A block or file that cannot be read becomes an error with its line;
//! the other certificates of the file are still reported.

pub mod chain;
mod der;
pub mod key;
mod names;
pub mod pem;
mod pkcs7;
mod selfsig;
pub mod store;
mod time_encoding;
pub mod x509;

use std::path::Path;

use base64::Engine;
use time::OffsetDateTime;

pub use store::{StoreError, TrustStore};

use super::{
    Collected, Collector, Document, Fields, Input, Kind, PrepareError, Prepared, Request, Settings,
    Source,
};
use crate::doc::{Map, Node, Pos, Value};

/// Kinds `certificate` and `private_key`: every certificate and key found in a file by its
/// content, read once for both kinds.
pub struct CertCollector;

pub const CERTIFICATE: &str = "certificate";
const PRIVATE_KEY: &str = "private_key";

/// The facts of a `certificate` document.
pub const CERTIFICATE_FIELDS: &[&str] = &[
    "path",
    "line",
    "encoding",
    "subject",
    "subject_cn",
    "issuer",
    "issuer_cn",
    "serial",
    "serial_octets",
    "serial_negative",
    "sha256",
    "version",
    "not_before",
    "not_after",
    "days_until_expiry",
    "validity_days",
    "expired",
    "not_yet_valid",
    "key_algorithm",
    "key_bits",
    "key_curve",
    "signature_algorithm",
    "signature_hash",
    "san_dns",
    "san_ip",
    "san_email",
    "san_uri",
    "has_san",
    "wildcard",
    "is_ca",
    "path_length",
    "key_usage",
    "extended_key_usage",
    "tls_server",
    "self_issued",
    "self_signed",
    "in_trust_store",
    "chain_valid",
    "chain_error",
    "chain",
    "extension_errors",
    "time_encoding_errors",
];

/// The facts of a `private_key` document.
pub const PRIVATE_KEY_FIELDS: &[&str] = &[
    "path",
    "line",
    "encoding",
    "format",
    "key_algorithm",
    "key_bits",
    "key_curve",
    "encrypted",
    "encryption",
];

impl Collector for CertCollector {
    fn known_fields(
        &self,
        kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        Some(if kind == PRIVATE_KEY {
            PRIVATE_KEY_FIELDS
        } else {
            CERTIFICATE_FIELDS
        })
    }

    fn source(&self) -> Source {
        Source::File
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind {
                name: CERTIFICATE,
                summary: "an X.509 certificate found in any file (PEM block, base64-wrapped PEM, DER), with dates at the evaluation clock and its chain validated",
            },
            Kind {
                name: PRIVATE_KEY,
                summary: "a private key found in any file (PKCS#1, PKCS#8, SEC1, OpenSSH): algorithm, size, encryption; never its material",
            },
        ]
    }

    /// Loads the trust store once. An unreadable `--trust-store` stops the scan; a system store
    /// that cannot be read leaves no anchor (every chain fails), which is reported.
    fn prepare(&self, settings: &Settings) -> Result<Prepared, PrepareError> {
        let mut warnings = Vec::new();
        let store = match &settings.trust_store {
            Some(path) => TrustStore::from_path(path).map_err(|e| PrepareError(e.to_string()))?,
            None => TrustStore::system().unwrap_or_else(|e| {
                warnings.push((
                    "(system trust store)".to_string(),
                    format!("{e}; certificate chains cannot validate (use --trust-store)"),
                ));
                TrustStore::default()
            }),
        };
        // Validity and chains depend on the clock and the anchors: cached verdicts on
        // certificates are reused only at the same instant (`--at`) and with the same anchors.
        let mut bytes = settings.at.unix_timestamp_nanos().to_le_bytes().to_vec();
        bytes.extend_from_slice(&store.digest());
        Ok(Prepared {
            state: Box::new(CertContext {
                at: settings.at,
                store,
            }),
            warnings,
            environment: Some(crate::collect::Environment {
                kinds: &[CERTIFICATE],
                bytes,
            }),
        })
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let (Some(entry), Some(bytes)) = (input.target.file(), input.bytes) else {
            return;
        };
        let Some(ctx) = request.state.downcast_ref::<CertContext>() else {
            return;
        };
        let found = read(
            &entry.path,
            &entry.display,
            bytes,
            ctx,
            request.fields.of("certificate"),
        );
        for e in found.errors {
            out.push(Collected::Error {
                kind: e.kind.map(DocKind::name),
                variant: None,
                pos: e.line.map(|l| Pos::line(l as usize)),
                message: e.message,
            });
        }
        for (kind, docs) in [(CERTIFICATE, found.certificates), (PRIVATE_KEY, found.keys)] {
            if request.wants(kind) {
                out.extend(docs.into_iter().map(|document| Collected::Document {
                    kind,
                    variant: None,
                    document,
                }));
            }
        }
    }
}

/// File extensions that announce a certificate or key: a file so named that holds neither is an
/// error, not an empty result.
pub const NAMED_EXTENSIONS: &[&str] = &["pem", "crt", "cer", "der", "cert", "key", "p7b", "p7c"];

/// The kinds of fact document the collector produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// An X.509 certificate.
    Certificate,
    /// A private key.
    PrivateKey,
}

impl DocKind {
    /// The kind's name in policies.
    pub fn name(self) -> &'static str {
        match self {
            DocKind::Certificate => CERTIFICATE,
            DocKind::PrivateKey => PRIVATE_KEY,
        }
    }
}

/// What the collector needs besides a file: the evaluation clock and the trust store.
#[derive(Debug)]
pub struct CertContext {
    /// The clock expiry and chain validity are computed against.
    pub at: OffsetDateTime,
    /// The anchors chains are validated against.
    pub store: TrustStore,
}

/// A problem reading a certificate or key, located where it could be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectError {
    /// Which kind of document was lost; `None` when the file itself could not be told apart.
    pub kind: Option<DocKind>,
    /// The line of the PEM block concerned.
    pub line: Option<u32>,
    /// The reason, precise enough to fix the file.
    pub message: String,
}

/// Everything the collector found in one file.
#[derive(Debug, Default)]
pub struct Contents {
    /// One document per certificate, in file order.
    pub certificates: Vec<Document>,
    /// One document per private key, in file order.
    pub keys: Vec<Document>,
    /// Blocks or files that could not be read.
    pub errors: Vec<CollectError>,
}

/// Builds a fact map whose every value sits at the same position (the PEM block's line), so that
/// every verdict about a certificate points at it.
pub struct Facts {
    map: Map,
    pos: Pos,
}

impl Facts {
    /// Facts at `pos`, with room for `capacity` of them (a certificate has about forty: room for
    /// them all, rather than five regrowths of the map).
    fn new(pos: Pos, capacity: usize) -> Facts {
        Facts {
            map: Map::with_capacity(capacity),
            pos,
        }
    }

    /// A string field.
    pub fn str(&mut self, key: &'static str, value: impl Into<String>) {
        self.map.insert(key, Node::str(self.pos, value));
    }

    /// An integer field.
    pub fn int(&mut self, key: &'static str, value: i64) {
        self.map.insert(key, Node::new(self.pos, Value::Int(value)));
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &'static str, value: bool) {
        self.map
            .insert(key, Node::new(self.pos, Value::Bool(value)));
    }

    /// A list of strings.
    pub fn strs(&mut self, key: &'static str, values: impl IntoIterator<Item = String>) {
        let items = values.into_iter().map(|v| Node::str(self.pos, v)).collect();
        self.map
            .insert(key, Node::new(self.pos, Value::List(items)));
    }

    fn finish(self) -> Node {
        Node::new(self.pos, Value::Map(self.map))
    }
}

/// Whether a PEM label holds a certificate.
pub fn is_certificate_label(label: &str) -> bool {
    matches!(
        label,
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE"
    )
}

/// The label of a PEM block holding a PKCS#7 bundle of certificates, as OpenSSL writes it.
const PKCS7_LABEL: &str = "PKCS7";

fn kind_of(label: &str) -> Option<DocKind> {
    if is_certificate_label(label) || label == PKCS7_LABEL {
        Some(DocKind::Certificate)
    } else if key::is_key_label(label) {
        Some(DocKind::PrivateKey)
    } else {
        None
    }
}

/// A DER certificate found in the file, before it is judged.
struct Found {
    der: Vec<u8>,
    line: Option<u32>,
    /// How the file holds it: `pem`, `der` or `pkcs7`.
    encoding: &'static str,
}

/// Every certificate of a PKCS#7 bundle (`der`), or the error that tells why they cannot be read.
fn bundle_certificates(
    der: &[u8],
    line: Option<u32>,
    prefix: &str,
    certs: &mut Vec<Found>,
    out: &mut Contents,
) {
    match pkcs7::certificates(der) {
        Ok(list) => certs.extend(list.into_iter().map(|c| Found {
            der: c.to_vec(),
            line,
            encoding: "pkcs7",
        })),
        Err(message) => out.errors.push(CollectError {
            kind: Some(DocKind::Certificate),
            line,
            message: match line {
                Some(l) => format!("{prefix}PKCS#7 block at line {l}: {message}"),
                None => message,
            },
        }),
    }
}

/// The base64 of `-----BEGIN`: how a kubeconfig's `certificate-authority-data` starts.
const BASE64_BEGIN: &[u8] = b"LS0tLS1CRUdJTi";

/// Collects every certificate and key of a file. `display` is the path as shown in findings.
/// Certificate facts that no control reads (`fields`) are not computed: chain validation and
/// signature checks are the costly ones.
pub fn read(
    path: &Path,
    display: &str,
    bytes: &[u8],
    ctx: &CertContext,
    fields: &Fields,
) -> Contents {
    let mut out = Contents::default();
    let mut certs: Vec<Found> = Vec::new();
    let named = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| NAMED_EXTENSIONS.contains(&e.as_str()));
    let pem_text = pem::has_marker(bytes);
    if pem_text {
        read_blocks(
            pem::blocks(bytes, named),
            None,
            display,
            &mut certs,
            &mut out,
        );
    }
    for (line, decoded) in base64_wrapped_pem(bytes) {
        read_blocks(
            pem::blocks(&decoded, false),
            Some(line),
            display,
            &mut certs,
            &mut out,
        );
    }
    // Another content type than SignedData (enveloped or plain data) holds no certificate: an
    // error only in a file named as holding some.
    if !pem_text && pkcs7::content_type(bytes).is_some_and(|k| k == pkcs7::SIGNED_DATA || named) {
        bundle_certificates(bytes, None, "", &mut certs, &mut out);
    } else if !pem_text && (named || der::is_single_sequence(bytes)) {
        match x509::parse(bytes) {
            Ok(_) => certs.push(Found {
                der: bytes.to_vec(),
                line: None,
                encoding: "der",
            }),
            Err(cert_error) => match key::from_der(bytes) {
                Some(k) => out.keys.push(key_document(&k, display, None, "der")),
                // A public key or a certificate request, as a PEM file with such a block is.
                None if key::is_public_der(bytes) => {}
                None if named => out.errors.push(CollectError {
                    kind: None,
                    line: None,
                    message: if bytes.is_empty() {
                        "the file is empty: no certificate or private key".into()
                    } else if bytes.first() == Some(&0x30) {
                        format!("not a DER certificate ({cert_error}) nor a DER private key")
                    } else {
                        "no PEM block and not DER: no certificate or private key could be read"
                            .into()
                    },
                }),
                None => {}
            },
        }
    }
    certificate_documents(&certs, display, ctx, fields, &mut out);
    out
}

fn read_blocks(
    blocks: Vec<Result<pem::Block, pem::BlockError>>,
    wrapped_at: Option<u32>,
    display: &str,
    certs: &mut Vec<Found>,
    out: &mut Contents,
) {
    let context = |line: u32| match wrapped_at {
        Some(at) => (at, format!("in the base64-encoded PEM at line {at}, ")),
        None => (line, String::new()),
    };
    for block in blocks {
        match block {
            Ok(b) => match kind_of(&b.label) {
                Some(DocKind::Certificate) if b.label == PKCS7_LABEL => {
                    let (line, prefix) = context(b.line);
                    bundle_certificates(&b.der, Some(line), &prefix, certs, out);
                }
                Some(DocKind::Certificate) => certs.push(Found {
                    der: b.der,
                    line: Some(context(b.line).0),
                    encoding: "pem",
                }),
                Some(DocKind::PrivateKey) => {
                    let (line, prefix) = context(b.line);
                    match key::from_pem(&b) {
                        Ok(k) => out.keys.push(key_document(&k, display, Some(line), "pem")),
                        Err(message) => out.errors.push(CollectError {
                            kind: Some(DocKind::PrivateKey),
                            line: Some(line),
                            message: format!("{prefix}private key at line {}: {message}", b.line),
                        }),
                    }
                }
                None => {}
            },
            Err(e) => {
                if let Some(kind) = kind_of(&e.label) {
                    let (line, prefix) = context(e.line);
                    out.errors.push(CollectError {
                        kind: Some(kind),
                        line: Some(line),
                        message: format!("{prefix}{e}"),
                    });
                }
            }
        }
    }
}

/// PEM text wrapped in base64, as kubeconfigs and Kubernetes Secrets carry it: (line, decoded).
fn base64_wrapped_pem(bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(BASE64_BEGIN));
    let mut out = Vec::new();
    for start in FINDER.find_iter(bytes) {
        let len = bytes[start..]
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')))
            .unwrap_or(bytes.len() - start);
        let Ok(decoded) =
            base64::engine::general_purpose::STANDARD.decode(&bytes[start..start + len])
        else {
            continue;
        };
        if pem::has_marker(&decoded) {
            let line = memchr::memchr_iter(b'\n', &bytes[..start]).count() + 1;
            out.push((u32::try_from(line).unwrap_or(u32::MAX), decoded));
        }
    }
    out
}

fn position(line: Option<u32>) -> Pos {
    line.map_or(Pos::default(), |l| Pos::line(l as usize))
}

fn source_fields(f: &mut Facts, display: &str, line: Option<u32>, encoding: &str) {
    f.str("path", display);
    if let Some(l) = line {
        f.int("line", i64::from(l));
    }
    f.str("encoding", encoding);
}

fn key_document(k: &key::KeyFacts, display: &str, line: Option<u32>, encoding: &str) -> Document {
    let mut f = Facts::new(position(line), 16);
    f.str("format", k.format);
    if let Some(a) = &k.algorithm {
        f.str("key_algorithm", a.clone());
    }
    if let Some(b) = k.bits {
        f.int("key_bits", b);
    }
    if let Some(c) = &k.curve {
        f.str("key_curve", c.clone());
    }
    f.bool("encrypted", k.encrypted);
    if let Some(e) = &k.encryption {
        f.str("encryption", e.clone());
    }
    source_fields(&mut f, display, line, encoding);
    Document {
        label: Some(k.label()),
        anchor: line.map(|l| position(Some(l))),
        ..Document::new(f.finish())
    }
}

/// The certificate documents of a chain a server presented (DER, leaf first), judged like the
/// certificates of one file: the others are the leaf's intermediates. `display` names the
/// endpoint.
pub fn chain_documents(
    ders: &[Vec<u8>],
    display: &str,
    ctx: &CertContext,
    fields: &Fields,
) -> Contents {
    let found: Vec<Found> = ders
        .iter()
        .map(|d| Found {
            der: d.clone(),
            line: None,
            encoding: "der",
        })
        .collect();
    let mut out = Contents::default();
    certificate_documents(&found, display, ctx, fields, &mut out);
    out
}

/// Whether the first of `ders` (a server's leaf) validates to a trust anchor with the others as
/// intermediates, and why not; a presented leaf is judged even when it claims to be a CA.
pub fn validate_presented(ders: &[Vec<u8>], ctx: &CertContext) -> (bool, Option<String>) {
    let parsed: Vec<_> = ders
        .iter()
        .filter_map(|d| x509::parse(d).ok().map(|c| (d, c)))
        .collect();
    if parsed.len() != ders.len() || parsed.is_empty() {
        return (
            false,
            Some("a presented certificate cannot be parsed".into()),
        );
    }
    let members: Vec<chain::Member<'_>> = parsed
        .iter()
        .map(|(d, cert)| chain::Member { der: d, cert })
        .collect();
    let outcome = chain::validate(&members[0], &members, &ctx.store, ctx.at);
    (outcome.valid, outcome.error)
}

fn certificate_documents(
    found: &[Found],
    display: &str,
    ctx: &CertContext,
    fields: &Fields,
    out: &mut Contents,
) {
    let chains = ["chain_valid", "chain_error", "chain"]
        .iter()
        .any(|k| fields.contains(k));
    let mut parsed = Vec::new();
    for f in found {
        match x509::parse(&f.der) {
            Ok(cert) => parsed.push((f, cert)),
            Err(e) => out.errors.push(CollectError {
                kind: Some(DocKind::Certificate),
                line: f.line,
                message: match f.line {
                    Some(l) => format!("certificate at line {l} cannot be parsed: {e}"),
                    None => format!("the DER certificate cannot be parsed: {e}"),
                },
            }),
        }
    }
    let members: Vec<chain::Member<'_>> = parsed
        .iter()
        .map(|(f, cert)| chain::Member { der: &f.der, cert })
        .collect();
    for (m, (found, _)) in members.iter().zip(&parsed) {
        let line = found.line;
        let sha256 = x509::fingerprint(m.der);
        let context = x509::Context {
            der: m.der,
            sha256: &sha256,
            at: ctx.at,
            in_trust_store: fields
                .contains("in_trust_store")
                .then(|| ctx.store.contains(m.cert)),
            chain: (chains && !x509::is_ca(m.cert))
                .then(|| chain::validate(m, &members, &ctx.store, ctx.at)),
            fields,
        };
        let mut f = Facts::new(position(line), 48);
        x509::facts(m.cert, &context, &mut f);
        source_fields(&mut f, display, line, found.encoding);
        out.certificates.push(Document {
            label: Some(x509::label(m.cert, &sha256)),
            anchor: line.map(|l| position(Some(l))),
            ..Document::new(f.finish())
        });
    }
}
