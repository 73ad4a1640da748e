//! `vigil facts`: the fact documents collectors produce, as JSON, so a policy author can see every
//! field a check can name. It asks every file collector of the registry for everything it can
//! produce, exactly as a scan would.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{emit, usage_error};
use crate::collect::config::Format;
use crate::collect::walk::{self, EntryKind, WalkOptions};
use crate::collect::{
    Collected, Input, KindFields, Prepared, Registry, Request, Settings, Source, Target, Wanted,
    file,
};
use crate::engine::DEFAULT_MAX_FILE_SIZE;

#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Files or directories.
    #[arg(required_unless_present_any = ["fields", "root", "host"], value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Show what a network endpoint answers (HOST:PORT, [IPv6]:PORT, NAME@ADDRESS:PORT;
    /// repeatable) instead.
    #[arg(long = "host", value_name = "HOST:PORT", conflicts_with_all = ["paths", "fields", "root"], value_parser = crate::collect::inventory::parse_host)]
    host: Vec<crate::collect::Endpoint>,

    /// Probes to run on the endpoints: `ssh`, `tls`, `http`; by default by port (22 is SSH).
    #[arg(long, value_name = "PROBE", value_delimiter = ',', value_parser = ["ssh", "tls", "http"])]
    probe: Vec<String>,

    /// Upgrade the `--host` connections to TLS with this protocol's STARTTLS first.
    #[arg(long, value_name = "PROTOCOL", value_parser = crate::collect::inventory::STARTTLS)]
    starttls: Option<String>,

    #[command(flatten)]
    limits: crate::cli::scan::NetLimitArgs,

    /// Show the host facts of a machine's root filesystem (`/` for the live machine) instead.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["paths", "fields"])]
    root: Option<PathBuf>,

    /// Instead of reading files, list the fields a document of this kind (`certificate`,
    /// `private_key`, `file`) or config format (`sshd`, `kubernetes`...) can have.
    #[arg(long, value_name = "KIND|FORMAT", conflicts_with = "paths")]
    fields: Option<String>,

    /// Parse as this config format instead of inferring it from the file name.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,

    /// Follow symbolic links.
    #[arg(long)]
    follow_symlinks: bool,

    /// Evaluate time-dependent certificate facts (days until expiry) at this instant.
    #[arg(long, value_name = "TIMESTAMP", value_parser = crate::clock::parse_at)]
    at: Option<OffsetDateTime>,

    /// Trust anchors for certificate chains (default: the system store).
    #[arg(long, value_name = "FILE|DIR")]
    trust_store: Option<PathBuf>,
}

/// The ids of the built-in controls: what an inline suppression's `known` fact is judged against.
fn builtin_control_ids() -> std::sync::Arc<[String]> {
    let mut ids = crate::policy::builtin_control_ids();
    ids.sort_unstable();
    ids.into()
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
    if let Some(name) = &args.fields {
        return list_fields(name);
    }
    if let Some(root) = &args.root {
        if let Err(e) = crate::cli::scan::check_root(root) {
            return usage_error(e);
        }
        let host = crate::cli::scan::host_of(root);
        return target_facts(
            vec![Target::Host(host)],
            Source::Host,
            std::slice::from_ref(root),
            &args,
        );
    }
    if !args.host.is_empty() {
        let targets = args
            .host
            .iter()
            .map(|e| {
                Target::Endpoint(crate::collect::Endpoint {
                    probes: args.probe.clone(),
                    starttls: args.starttls.clone(),
                    ..e.clone()
                })
            })
            .collect();
        return target_facts(targets, Source::Endpoint, &[], &args);
    }
    let opts = WalkOptions {
        follow_symlinks: args.follow_symlinks,
        ..WalkOptions::default()
    };
    let entries = match walk::walk(&args.paths, &opts) {
        Ok(e) => e,
        Err(e) => return usage_error(e),
    };
    let registry = Registry::builtin();
    let settings = Settings {
        at: args.at.unwrap_or_else(OffsetDateTime::now_utc),
        trust_store: args.trust_store.clone(),
        gate: crate::collect::gate::Gate::for_paths(&args.paths, DEFAULT_MAX_FILE_SIZE),
        net: Default::default(),
        control_ids: builtin_control_ids(),
    };
    let mut prepared: Vec<Option<Prepared>> = Vec::new();
    for c in registry.collectors() {
        if c.source() != Source::File {
            prepared.push(None);
            continue;
        }
        match c.prepare(&settings) {
            Ok(p) => {
                for (what, why) in &p.warnings {
                    eprintln!("vigil: {what}: {why}");
                }
                prepared.push(Some(p));
            }
            Err(e) => return usage_error(e),
        }
    }
    let mut out = Vec::new();
    for entry in entries {
        let display = entry.display.clone();
        match &entry.kind {
            EntryKind::Symlink => {}
            EntryKind::Error(m) => out.push(json!({"path": display, "error": m})),
            EntryKind::File => {
                let target = Target::File(entry);
                out.push(file_facts(
                    &registry,
                    &prepared,
                    &settings,
                    &target,
                    args.format,
                ));
            }
        }
    }
    print_targets(out)
}

/// Every document every file collector makes of one file, and what it could not read.
fn file_facts(
    registry: &Registry,
    prepared: &[Option<Prepared>],
    settings: &Settings,
    target: &Target,
    format: Option<Format>,
) -> Value {
    let Target::File(entry) = target else {
        return Value::Null;
    };
    // One file at a time: a budget of its own.
    let budget = crate::collect::buffer::Budget::default();
    let mut buf = crate::collect::buffer::Buffer::new(&budget);
    match file::read_into(&entry.path, DEFAULT_MAX_FILE_SIZE, &mut buf) {
        Ok(file::Loaded::Read(_)) => {}
        Ok(file::Loaded::TooLarge { size }) => {
            return json!({"path": entry.display, "error": format!("file is {size} bytes, above {DEFAULT_MAX_FILE_SIZE}")});
        }
        Err(e) => return json!({"path": entry.display, "error": e.to_string()}),
    }
    let input = Input {
        target,
        bytes: Some(buf.bytes()),
        binary: file::is_binary(buf.bytes()),
    };
    let mut options = std::collections::BTreeMap::new();
    if let Some(f) = format {
        options.insert("format".to_string(), f.as_str().to_string());
    }
    let (documents, errors) = documents_of(registry, prepared, settings, &input, &options);
    json!({"path": entry.display, "documents": documents, "errors": errors})
}

/// Every document the prepared collectors make of one target (each kind, in the variant a control
/// with `options` would get), and what they could not read, as JSON.
fn documents_of(
    registry: &Registry,
    prepared: &[Option<Prepared>],
    settings: &Settings,
    input: &Input<'_>,
    options: &std::collections::BTreeMap<String, String>,
) -> (Vec<Value>, Vec<Value>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    for (collector, prepared) in registry.collectors().iter().zip(prepared) {
        let Some(prepared) = prepared else { continue };
        // Everything the collector can make of this file: each kind, in the variant a control
        // without options (or with `--format`) would get.
        let wanted: Vec<Wanted> = collector
            .kinds()
            .iter()
            .filter_map(|k| {
                let variant = collector.variant(k.name, options, input.target).ok()?;
                Some(Wanted {
                    kind: k.name,
                    variant,
                })
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let request = Request {
            wanted: &wanted,
            fields: &KindFields::all(),
            settings,
            state: prepared.state.as_ref(),
        };
        let mut found = Vec::new();
        collector.collect(input, &request, &mut found);
        for c in found {
            match c {
                Collected::Document {
                    kind,
                    variant,
                    document,
                } => {
                    let mut m = serde_json::Map::new();
                    m.insert("kind".into(), json!(kind));
                    if let Some(v) = variant {
                        m.insert("format".into(), json!(v));
                    }
                    if let Some(l) = &document.label {
                        m.insert("object".into(), json!(l));
                    }
                    if !document.included.is_empty() {
                        let included: Vec<_> = document
                            .included
                            .iter()
                            .map(|p| p.to_string_lossy())
                            .collect();
                        m.insert("included".into(), json!(included));
                    }
                    m.insert("facts".into(), document.root.to_json());
                    documents.push(Value::Object(m));
                }
                Collected::Error {
                    kind,
                    variant,
                    pos,
                    message,
                } => errors.push(json!({
                    "kind": kind,
                    "format": variant,
                    "line": pos.map(|p| p.line),
                    "message": message,
                })),
            }
        }
    }
    (documents, errors)
}

/// `vigil facts --root DIR` and `--host HOST:PORT`: every document the collectors of `source`
/// make of each target (a host, endpoints), as JSON.
fn target_facts(targets: Vec<Target>, source: Source, paths: &[PathBuf], args: &FactsArgs) -> u8 {
    let registry = Registry::builtin();
    let settings = Settings {
        at: args.at.unwrap_or_else(OffsetDateTime::now_utc),
        trust_store: args.trust_store.clone(),
        gate: crate::collect::gate::Gate::for_paths(paths, DEFAULT_MAX_FILE_SIZE),
        net: args.limits.limits(),
        control_ids: builtin_control_ids(),
    };
    let mut prepared: Vec<Option<Prepared>> = Vec::new();
    for c in registry.collectors() {
        if c.source() != source {
            prepared.push(None);
            continue;
        }
        match c.prepare(&settings) {
            Ok(p) => prepared.push(Some(p)),
            Err(e) => return usage_error(e),
        }
    }
    let mut out = Vec::new();
    for target in &targets {
        let input = Input {
            target,
            bytes: None,
            binary: false,
        };
        let (documents, errors) =
            documents_of(&registry, &prepared, &settings, &input, &Default::default());
        let what = if source == Source::Host {
            "host"
        } else {
            "endpoint"
        };
        out.push(json!({what: target.name(), "documents": documents, "errors": errors}));
    }
    print_targets(out)
}

/// Prints the facts of every target as JSON, with what the secrets pack recognises redacted.
fn print_targets(targets: Vec<Value>) -> u8 {
    let mut out = Value::Array(targets);
    crate::scrub::scrub_json(&mut out);
    match serde_json::to_string_pretty(&out) {
        Ok(s) => emit(&(s + "\n")),
        Err(e) => usage_error(e),
    }
}

/// `vigil facts --fields NAME`: the fields of a kind or config format, one per line.
fn list_fields(name: &str) -> u8 {
    let registry = Registry::builtin();
    let (kind, options) = match Format::parse(name) {
        Some(_) => (
            "config".to_string(),
            std::collections::BTreeMap::from([("format".to_string(), name.to_string())]),
        ),
        None if registry.kind(name).is_some() => (name.to_string(), Default::default()),
        None => {
            return usage_error(format!(
                "`{name}` is neither a kind ({}) nor a config format ({})",
                registry
                    .kinds()
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                Format::ALL.map(Format::as_str).join(", ")
            ));
        }
    };
    let known: Vec<&str> = registry
        .producers(&kind)
        .filter_map(|(_, c)| c.known_fields(&kind, &options))
        .flatten()
        .copied()
        .collect();
    if known.is_empty() {
        return emit(&format!(
            "{name} documents have the keys of the file itself: any key may exist \
             (`vigil facts FILE` shows those of a file)\n"
        ));
    }
    let mut out = String::new();
    for k in known {
        out.push_str(k);
        out.push('\n');
    }
    emit(&out)
}
