//! A history in PostgreSQL: `--history postgres://user@host/db` (or `VIGIL_HISTORY`, so that a
//! password never sits on a command line). Many hosts write to one server at once; its tables
//! live in the schema `vigil`, and are the SQLite history's tables (see `schema`).
//!
//! The URL is PostgreSQL's own (`sslmode`, `connect_timeout`, `application_name`, ...), plus
//! `sslrootcert=FILE` for a private certificate authority. With `sslmode=require` the server's
//! certificate is verified against that file or the system's trust store; a password is never
//! shown: every message names the server by the URL without it.

use std::cell::RefCell;
use std::time::Duration;

use super::db::{Db, Pg};
use super::store::{HistoryError, Mode, Store};

/// Whether a `--history` value names a PostgreSQL server rather than a file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (and, when writing, creates or migrates) the history on the server `url` names.
pub fn open(url: &str, mode: Mode) -> Result<Store, HistoryError> {
    let shown = redact(url);
    let io = |why: String| HistoryError::Io {
        path: shown.clone(),
        why,
    };
    let (url, root_cert) = take_param(url, "sslrootcert");
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| io(format!("not a PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("vigil");
    }
    let tls = tls(root_cert.as_deref()).map_err(io)?;
    let client = config
        .connect(tls)
        .map_err(|e| io(format!("cannot connect to the history: {}", describe(&e))))?;
    let mut store = Store {
        conn: Db::Postgres(Box::new(RefCell::new(Pg::new(client)))),
        path: shown.clone(),
    };
    let err = |e| super::store::classify(&shown, e);
    // Verdicts a run links are found, and stored, by their key: the lookups of a run read the
    // index, so they stay quick however many runs the server holds.
    store
        .conn
        .batch("SET search_path TO vigil; SET client_min_messages TO warning;")
        .map_err(err)?;
    let exists = store
        .conn
        .opt(
            "SELECT 1 FROM pg_namespace WHERE nspname = 'vigil'",
            &[],
            |r| r.int(0),
        )
        .map_err(err)?
        .is_some();
    if exists {
        let tables = store
            .conn
            .one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'vigil'",
                &[],
                |r| r.int(0),
            )
            .map_err(err)?;
        let ours = store
            .conn
            .opt(
                "SELECT 1 WHERE to_regclass('vigil.schema_version') IS NOT NULL",
                &[],
                |r| r.int(0),
            )
            .map_err(err)?
            .is_some();
        if tables > 0 && !ours {
            return Err(HistoryError::Foreign {
                path: shown,
                why: "its schema `vigil` holds tables of another application".into(),
            });
        }
    } else if mode == Mode::Read {
        return Err(io(
            "no vigil history in this database (a scan with --history creates it)".into(),
        ));
    }
    store.bring_up_to_date()?;
    Ok(store)
}

/// The TLS set-up: the certificate authority in `root_cert`, or the system's trust store.
fn tls(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(file) => {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(file)
                .map_err(|e| format!("sslrootcert {file}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {file}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {file}: {e}"))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Removes `key=value` from the URL's query (PostgreSQL's URL parser does not know it); returns
/// the URL left and the value.
fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, value)
}

/// The text with the password of every PostgreSQL URL in it replaced by `***`: the user info's
/// (`postgres://user:secret@host`) and a `password=` parameter's.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["postgres://", "postgresql://"]
        .iter()
        .filter_map(|s| rest.find(s).map(|i| (i, s.len())))
        .min()
    {
        let (start, scheme) = at;
        out.push_str(&rest[..start + scheme]);
        rest = &rest[start + scheme..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        out.push_str(&redact_url(&rest[..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// [`redact`] of one URL, after its scheme.
fn redact_url(url: &str) -> String {
    let authority_end = url.find(['/', '?']).unwrap_or(url.len());
    let (authority, path) = url.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{p}?{}", query.join("&"))
        }
        None => path.to_string(),
    };
    authority + &path
}

/// What PostgreSQL reported: the server's message, or what failed on the way to it (with its
/// cause: a refused connection, a certificate that does not verify).
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut why = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let said = c.to_string();
                if !why.contains(&said) {
                    why = format!("{why}: {said}");
                }
                cause = c.source();
            }
            why
        }
    }
}

/// Names what PostgreSQL reported, by what the user can do about it.
pub(crate) fn classify(path: &str, e: &postgres::Error) -> HistoryError {
    use postgres::error::SqlState;
    let why = describe(e);
    let lost = e.is_closed()
        || e.as_db_error().is_none()
            && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        || matches!(e.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW);
    let why = if lost {
        format!(
            "lost the connection to the history ({why}); a run being stored stays incomplete, \
             and is never compared or reported: run the scan again"
        )
    } else {
        why
    };
    HistoryError::Io {
        path: path.into(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://vigil:s3cr%40t@db.example:5432/audit?sslmode=require"),
            "postgres://vigil:***@db.example:5432/audit?sslmode=require"
        );
        assert_eq!(
            redact("--history=postgresql://db/audit?user=v&password=hunter2 rest"),
            "--history=postgresql://db/audit?user=v&password=*** rest"
        );
        assert_eq!(
            redact("postgres://vigil@db/audit"),
            "postgres://vigil@db/audit"
        );
        assert_eq!(
            redact("/var/lib/vigil/history.db"),
            "/var/lib/vigil/history.db"
        );
        assert_eq!(
            redact("a postgres://u:p@h/d and postgres://x:y@z/w"),
            "a postgres://u:***@h/d and postgres://x:***@z/w"
        );
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        assert_eq!(
            take_param(
                "postgres://h/d?sslmode=require&sslrootcert=/ca.pem",
                "sslrootcert"
            ),
            (
                "postgres://h/d?sslmode=require".to_string(),
                Some("/ca.pem".to_string())
            )
        );
        assert_eq!(
            take_param("postgres://h/d?sslrootcert=/ca.pem", "sslrootcert"),
            ("postgres://h/d".to_string(), Some("/ca.pem".to_string()))
        );
    }
}
