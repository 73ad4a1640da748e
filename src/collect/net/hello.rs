//! A hand-written TLS ClientHello and a reader of the server's first answer (ServerHello or alert),
//! for what rustls will never send: SSLv3, TLS 1.0 and 1.1, and the weak suites a scan must find.
//! The handshake stops at the ServerHello; no key is exchanged.

use super::conn::{self, Budget, Conn, NetError, Speaker, Wire};
use crate::collect::Endpoint;

/// Protocol versions as they appear on the wire.
pub const SSL3: u16 = 0x0300;
pub const TLS1_0: u16 = 0x0301;
pub const TLS1_1: u16 = 0x0302;
pub const TLS1_2: u16 = 0x0303;

/// TLS_FALLBACK_SCSV (RFC 7507): "this is a retry at a lower version".
const FALLBACK_SCSV: u16 = 0x5600;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746), for SSLv3, which has no extensions.
const RENEGOTIATION_SCSV: u16 = 0x00ff;
/// The alert a server sends to a fallback it sees through (RFC 7507).
pub const ALERT_INAPPROPRIATE_FALLBACK: u8 = 86;
/// Record and handshake types.
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const SERVER_HELLO: u8 = 2;
const CLIENT_HELLO: u8 = 1;
/// The most handshake bytes read before the ServerHello must be complete.
const MAX_HELLO: usize = 64 * 1024;

/// The name of a wire version.
pub fn version_name(v: u16) -> &'static str {
    match v {
        SSL3 => "SSLv3",
        TLS1_0 => "TLSv1.0",
        TLS1_1 => "TLSv1.1",
        TLS1_2 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => "unknown",
    }
}

/// What a ClientHello offers.
pub struct Offer<'a> {
    pub version: u16,
    pub suites: &'a [u16],
    /// The name sent in server_name (none for an address).
    pub server_name: Option<&'a str>,
    /// Mark the hello as a fallback retry (TLS_FALLBACK_SCSV).
    pub fallback: bool,
}

/// The server's answer to one ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Hello(ServerHello),
    /// A fatal alert: its description code.
    Alert(u8),
    /// The server closed the connection without a word (some do for a version they refuse).
    Closed,
}

/// What a ServerHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub version: u16,
    pub suite: u16,
    pub compression: u8,
    /// The renegotiation_info extension is present (RFC 5746 secure renegotiation).
    pub secure_renegotiation: bool,
    /// The certificates of the Certificate message that follows (DER, leaf first), when the
    /// server sent one (SSLv3 to TLS 1.2 send it in clear).
    pub chain: Vec<Vec<u8>>,
}

/// Sends one ClientHello on a new connection and reads the answer.
pub fn ask(endpoint: &Endpoint, budget: &Budget, offer: &Offer<'_>) -> Result<Answer, NetError> {
    let mut conn = Conn::open(endpoint, budget)?;
    conn.during = format!("after a {} ClientHello", version_name(offer.version));
    match conn.write_all(&client_hello(offer)) {
        // A peer that hung up may have said something first: read it.
        Ok(()) | Err(NetError::Closed { .. }) => read_answer(&mut conn),
        Err(e) => Err(e),
    }
}

/// The ClientHello record.
pub fn client_hello(offer: &Offer<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&offer.version.to_be_bytes());
    // The random need not be secret: this handshake never completes.
    body.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    body.push(0); // no session id
    let mut suites: Vec<u16> = offer.suites.to_vec();
    if offer.version == SSL3 {
        suites.push(RENEGOTIATION_SCSV);
    }
    if offer.fallback {
        suites.push(FALLBACK_SCSV);
    }
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    // Offer DEFLATE before null, so that a server that compresses says so.
    body.extend_from_slice(&[2, 1, 0]);
    if offer.version > SSL3 {
        let mut ext = Vec::new();
        if let Some(name) = offer.server_name {
            let n = name.as_bytes();
            let mut sni = Vec::new();
            sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
            sni.push(0);
            sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
            sni.extend_from_slice(n);
            extension(&mut ext, 0, &sni);
        }
        // supported_groups: x25519, secp256r1, secp384r1, secp521r1, ffdhe2048.
        extension(
            &mut ext,
            10,
            &[0, 10, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19, 1, 0],
        );
        extension(&mut ext, 11, &[1, 0]); // ec_point_formats: uncompressed
        if offer.version >= TLS1_2 {
            // signature_algorithms: ECDSA and RSA (PKCS#1 and PSS) with SHA-256/384/512, and SHA-1.
            let algs: [u16; 10] = [
                0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201,
            ];
            let mut sa = ((algs.len() * 2) as u16).to_be_bytes().to_vec();
            algs.iter()
                .for_each(|a| sa.extend_from_slice(&a.to_be_bytes()));
            extension(&mut ext, 13, &sa);
        }
        extension(&mut ext, 0xff01, &[0]); // renegotiation_info, empty
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
    }
    let mut handshake = vec![CLIENT_HELLO];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let record_version = if offer.version == SSL3 { SSL3 } else { TLS1_0 };
    let mut record = vec![HANDSHAKE];
    record.extend_from_slice(&record_version.to_be_bytes());
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// Handshake message types after the ServerHello.
const CERTIFICATE: u8 = 11;
const SERVER_HELLO_DONE: u8 = 14;

/// Reads records until a complete ServerHello (and the Certificate message after it, when one
/// comes) or an alert.
pub fn read_answer(conn: &mut impl Wire) -> Result<Answer, NetError> {
    let mut handshake: Vec<u8> = Vec::new();
    let mut hello: Option<ServerHello> = None;
    loop {
        // The next complete handshake message, if the bytes hold one.
        while handshake.len() >= 4 {
            let len = u32::from_be_bytes([0, handshake[1], handshake[2], handshake[3]]) as usize;
            if handshake.len() < 4 + len {
                break;
            }
            let message: Vec<u8> = handshake.drain(..4 + len).collect();
            match (message[0], &mut hello) {
                (SERVER_HELLO, None) => {
                    let h = parse_server_hello(&message[4..])
                        .ok_or_else(|| NetError::Protocol("a malformed ServerHello".into()))?;
                    hello = Some(h);
                }
                (other, None) => {
                    return Err(NetError::Protocol(format!(
                        "the server answered a ClientHello with handshake message {other}"
                    )));
                }
                (CERTIFICATE, Some(h)) => {
                    h.chain = parse_certificates(&message[4..]);
                    return Ok(Answer::Hello(
                        hello.take().unwrap_or_else(|| unreachable!()),
                    ));
                }
                (SERVER_HELLO_DONE, Some(_)) => {
                    return Ok(Answer::Hello(
                        hello.take().unwrap_or_else(|| unreachable!()),
                    ));
                }
                _ => {}
            }
        }
        let mut head = [0u8; 5];
        match conn.read_exact(&mut head) {
            Ok(()) => {}
            Err(NetError::Closed { .. }) if handshake.is_empty() && hello.is_none() => {
                return Ok(Answer::Closed);
            }
            // The ServerHello came; what follows it is a bonus.
            Err(_) if hello.is_some() => {
                return Ok(Answer::Hello(
                    hello.take().unwrap_or_else(|| unreachable!()),
                ));
            }
            Err(e) => return Err(e),
        }
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        if !(20..=23).contains(&head[0]) || head[1] != 3 || len > (1 << 14) + 2048 {
            if let Some(h) = hello.take() {
                return Ok(Answer::Hello(h));
            }
            // Quote the whole first line, if it came in one piece with these bytes.
            let mut seen = head.to_vec();
            let mut more = [0u8; 160];
            let n = conn.pending(&mut more);
            seen.extend_from_slice(&more[..n]);
            return Err(not_tls(&seen));
        }
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body)?;
        match head[0] {
            // A warning (level 1, such as unrecognized_name before a ServerHello) is not a refusal.
            ALERT if body.len() >= 2 && body[0] == 1 => {}
            ALERT if body.len() >= 2 => {
                return Ok(match hello.take() {
                    Some(h) => Answer::Hello(h),
                    None => Answer::Alert(body[1]),
                });
            }
            HANDSHAKE => {
                handshake.extend_from_slice(&body);
                if handshake.len() > MAX_HELLO {
                    return match hello.take() {
                        Some(h) => Ok(Answer::Hello(h)),
                        None => Err(NetError::Protocol(
                            "a ServerHello larger than 64 KiB".into(),
                        )),
                    };
                }
            }
            _ => {
                return match hello.take() {
                    Some(h) => Ok(Answer::Hello(h)),
                    None => Err(NetError::Protocol(
                        "a record other than a handshake or an alert before the ServerHello".into(),
                    )),
                };
            }
        }
    }
}

/// The DER certificates of a Certificate message body.
fn parse_certificates(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(list) = body.get(3..) else {
        return out;
    };
    let mut rest = list;
    while rest.len() >= 3 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        let Some(der) = rest.get(3..3 + len) else {
            break;
        };
        out.push(der.to_vec());
        rest = &rest[3 + len..];
    }
    out
}

/// The error for a first answer that is not TLS: its first line, and what it shows the port
/// speaks, with the option that probes it (a server that speaks first, such as SSH or a mail
/// server that wants STARTTLS, greets before it reads the ClientHello).
fn not_tls(bytes: &[u8]) -> NetError {
    let line = conn::first_line(bytes);
    let shown = if line.is_empty() { bytes } else { line };
    let hint = match conn::speaker(bytes) {
        Some(Speaker::Ssh) => {
            ": an SSH identification; probe it with --probe ssh (`probes: [ssh]` in an inventory)"
        }
        Some(Speaker::Http) => ": an HTTP response; the port serves plain HTTP, not HTTPS",
        Some(Speaker::Greeting220) => {
            ": an SMTP or FTP greeting; if the server offers STARTTLS, give --starttls smtp or \
             --starttls ftp (`starttls:` in an inventory)"
        }
        Some(Speaker::Imap) => {
            ": an IMAP greeting; if the server offers STARTTLS, give --starttls imap \
             (`starttls: imap` in an inventory)"
        }
        Some(Speaker::Pop3) => {
            ": a POP3 greeting; if the server offers STARTTLS, give --starttls pop3 \
             (`starttls: pop3` in an inventory)"
        }
        Some(Speaker::Tls) | None => "",
    };
    NetError::Protocol(format!(
        "not a TLS server: it answered \"{}\"{hint}",
        conn::quote(shown, 80)
    ))
}

fn parse_server_hello(b: &[u8]) -> Option<ServerHello> {
    let version = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let mut at = 2 + 32;
    let sid = usize::from(*b.get(at)?);
    at += 1 + sid;
    let suite = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
    let compression = *b.get(at + 2)?;
    at += 3;
    let mut secure_renegotiation = false;
    if b.len() >= at + 2 {
        let total = usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
        let mut ext = b.get(at + 2..at + 2 + total)?;
        while ext.len() >= 4 {
            let kind = u16::from_be_bytes([ext[0], ext[1]]);
            let len = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            if kind == 0xff01 {
                secure_renegotiation = true;
            }
            ext = ext.get(4 + len..)?;
        }
    }
    Some(ServerHello {
        version,
        suite,
        compression,
        secure_renegotiation,
        chain: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_one_well_formed_record() {
        let suites = [0x002f, 0xc02f];
        let r = client_hello(&Offer {
            version: TLS1_2,
            suites: &suites,
            server_name: Some("example.org"),
            fallback: true,
        });
        assert_eq!(&r[..3], &[22, 3, 1]);
        assert_eq!(usize::from(u16::from_be_bytes([r[3], r[4]])), r.len() - 5);
        assert_eq!(r[5], CLIENT_HELLO);
        let body_len = u32::from_be_bytes([0, r[6], r[7], r[8]]) as usize;
        assert_eq!(body_len, r.len() - 9);
        // version, then the suites with the fallback SCSV last.
        assert_eq!(&r[9..11], &[3, 3]);
        assert_eq!(&r[44..46], &[0, 6]);
        assert_eq!(&r[46..52], &[0x00, 0x2f, 0xc0, 0x2f, 0x56, 0x00]);
    }

    /// What OpenSSL 3 answered a TLS 1.2 ClientHello, recorded: the ServerHello and the
    /// certificate after it.
    #[test]
    fn a_recorded_openssl_answer_is_read() {
        let data = include_bytes!("../../../fuzz/regressions/tls/openssl-server-hello.bin");
        let mut wire = super::super::conn::Replay::new(data);
        let Answer::Hello(h) = read_answer(&mut wire).unwrap() else {
            panic!("no ServerHello");
        };
        assert_eq!(h.version, TLS1_2);
        assert_eq!(h.suite, 0xc02f);
        assert!(h.secure_renegotiation);
        assert_eq!(h.chain.len(), 1);
        assert_eq!(h.chain[0][0], 0x30);
    }

    #[test]
    fn server_hellos_are_read() {
        let mut b = vec![3, 3];
        b.extend([0u8; 32]);
        b.push(0);
        b.extend([0xc0, 0x2f, 0]);
        b.extend([0, 5, 0xff, 0x01, 0, 1, 0]);
        assert_eq!(
            parse_server_hello(&b),
            Some(ServerHello {
                version: TLS1_2,
                suite: 0xc02f,
                compression: 0,
                secure_renegotiation: true,
                chain: Vec::new(),
            })
        );
        assert_eq!(parse_server_hello(&b[..10]), None);
    }
}
