//! Connections to endpoints under time limits, and why a peer could not be read.
//!
//! A peer that refuses, never accepts, accepts and stays silent, drips one byte a second, or speaks
//! another protocol must not stall the scan: every connect and read has a timeout, and a whole
//! probe of one endpoint has a deadline. Each failure is a [`NetError`] whose text says which.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::collect::Endpoint;

/// Time limits of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Establishing the TCP connection (`--connect-timeout`).
    pub connect: Duration,
    /// Waiting for the next bytes of an answer (`--timeout`).
    pub read: Duration,
    /// Everything one endpoint's probes may take (`--deadline`).
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        }
    }
}

/// The time one endpoint's probes have: the limits, and the deadline they all share; and the
/// address the name resolved to, once, so that every connection of a probe reaches the same
/// server (a round-robin name would otherwise mix the answers of several).
#[derive(Debug, Clone)]
pub struct Budget {
    pub limits: Limits,
    pub deadline: Instant,
    addr: std::cell::OnceCell<SocketAddr>,
}

impl Budget {
    /// A budget starting now.
    pub fn start(limits: Limits) -> Budget {
        Budget {
            limits,
            deadline: Instant::now() + limits.deadline,
            addr: std::cell::OnceCell::new(),
        }
    }
}

/// Why an endpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The name does not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    /// Nothing listens on the port.
    #[error("connection refused by {addr}")]
    Refused { addr: SocketAddr },
    /// No answer to the TCP handshake in time.
    #[error("no answer from {addr} within {secs} s (--connect-timeout)", secs = .timeout.as_secs_f64())]
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    /// Any other connection failure (unreachable network, reset).
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    /// Connected, but the peer sent nothing (or nothing more) in time.
    #[error("the peer sent nothing for {secs} s (--timeout) {during}", secs = .timeout.as_secs_f64())]
    Silent { timeout: Duration, during: String },
    /// The probe ran past the endpoint's deadline (a peer dripping bytes).
    #[error("the peer did not finish answering within the {secs} s deadline (--deadline) {during}", secs = .deadline.as_secs_f64())]
    Deadline { deadline: Duration, during: String },
    /// The peer closed the connection early.
    #[error("the peer closed the connection {during}")]
    Closed { during: String },
    /// The peer answered something the probe's protocol does not allow.
    #[error("{0}")]
    Protocol(String),
    /// Another I/O failure.
    #[error("{during}: {reason}")]
    Io { during: String, reason: String },
}

/// An open connection to an endpoint, with the probe's deadline.
pub struct Conn {
    stream: TcpStream,
    limits: Limits,
    deadline: Instant,
    /// What the probe is doing, for error messages (`while reading the SSH identification`).
    pub during: String,
    /// The last failure behind an `io::Error` handed to a library reading through [`Read`].
    failed: Option<NetError>,
}

/// The first `max` bytes a peer sent, printable ASCII as is and the rest as `\xNN`, for an error
/// that says what the peer spoke instead.
pub fn quote(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|b| match b {
            0x20..=0x7e => char::from(*b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

/// What a peer's first bytes show it speaks, when a probe for another protocol meets them: the
/// probes name it, with the option that probes it rightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// An SSH identification (`SSH-2.0-...`).
    Ssh,
    /// A TLS record: an alert (what a TLS server answers to bytes that are not TLS).
    Tls,
    /// An HTTP response.
    Http,
    /// A `220` greeting: SMTP or FTP.
    Greeting220,
    /// An IMAP greeting (`* OK`).
    Imap,
    /// A POP3 greeting (`+OK`).
    Pop3,
}

/// Recognises what `bytes`, the first a peer sent, are.
pub fn speaker(bytes: &[u8]) -> Option<Speaker> {
    match bytes {
        [b'S', b'S', b'H', b'-', ..] => Some(Speaker::Ssh),
        [0x15 | 0x16, 3, 0..=4, ..] => Some(Speaker::Tls),
        [b'H', b'T', b'T', b'P', b'/', ..] => Some(Speaker::Http),
        [b'2', b'2', b'0', b' ' | b'-', ..] => Some(Speaker::Greeting220),
        [b'*', b' ', b'O', b'K', ..] => Some(Speaker::Imap),
        [b'+', b'O', b'K', ..] => Some(Speaker::Pop3),
        _ => None,
    }
}

/// The first line of `bytes`, without its end.
pub fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|b| matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    &bytes[..end]
}

/// The address to connect to: the one given with `NAME@IP`, the host itself when it is an
/// address, else the first the resolver gives.
pub fn address(endpoint: &Endpoint) -> Result<SocketAddr, NetError> {
    if let Some(ip) = endpoint.address {
        return Ok(SocketAddr::new(ip, endpoint.port));
    }
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, endpoint.port));
    }
    (host, endpoint.port)
        .to_socket_addrs()
        .map_err(|e| NetError::Resolve {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| NetError::Resolve {
            host: host.to_string(),
            reason: "no address".into(),
        })
}

impl Conn {
    /// Connects to `endpoint` within the budget (and runs its STARTTLS dialog, if it has one).
    pub fn open(endpoint: &Endpoint, budget: &Budget) -> Result<Conn, NetError> {
        let limits = budget.limits;
        let addr = match budget.addr.get() {
            Some(a) => *a,
            None => {
                let a = address(endpoint)?;
                let _ = budget.addr.set(a);
                a
            }
        };
        if Instant::now() >= budget.deadline {
            return Err(NetError::Deadline {
                deadline: limits.deadline,
                during: "before a new connection".into(),
            });
        }
        let stream =
            TcpStream::connect_timeout(&addr, limits.connect).map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => NetError::Refused { addr },
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    NetError::ConnectTimeout {
                        addr,
                        timeout: limits.connect,
                    }
                }
                _ => NetError::Connect {
                    addr,
                    reason: e.to_string(),
                },
            })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            limits,
            deadline: budget.deadline,
            during: String::new(),
            failed: None,
        };
        if let Some(protocol) = &endpoint.starttls {
            super::starttls::upgrade(&mut conn, protocol)?;
        }
        Ok(conn)
    }

    /// Reads some bytes into `buf` (at least one), within the read timeout and the deadline.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| self.past_deadline())?;
        let wait = left.min(self.limits.read);
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(|e| self.io(e))?;
        match self.stream.read(buf) {
            Ok(0) => Err(NetError::Closed {
                during: self.during.clone(),
            }),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if wait < self.limits.read {
                    Err(self.past_deadline())
                } else {
                    Err(NetError::Silent {
                        timeout: self.limits.read,
                        during: self.during.clone(),
                    })
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Err(NetError::Closed {
                during: self.during.clone(),
            }),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Sends all of `bytes`. A peer that already hung up (reset, broken pipe) is
    /// [`NetError::Closed`], as when reading: what it sent before is still there to read, and says
    /// more than the failed write (a server that speaks first, then hangs up on what it did not
    /// expect).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        let _ = self.stream.set_write_timeout(Some(self.limits.read));
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                NetError::Closed {
                    during: self.during.clone(),
                }
            }
            _ => self.io(e),
        })
    }

    /// The bytes that have already arrived, without waiting for more: what completes a line the
    /// peer sent in one piece, for an error that quotes it.
    pub fn pending(&mut self, buf: &mut [u8]) -> usize {
        if self.stream.set_nonblocking(true).is_err() {
            return 0;
        }
        let n = self.stream.read(buf).unwrap_or(0);
        let _ = self.stream.set_nonblocking(false);
        n
    }

    /// The failure behind the last `io::Error` this connection gave through [`Read`] or
    /// [`Write`], if any (a closed connection reads as end of file instead).
    pub fn take_failure(&mut self) -> Option<NetError> {
        self.failed.take()
    }

    fn past_deadline(&self) -> NetError {
        NetError::Deadline {
            deadline: self.limits.deadline,
            during: self.during.clone(),
        }
    }

    fn io(&self, e: std::io::Error) -> NetError {
        NetError::Io {
            during: self.during.clone(),
            reason: e.to_string(),
        }
    }
}

/// Reading for libraries (rustls): a peer that hangs up is the end of the stream; any other
/// failure is kept for [`Conn::take_failure`].
impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.read_some(buf) {
            Ok(n) => Ok(n),
            Err(NetError::Closed { .. }) => Ok(0),
            Err(e) => {
                let message = e.to_string();
                self.failed = Some(e);
                Err(std::io::Error::other(message))
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len()).map_err(|e| {
            let message = e.to_string();
            self.failed = Some(e);
            std::io::Error::other(message)
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a protocol reader needs of a connection: the probes read servers through it, and the fuzz
/// harness replays bytes through [`Replay`] without a network.
pub trait Wire {
    /// Reads some bytes (at least one), or why not.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, NetError>;
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), NetError>;
    /// Says what the probe is doing, for error messages.
    fn doing(&mut self, what: &str);

    /// Reads what has already arrived into `buf`, without waiting; 0 when nothing has.
    fn pending(&mut self, buf: &mut [u8]) -> usize;

    /// Fills `buf` completely.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), NetError> {
        let mut at = 0;
        while at < buf.len() {
            at += self.read_some(&mut buf[at..])?;
        }
        Ok(())
    }
}

impl Wire for Conn {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        Conn::read_some(self, buf)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        self.write_all(bytes)
    }

    fn pending(&mut self, buf: &mut [u8]) -> usize {
        Conn::pending(self, buf)
    }

    fn doing(&mut self, what: &str) {
        self.during = what.to_string();
    }
}

/// A server's bytes replayed from memory, in chunks of at most 7 bytes (so readers meet split
/// reads); what is sent is dropped. The end of the bytes is a closed connection.
pub struct Replay<'a> {
    data: &'a [u8],
}

impl<'a> Replay<'a> {
    pub fn new(data: &'a [u8]) -> Replay<'a> {
        Replay { data }
    }
}

impl Wire for Replay<'_> {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if self.data.is_empty() {
            return Err(NetError::Closed {
                during: String::new(),
            });
        }
        let n = buf.len().min(self.data.len()).min(7);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }

    fn send(&mut self, _bytes: &[u8]) -> Result<(), NetError> {
        Ok(())
    }

    fn pending(&mut self, buf: &mut [u8]) -> usize {
        self.read_some(buf).unwrap_or(0)
    }

    fn doing(&mut self, _what: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_name_what_the_peer_speaks() {
        let cases: [(&[u8], Option<Speaker>); 8] = [
            (b"SSH-2.0-OpenSSH_9.2p1\r\n", Some(Speaker::Ssh)),
            (&[0x15, 3, 3, 0, 2, 2, 50], Some(Speaker::Tls)),
            (b"HTTP/1.1 400 Bad Request\r\n", Some(Speaker::Http)),
            (
                b"220 mail.example.org ESMTP\r\n",
                Some(Speaker::Greeting220),
            ),
            (b"220-ftp.example.org\r\n", Some(Speaker::Greeting220)),
            (b"* OK IMAP4rev1 ready\r\n", Some(Speaker::Imap)),
            (b"+OK POP3 ready\r\n", Some(Speaker::Pop3)),
            (b"<!DOCTYPE HTML>\n", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(speaker(bytes), want, "{}", quote(bytes, 40));
        }
        assert_eq!(first_line(b"220 a\r\n250 b"), b"220 a");
        assert_eq!(first_line(b"no end"), b"no end");
    }
}
