//! The trust store chains are validated against: `--trust-store FILE|DIR`, or the system store
//! read from disk (never over the network). Loaded once per scan, shared by every worker.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;

use super::pem;

/// Trust anchors, and the identities (subject and public key) of the certificates they came from.
#[derive(Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    /// For each anchor, the short name of its certificate (chain evidence).
    names: Vec<String>,
    identities: HashSet<[u8; 32]>,
    /// The anchors' subjects (DER): most certificates of a scan are told apart by subject alone,
    /// without hashing their key.
    subjects: HashSet<Vec<u8>>,
    /// Where the anchors came from, for messages.
    pub source: String,
}

/// Why a trust store could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be read.
    #[error("cannot read trust store {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing usable was found.
    #[error("trust store {source_name} holds no usable certificate{}", detail(.problems))]
    Empty {
        /// Where it was looked for.
        source_name: String,
        /// What went wrong with the entries that were found.
        problems: Vec<String>,
    },
}

fn detail(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(" ({})", problems.join("; "))
    }
}

/// The identity a trust decision is about: the subject and the public key, not the exact DER, so
/// that a re-issued root with the same key counts as trusted (as every path validator treats it).
fn identity(cert: &X509Certificate<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(cert.subject().as_raw());
    h.update(cert.public_key().raw);
    h.finalize().into()
}

impl TrustStore {
    /// A digest of every anchor (subject, key, name constraints), whatever order they were loaded
    /// in: chains validate the same against two stores with the same digest.
    pub fn digest(&self) -> [u8; 32] {
        let mut each: Vec<[u8; 32]> = self
            .anchors
            .iter()
            .map(|a| {
                let mut h = Sha256::new();
                for part in [
                    a.subject.as_ref(),
                    a.subject_public_key_info.as_ref(),
                    a.name_constraints.as_ref().map_or(&[][..], |n| n.as_ref()),
                ] {
                    h.update((part.len() as u64).to_le_bytes());
                    h.update(part);
                }
                h.finalize().into()
            })
            .collect();
        each.sort_unstable();
        let mut h = Sha256::new();
        for d in &each {
            h.update(d);
        }
        h.finalize().into()
    }

    /// The system store, as OpenSSL on this host would find it (`SSL_CERT_FILE`, `SSL_CERT_DIR`,
    /// then the usual bundle locations), read offline.
    pub fn system() -> Result<TrustStore, StoreError> {
        let found = rustls_native_certs::load_native_certs();
        let problems: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        TrustStore::from_ders(found.certs, "the system store".into(), problems)
    }

    /// Certificates from a PEM or DER file, or from every file of a directory (OpenSSL's hashed
    /// directory layout included).
    pub fn from_path(path: &Path) -> Result<TrustStore, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        let mut ders = Vec::new();
        let mut problems = Vec::new();
        for file in &files {
            let bytes = std::fs::read(file).map_err(|source| StoreError::Io {
                path: file.clone(),
                source,
            })?;
            if pem::has_marker(&bytes) {
                for b in pem::blocks(&bytes, true) {
                    match b {
                        Ok(b) if super::is_certificate_label(&b.label) => {
                            ders.push(CertificateDer::from(b.der));
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(format!("{}: {e}", file.display())),
                    }
                }
            } else if super::der::is_single_sequence(&bytes) {
                ders.push(CertificateDer::from(bytes));
            }
        }
        TrustStore::from_ders(ders, path.display().to_string(), problems)
    }

    fn from_ders(
        ders: Vec<CertificateDer<'static>>,
        source: String,
        mut problems: Vec<String>,
    ) -> Result<TrustStore, StoreError> {
        let mut store = TrustStore {
            source,
            ..TrustStore::default()
        };
        for der in &ders {
            let parsed = x509_parser::parse_x509_certificate(der)
                .ok()
                .map(|(_, c)| c);
            let anchor = webpki::anchor_from_trusted_cert(der).map(|a| a.to_owned());
            match (parsed, anchor) {
                (Some(cert), Ok(anchor)) => {
                    if store.identities.insert(identity(&cert)) {
                        store.subjects.insert(cert.subject().as_raw().to_vec());
                        store.anchors.push(anchor);
                        store.names.push(super::x509::short_name(&cert));
                    }
                }
                (_, Err(e)) => {
                    problems.push(format!("a certificate is unusable as an anchor: {e:?}"))
                }
                (None, _) => problems.push("a certificate does not parse".into()),
            }
        }
        if store.anchors.is_empty() {
            return Err(StoreError::Empty {
                source_name: store.source,
                problems,
            });
        }
        Ok(store)
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The short name of the anchor a verified path ended in.
    pub fn anchor_name(&self, anchor: &TrustAnchor<'_>) -> String {
        self.anchors
            .iter()
            .position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
            .map_or_else(|| "(trust anchor)".to_string(), |i| self.names[i].clone())
    }

    /// Whether the store holds a certificate with this subject and public key.
    pub fn contains(&self, cert: &X509Certificate<'_>) -> bool {
        self.subjects.contains(cert.subject().as_raw()) && self.identities.contains(&identity(cert))
    }
}
