//! Targets: what a scan looks at. Files come from the walk of the paths given; endpoints and hosts
//! are named by the user. Each is judged once, by every control whose kind its collectors produce
//! and whose selectors (`paths` for files, `tags` for endpoints and hosts) admit it.

use std::path::PathBuf;

use super::walk::Entry;

/// Where a collector's targets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Files found by walking the paths given on the command line.
    File,
    /// Network endpoints (`host:port`).
    Endpoint,
    /// A machine: the live one, or a mounted root filesystem.
    Host,
}

impl Source {
    /// The name used in results: `file`, `endpoint`, `host`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Endpoint => "endpoint",
            Source::Host => "host",
        }
    }
}

/// A network endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// How it is shown in results: `example.com:443`, `[::1]:22`.
    pub name: String,
    /// The host name or address to connect to (and, for TLS, the name sent and checked).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Labels from the inventory; controls may select endpoints by tag.
    pub tags: Vec<String>,
    /// The address to connect to instead of resolving `host` (`--host NAME@IP:PORT`).
    pub address: Option<std::net::IpAddr>,
    /// The probes to run (`ssh`, `tls`, `http`); empty: chosen by port (22 is SSH, anything else
    /// TLS).
    pub probes: Vec<String>,
    /// The protocol that upgrades the connection to TLS first (`smtp`, `imap`, `pop3`, `ftp`,
    /// `ldap`, `postgres`).
    pub starttls: Option<String>,
}

impl Endpoint {
    /// Whether the probe `name` runs on this endpoint.
    pub fn probes(&self, name: &str) -> bool {
        if self.probes.is_empty() {
            let ssh = self.port == 22;
            return if name == "ssh" {
                ssh
            } else {
                name == "tls" && !ssh
            };
        }
        // The HTTP check runs over TLS: asking for it asks for the TLS probe too.
        self.probes
            .iter()
            .any(|p| p == name || (name == "tls" && p == "http"))
    }
}

/// A machine to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// How it is shown in results (the host name, or the mounted root).
    pub name: String,
    /// Its root filesystem: `/` for the live machine.
    pub root: PathBuf,
    /// Labels; controls may select hosts by tag.
    pub tags: Vec<String>,
}

/// One thing a scan judges.
#[derive(Debug, Clone)]
pub enum Target {
    /// A file (or a path the walk could not read).
    File(Entry),
    /// A network endpoint.
    Endpoint(Endpoint),
    /// A machine.
    Host(Host),
}

impl Target {
    /// Where its targets come from.
    pub fn source(&self) -> Source {
        match self {
            Target::File(_) => Source::File,
            Target::Endpoint(_) => Source::Endpoint,
            Target::Host(_) => Source::Host,
        }
    }

    /// How it is shown in results.
    pub fn name(&self) -> &str {
        match self {
            Target::File(e) => &e.display,
            Target::Endpoint(e) => &e.name,
            Target::Host(h) => &h.name,
        }
    }

    /// Its tags (files have none).
    pub fn tags(&self) -> &[String] {
        match self {
            Target::File(_) => &[],
            Target::Endpoint(e) => &e.tags,
            Target::Host(h) => &h.tags,
        }
    }

    /// The walked entry of a file target.
    pub fn file(&self) -> Option<&Entry> {
        match self {
            Target::File(e) => Some(e),
            _ => None,
        }
    }
}
