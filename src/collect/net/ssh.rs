//! Kind `ssh_server`: what an SSH server offers before any authentication, read as a client
//! would: the identification string, then the server's KEXINIT (key exchange, host key, cipher, MAC
//! and compression algorithms), then one curve25519 key exchange reply, only to read the host key
//! (type, size, SHA-256 fingerprint). No authentication is attempted and the connection is closed
//! before keys are derived.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::conn::{Budget, Conn, Limits, NetError, Wire};
use crate::collect::{Collected, Collector, Document, Input, Kind, Request, Source, Target};
use crate::doc::{Map, Node, Pos, Value};

/// Kind `ssh_server`, from endpoints probed with `ssh`.
pub struct SshCollector;

/// What we send as our identification.
const IDENT: &str = "SSH-2.0-vigil_0.1";
/// SSH message numbers.
const MSG_DISCONNECT: u8 = 1;
const MSG_KEXINIT: u8 = 20;
const MSG_KEX_ECDH_INIT: u8 = 30;
const MSG_KEX_ECDH_REPLY: u8 = 31;
/// RFC 4253 4.2: an identification line is at most 255 bytes; lines before it are allowed.
const MAX_LINE: usize = 255;
const MAX_PRE_LINES: usize = 64;
/// The largest packet read (RFC 4253 requires 35,000 bytes to be accepted).
const MAX_PACKET: usize = 256 * 1024;

/// The facts of an `ssh_server` document.
pub const FIELDS: &[&str] = &[
    "banner",
    "protocol_version",
    "software",
    "comments",
    "product",
    "version",
    "openssh_version",
    "kex_algorithms",
    "host_key_algorithms",
    "ciphers",
    "ciphers_client_to_server",
    "ciphers_server_to_client",
    "macs",
    "macs_client_to_server",
    "macs_server_to_client",
    "compression",
    "strict_kex",
    "host_key_type",
    "host_key_bits",
    "host_key_sha256",
    "host_key_error",
];

impl Collector for SshCollector {
    fn source(&self) -> Source {
        Source::Endpoint
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "ssh_server",
            summary: "an SSH endpoint: identification (protocol_version, software, openssh_version), the algorithm lists of its KEXINIT (kex_algorithms, host_key_algorithms, ciphers, macs, compression), strict_kex, and its host key (host_key_type, host_key_bits, host_key_sha256)",
        }]
    }

    fn known_fields(
        &self,
        _kind: &str,
        _options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        Some(FIELDS)
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let Target::Endpoint(endpoint) = input.target else {
            return;
        };
        if !endpoint.probes("ssh") || !request.wants("ssh_server") {
            return;
        }
        out.push(match probe(endpoint, request.settings.net) {
            Ok(root) => Collected::Document {
                kind: "ssh_server",
                variant: None,
                document: Document::new(root),
            },
            Err(e) => Collected::Error {
                kind: Some("ssh_server"),
                variant: None,
                pos: None,
                message: e.to_string(),
            },
        });
    }
}

/// Probes one endpoint.
pub fn probe(endpoint: &crate::collect::Endpoint, limits: Limits) -> Result<Node, NetError> {
    let mut conn = Conn::open(endpoint, &Budget::start(limits))?;
    read_server(&mut conn)
}

/// Reads an SSH server through `wire`: identification, KEXINIT, host key.
pub fn read_server(wire: &mut impl Wire) -> Result<Node, NetError> {
    let mut r = Reader {
        conn: wire,
        buf: Vec::new(),
    };
    // Both sides send their identification at once (RFC 4253 4.2), as OpenSSH's client does: a
    // peer that waits for the client to speak first (a TLS or HTTP server) then answers at once
    // with what it speaks, rather than leaving the probe to time out. A peer that hung up is read
    // all the same: what it sent before says why.
    r.conn.doing("while waiting for the SSH identification");
    match r.conn.send(format!("{IDENT}\r\n").as_bytes()) {
        Ok(()) | Err(NetError::Closed { .. }) => {}
        Err(e) => return Err(e),
    }
    let ident = r.identification()?;
    let mut facts = Facts::default();
    facts.identification(&ident);
    let protocol = ident
        .strip_prefix("SSH-")
        .and_then(|s| s.split('-').next())
        .unwrap_or_default()
        .to_string();
    // An SSH-1-only server has no KEXINIT to read.
    if protocol.starts_with("1.") && protocol != "1.99" {
        return Ok(facts.finish());
    }
    r.conn.doing("while reading the server's KEXINIT");
    let payload = r.packet()?;
    let lists = kexinit(&payload)?;
    facts.algorithms(&lists);
    r.conn.doing("while reading the host key");
    match host_key(&mut r, &lists) {
        Ok(Some(blob)) => facts.host_key(&blob),
        Ok(None) => {}
        // The algorithm lists stand; the host key is reported as not read.
        Err(e) => facts.str("host_key_error", e.to_string()),
    }
    Ok(facts.finish())
}

/// Buffered reading of the SSH stream.
struct Reader<'c, W: Wire> {
    conn: &'c mut W,
    buf: Vec<u8>,
}

impl<W: Wire> Reader<'_, W> {
    fn fill(&mut self, want: usize) -> Result<(), NetError> {
        let mut chunk = [0u8; 4096];
        while self.buf.len() < want {
            let n = self.conn.read_some(&mut chunk)?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, NetError> {
        self.fill(n)?;
        Ok(self.buf.drain(..n).collect())
    }

    /// The identification line (`SSH-2.0-OpenSSH_9.2p1 Debian-2`), skipping the lines a server may
    /// send before it.
    fn identification(&mut self) -> Result<String, NetError> {
        // Lines before the identification are allowed (RFC 4253 4.2), but a peer that sends some
        // and then stops or hangs up was not an SSH server: say what it sent.
        let mut first: Option<Vec<u8>> = None;
        for _ in 0..MAX_PRE_LINES {
            let line = match self.line() {
                Ok(l) => l,
                Err(e) => return Err(first.map_or(e, |f| not_ssh(&f))),
            };
            if line.starts_with(b"SSH-") {
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if line
                .iter()
                .any(|b| *b != b'\t' && (*b < 0x20 || *b == 0x7f))
            {
                return Err(not_ssh(&line));
            }
            first.get_or_insert(line);
        }
        Err(NetError::Protocol(format!(
            "not an SSH server: {MAX_PRE_LINES} lines without an identification"
        )))
    }

    /// One line, without its CR LF; at most [`MAX_LINE`] bytes.
    fn line(&mut self) -> Result<Vec<u8>, NetError> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(not_ssh(&self.buf));
            }
            let have = self.buf.len();
            match self.fill(have + 1) {
                // Hung up in the middle of a line: what it sent was not an identification.
                Err(NetError::Closed { .. }) if have > 0 => return Err(not_ssh(&self.buf)),
                other => other?,
            }
        }
    }

    /// The payload of the next binary packet (before keys are exchanged: no MAC, no encryption).
    fn packet(&mut self) -> Result<Vec<u8>, NetError> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().unwrap_or_default()) as usize;
        if !(5..=MAX_PACKET).contains(&len) {
            return Err(NetError::Protocol(format!(
                "not an SSH server: a packet of {len} bytes"
            )));
        }
        let body = self.take(len)?;
        let padding = usize::from(body[0]);
        if padding + 1 > body.len() {
            return Err(NetError::Protocol(
                "not an SSH server: a packet's padding runs past its end".into(),
            ));
        }
        let payload = body[1..body.len() - padding].to_vec();
        if payload.first() == Some(&MSG_DISCONNECT) {
            let mut p = Parser::new(&payload[1..]);
            let _code = p.u32();
            let why = p.string().map(|s| String::from_utf8_lossy(s).into_owned());
            return Err(NetError::Protocol(format!(
                "the server disconnected: {}",
                why.unwrap_or_default()
            )));
        }
        Ok(payload)
    }
}

/// The error for bytes that are not an SSH identification, quoting their start; a TLS alert (what
/// a TLS server answers the client's identification) is named, with the option that probes it.
fn not_ssh(bytes: &[u8]) -> NetError {
    let hint = match super::conn::speaker(bytes) {
        Some(super::conn::Speaker::Tls) => {
            ": a TLS alert, as a TLS server answers; probe it with --probe tls (`probes: [tls]` in an inventory)"
        }
        _ => "",
    };
    NetError::Protocol(format!(
        "not an SSH server: it sent \"{}\" instead of an SSH identification{hint}",
        super::conn::quote(bytes, 32)
    ))
}

/// The ten name-lists of a KEXINIT, in protocol order.
struct Lists {
    lists: Vec<Vec<String>>,
}

const LIST_NAMES: [&str; 10] = [
    "kex_algorithms",
    "host_key_algorithms",
    "ciphers_client_to_server",
    "ciphers_server_to_client",
    "macs_client_to_server",
    "macs_server_to_client",
    "compression_client_to_server",
    "compression_server_to_client",
    "languages_client_to_server",
    "languages_server_to_client",
];

impl Lists {
    fn get(&self, name: &str) -> &[String] {
        LIST_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.lists.get(i))
            .map_or(&[], Vec::as_slice)
    }
}

fn kexinit(payload: &[u8]) -> Result<Lists, NetError> {
    let bad = |what: &str| NetError::Protocol(format!("not an SSH server: {what}"));
    let mut p = Parser::new(payload);
    if p.byte() != Some(MSG_KEXINIT) {
        return Err(bad("its first packet is not a KEXINIT"));
    }
    p.skip(16).ok_or_else(|| bad("a truncated KEXINIT"))?;
    let mut lists = Vec::with_capacity(10);
    for _ in 0..10 {
        let raw = p.string().ok_or_else(|| bad("a truncated KEXINIT"))?;
        let text = String::from_utf8_lossy(raw);
        lists.push(
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        );
    }
    Ok(Lists { lists })
}

/// Runs one curve25519 key exchange far enough to read the host key blob the server signs with,
/// preferring an RSA host key (whose size is what controls judge). `None` when the server offers no
/// curve25519 exchange.
fn host_key(r: &mut Reader<'_, impl Wire>, server: &Lists) -> Result<Option<Vec<u8>>, NetError> {
    let Some(kex) = ["curve25519-sha256", "curve25519-sha256@libssh.org"]
        .into_iter()
        .find(|k| server.get("kex_algorithms").iter().any(|s| s == k))
    else {
        return Ok(None);
    };
    let offered = server.get("host_key_algorithms");
    let Some(key_alg) = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        .iter()
        .map(|s| s.to_string())
        .find(|a| offered.contains(a))
        .or_else(|| offered.first().cloned())
    else {
        return Ok(None);
    };
    let first = |name: &str| server.get(name).first().cloned().unwrap_or_default();
    let mut ours = Vec::new();
    ours.push(MSG_KEXINIT);
    let rng = ring::rand::SystemRandom::new();
    let mut cookie = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, &mut cookie)
        .map_err(|_| NetError::Protocol("no random bytes for the key exchange".into()))?;
    ours.extend_from_slice(&cookie);
    for list in [
        kex.to_string(),
        key_alg,
        first("ciphers_client_to_server"),
        first("ciphers_server_to_client"),
        first("macs_client_to_server"),
        first("macs_server_to_client"),
        first("compression_client_to_server"),
        first("compression_server_to_client"),
        String::new(),
        String::new(),
    ] {
        put_string(&mut ours, list.as_bytes());
    }
    ours.push(0); // first_kex_packet_follows
    ours.extend_from_slice(&[0; 4]);
    let private = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, &rng)
        .map_err(|_| NetError::Protocol("cannot make a curve25519 key".into()))?;
    let public = private
        .compute_public_key()
        .map_err(|_| NetError::Protocol("cannot make a curve25519 key".into()))?;
    let mut init = vec![MSG_KEX_ECDH_INIT];
    put_string(&mut init, public.as_ref());
    let mut wire = frame(&ours);
    wire.extend(frame(&init));
    r.conn.send(&wire)?;
    // The server may send other packets first (ext-info comes later; ignore / debug messages).
    for _ in 0..8 {
        let payload = r.packet()?;
        if payload.first() == Some(&MSG_KEX_ECDH_REPLY) {
            let mut p = Parser::new(&payload[1..]);
            let blob = p
                .string()
                .ok_or_else(|| NetError::Protocol("a truncated key exchange reply".into()))?;
            return Ok(Some(blob.to_vec()));
        }
    }
    Err(NetError::Protocol(
        "no key exchange reply among the server's first packets".into(),
    ))
}

/// A binary packet around `payload`, unencrypted: length, padding length, payload, padding to a
/// multiple of 8 (at least 4 bytes).
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let mut out = Vec::with_capacity(5 + payload.len() + padding);
    out.extend_from_slice(&((1 + payload.len() + padding) as u32).to_be_bytes());
    out.push(padding as u8);
    out.extend_from_slice(payload);
    out.extend(std::iter::repeat_n(0u8, padding));
    out
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Reads SSH wire types from a byte slice.
struct Parser<'b> {
    rest: &'b [u8],
}

impl<'b> Parser<'b> {
    fn new(bytes: &'b [u8]) -> Parser<'b> {
        Parser { rest: bytes }
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.rest = self.rest.get(n..)?;
        Some(())
    }

    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'b [u8]> {
        let n = self.u32()? as usize;
        let s = self.rest.get(..n)?;
        self.rest = &self.rest[n..];
        Some(s)
    }
}

/// The facts of one server, as they are read.
#[derive(Default)]
struct Facts {
    map: Map,
}

impl Facts {
    fn str(&mut self, key: &'static str, value: impl Into<String>) {
        self.map.insert(key, Node::str(Pos::default(), value));
    }

    fn list(&mut self, key: &'static str, values: &[String]) {
        let items = values
            .iter()
            .map(|v| Node::str(Pos::default(), v.clone()))
            .collect();
        self.map
            .insert(key, Node::new(Pos::default(), Value::List(items)));
    }

    fn identification(&mut self, ident: &str) {
        self.str("banner", ident);
        let rest = ident.strip_prefix("SSH-").unwrap_or(ident);
        let (proto, software) = rest.split_once('-').unwrap_or((rest, ""));
        self.str("protocol_version", proto);
        let (software, comments) = software.split_once(' ').unwrap_or((software, ""));
        self.str("software", software);
        if !comments.is_empty() {
            self.str("comments", comments);
        }
        if let Some((product, version)) = software.split_once('_') {
            self.str("product", product);
            self.str("version", version);
            if product == "OpenSSH" {
                // `9.2p1` → `9.2`: the release, comparable with `as: version`.
                let release: String = version
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                self.str("openssh_version", release);
            }
        }
    }

    fn algorithms(&mut self, lists: &Lists) {
        let union = |a: &[String], b: &[String]| -> Vec<String> {
            let mut out = a.to_vec();
            out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            out
        };
        self.list("kex_algorithms", lists.get("kex_algorithms"));
        self.list("host_key_algorithms", lists.get("host_key_algorithms"));
        for (both, c2s, s2c) in [
            (
                "ciphers",
                "ciphers_client_to_server",
                "ciphers_server_to_client",
            ),
            ("macs", "macs_client_to_server", "macs_server_to_client"),
            (
                "compression",
                "compression_client_to_server",
                "compression_server_to_client",
            ),
        ] {
            self.list(both, &union(lists.get(c2s), lists.get(s2c)));
            if both != "compression" {
                self.list(c2s, lists.get(c2s));
                self.list(s2c, lists.get(s2c));
            }
        }
        let strict = lists
            .get("kex_algorithms")
            .iter()
            .any(|k| k == "kex-strict-s-v00@openssh.com");
        self.map
            .insert("strict_kex", Node::new(Pos::default(), Value::Bool(strict)));
    }

    /// The host key blob: its type, size in bits, and OpenSSH's SHA-256 fingerprint.
    fn host_key(&mut self, blob: &[u8]) {
        let fingerprint =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(blob));
        self.str("host_key_sha256", format!("SHA256:{fingerprint}"));
        let mut p = Parser::new(blob);
        let Some(kind) = p.string().map(|k| String::from_utf8_lossy(k).into_owned()) else {
            return;
        };
        let bits = match kind.as_str() {
            // e, then the modulus n.
            "ssh-rsa" => p.string().and(p.string()).map(mpint_bits),
            // p, the prime modulus.
            "ssh-dss" => p.string().map(mpint_bits),
            "ssh-ed25519" => Some(256),
            k if k.starts_with("ecdsa-sha2-nistp") => k["ecdsa-sha2-nistp".len()..].parse().ok(),
            _ => None,
        };
        self.str("host_key_type", kind);
        if let Some(bits) = bits {
            self.map
                .insert("host_key_bits", Node::new(Pos::default(), Value::Int(bits)));
        }
    }

    fn finish(self) -> Node {
        Node::new(Pos::default(), Value::Map(self.map))
    }
}

/// The size in bits of an SSH mpint (big-endian, a leading zero byte for a positive high bit).
fn mpint_bits(bytes: &[u8]) -> i64 {
    let trimmed: &[u8] = {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[start..]
    };
    match trimmed.first() {
        None => 0,
        Some(b) => (trimmed.len() as i64 - 1) * 8 + i64::from(8 - b.leading_zeros() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Debian's OpenSSH 9.2 sent, recorded: every list is read from a stream split into
    /// small reads.
    #[test]
    fn a_recorded_openssh_answer_is_read() {
        let data = include_bytes!("../../../fuzz/regressions/ssh/openssh-kexinit.bin");
        let mut wire = super::super::conn::Replay::new(data);
        let facts = read_server(&mut wire).unwrap().to_json();
        assert_eq!(facts["software"], "OpenSSH_9.2p1");
        assert_eq!(facts["strict_kex"], true);
        assert!(
            facts["kex_algorithms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "curve25519-sha256")
        );
        // The recording ends before a key exchange reply.
        assert!(facts["host_key_error"].is_string());
    }

    #[test]
    fn mpints_count_bits() {
        assert_eq!(mpint_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(mpint_bits(&[0x01, 0x00]), 9);
        assert_eq!(mpint_bits(&[]), 0);
    }

    #[test]
    fn frames_pad_to_eight() {
        for n in 0..40 {
            let f = frame(&vec![1u8; n]);
            assert_eq!(f.len() % 8, 0);
            assert!(usize::from(f[4]) >= 4);
        }
    }
}
