//! STARTTLS: the plain-text dialog that turns a mail, directory or database connection into a TLS
//! one, so that those servers are audited like HTTPS ones. Each protocol's dialog runs on a fresh
//! connection before every TLS handshake or ClientHello the probe sends.

use super::conn::{Conn, NetError, Wire};

/// Runs the upgrade dialog of `protocol` on `conn`.
pub fn upgrade(conn: &mut Conn, protocol: &str) -> Result<(), NetError> {
    conn.during = format!("during the {protocol} STARTTLS dialog");
    match protocol {
        "smtp" => {
            expect_reply(conn, "220")?;
            conn.write_all(b"EHLO vigil.invalid\r\n")?;
            expect_reply(conn, "250")?;
            conn.write_all(b"STARTTLS\r\n")?;
            expect_reply(conn, "220")
        }
        "ftp" => {
            expect_reply(conn, "220")?;
            conn.write_all(b"AUTH TLS\r\n")?;
            expect_reply(conn, "234")
        }
        "imap" => {
            expect_line(conn, "* OK")?;
            conn.write_all(b"v1 STARTTLS\r\n")?;
            loop {
                let line = line(conn)?;
                if line.starts_with("v1 ") {
                    return ok_or_refused(&line, "v1 OK");
                }
            }
        }
        "pop3" => {
            expect_line(conn, "+OK")?;
            conn.write_all(b"STLS\r\n")?;
            expect_line(conn, "+OK")
        }
        "postgres" => {
            // SSLRequest: length 8, code 80877103; the answer is one byte, `S` to go on.
            conn.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?;
            let mut b = [0u8; 1];
            conn.read_exact(&mut b)?;
            match b[0] {
                b'S' => Ok(()),
                b'N' => Err(refused(
                    "the PostgreSQL server does not accept TLS (it answered N to SSLRequest)",
                )),
                other => Err(refused(&format!(
                    "not a PostgreSQL server: it answered 0x{other:02x} to SSLRequest"
                ))),
            }
        }
        "ldap" => {
            // ExtendedRequest 1.3.6.1.4.1.1466.20037 (StartTLS), message id 1.
            let oid = b"1.3.6.1.4.1.1466.20037";
            let mut req = vec![0x30, (oid.len() + 7) as u8, 0x02, 0x01, 0x01];
            req.extend_from_slice(&[0x77, (oid.len() + 2) as u8, 0x80, oid.len() as u8]);
            req.extend_from_slice(oid);
            conn.write_all(&req)?;
            let mut head = [0u8; 2];
            conn.read_exact(&mut head)?;
            if head[0] != 0x30 {
                return Err(refused(
                    "not an LDAP server: its answer is not a BER sequence",
                ));
            }
            let len = if head[1] < 0x80 {
                usize::from(head[1])
            } else {
                let n = usize::from(head[1] & 0x7f).min(4);
                let mut l = vec![0u8; n];
                conn.read_exact(&mut l)?;
                l.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b))
            };
            if len > 64 * 1024 {
                return Err(refused("an LDAP answer larger than 64 KiB"));
            }
            let mut body = vec![0u8; len];
            conn.read_exact(&mut body)?;
            // The ExtendedResponse's resultCode: ENUMERATED (0x0a), length 1, 0 is success.
            match body.windows(3).find(|w| w[0] == 0x0a && w[1] == 1) {
                Some(w) if w[2] == 0 => Ok(()),
                Some(w) => Err(refused(&format!(
                    "the LDAP server refused StartTLS (result code {})",
                    w[2]
                ))),
                None => Err(refused("not an LDAP server: no result code in its answer")),
            }
        }
        other => Err(refused(&format!("unknown STARTTLS protocol `{other}`"))),
    }
}

fn refused(message: &str) -> NetError {
    NetError::Protocol(message.to_string())
}

/// One line of the server (CR LF removed), at most 4 KiB.
fn line(conn: &mut Conn) -> Result<String, NetError> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while out.len() < 4096 {
        conn.read_exact(&mut b)?;
        if b[0] == b'\n' {
            if out.last() == Some(&b'\r') {
                out.pop();
            }
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.push(b[0]);
    }
    Err(refused("a line longer than 4 KiB in the STARTTLS dialog"))
}

/// A reply of SMTP or FTP with `code`: one line, or `NNN-` first and every line up to the one
/// that starts `NNN ` (RFC 959 allows free text in between).
fn expect_reply(conn: &mut Conn, code: &str) -> Result<(), NetError> {
    let first = line(conn)?;
    if first.len() < 4 || first.as_bytes()[3] != b'-' {
        return ok_or_refused(&first, code);
    }
    let end = format!("{} ", &first[..3]);
    for _ in 0..256 {
        let l = line(conn)?;
        if l.starts_with(&end) {
            return ok_or_refused(&l, code);
        }
    }
    Err(refused(
        "a multi-line reply of more than 256 lines in the STARTTLS dialog",
    ))
}

fn expect_line(conn: &mut Conn, prefix: &str) -> Result<(), NetError> {
    let l = line(conn)?;
    ok_or_refused(&l, prefix)
}

fn ok_or_refused(line: &str, prefix: &str) -> Result<(), NetError> {
    if line.starts_with(prefix) {
        Ok(())
    } else {
        let shown: String = line.chars().take(80).collect();
        Err(refused(&format!(
            "STARTTLS refused: the server answered \"{shown}\""
        )))
    }
}
