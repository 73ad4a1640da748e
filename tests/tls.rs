//! TLS endpoints on loopback, judged by the `tls-baseline` pack: in-process rustls servers for the
//! modern cases (a good server, a wrong name, a self-signed certificate, TLS 1.3 only, an expired
//! certificate), `openssl s_server` for TLS 1.0/1.1 and weak suites, `gnutls-serv` for 3DES, a
//! STARTTLS mail server, and peers that fail. Certificates are made by the test with openssl.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{assert_lines, lines, openssl, scan_json};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

const PACK: &str = "policies/tls-baseline.yaml";

/// A test PKI: a CA, leaves it signed, and a self-signed leaf.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=Vigil Test CA",
                "-days",
                "3650",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
            dir.path(),
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A leaf for `name`, signed by the CA, valid for `days` from now: (chain PEM, key PEM).
    fn leaf(&self, name: &str, days: u32) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        std::fs::write(
            d.join(format!("{name}.ext")),
            format!("subjectAltName=DNS:{name}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"),
        )
        .unwrap();
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
            d,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                &days.to_string(),
                "-extfile",
                &format!("{name}.ext"),
            ],
            d,
        );
        (d.join(format!("{name}.crt")), d.join(format!("{name}.key")))
    }

    /// A self-signed leaf for `name`, valid for `days`.
    fn self_signed(&self, name: &str, days: u32) -> (PathBuf, PathBuf) {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
                "-subj",
                &format!("/CN={name}"),
                "-days",
                &days.to_string(),
                "-addext",
                &format!("subjectAltName=DNS:{name}"),
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ],
            self.dir.path(),
        );
        (
            self.path(&format!("{name}.crt")),
            self.path(&format!("{name}.key")),
        )
    }
}

/// A rustls server configuration for the chain in `cert` and the key in `key` (PEM files).
fn server_config(
    cert: &Path,
    key: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

/// The lines of `TLS-001` to `TLS-{last}` for one endpoint shown as `E`: `failing` fail, `skipped`
/// have no verdict there, the others pass.
fn tls_lines(last: u32, failing: &[&str], skipped: &[&str]) -> Vec<String> {
    (1..=last)
        .map(|n| format!("TLS-{n:03}"))
        .filter(|c| !skipped.contains(&c.as_str()))
        .map(|c| {
            let state = if failing.contains(&c.as_str()) {
                "fail"
            } else {
                "pass"
            };
            format!("{c} {state} E")
        })
        .collect()
}

/// An in-process rustls server on 127.0.0.1 that answers `HEAD /` with `hsts` as
/// Strict-Transport-Security; it serves until the test ends.
fn rustls_server(
    cert: &Path,
    key: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
    hsts: &'static str,
) -> u16 {
    let mut config = server_config(cert, key, versions);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk) {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let mut answer = String::from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
                if !hsts.is_empty() {
                    answer.push_str(&format!("Strict-Transport-Security: {hsts}\r\n"));
                }
                answer.push_str("\r\n");
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.flush();
            });
        }
    });
    port
}

/// A server process serving one port, stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (taken and released: another process may take it first, rarely).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program args` and waits until it accepts connections on `port`.
fn start(program: &str, args: &[String], port: u16) -> Server {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("{program} did not listen on {port}");
}

fn scan(hosts: &[&str], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec!["--policy", PACK, "--probe", "tls", "--fail-on", "none"];
    for h in hosts {
        args.extend(["--host", h]);
    }
    args.extend(extra);
    scan_json(&args).1
}

/// The finding lines of one endpoint, shown as `E`.
fn lines_of(v: &Value, endpoint: &str) -> Vec<String> {
    lines(v)
        .into_iter()
        .filter(|l| l.contains(endpoint))
        .map(|l| l.replace(endpoint, "E"))
        .collect()
}

fn observed<'v>(v: &'v Value, control: &str, endpoint: &str) -> &'v Value {
    &v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["control"] == control && f["target"]["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no {control} on {endpoint}"))["observed"]
}

/// Days from now to a year after the tests' clock (`--at 2030-01-15`): certificates valid then.
fn valid_at_clock() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = 1_894_665_600u64; // 2030-01-15T00:00:00Z
    (clock.saturating_sub(now) / 86_400 + 365) as u32
}

#[test]
fn modern_servers_with_rustls() {
    let pki = Pki::new();
    let days = valid_at_clock();
    let (good_cert, good_key) = pki.leaf("good.test", days);
    // Valid today, expired at the tests' clock.
    let (old_cert, old_key) = pki.leaf("old.test", 30);
    let (self_cert, self_key) = pki.self_signed("self.test", days);
    let all = &[&rustls::version::TLS13, &rustls::version::TLS12][..];
    let good = rustls_server(
        &good_cert,
        &good_key,
        all,
        "max-age=63072000; includeSubDomains",
    );
    let selfsigned = rustls_server(&self_cert, &self_key, all, "max-age=300");
    let only13 = rustls_server(&good_cert, &good_key, &[&rustls::version::TLS13], "");
    let expired = rustls_server(&old_cert, &old_key, all, "max-age=63072000");
    let hosts = [
        format!("good.test@127.0.0.1:{good}"),
        format!("wrong.test@127.0.0.1:{good}"),
        format!("self.test@127.0.0.1:{selfsigned}"),
        format!("good.test@127.0.0.1:{only13}"),
        format!("old.test@127.0.0.1:{expired}"),
    ];
    let ca = pki.path("ca.pem");
    let h: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let v = scan(
        &h,
        &["--trust-store", ca.to_str().unwrap(), "--probe", "tls,http"],
    );
    let check = |endpoint: &str, failing: &[&str], skipped: &[&str]| {
        let expected = tls_lines(21, failing, skipped);
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_lines(&lines_of(&v, endpoint), &expected);
    };
    // TLS-014 needs two protocols below TLS 1.3 to test a fallback; rustls speaks only TLS 1.2.
    check(&format!("good.test:{good}"), &[], &["TLS-014"]);
    check(&format!("wrong.test:{good}"), &["TLS-018"], &["TLS-014"]);
    check(
        &format!("self.test:{selfsigned}"),
        &["TLS-017", "TLS-021"],
        &["TLS-014"],
    );
    // TLS 1.3 only: no legacy ServerHello to read renegotiation, compression or preference from;
    // no HSTS header sent.
    check(
        &format!("good.test:{only13}"),
        &["TLS-021"],
        &["TLS-011", "TLS-012", "TLS-013", "TLS-014"],
    );
    check(
        &format!("old.test:{expired}"),
        &["TLS-015", "TLS-016", "TLS-017"],
        &["TLS-014"],
    );
    let e = format!("good.test:{good}");
    assert_eq!(
        observed(&v, "TLS-021", &format!("self.test:{selfsigned}")),
        "300"
    );
    assert_eq!(
        observed(&v, "TLS-017", &format!("self.test:{selfsigned}")),
        "false"
    );
    let _ = e;
}

/// Legacy servers: `openssl s_server` with TLS 1.0 to 1.2 and static-RSA CBC suites (Debian's
/// OpenSSL 3 needs SECLEVEL=0 for them, and has no RC4 or 3DES at all), and `gnutls-serv` with RC4
/// and 3DES.
#[test]
fn legacy_servers_with_openssl_and_gnutls() {
    let pki = Pki::new();
    let days = valid_at_clock();
    let (cert, key) = pki.leaf("legacy.test", days);
    let (cert, key) = (
        cert.to_str().unwrap().to_string(),
        key.to_str().unwrap().to_string(),
    );
    let op = free_port();
    let _openssl = start(
        "openssl",
        &[
            "s_server".into(),
            "-accept".into(),
            format!("127.0.0.1:{op}"),
            "-cert".into(),
            cert.clone(),
            "-key".into(),
            key.clone(),
            "-cipher".into(),
            "AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0".into(),
            "-min_protocol".into(),
            "TLSv1".into(),
            "-max_protocol".into(),
            "TLSv1.2".into(),
            "-quiet".into(),
        ],
        op,
    );
    let mut hosts = vec![format!("legacy.test@127.0.0.1:{op}")];
    let gp = free_port();
    let gnutls = Path::new("/usr/bin/gnutls-serv").exists().then(|| {
        start(
            "gnutls-serv",
            &[
                "--port".into(),
                gp.to_string(),
                "--x509certfile".into(),
                cert.clone(),
                "--x509keyfile".into(),
                key.clone(),
                "--priority".into(),
                "NORMAL:+3DES-CBC:+ARCFOUR-128:+VERS-TLS1.0:+VERS-TLS1.1:-VERS-TLS1.3".into(),
            ],
            gp,
        )
    });
    if gnutls.is_some() {
        hosts.push(format!("legacy.test@127.0.0.1:{gp}"));
    } else {
        eprintln!(
            "gnutls-serv not installed (apt-get install gnutls-bin; .ci/run does): RC4 and 3DES not tested"
        );
    }
    let ca = pki.path("ca.pem");
    let h: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let v = scan(&h, &["--trust-store", ca.to_str().unwrap()]);
    // Not HTTPS: TLS-021 has no verdict.
    let expected = |failing: &[&str]| tls_lines(20, failing, &[]);
    let openssl = format!("legacy.test:{op}");
    let want = expected(&["TLS-002", "TLS-003", "TLS-010", "TLS-011"]);
    assert_lines(
        &lines_of(&v, &openssl),
        &want.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        observed(&v, "TLS-010", &openssl),
        "TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA"
    );
    assert_eq!(observed(&v, "TLS-002", &openssl), "true");
    if gnutls.is_some() {
        let g = format!("legacy.test:{gp}");
        let want = expected(&[
            "TLS-002", "TLS-003", "TLS-008", "TLS-009", "TLS-010", "TLS-011",
        ]);
        assert_lines(
            &lines_of(&v, &g),
            &want.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let rc4 = observed(&v, "TLS-008", &g).as_str().unwrap().to_string();
        assert_eq!(
            rc4,
            "TLS_RSA_WITH_RC4_128_SHA, TLS_ECDHE_RSA_WITH_RC4_128_SHA"
        );
        let des = observed(&v, "TLS-009", &g).as_str().unwrap().to_string();
        assert!(des.contains("TLS_RSA_WITH_3DES_EDE_CBC_SHA"), "{des}");
    }
}

/// A server that speaks `protocol`'s STARTTLS dialog, then TLS with rustls.
fn starttls_server(protocol: &'static str, cert: &Path, key: &Path) -> u16 {
    let config = Arc::new(server_config(
        cert,
        key,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut s2 = stream;
                let mut reader = s2.try_clone().unwrap();
                let mut line = move || {
                    let mut out = Vec::new();
                    let mut b = [0u8; 1];
                    while reader.read(&mut b).map(|n| n == 1).unwrap_or(false) && b[0] != b'\n' {
                        out.push(b[0]);
                    }
                    out
                };
                match protocol {
                    "imap" => {
                        let _ = s2.write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
                        let _ = line();
                        let _ = s2.write_all(b"v1 OK Begin TLS negotiation now\r\n");
                    }
                    "pop3" => {
                        let _ = s2.write_all(b"+OK POP3 ready\r\n");
                        let _ = line();
                        let _ = s2.write_all(b"+OK Begin TLS\r\n");
                    }
                    "ftp" => {
                        let _ = s2.write_all(b"220-Welcome\r\n220 FTP ready\r\n");
                        let _ = line();
                        let _ = s2.write_all(b"234 AUTH TLS OK\r\n");
                    }
                    "ldap" => {
                        let mut req = [0u8; 31];
                        if s2.read_exact(&mut req).is_err() {
                            return;
                        }
                        // ExtendedResponse, message id 1, resultCode success.
                        let _ = s2.write_all(&[
                            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00,
                            0x04, 0x00,
                        ]);
                    }
                    _ => return,
                }
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, s2);
                let mut sink = [0u8; 64];
                let _ = tls.read(&mut sink);
            });
        }
    });
    port
}

/// Mail, directory, file transfer and database servers audited through STARTTLS: in-test IMAP,
/// POP3, FTP and LDAP dialogs, a real SMTP server (Debian's python3-aiosmtpd) and a real
/// PostgreSQL with `ssl = on`, when installed.
#[test]
fn starttls_servers() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf("mail.test", valid_at_clock());
    let mut inventory = String::from("hosts:\n");
    let mut expect = Vec::new();
    for protocol in ["imap", "pop3", "ftp", "ldap"] {
        let port = starttls_server(protocol, &cert, &key);
        inventory.push_str(&format!(
            "  - {{name: mail.test, address: 127.0.0.1, ports: [{port}], probes: [tls], starttls: {protocol}, tags: [{protocol}]}}\n"
        ));
        expect.push((protocol, port));
    }
    // A real SMTP server with STARTTLS.
    let smtp_port = free_port();
    let _smtp = Path::new("/usr/bin/python3").exists().then(|| {
        let script = format!(
            "import ssl, time\nfrom aiosmtpd.controller import Controller\nfrom aiosmtpd.handlers import Sink\n\
             ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\nctx.load_cert_chain({:?}, {:?})\n\
             c = Controller(Sink(), hostname='127.0.0.1', port={smtp_port}, tls_context=ctx)\nc.start()\ntime.sleep(600)\n",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        );
        let probe = Command::new("/usr/bin/python3").args(["-c", "import aiosmtpd"]).status();
        if !probe.is_ok_and(|s| s.success()) {
            return None;
        }
        Some(start("/usr/bin/python3", &["-c".into(), script], smtp_port))
    }).flatten();
    if _smtp.is_some() {
        inventory.push_str(&format!(
            "  - {{name: mail.test, address: 127.0.0.1, ports: [{smtp_port}], probes: [tls], starttls: smtp}}\n"
        ));
        expect.push(("smtp", smtp_port));
    } else {
        eprintln!("python3-aiosmtpd not installed: the real SMTP server is not tested");
    }
    let postgres = common::postgres::Postgres::start(
        &["ssl=on"],
        &[(&cert, "server.crt"), (&key, "server.key")],
    );
    if let Some(pg) = &postgres {
        inventory.push_str(&format!(
            "  - {{name: mail.test, address: 127.0.0.1, ports: [{}], probes: [tls], starttls: postgres}}\n",
            pg.port
        ));
        expect.push(("postgres", pg.port));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inventory.yaml");
    std::fs::write(&file, &inventory).unwrap();
    let ca = pki.path("ca.pem");
    let v = scan_json(&[
        "--targets",
        file.to_str().unwrap(),
        "--policy",
        PACK,
        "--trust-store",
        ca.to_str().unwrap(),
        "--fail-on",
        "none",
    ])
    .1;
    for (protocol, port) in expect {
        let e = format!("mail.test:{port}");
        let states: Vec<String> = lines_of(&v, &e);
        assert!(
            states.iter().any(|l| l == "TLS-004 pass E")
                && states.iter().any(|l| l == "TLS-017 pass E"),
            "{protocol}: {states:#?}"
        );
        assert!(
            !states.iter().any(|l| l.contains(" error ")),
            "{protocol}: {states:#?}"
        );
    }
    let out = common::vigil(&[
        "facts",
        "--host",
        &format!(
            "mail.test@127.0.0.1:{}",
            starttls_server("pop3", &cert, &key)
        ),
        "--probe",
        "tls",
        "--starttls",
        "pop3",
    ]);
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = &f[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "tls_server")
        .unwrap()["facts"];
    assert_eq!(facts["starttls"], "pop3");
    assert_eq!(facts["tls1_3"], true);
    assert_eq!(facts["hostname_matches"], true);
}

/// Peers that fail: each is an `error` with its reason, and the scan goes on.
#[test]
fn failing_peers_are_errors() {
    let listener = |answer: &'static [u8]| -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                thread::spawn(move || {
                    let _ = s.write_all(answer);
                    thread::sleep(Duration::from_secs(20));
                });
            }
        });
        port
    };
    let silent = listener(b"");
    let garbage = listener(b"SSH-2.0-OpenSSH_9.2p1\r\n");
    let closed = free_port();
    // A mail server that wants STARTTLS: it greets once the client has spoken, then hangs up on
    // the ClientHello it did not read (a reset, which may beat the client's alert).
    let greeter = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                thread::spawn(move || {
                    let mut first = [0u8; 1];
                    if s.read_exact(&mut first).is_ok() {
                        let _ = s.write_all(b"220 mail.example.org ESMTP\r\n");
                    }
                });
            }
        });
        port
    };
    let hosts = [
        format!("127.0.0.1:{silent}"),
        format!("127.0.0.1:{garbage}"),
        format!("127.0.0.1:{closed}"),
        format!("127.0.0.1:{greeter}"),
    ];
    let h: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let v = scan(&h, &["--timeout", "1s", "--deadline", "5s"]);
    let message = |e: &str| -> String {
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["target"]["endpoint"] == e)
            .unwrap_or_else(|| panic!("no finding on {e}"));
        assert_eq!(f["state"], "error", "{f}");
        f["message"].as_str().unwrap().to_string()
    };
    let m = message(&hosts[0]);
    assert!(
        m.contains("the peer sent nothing for 1 s (--timeout) during a TLSv1_3 handshake"),
        "{m}"
    );
    let m = message(&hosts[1]);
    assert!(
        m.contains(
            r#"not a TLS server: it answered "SSH-2.0-OpenSSH_9.2p1": an SSH identification; probe it with --probe ssh"#
        ),
        "{m}"
    );
    let m = message(&hosts[2]);
    assert!(m.contains("connection refused by 127.0.0.1:"), "{m}");
    let m = message(&hosts[3]);
    assert!(
        m.contains(
            r#"not a TLS server: it answered "220 mail.example.org ESMTP": an SMTP or FTP greeting; if the server offers STARTTLS, give --starttls smtp"#
        ),
        "{m}"
    );
}
