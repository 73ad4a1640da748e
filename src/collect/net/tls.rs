//! Kind `tls_server` (and the `certificate` documents of the chain it presents): what a TLS
//! endpoint accepts and shows. TLS 1.3 and TLS 1.2 are negotiated with rustls, which records the
//! suite, the key exchange group, ALPN, OCSP stapling and the chain; a hand-written ClientHello
//! ([`super::hello`]) asks what rustls never offers (SSLv3, TLS 1.0 and 1.1) and enumerates every
//! suite each protocol accepts, and reads secure renegotiation, compression and fallback
//! protection from the ServerHellos.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::conn::{Budget, Conn, Limits, NetError};
use super::hello::{self, Answer, Offer};
use super::suites;
use crate::collect::cert::{self, CertCollector, CertContext};
use crate::collect::{
    Collected, Collector, Document, Endpoint, Fields, Input, Kind, PrepareError, Prepared, Request,
    Settings, Source, Target,
};
use crate::doc::{Map, Node, Pos, Value};

/// Kind `tls_server`, and `certificate` for the presented chain, from endpoints probed with `tls`.
pub struct TlsCollector;

/// How many ClientHellos one protocol's suite enumeration may send.
const MAX_ROUNDS: usize = 80;

/// The facts of a `tls_server` document.
pub const FIELDS: &[&str] = &[
    "server_name",
    "protocols",
    "tls1_3",
    "tls1_2",
    "tls1_1",
    "tls1_0",
    "ssl3",
    "cipher_suites",
    "cipher_suites_tls1_3",
    "cipher_suites_tls1_2",
    "cipher_suites_tls1_1",
    "cipher_suites_tls1_0",
    "cipher_suites_ssl3",
    "key_exchange_group",
    "alpn",
    "ocsp_stapled",
    "secure_renegotiation",
    "compression",
    "fallback_protection",
    "chain",
    "chain_valid",
    "chain_error",
    "hostname_matches",
    "certificate_key_algorithm",
    "certificate_key_bits",
    "certificate_signature_hash",
    "certificate_not_after",
    "certificate_days_until_expiry",
    "certificate_expired",
    "cipher_suite_preferred_tls1_2",
    "https",
    "http_status",
    "hsts",
    "hsts_max_age",
    "hsts_include_subdomains",
    "http_error",
    "starttls",
];

impl Collector for TlsCollector {
    fn source(&self) -> Source {
        Source::Endpoint
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind {
                name: "tls_server",
                summary: "a TLS endpoint: protocols accepted (SSLv3 to TLS 1.3), every cipher suite each accepts, key exchange group, ALPN, OCSP stapling, secure renegotiation, compression, fallback protection, the presented chain's validity and host name match",
            },
            Kind {
                name: cert::CERTIFICATE,
                summary: "each certificate of the chain a TLS endpoint presents, with the facts of a certificate file",
            },
        ]
    }

    fn known_fields(
        &self,
        kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        Some(if kind == "tls_server" {
            FIELDS
        } else {
            cert::CERTIFICATE_FIELDS
        })
    }

    /// The trust store, as the certificate collector loads it.
    fn prepare(&self, settings: &Settings) -> Result<Prepared, PrepareError> {
        CertCollector.prepare(settings)
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let Target::Endpoint(endpoint) = input.target else {
            return;
        };
        let Some(ctx) = request.state.downcast_ref::<CertContext>() else {
            return;
        };
        if !endpoint.probes("tls") {
            return;
        }
        let error = |kind: &'static str, e: &NetError| Collected::Error {
            kind: Some(kind),
            variant: None,
            pos: None,
            message: e.to_string(),
        };
        match probe(endpoint, request.settings.net, ctx) {
            Ok((server, chain)) => {
                if request.wants("tls_server") {
                    out.push(Collected::Document {
                        kind: "tls_server",
                        variant: None,
                        document: Document::new(server),
                    });
                }
                if request.wants(cert::CERTIFICATE) {
                    for document in chain.certificates {
                        out.push(Collected::Document {
                            kind: cert::CERTIFICATE,
                            variant: None,
                            document,
                        });
                    }
                    for e in chain.errors {
                        out.push(error(cert::CERTIFICATE, &NetError::Protocol(e.message)));
                    }
                }
            }
            Err(e) => {
                for kind in ["tls_server", cert::CERTIFICATE] {
                    if request.wants(kind) {
                        out.push(error(kind, &e));
                    }
                }
            }
        }
    }
}

/// What one rustls handshake negotiated.
struct Negotiated {
    suite: String,
    group: Option<String>,
    alpn: Option<String>,
    chain: Vec<Vec<u8>>,
    ocsp: bool,
    /// The HTTP check, when it ran.
    head: Option<Result<Head, String>>,
}

/// Probes one endpoint: the `tls_server` facts and the presented chain's documents.
fn probe(
    endpoint: &Endpoint,
    limits: Limits,
    ctx: &CertContext,
) -> Result<(Node, cert::Contents), NetError> {
    let p = Pos::default();
    let budget = &Budget::start(limits);
    let mut m = Map::new();
    let mut protocols: Vec<&str> = Vec::new();
    let mut all_suites: Vec<String> = Vec::new();
    let name = sni(endpoint);
    m.insert("server_name", Node::str(p, endpoint.host.clone()));
    if let Some(proto) = &endpoint.starttls {
        m.insert("starttls", Node::str(p, proto.clone()));
    }

    let tls13 = handshake(endpoint, budget, &rustls::version::TLS13, None, false)?;
    let tls12 = handshake(endpoint, budget, &rustls::version::TLS12, None, false)?;
    let best = tls13.as_ref().ok().or(tls12.as_ref().ok());
    if tls13.is_ok() {
        protocols.push("TLSv1.3");
        // Every TLS 1.3 suite rustls knows, one handshake each (all three are AEAD).
        let mut names = Vec::new();
        for suite in rustls::crypto::ring::default_provider().cipher_suites {
            if suite.version() != &rustls::version::TLS13 {
                continue;
            }
            if let Ok(n) = handshake(
                endpoint,
                budget,
                &rustls::version::TLS13,
                Some(suite),
                false,
            )? {
                names.push(n.suite);
            }
        }
        all_suites.extend(names.iter().cloned());
        list(&mut m, "cipher_suites_tls1_3", &names);
    }
    if let Some(n) = best {
        if let Some(g) = &n.group {
            m.insert("key_exchange_group", Node::str(p, g.clone()));
        }
        if let Some(a) = &n.alpn {
            m.insert("alpn", Node::str(p, a.clone()));
        }
        m.insert("ocsp_stapled", Node::new(p, Value::Bool(n.ocsp)));
    }
    // HTTPS: `HEAD /` for Strict-Transport-Security, on a server that speaks HTTP over TLS
    // (its ALPN says so, or it listens on an HTTPS port, or the inventory asks).
    let https = endpoint.probes("http")
        || matches!(endpoint.port, 443 | 8443)
        || best.is_some_and(|n| matches!(n.alpn.as_deref(), Some("h2" | "http/1.1")));
    if https && best.is_some() {
        let version = if tls13.is_ok() {
            &rustls::version::TLS13
        } else {
            &rustls::version::TLS12
        };
        // An HTTPS endpoint whose check fails still owes HSTS: the HSTS control judges it.
        m.insert("https", Node::new(p, Value::Bool(true)));
        let head = match handshake(endpoint, budget, version, None, true)? {
            Ok(n) => n.head,
            Err(reason) => Some(Err(format!(
                "the TLS handshake for the HTTP check failed: {reason}"
            ))),
        };
        if let Some(head) = head {
            match head {
                Ok(h) => {
                    m.insert("http_status", Node::new(p, Value::Int(i64::from(h.status))));
                    if let Some(v) = h.hsts {
                        let max_age = v
                            .split(';')
                            .filter_map(|d| d.trim().split_once('='))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("max-age"))
                            .and_then(|(_, a)| a.trim().trim_matches('"').parse::<i64>().ok());
                        if let Some(a) = max_age {
                            m.insert("hsts_max_age", Node::new(p, Value::Int(a)));
                        }
                        let subdomains = v.to_ascii_lowercase().contains("includesubdomains");
                        m.insert(
                            "hsts_include_subdomains",
                            Node::new(p, Value::Bool(subdomains)),
                        );
                        m.insert("hsts", Node::str(p, v));
                    }
                }
                Err(e) => m.insert("http_error", Node::str(p, e)),
            }
        }
    }

    // The legacy protocols, and every suite each accepts (TLS 1.2's too: rustls offers few).
    let mut hellos: Vec<(u16, hello::ServerHello)> = Vec::new();
    let mut spoke_tls = false;
    let mut accepted = Vec::new();
    for (version, key) in [
        (hello::TLS1_2, "tls1_2"),
        (hello::TLS1_1, "tls1_1"),
        (hello::TLS1_0, "tls1_0"),
        (hello::SSL3, "ssl3"),
    ] {
        let (found, first, answered) = enumerate(endpoint, budget, version, name.as_deref())?;
        spoke_tls |= answered;
        let yes = !found.is_empty() || (version == hello::TLS1_2 && tls12.is_ok());
        m.insert(key, Node::new(p, Value::Bool(yes)));
        if yes {
            protocols.push(hello::version_name(version));
            accepted.push(version);
        }
        if let Some(h) = first {
            hellos.push((version, h));
        }
        let mut names: Vec<String> = found.iter().map(|c| suites::name(*c)).collect();
        // Offered every suite, weakest first, the server's pick says whose preference rules.
        if version == hello::TLS1_2
            && let Some(first) = names.first()
        {
            m.insert("cipher_suite_preferred_tls1_2", Node::str(p, first.clone()));
        }
        if version == hello::TLS1_2
            && let Ok(n) = &tls12
            && !names.contains(&n.suite)
        {
            names.push(n.suite.clone());
        }
        for n in &names {
            if !all_suites.contains(n) {
                all_suites.push(n.clone());
            }
        }
        list(&mut m, &format!("cipher_suites_{key}"), &names);
    }
    m.insert("tls1_3", Node::new(p, Value::Bool(tls13.is_ok())));
    // A peer that accepted nothing and never answered in TLS (it hung up on every hello: a reset
    // by a firewall, a port that needs STARTTLS) is not a TLS server that refuses everything.
    let alerted =
        |r: &Result<Negotiated, String>| r.as_ref().err().is_some_and(|e| e.contains("alert"));
    spoke_tls |= tls13.is_ok() || tls12.is_ok() || alerted(&tls13) || alerted(&tls12);
    if !spoke_tls {
        return Err(NetError::Protocol(
            "no TLS handshake: the peer closed every connection without a TLS answer".into(),
        ));
    }
    let names: Vec<String> = protocols.iter().map(|s| s.to_string()).collect();
    list(&mut m, "protocols", &names);
    list(&mut m, "cipher_suites", &all_suites);

    // From the ServerHello of the highest legacy protocol.
    if let Some((_, h)) = hellos.first() {
        m.insert(
            "secure_renegotiation",
            Node::new(p, Value::Bool(h.secure_renegotiation)),
        );
    }
    if !hellos.is_empty() {
        let compressed = hellos.iter().any(|(_, h)| h.compression != 0);
        m.insert("compression", Node::new(p, Value::Bool(compressed)));
    }
    // A retry at a lower protocol marked as a fallback must be refused (RFC 7507).
    if let Some(&lower) = accepted.get(1) {
        let all: Vec<u16> = suites::SUITES.iter().map(|(c, _)| *c).collect();
        let answer = hello::ask(
            endpoint,
            budget,
            &Offer {
                version: lower,
                suites: &all,
                server_name: name.as_deref(),
                fallback: true,
            },
        )?;
        // Only the alert RFC 7507 defines proves the server saw through the fallback.
        let protected = answer == Answer::Alert(hello::ALERT_INAPPROPRIATE_FALLBACK);
        m.insert("fallback_protection", Node::new(p, Value::Bool(protected)));
    }

    // The presented chain, judged like a certificate file, and the host name.
    // The chain rustls saw, else the one a legacy protocol's ServerHello was followed by.
    let chain = best
        .map(|n| n.chain.clone())
        .or_else(|| {
            hellos
                .iter()
                .map(|(_, h)| h.chain.clone())
                .find(|c| !c.is_empty())
        })
        .unwrap_or_default();
    // Every fact of the chain: the server document copies the leaf's (a chain is a few certificates).
    let contents = cert::chain_documents(&chain, &endpoint.name, ctx, &Fields::All);
    if let Some(leaf) = chain.first() {
        let subjects: Vec<String> = contents
            .certificates
            .iter()
            .filter_map(|d| d.label.clone())
            .collect();
        list(&mut m, "chain", &subjects);
        let (valid, error) = cert::validate_presented(&chain, ctx);
        m.insert("chain_valid", Node::new(p, Value::Bool(valid)));
        if let Some(e) = error {
            m.insert("chain_error", Node::str(p, e));
        }
        if let Some(leaf_doc) = contents.certificates.first() {
            for (key, from) in [
                ("certificate_key_algorithm", "key_algorithm"),
                ("certificate_key_bits", "key_bits"),
                ("certificate_signature_hash", "signature_hash"),
                ("certificate_not_after", "not_after"),
                ("certificate_days_until_expiry", "days_until_expiry"),
                ("certificate_expired", "expired"),
            ] {
                if let Some(v) = leaf_doc.root.get(from) {
                    m.insert(key, Node::new(p, v.value.clone()));
                }
            }
        }
        m.insert(
            "hostname_matches",
            Node::new(p, Value::Bool(hostname_matches(leaf, endpoint))),
        );
    }
    Ok((Node::new(p, Value::Map(m)), contents))
}

fn list(m: &mut Map, key: &str, values: &[String]) {
    let p = Pos::default();
    let items = values.iter().map(|v| Node::str(p, v.clone())).collect();
    m.insert(key.to_string(), Node::new(p, Value::List(items)));
}

/// The name sent as SNI: the host, unless it is an address.
fn sni(endpoint: &Endpoint) -> Option<String> {
    let h = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    h.parse::<std::net::IpAddr>()
        .is_err()
        .then(|| h.to_string())
}

/// Whether the leaf certificate is valid for the endpoint's name (or address).
fn hostname_matches(leaf: &[u8], endpoint: &Endpoint) -> bool {
    let der = CertificateDer::from(leaf.to_vec());
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    match ServerName::try_from(host.to_string()) {
        Ok(name) => cert.verify_is_valid_for_subject_name(&name).is_ok(),
        Err(_) => false,
    }
}

/// Every suite `version` accepts, by offering all and removing each one the server picks, and the
/// first ServerHello. Empty when the protocol is refused.
fn enumerate(
    endpoint: &Endpoint,
    budget: &Budget,
    version: u16,
    name: Option<&str>,
) -> Result<(Vec<u16>, Option<hello::ServerHello>, bool), NetError> {
    let mut offer: Vec<u16> = suites::SUITES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| c >> 8 != 0x13)
        .collect();
    let mut found = Vec::new();
    let mut first = None;
    // Whether the server answered in TLS at all (a ServerHello or an alert), not just hung up.
    let mut answered = false;
    for _ in 0..MAX_ROUNDS {
        if offer.is_empty() {
            break;
        }
        let answer = hello::ask(
            endpoint,
            budget,
            &Offer {
                version,
                suites: &offer,
                server_name: name,
                fallback: false,
            },
        )?;
        answered |= !matches!(answer, Answer::Closed);
        match answer {
            Answer::Hello(h) if h.version == version && offer.contains(&h.suite) => {
                offer.retain(|c| *c != h.suite);
                found.push(h.suite);
                first.get_or_insert(h);
            }
            _ => break,
        }
    }
    Ok((found, first, answered))
}

/// One rustls handshake restricted to `version`: what it negotiated, or why the server refused
/// (`Ok(Err(reason))`). A network failure is an `Err`.
fn handshake(
    endpoint: &Endpoint,
    budget: &Budget,
    version: &'static rustls::SupportedProtocolVersion,
    only: Option<rustls::SupportedCipherSuite>,
    http: bool,
) -> Result<Result<Negotiated, String>, NetError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suite) = only {
        provider.cipher_suites = vec![suite];
    }
    let provider = Arc::new(provider);
    let recorder = Arc::new(Recorder {
        provider: provider.clone(),
        seen: Mutex::new(None),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| NetError::Protocol(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = if http {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    let server_name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_string())
            .map_err(|_| NetError::Protocol(format!("`{host}` is not a valid server name")))?,
    };
    let mut client = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| NetError::Protocol(e.to_string()))?;
    let mut conn = Conn::open(endpoint, budget)?;
    conn.during = format!("during a {version:?} handshake");
    while client.is_handshaking() {
        if let Err(e) = client.complete_io(&mut conn) {
            match conn.take_failure() {
                // Hung up (after rustls read something it refused, and wanted to say so with an
                // alert): the handshake failed, as when the peer closes before answering.
                Some(NetError::Closed { .. }) | None => return Ok(Err(e.to_string())),
                Some(net) => return Err(net),
            }
        }
    }
    let suite = client
        .negotiated_cipher_suite()
        .map(|s| suites::name(u16::from(s.suite())))
        .unwrap_or_default();
    let group = client
        .negotiated_key_exchange_group()
        .map(|g| format!("{:?}", g.name()));
    let alpn = client
        .alpn_protocol()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let (chain, ocsp) = recorder
        .seen
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default()
        .unwrap_or_default();
    let head = http.then(|| {
        conn.during = "during the HTTP check".into();
        head_request(&mut client, &mut conn, host)
    });
    Ok(Ok(Negotiated {
        suite,
        group,
        alpn,
        chain,
        ocsp,
        head,
    }))
}

/// The answer to `HEAD /` on an established TLS connection: status and the
/// Strict-Transport-Security header.
struct Head {
    status: u16,
    hsts: Option<String>,
}

fn head_request(
    client: &mut ClientConnection,
    conn: &mut Conn,
    host: &str,
) -> Result<Head, String> {
    use std::io::{Read as _, Write as _};
    let mut stream = rustls::Stream::new(client, conn);
    let request = format!(
        "HEAD / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vigil\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.lines();
    let status = lines
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "not an HTTP server: no status line".to_string())?;
    let hsts = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("strict-transport-security"))
        .map(|(_, v)| v.trim().to_string());
    Ok(Head { status, hsts })
}

/// A certificate verifier that records the chain and the OCSP response instead of judging them:
/// the probe observes what the server presents, and the chain is validated afterwards, against
/// the scan's trust store, with every reason reported. Handshake signatures are not checked
/// either, so that a key ring cannot verify (RSA under 2048 bits) still shows its protocol.
#[derive(Debug)]
struct Recorder {
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Option<(Vec<Vec<u8>>, bool)>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((chain, !ocsp_response.is_empty()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
