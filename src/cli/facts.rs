//! `vigil facts`: the fact documents collectors produce, as JSON, so a policy author can see every
//! field a check can name.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{emit, usage_error};
use crate::collect::cert::{self, CertContext, TrustStore};
use crate::collect::config::Format;
use crate::collect::file;
use crate::collect::walk::{self, EntryKind, WalkOptions};

#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Files or directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Parse as this config format instead of inferring it from the file name.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,

    /// Follow symbolic links.
    #[arg(long)]
    follow_symlinks: bool,

    /// Evaluate time-dependent certificate facts (days until expiry) at this instant.
    #[arg(long, value_name = "TIMESTAMP", value_parser = super::scan::parse_at)]
    at: Option<OffsetDateTime>,

    /// Trust anchors for certificate chains (default: the system store).
    #[arg(long, value_name = "FILE|DIR")]
    trust_store: Option<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        format!(
            "expected one of: {}",
            Format::ALL.map(Format::as_str).join(", ")
        )
    })
}

/// Prints a JSON array with one entry per file.
pub fn run(args: FactsArgs) -> u8 {
    let opts = WalkOptions {
        follow_symlinks: args.follow_symlinks,
        ..WalkOptions::default()
    };
    let entries: Vec<walk::Entry> = match walk::walk(&args.paths, &opts) {
        Ok(e) => e.collect(),
        Err(e) => return usage_error(e),
    };
    let store = match &args.trust_store {
        Some(p) => match TrustStore::from_path(p) {
            Ok(s) => s,
            Err(e) => return usage_error(e),
        },
        None => TrustStore::system().unwrap_or_else(|e| {
            eprintln!("vigil: {e}; certificate chains cannot validate (use --trust-store)");
            TrustStore::default()
        }),
    };
    let certs = CertContext {
        at: args.at.unwrap_or_else(OffsetDateTime::now_utc),
        store,
    };
    let out: Vec<Value> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File => Some(file_facts(&e.path, &e.display, args.format, &certs)),
            EntryKind::Error(m) => Some(json!({"path": e.display, "error": m})),
            EntryKind::Symlink => None,
        })
        .collect();
    match serde_json::to_string_pretty(&out) {
        Ok(s) => emit(&(s + "\n")),
        Err(e) => usage_error(e),
    }
}

fn file_facts(
    path: &std::path::Path,
    display: &str,
    format: Option<Format>,
    certs: &CertContext,
) -> Value {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return json!({"path": display, "error": e.to_string()}),
    };
    let mut entry = serde_json::Map::new();
    entry.insert("path".into(), json!(display));
    entry.insert("file".into(), file::facts(path, display, &bytes).to_json());
    if let Some(format) = format.or_else(|| Format::infer(path)) {
        config_facts(path, format, &bytes, &mut entry);
    }
    certificate_facts(path, display, &bytes, certs, &mut entry);
    Value::Object(entry)
}

/// Certificates and private keys found in the file, and the blocks that could not be read.
fn certificate_facts(
    path: &std::path::Path,
    display: &str,
    bytes: &[u8],
    certs: &CertContext,
    entry: &mut serde_json::Map<String, Value>,
) {
    let found = cert::collect(path, display, bytes, certs);
    let docs = |docs: &[crate::collect::Document]| -> Value {
        docs.iter()
            .map(|d| json!({"object": d.label, "facts": d.root.to_json()}))
            .collect()
    };
    if !found.certificates.is_empty() {
        entry.insert("certificates".into(), docs(&found.certificates));
    }
    if !found.keys.is_empty() {
        entry.insert("private_keys".into(), docs(&found.keys));
    }
    if !found.errors.is_empty() {
        let errors: Vec<Value> = found
            .errors
            .iter()
            .map(|e| json!({"line": e.line, "message": e.message}))
            .collect();
        entry.insert("certificate_errors".into(), Value::Array(errors));
    }
}

/// The config documents of the file in `format`, or the parse error.
fn config_facts(
    path: &std::path::Path,
    format: Format,
    bytes: &[u8],
    entry: &mut serde_json::Map<String, Value>,
) {
    entry.insert("format".into(), json!(format.as_str()));
    let parsed = std::str::from_utf8(bytes)
        .map_err(|_| "not valid UTF-8 text".to_string())
        .and_then(|t| format.parse_text(path, t).map_err(|e| e.to_string()));
    match parsed {
        Ok(docs) => {
            let docs: Vec<Value> = docs
                .iter()
                .map(|d| {
                    let mut m = serde_json::Map::new();
                    if let Some(l) = &d.label {
                        m.insert("object".into(), json!(l));
                    }
                    if !d.included.is_empty() {
                        m.insert(
                            "included".into(),
                            json!(
                                d.included
                                    .iter()
                                    .map(|p| p.to_string_lossy())
                                    .collect::<Vec<_>>()
                            ),
                        );
                    }
                    m.insert("facts".into(), d.root.to_json());
                    Value::Object(m)
                })
                .collect();
            entry.insert("documents".into(), Value::Array(docs));
        }
        Err(e) => {
            entry.insert("error".into(), json!(e));
        }
    }
}
