//! Entry points over arbitrary bytes, as a scan calls each reader: the fuzz targets in `fuzz/` run
//! them, and `tests/fuzz_regressions.rs` runs every input the fuzzers ever found a defect with.

use std::path::Path;
use std::sync::OnceLock;

use crate::collect::config::Format;
use crate::collect::gate::Gate;

/// The directory config files are read as if from; it does not exist and is the gate's only root,
/// so an `Include` is never read, whatever it names: the fuzzer never reads the machine's files.
const ROOT: &str = "/nonexistent-vigil-fuzz-root";

/// Every fuzz target, by name, as `fuzz/run.sh` names them.
pub const TARGETS: [&str; 20] = [
    "sshd",
    "nginx",
    "sysctl",
    "ini",
    "toml",
    "json",
    "env",
    "kubernetes",
    "yaml",
    "policy",
    "pem",
    "der",
    "host",
    "ssh",
    "tls",
    "suppressions",
    "cache",
    "results",
    "dockerfile",
    "terraform",
];

/// Runs the reader of fuzz target `target` over `data`; `false` for an unknown target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "sshd" => config(Format::Sshd, &format!("{ROOT}/sshd_config"), data),
        "nginx" => config(Format::Nginx, &format!("{ROOT}/nginx.conf"), data),
        "sysctl" => config(Format::Sysctl, &format!("{ROOT}/sysctl.conf"), data),
        "ini" => config(Format::Ini, "fuzz.ini", data),
        "toml" => config(Format::Toml, "fuzz.toml", data),
        "json" => config(Format::Json, "fuzz.json", data),
        "env" => config(Format::Keyvalue, ".env", data),
        "kubernetes" => config(Format::Kubernetes, "fuzz.yaml", data),
        "dockerfile" => config(Format::Dockerfile, "Dockerfile", data),
        "terraform" => config(Format::Terraform, "fuzz.tf", data),
        "yaml" => {
            if let Ok(text) = std::str::from_utf8(data) {
                crate::yaml::assert_readers_agree(text);
            }
            config(Format::Yaml, "fuzz.yaml", data)
        }
        "policy" => policy(data),
        // PEM blocks, base64-wrapped PEM (kubeconfig data) and private keys of every kind.
        "pem" => certificates("fuzz.pem", data),
        // One DER certificate, a DER private key (PKCS#1, PKCS#8, SEC1), or a PKCS#7 bundle.
        "der" => certificates("fuzz.der", data),
        // The files a host audit reads, split at NUL bytes.
        "host" => host(data),
        // What an SSH server sends: identification, KEXINIT, key exchange reply.
        "ssh" => {
            let mut wire = crate::collect::net::conn::Replay::new(data);
            let _ = std::hint::black_box(crate::collect::net::ssh::read_server(&mut wire));
        }
        // What a TLS server answers a ClientHello: records up to the Certificate message, and
        // the certificates in it, judged as a presented chain.
        "tls" => tls(data),
        // Inline suppression comments, in any file a scan reads, as the judge and the collector
        // read them.
        "suppressions" => suppressions(data),
        // The records of a verdict cache file, and the verdicts in each, as a scan reads them.
        "cache" => drop(std::hint::black_box(crate::engine::cache::read_untrusted(
            data,
        ))),
        // A saved result, as `vigil verify`, `vigil report` and `vigil merge` read it.
        "results" => results(data),
        _ => return false,
    }
    true
}

/// Reads `data`'s `vigil:ignore` comments as the judge applies them and as the `suppression`
/// collector describes them.
fn suppressions(data: &[u8]) {
    let found = crate::workflow::suppressions::parse(data);
    for s in &found.list {
        std::hint::black_box(found.covering("SSH-001", Some(s.line)));
    }
    let known = ["K8S-001".to_string(), "SSH-001".to_string()];
    std::hint::black_box(crate::collect::suppression::documents(data, &known));
}

/// Reads `data` as a saved result document: framed (and checked against serde_json reading it
/// whole), then from a file as `vigil verify` checks its digest (checked against the digest of
/// the whole document) and as `vigil report` renders it into every format.
fn results(data: &[u8]) {
    use crate::report::{Format, Style};
    use crate::results::integrity;
    use clap::ValueEnum;
    use std::io::Write;

    crate::results::read::assert_framing_agrees(data);
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).and_then(|()| file.flush()).is_err() {
        return;
    }
    integrity::assert_digest_agrees(data, file.path());
    let style = Style::plain(true);
    let sinks = Format::value_variants()
        .iter()
        .map(|&f| crate::report::sink(f, Box::new(std::io::sink()), &style))
        .collect();
    std::hint::black_box(integrity::replay_verified(file.path(), sinks).ok());
}

/// The host files, in the order the fuzz input's NUL-separated parts fill them.
const HOST_FILES: [&str; 8] = [
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/login.defs",
    "/var/lib/dpkg/status",
    "/etc/fstab",
    "/etc/security/limits.conf",
    "/etc/os-release",
];

/// Reads `data` as the files of a host, as `vigil scan --root` reads them.
fn host(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files: Vec<(&str, &str)> = HOST_FILES.iter().copied().zip(text.split('\0')).collect();
    for d in crate::collect::host::read_in_memory(&files) {
        std::hint::black_box(d.map(|d| d.root.to_json()).ok());
    }
}

/// Parses `data` as a config file of `format`, as the config collector does: text that is not
/// UTF-8 is refused before any parser sees it.
fn config(format: Format, path: &str, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A gate of its own for each input: a gate remembers the directories it listed.
    let gate = &Gate::within(vec![ROOT.into()]);
    // Every fact, as `vigil facts` asks, and none, as a scan whose controls read little: the
    // Kubernetes format moves rather than copies what no control reads.
    for fields in [crate::collect::Fields::All, crate::collect::Fields::none()] {
        let _ = format.parse_text(Path::new(path), text, gate, &fields);
    }
}

/// Loads `data` as a policy file against the built-in collectors and renders every diagnostic,
/// as `vigil policy lint` does.
fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    static REGISTRY: OnceLock<crate::collect::Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(crate::collect::Registry::builtin);
    let loaded = crate::policy::load::load_policy("fuzz.yaml", text, registry);
    for d in &loaded.diagnostics {
        std::hint::black_box(d.to_string());
    }
}

/// Reads `data` as a TLS server's answer to a ClientHello.
fn tls(data: &[u8]) {
    let mut wire = crate::collect::net::conn::Replay::new(data);
    if let Ok(crate::collect::net::hello::Answer::Hello(h)) =
        crate::collect::net::hello::read_answer(&mut wire)
    {
        let ctx = cert_context();
        let docs = crate::collect::cert::chain_documents(
            &h.chain,
            "fuzz:443",
            ctx,
            &crate::collect::Fields::All,
        );
        std::hint::black_box(crate::collect::cert::validate_presented(&h.chain, ctx));
        std::hint::black_box(docs);
    }
}

/// The certificate context of the fuzz targets: a fixed clock, an empty trust store.
fn cert_context() -> &'static crate::collect::cert::CertContext {
    use crate::collect::cert::{CertContext, TrustStore};
    static CONTEXT: OnceLock<CertContext> = OnceLock::new();
    CONTEXT.get_or_init(|| CertContext {
        at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        store: TrustStore::default(),
    })
}

/// Reads `data` as a certificate or key file named `path` (its extension decides whether an
/// unreadable file is reported), computing every certificate and key fact, chain validation
/// included, against an empty trust store.
fn certificates(path: &str, data: &[u8]) {
    use crate::collect::Fields;
    let ctx = cert_context();
    std::hint::black_box(crate::collect::cert::read(
        Path::new(path),
        path,
        data,
        ctx,
        &Fields::All,
    ));
}
