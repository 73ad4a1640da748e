//! Endpoints named by the user: `--host` arguments and `--targets` inventory files. These are the
//! only network addresses vigil ever contacts.

use std::net::IpAddr;

use crate::collect::Endpoint;
use crate::doc::{Node, Pos, Value};

/// Probes an inventory may ask for.
pub const PROBES: [&str; 3] = ["tls", "ssh", "http"];

/// Protocols that upgrade a connection to TLS (`starttls:`).
pub const STARTTLS: [&str; 6] = ["smtp", "imap", "pop3", "ftp", "ldap", "postgres"];

/// Parses `HOST:PORT`, `[IPv6]:PORT` or `NAME@ADDRESS:PORT` (connect to ADDRESS, use NAME as the
/// server's name).
pub fn parse_host(arg: &str) -> Result<Endpoint, String> {
    let (name, at) = match arg.split_once('@') {
        Some((name, rest)) => (Some(name), rest),
        None => (None, arg),
    };
    let (host, port) = split_port(at)
        .ok_or_else(|| format!("`{arg}` is not HOST:PORT, [IPv6]:PORT or NAME@ADDRESS:PORT"))?;
    let address = match name {
        Some(_) => Some(host.parse::<IpAddr>().map_err(|_| {
            format!("`{host}` in `{arg}` is not an IP address (NAME@ADDRESS:PORT)")
        })?),
        None => None,
    };
    let host = name.unwrap_or(host).to_string();
    if host.is_empty() {
        return Err(format!("`{arg}` names no host"));
    }
    Ok(endpoint(host, port, address, Vec::new(), Vec::new()))
}

/// `HOST:PORT` or `[IPv6]:PORT` → (host without brackets, port).
fn split_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None; // a bare IPv6 address needs brackets
        }
        (h, p)
    };
    Some((host, port.parse().ok().filter(|p| *p > 0)?))
}

fn endpoint(
    host: String,
    port: u16,
    address: Option<IpAddr>,
    tags: Vec<String>,
    probes: Vec<String>,
) -> Endpoint {
    let name = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Endpoint {
        name,
        host,
        port,
        tags,
        address,
        probes,
        starttls: None,
    }
}

/// Reads an inventory:
///
/// ```yaml
/// hosts:
///   - name: www.example.org      # the server's name (TLS: sent and checked)
///     address: 192.0.2.10        # optional: connect here instead of resolving the name
///     ports: [443, 8443]
///     probes: [tls]              # tls, ssh; by port when absent (22 is SSH)
///     tags: [prod, web]
/// ```
///
/// Every problem is reported as `file:line:column: message`.
pub fn load(file: &str, text: &str) -> Result<Vec<Endpoint>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let docs = match crate::yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => return Err(vec![format!("{file}:{}:{}: {}", e.line, e.col, e.message)]),
    };
    let mut error_at = |pos: Pos, message: String| {
        errors.push(format!("{file}:{}:{}: {message}", pos.line, pos.col));
    };
    let Some(root) = docs.first() else {
        return Err(vec![format!("{file}: the inventory is empty")]);
    };
    let Some(hosts) = root.get("hosts").and_then(Node::as_list) else {
        error_at(
            root.pos,
            "an inventory is a mapping with a `hosts` list".into(),
        );
        return Err(errors);
    };
    for h in hosts {
        let Some(map) = h.as_map() else {
            error_at(
                h.pos,
                "each host is a mapping with `name` and `ports`".into(),
            );
            continue;
        };
        for (key, _) in map.iter() {
            if !["name", "address", "ports", "probes", "tags", "starttls"].contains(&key) {
                error_at(
                    h.pos,
                    format!("unknown key `{key}` (name, address, ports, probes, tags, starttls)"),
                );
            }
        }
        let Some(name) = h.get("name").and_then(Node::as_str) else {
            error_at(h.pos, "a host needs a `name`".into());
            continue;
        };
        let address = match h.get("address") {
            None => None,
            Some(a) => match a.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                Some(ip) => Some(ip),
                None => {
                    error_at(a.pos, format!("`address` of {name} is not an IP address"));
                    continue;
                }
            },
        };
        let strings = |key: &str| -> Result<Vec<String>, (Pos, String)> {
            match h.get(key) {
                None => Ok(Vec::new()),
                Some(n) => n
                    .as_list()
                    .ok_or_else(|| (n.pos, format!("`{key}` of {name} is a list")))?
                    .iter()
                    .map(|i| {
                        i.value
                            .scalar_text()
                            .filter(|_| !matches!(i.value, Value::Null))
                            .ok_or_else(|| (i.pos, format!("`{key}` of {name} holds scalars")))
                    })
                    .collect(),
            }
        };
        let (ports, probes, tags) = match (strings("ports"), strings("probes"), strings("tags")) {
            (Ok(p), Ok(pr), Ok(t)) => (p, pr, t),
            (Err((n, m)), _, _) | (_, Err((n, m)), _) | (_, _, Err((n, m))) => {
                error_at(n, m);
                continue;
            }
        };
        if ports.is_empty() {
            error_at(h.pos, format!("{name} has no `ports`"));
            continue;
        }
        if let Some(bad) = probes.iter().find(|p| !PROBES.contains(&p.as_str())) {
            error_at(
                h.pos,
                format!("unknown probe `{bad}` for {name} (tls, ssh, http)"),
            );
            continue;
        }
        let starttls = match h.get("starttls") {
            None => None,
            Some(n) => match n.as_str().filter(|p| STARTTLS.contains(p)) {
                Some(p) => Some(p.to_string()),
                None => {
                    error_at(
                        n.pos,
                        format!("`starttls` of {name} is one of {}", STARTTLS.join(", ")),
                    );
                    continue;
                }
            },
        };
        for port in ports {
            match port.parse::<u16>().ok().filter(|p| *p > 0) {
                Some(p) => out.push(Endpoint {
                    starttls: starttls.clone(),
                    ..endpoint(name.to_string(), p, address, tags.clone(), probes.clone())
                }),
                None => error_at(h.pos, format!("`{port}` is not a port ({name})")),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_arguments() {
        let e = parse_host("db.internal@127.0.0.1:5432").unwrap();
        assert_eq!(
            (e.name.as_str(), e.host.as_str(), e.port),
            ("db.internal:5432", "db.internal", 5432)
        );
        assert_eq!(e.address, Some("127.0.0.1".parse().unwrap()));
        let e = parse_host("[::1]:22").unwrap();
        assert_eq!(
            (e.name.as_str(), e.host.as_str(), e.address),
            ("[::1]:22", "::1", None)
        );
        assert!(parse_host("::1:22").is_err());
        assert!(parse_host("host").is_err());
        assert!(parse_host("name@not-an-ip:1").is_err());
        assert!(parse_host("host:0").is_err());
    }

    #[test]
    fn inventories_name_their_errors() {
        let text = "hosts:\n  - name: a\n    address: 127.0.0.1\n    ports: [22, 2222]\n    probes: [ssh]\n    tags: [prod]\n  - name: b\n    ports: [x]\n  - name: c\n    ports: [1]\n    probes: [ftp]\n";
        let errors = load("inv.yaml", text).unwrap_err();
        assert_eq!(
            errors,
            [
                "inv.yaml:7:5: `x` is not a port (b)",
                "inv.yaml:9:5: unknown probe `ftp` for c (tls, ssh, http)"
            ]
        );
        let ok = load("inv.yaml", &text[..text.find("  - name: b").unwrap()]).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].name, "a:2222");
        assert_eq!(ok[1].tags, ["prod"]);
        assert!(ok[0].probes("ssh") && !ok[0].probes("tls"));
    }
}
