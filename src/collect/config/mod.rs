//! Config collectors: one parser per format, each turning a file's text into fact documents.
//!
//! Every parser keeps line numbers on the values it produces, and reports a syntax error with the line
//! and column where it found it. A file that does not parse becomes an `error` finding; the scan goes
//! on with the next file.

mod dockerfile;
mod include;
mod ini;
mod json;
mod keyvalue;
pub mod known;
mod kubernetes;
mod nginx;
mod sshd;
mod sshd_algorithms;
pub(crate) mod sysctl;
mod terraform;
mod toml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::{Collected, Collector, Document, Input, Kind, Request, Source, Target, TargetOption};
use crate::doc::{Node, Pos};

/// Kind `config`: a configuration file parsed into a structured document, in the format the
/// control names (`format:`) or the one its file name implies.
pub struct ConfigCollector;

/// The format names, as the `format` option accepts them.
const FORMAT_NAMES: [&str; 11] = [
    "sshd",
    "sysctl",
    "keyvalue",
    "ini",
    "yaml",
    "json",
    "toml",
    "nginx",
    "kubernetes",
    "dockerfile",
    "terraform",
];

impl Collector for ConfigCollector {
    fn source(&self) -> Source {
        Source::File
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "config",
            summary: "a configuration file parsed into a document: sshd, sysctl, keyvalue, ini, yaml, json, toml, nginx, kubernetes, dockerfile, terraform",
        }]
    }

    fn options(&self) -> &'static [TargetOption] {
        &[TargetOption {
            name: "format",
            values: &FORMAT_NAMES,
        }]
    }

    fn known_fields(
        &self,
        _kind: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Option<&'static [&'static str]> {
        match options.get("format").and_then(|f| Format::parse(f))? {
            Format::Sshd => Some(known::SSHD),
            Format::Kubernetes => Some(known::KUBERNETES),
            _ => None,
        }
    }

    fn variant(
        &self,
        _kind: &'static str,
        options: &BTreeMap<String, String>,
        target: &Target,
    ) -> Result<Option<&'static str>, String> {
        let given = options.get("format").and_then(|f| Format::parse(f));
        let inferred = || target.file().and_then(|e| Format::infer(&e.path));
        given.or_else(inferred).map(|f| Some(f.as_str())).ok_or_else(|| {
            "cannot tell the config format from the file name; set `format:` in the control's target".to_string()
        })
    }

    fn collect(&self, input: &Input<'_>, request: &Request<'_>, out: &mut Vec<Collected>) {
        let (Some(entry), Some(bytes)) = (input.target.file(), input.bytes) else {
            return;
        };
        let text = if input.binary {
            Err("binary file: a config format cannot be parsed from it".to_string())
        } else {
            std::str::from_utf8(bytes).map_err(|e| {
                format!("not valid UTF-8 text (invalid byte at offset {}): a config format cannot be parsed from it", e.valid_up_to())
            })
        };
        for w in request.wanted {
            let Some(format) = w.variant.and_then(Format::parse) else {
                continue;
            };
            let error = |pos: Option<Pos>, message: String| Collected::Error {
                kind: Some(w.kind),
                variant: w.variant,
                pos,
                message,
            };
            let text = match &text {
                Ok(t) => t,
                Err(m) => {
                    out.push(error(None, m.clone()));
                    continue;
                }
            };
            let fields = request.fields.of(w.kind);
            match format.parse_text(&entry.path, text, &request.settings.gate, fields) {
                Ok(docs) => out.extend(docs.into_iter().map(|document| Collected::Document {
                    kind: w.kind,
                    variant: w.variant,
                    document,
                })),
                Err(e) => out.push(error(
                    (e.line > 0).then(|| Pos::new(e.line as usize, e.col as usize)),
                    format!("cannot parse as {format}: {}", e.message),
                )),
            }
        }
    }
}

/// A configuration file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OpenSSH server configuration (`sshd_config`), `Include` and `Match` aware.
    Sshd,
    /// Kernel parameters: sysctl.conf merged with its sysctl.d drop-ins, as `sysctl --system` applies them.
    Sysctl,
    /// `key = value` or `key value` lines: login.defs, .properties, .env.
    Keyvalue,
    /// INI files with `[sections]`.
    Ini,
    /// YAML, one document per `---`.
    Yaml,
    /// JSON.
    Json,
    /// TOML.
    Toml,
    /// nginx configuration: directives and nested blocks.
    Nginx,
    /// Kubernetes manifests (YAML), with derived pod-level fields for workload kinds.
    Kubernetes,
    /// Dockerfiles and Containerfiles: instructions and build stages.
    Dockerfile,
    /// Terraform configuration (HCL): blocks by type, attributes, nested blocks.
    Terraform,
}

impl Format {
    /// Every format, as named in policies (in the order of [`FORMAT_NAMES`]).
    pub const ALL: [Format; 11] = [
        Format::Sshd,
        Format::Sysctl,
        Format::Keyvalue,
        Format::Ini,
        Format::Yaml,
        Format::Json,
        Format::Toml,
        Format::Nginx,
        Format::Kubernetes,
        Format::Dockerfile,
        Format::Terraform,
    ];

    /// The name used in policies and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Sshd => "sshd",
            Format::Sysctl => "sysctl",
            Format::Keyvalue => "keyvalue",
            Format::Ini => "ini",
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Nginx => "nginx",
            Format::Kubernetes => "kubernetes",
            Format::Dockerfile => "dockerfile",
            Format::Terraform => "terraform",
        }
    }

    /// Parses a format name.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Infers the format from a file's path, as a control that names no format relies on.
    /// Kubernetes manifests are never inferred: a YAML file is YAML until a control says otherwise.
    pub fn infer(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let parent = path
            .parent()
            .and_then(Path::file_name)
            .map(|p| p.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let in_dir = |dir: &str| path.components().any(|c| c.as_os_str() == dir);
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name == "sshd_config" || (parent == "sshd_config.d" && ext == "conf") {
            return Some(Format::Sshd);
        }
        if name == "sysctl.conf" || (parent == "sysctl.d" && ext == "conf") {
            return Some(Format::Sysctl);
        }
        if name == "dockerfile"
            || name == "containerfile"
            || (name.starts_with("dockerfile.") && ext != "dockerignore")
            || name.ends_with(".dockerfile")
        {
            return Some(Format::Dockerfile);
        }
        if name == "login.defs" || ext == "properties" || name == ".env" || ext == "env" {
            return Some(Format::Keyvalue);
        }
        if name == "nginx.conf"
            || (in_dir("nginx")
                && (ext == "conf" || parent == "sites-enabled" || parent == "sites-available"))
        {
            return Some(Format::Nginx);
        }
        match ext.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "tf" => Some(Format::Terraform),
            "ini" | "cfg" | "cnf" => Some(Format::Ini),
            _ => None,
        }
    }

    /// Parses `text` (the contents of `path`) into fact documents: one for most formats, one per
    /// YAML document, one per Kubernetes object. `fields` are the fields the controls read: a
    /// document may leave others incomplete.
    pub fn parse_text(
        self,
        path: &Path,
        text: &str,
        gate: &super::gate::Gate,
        fields: &crate::collect::Fields,
    ) -> Result<Vec<Document>, ParseError> {
        let single = |root: Node| vec![Document::new(root)];
        Ok(match self {
            Format::Sshd => {
                let parsed = sshd::parse(path, text, gate)?;
                vec![Document {
                    included: parsed.included,
                    ..Document::new(parsed.root)
                }]
            }
            Format::Sysctl => sysctl::parse(path, text, gate)?,
            Format::Keyvalue => single(keyvalue::parse(text)?),
            Format::Ini => single(ini::parse(text)?),
            Format::Yaml => crate::yaml::parse_documents(text)?
                .into_iter()
                .map(Document::new)
                .collect(),
            Format::Json => single(json::parse(text)?),
            Format::Dockerfile => single(dockerfile::parse(text)?),
            Format::Terraform => {
                let parsed = terraform::parse(path, text, gate)?;
                vec![Document {
                    included: parsed.included,
                    ..Document::new(parsed.root)
                }]
            }
            Format::Toml => single(toml::parse(text)?),
            Format::Nginx => match nginx::parse_file(path, text, gate)? {
                Some(parsed) => vec![Document {
                    included: parsed.included,
                    ..Document::new(parsed.root)
                }],
                None => Vec::new(),
            },
            Format::Kubernetes => kubernetes::parse(text, fields)?
                .into_iter()
                .map(|o| Document {
                    label: Some(o.label),
                    ..Document::new(o.root)
                })
                .collect(),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A syntax error in a config file, at the parser's line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {col}")]
pub struct ParseError {
    /// 1-based line (0 when the parser cannot tell).
    pub line: u32,
    /// 1-based column (0 when the parser cannot tell).
    pub col: u32,
    /// What the parser expected or found.
    pub message: String,
}

impl ParseError {
    /// An error at `line`, `col`.
    pub fn new(line: usize, col: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
            message: message.into(),
        }
    }
}

impl From<crate::yaml::YamlError> for ParseError {
    fn from(e: crate::yaml::YamlError) -> ParseError {
        ParseError {
            line: e.line,
            col: e.col,
            message: e.message,
        }
    }
}

/// Removes one pair of matching single or double quotes around a value.
pub(crate) fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_formats_from_names() {
        let cases = [
            ("etc/ssh/sshd_config", Some(Format::Sshd)),
            ("etc/ssh/sshd_config.d/10-x.conf", Some(Format::Sshd)),
            ("etc/sysctl.conf", Some(Format::Sysctl)),
            ("etc/sysctl.d/99-net.conf", Some(Format::Sysctl)),
            ("etc/login.defs", Some(Format::Keyvalue)),
            ("etc/nginx/nginx.conf", Some(Format::Nginx)),
            ("etc/nginx/conf.d/site.conf", Some(Format::Nginx)),
            ("etc/nginx/sites-enabled/default", Some(Format::Nginx)),
            ("k8s/deploy.yaml", Some(Format::Yaml)),
            ("a/b.json", Some(Format::Json)),
            ("Cargo.toml", Some(Format::Toml)),
            ("php.ini", Some(Format::Ini)),
            ("Dockerfile", Some(Format::Dockerfile)),
            ("build/Dockerfile.prod", Some(Format::Dockerfile)),
            ("api.dockerfile", Some(Format::Dockerfile)),
            ("Containerfile", Some(Format::Dockerfile)),
            ("Dockerfile.dockerignore", None),
            ("infra/main.tf", Some(Format::Terraform)),
            ("prod.tfvars", None),
            ("README.md", None),
        ];
        for (p, want) in cases {
            assert_eq!(Format::infer(Path::new(p)), want, "{p}");
        }
    }
}
