//! SSH endpoints on loopback: in-test fake servers that send a chosen identification and KEXINIT,
//! peers that fail in every way a network peer can (silent, dripping, garbage, closed), and a real
//! Debian sshd with a hardened and a weak configuration, each judged by the `ssh-baseline` pack.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{assert_lines, lines, scan_json, vigil};
use serde_json::Value;

const PACK: &str = "policies/ssh-baseline.yaml";

/// What a fake server does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Sends an identification line, then (unless empty) a KEXINIT with these ten lists.
    Ssh(&'static str, Option<[&'static str; 10]>),
    /// Accepts and never sends anything.
    Silent,
    /// Sends one byte of an identification every 300 ms, forever.
    Drip,
    /// Answers like an HTTP server.
    Garbage,
    /// Waits for the client's first line, then answers it with these bytes and hangs up: what an
    /// HTTP or a TLS server does with an SSH client.
    AnswersFirstLine(&'static [u8]),
}

/// A listener on 127.0.0.1 that serves every connection with `behaviour` until the test ends.
fn serve(behaviour: Behaviour) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let b = behaviour.clone();
            thread::spawn(move || answer(stream, b));
        }
    });
    port
}

fn answer(mut s: TcpStream, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Ssh(ident, lists) => {
            let _ = s.write_all(format!("{ident}\r\n").as_bytes());
            if let Some(lists) = lists {
                let _ = s.write_all(&kexinit(&lists));
            }
            // Read what the client sends until it hangs up.
            let mut sink = [0u8; 4096];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
        Behaviour::Silent => thread::sleep(Duration::from_secs(30)),
        Behaviour::Drip => {
            for b in b"SSH-2.0-drip".iter().cycle() {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(300));
            }
        }
        Behaviour::Garbage => {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
        Behaviour::AnswersFirstLine(answer) => {
            let mut byte = [0u8; 1];
            while s.read_exact(&mut byte).is_ok() && byte[0] != b'\n' {}
            let _ = s.write_all(answer);
        }
    }
}

/// A KEXINIT packet with these name-lists.
fn kexinit(lists: &[&str; 10]) -> Vec<u8> {
    let mut payload = vec![20u8];
    payload.extend_from_slice(&[7u8; 16]);
    for l in lists {
        payload.extend_from_slice(&(l.len() as u32).to_be_bytes());
        payload.extend_from_slice(l.as_bytes());
    }
    payload.extend_from_slice(&[0, 0, 0, 0, 0]);
    let padding = 8 - (5 + payload.len()) % 8 + 8;
    let mut out = ((1 + payload.len() + padding) as u32)
        .to_be_bytes()
        .to_vec();
    out.push(padding as u8);
    out.extend_from_slice(&payload);
    out.extend(std::iter::repeat_n(0u8, padding));
    out
}

/// An old server's lists: every weak algorithm the pack names.
const WEAK: [&str; 10] = [
    "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha256",
    "ssh-rsa,ssh-dss",
    "aes128-ctr,3des-cbc,arcfour256",
    "aes128-ctr,aes256-cbc",
    "hmac-sha2-256,hmac-md5,hmac-sha1-96",
    "hmac-sha2-256",
    "none,zlib",
    "none,zlib",
    "",
    "",
];

/// A current server's lists without strict key exchange, but with chacha20-poly1305 (Terrapin).
const TERRAPIN: [&str; 10] = [
    "curve25519-sha256,diffie-hellman-group16-sha512",
    "ssh-ed25519,rsa-sha2-512",
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "none,zlib@openssh.com",
    "none,zlib@openssh.com",
    "",
    "",
];

fn scan_endpoints(hosts: &[String], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec!["--policy", PACK, "--probe", "ssh", "--fail-on", "none"];
    for h in hosts {
        args.extend(["--host", h.as_str()]);
    }
    args.extend(extra);
    scan_json(&args).1
}

fn finding<'v>(v: &'v Value, control: &str, endpoint: &str) -> &'v Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            (f["control"] == control
                || f["blocked_controls"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|c| c == control)))
                && f["target"]["endpoint"] == endpoint
        })
        .unwrap_or_else(|| panic!("no {control} verdict on {endpoint}"))
}

#[test]
fn fake_servers_are_judged_on_what_they_offer() {
    let weak = serve(Behaviour::Ssh("SSH-1.99-OpenSSH_7.4", Some(WEAK)));
    let terrapin = serve(Behaviour::Ssh(
        "SSH-2.0-OpenSSH_9.5 FreeBSD-20231004",
        Some(TERRAPIN),
    ));
    let ssh1 = serve(Behaviour::Ssh("SSH-1.5-Cisco-1.25", None));
    let hosts: Vec<String> = [weak, terrapin, ssh1]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    // The fake servers never answer the key exchange: the host key read gives up after 1 s.
    let v = scan_endpoints(&hosts, &["--timeout", "1s"]);
    let shown: Vec<String> = lines(&v)
        .into_iter()
        .map(|l| {
            l.replace(&hosts[0], "WEAK")
                .replace(&hosts[1], "TERRAPIN")
                .replace(&hosts[2], "SSH1")
        })
        .collect();
    assert_lines(
        &shown,
        &[
            "SSHB-001 fail WEAK",
            "SSHB-001 pass TERRAPIN",
            "SSHB-001 fail SSH1",
            "SSHB-002 fail WEAK",
            "SSHB-002 pass TERRAPIN",
            "SSHB-003 fail WEAK",
            "SSHB-003 pass TERRAPIN",
            "SSHB-004 fail WEAK",
            "SSHB-004 pass TERRAPIN",
            "SSHB-005 fail WEAK",
            "SSHB-005 pass TERRAPIN",
            "SSHB-006 fail WEAK",
            "SSHB-006 pass TERRAPIN",
            "SSHB-007 fail WEAK",
            "SSHB-007 pass TERRAPIN",
            // Both offer RSA host keys; neither key could be read (no curve25519 exchange, or a
            // fake server that never answers it): fail closed.
            "SSHB-008 fail WEAK",
            "SSHB-008 fail TERRAPIN",
            "SSHB-009 fail WEAK",
            "SSHB-009 pass TERRAPIN",
            "SSHB-010 pass WEAK",
            "SSHB-010 fail TERRAPIN",
            "SSHB-011 fail WEAK",
            "SSHB-011 pass TERRAPIN",
            "SSHB-012 fail WEAK",
            "SSHB-012 pass TERRAPIN",
        ],
    );
    let observed = |c: &str, e: &str| finding(&v, c, e)["observed"].as_str().unwrap().to_string();
    assert_eq!(observed("SSHB-001", &hosts[0]), "1.99");
    assert_eq!(
        observed("SSHB-002", &hosts[0]),
        "diffie-hellman-group1-sha1, diffie-hellman-group14-sha1"
    );
    assert_eq!(observed("SSHB-003", &hosts[0]), "3des-cbc, aes256-cbc");
    assert_eq!(observed("SSHB-006", &hosts[0]), "hmac-md5, hmac-sha1-96");
    // The identification and the lists are the evidence, per endpoint.
    let out = vigil(&[
        "facts",
        "--probe",
        "ssh",
        "--host",
        &hosts[1],
        "--timeout",
        "1s",
    ]);
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = &f[0]["documents"][0]["facts"];
    assert_eq!(facts["software"], "OpenSSH_9.5");
    assert_eq!(facts["comments"], "FreeBSD-20231004");
    assert_eq!(facts["openssh_version"], "9.5");
    assert_eq!(facts["strict_kex"], false);
    assert_eq!(
        facts["ciphers"],
        serde_json::json!(["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"])
    );
    // The fake server cannot finish a key exchange: the host key is reported as not read.
    assert!(facts["host_key_error"].is_string(), "{facts}");
}

/// Every way a peer can fail is an `error` with its reason; the other endpoints are judged.
#[test]
fn failing_peers_are_errors_with_their_reason() {
    let silent = serve(Behaviour::Silent);
    let drip = serve(Behaviour::Drip);
    let garbage = serve(Behaviour::Garbage);
    let good = serve(Behaviour::Ssh("SSH-2.0-OpenSSH_9.9", Some(TERRAPIN)));
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hosts: Vec<String> = [silent, drip, garbage, closed, good]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let v = scan_endpoints(&hosts, &["--timeout", "1s", "--deadline", "3s"]);
    let message = |e: &str| -> (String, String) {
        let f = finding(&v, "SSHB-001", e);
        (
            f["state"].as_str().unwrap().to_string(),
            f["message"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (state, m) = message(&hosts[0]);
    assert_eq!(state, "error");
    assert!(
        m.contains(
            "the peer sent nothing for 1 s (--timeout) while waiting for the SSH identification"
        ),
        "{m}"
    );
    let (state, m) = message(&hosts[1]);
    assert_eq!(state, "error");
    assert!(
        m.contains("did not finish answering within the 3 s deadline"),
        "{m}"
    );
    let (state, m) = message(&hosts[2]);
    assert_eq!(state, "error");
    assert!(
        m.contains(r#"not an SSH server: it sent "HTTP/1.1 400 Bad Request" instead of an SSH identification"#),
        "{m}"
    );
    let (state, m) = message(&hosts[3]);
    assert_eq!(state, "error");
    assert!(m.contains("connection refused by 127.0.0.1:"), "{m}");
    assert_eq!(message(&hosts[4]).0, "pass");
    assert_eq!(v["inventory"]["endpoints"], 5);
}

/// Servers that wait for the client to speak first (HTTP, TLS) answer the probe's identification
/// at once: the error says what they are, rather than that they sent nothing for `--timeout`.
#[test]
fn servers_that_wait_for_the_client_say_what_they_are() {
    let http = serve(Behaviour::AnswersFirstLine(
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
    ));
    // A TLS 1.2 fatal alert (decode_error), as gnutls-serv answers bytes that are not TLS.
    let tls = serve(Behaviour::AnswersFirstLine(&[0x15, 3, 3, 0, 2, 2, 50]));
    let hosts: Vec<String> = [http, tls]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let v = scan_endpoints(&hosts, &["--timeout", "30s", "--deadline", "60s"]);
    let message = |e: &str| -> String {
        let f = finding(&v, "SSHB-001", e);
        assert_eq!(f["state"], "error", "{f}");
        f["message"].as_str().unwrap().to_string()
    };
    let m = message(&hosts[0]);
    assert!(
        m.contains(r#"not an SSH server: it sent "HTTP/1.1 400 Bad Request" instead of an SSH identification"#),
        "{m}"
    );
    let m = message(&hosts[1]);
    assert!(
        m.contains(
            r#"not an SSH server: it sent "\x15\x03\x03\x00\x02\x022" instead of an SSH identification: a TLS alert, as a TLS server answers; probe it with --probe tls"#
        ),
        "{m}"
    );
}

/// A real Debian sshd on a loopback port, hardened and weak.
#[test]
fn real_sshd_hardened_and_weak() {
    let Some(sshd) = ["/usr/sbin/sshd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("skipped: no /usr/sbin/sshd (apt-get install openssh-server; .ci/run does)");
        return;
    };
    let hardened = Sshd::start(
        sshd,
        "ed25519",
        "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n\
         Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\n\
         MACs hmac-sha2-512-etm@openssh.com\n\
         HostKeyAlgorithms ssh-ed25519\n",
    );
    let weak = Sshd::start(
        sshd,
        "rsa1024",
        "KexAlgorithms +diffie-hellman-group14-sha1,diffie-hellman-group1-sha1\n\
         Ciphers +aes128-cbc,3des-cbc\n\
         MACs +hmac-sha1-96,hmac-md5\n\
         HostKeyAlgorithms +ssh-rsa\n",
    );
    let hosts = vec![hardened.host(), weak.host()];
    let v = scan_endpoints(&hosts, &[]);
    let shown: Vec<String> = lines(&v)
        .into_iter()
        .map(|l| l.replace(&hosts[0], "HARDENED").replace(&hosts[1], "WEAK"))
        .collect();
    assert_lines(
        &shown,
        &[
            "SSHB-001 pass HARDENED",
            "SSHB-001 pass WEAK",
            "SSHB-002 pass HARDENED",
            "SSHB-002 fail WEAK",
            "SSHB-003 pass HARDENED",
            "SSHB-003 fail WEAK",
            "SSHB-004 pass HARDENED",
            "SSHB-004 pass WEAK",
            "SSHB-005 pass HARDENED",
            "SSHB-005 fail WEAK",
            "SSHB-006 pass HARDENED",
            "SSHB-006 fail WEAK",
            "SSHB-007 pass HARDENED",
            "SSHB-007 pass WEAK",
            "SSHB-008 fail WEAK",
            "SSHB-009 pass HARDENED",
            "SSHB-009 fail WEAK",
            "SSHB-010 pass HARDENED",
            "SSHB-010 pass WEAK",
            "SSHB-011 pass HARDENED",
            "SSHB-011 pass WEAK",
            // OpenSSH offers no pre-authentication compression since 7.4, whatever the config.
            "SSHB-012 pass HARDENED",
            "SSHB-012 pass WEAK",
        ],
    );
    assert_eq!(finding(&v, "SSHB-008", &hosts[1])["observed"], "1024");
    // The fingerprint is the one ssh-keygen prints for the key the server holds.
    let out = vigil(&["facts", "--probe", "ssh", "--host", &hosts[0]]);
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = &f[0]["documents"][0]["facts"];
    assert_eq!(facts["host_key_type"], "ssh-ed25519");
    assert_eq!(facts["host_key_sha256"], hardened.fingerprint());
    assert_eq!(facts["strict_kex"], true);
}

/// A Debian sshd serving one loopback port from a temporary directory, stopped on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl Sshd {
    fn start(sshd: &str, key: &str, extra: &str) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let keyfile = d.join("host_key");
        let (kind, bits) = match key {
            "ed25519" => ("ed25519", None),
            _ => ("rsa", Some("1024")),
        };
        let mut keygen = std::process::Command::new("ssh-keygen");
        keygen
            .args(["-q", "-N", "", "-t", kind, "-f"])
            .arg(&keyfile);
        if let Some(b) = bits {
            keygen.args(["-b", b]);
        }
        assert!(keygen.status().unwrap().success());
        // sshd checks that its privilege separation directory exists before it starts.
        if !std::path::Path::new("/run/sshd").exists() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        for _ in 0..20 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
                     RequiredRSASize 1024\n{extra}",
                    keyfile.display(),
                    d.join("pid").display()
                ),
            )
            .unwrap();
            let mut child = std::process::Command::new(sshd)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd { dir, port, child };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            // The port was taken in between, or sshd refused the configuration: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("sshd did not start");
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn fingerprint(&self) -> String {
        let out = std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.path().join("host_key.pub"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An IPv6 endpoint, `[::1]:PORT`, where the machine has IPv6 loopback.
#[test]
fn ipv6_loopback_endpoints() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                answer(
                    stream,
                    Behaviour::Ssh("SSH-2.0-OpenSSH_9.9", Some(TERRAPIN)),
                )
            });
        }
    });
    let host = format!("[::1]:{port}");
    let v = scan_endpoints(std::slice::from_ref(&host), &["--timeout", "1s"]);
    assert_eq!(finding(&v, "SSHB-001", &host)["state"], "pass");
}
