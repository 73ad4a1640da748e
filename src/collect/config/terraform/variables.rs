//! The values a module's input variables take when Terraform runs without `-var` flags: each
//! `variable` block's `default`, from any `.tf` file of the module's directory, overridden by
//! `terraform.tfvars`, then by the `*.auto.tfvars` files in lexical order, as Terraform loads
//! them. A reference `var.NAME` whose value is known this way is judged as that value, which
//! keeps the file and line it was written at.
//!
//! Only the files of the scanned file's own directory are read, through the gate (inside the
//! paths the user named, recorded for the verdict cache), and at most [`MAX_FILES`] of them, so
//! that a directory of thousands of files costs each one a bounded amount. A variable whose value
//! is not known (no default, a file that cannot be read or parsed, past the bound) stays the
//! expression it is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl_edit::structure::{Body, Structure};

use super::{Reader, nesting};
use crate::collect::gate::Gate;
use crate::doc::Node;

/// The most files of a directory read for the values of one file's variables.
pub const MAX_FILES: usize = 64;

/// Known values of input variables, and the files they were read from (`Pos::file` `n` is
/// `files[n - 1]`).
#[derive(Default)]
pub struct Inputs {
    pub values: HashMap<String, Node>,
    pub files: Vec<PathBuf>,
}

impl Inputs {
    /// The value of `var.NAME`, when known.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.values.get(name)
    }

    /// Records a file values are read from, returning its index for `Pos::file`.
    fn add_file(&mut self, file: PathBuf) -> u16 {
        self.files.push(file);
        u16::try_from(self.files.len()).unwrap_or(u16::MAX)
    }
}

/// The inputs of the module `path` belongs to; `own` is that file's parsed body, read by
/// `reader`.
pub fn collect(path: &Path, own: &Body, reader: &Reader, gate: &Gate) -> Inputs {
    let mut inputs = Inputs::default();
    let mut defaults: HashMap<String, Node> = HashMap::new();
    add_defaults(own, reader, &mut defaults);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tfvars: Vec<PathBuf> = Vec::new();
    let mut modules: Vec<PathBuf> = Vec::new();
    if gate.reaches(dir) {
        for file in gate.files_in(dir).iter() {
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name == "terraform.tfvars" || name.ends_with(".auto.tfvars") {
                tfvars.push(file.clone());
            } else if name.ends_with(".tf") && file.file_name() != path.file_name() {
                modules.push(file.clone());
            }
        }
    }
    // `terraform.tfvars` first, then the auto files in lexical order: the last value wins.
    tfvars.sort_by_key(|f| f.file_name().map(|n| n != "terraform.tfvars"));
    let mut budget = MAX_FILES;
    let mut read = |file: &Path| {
        budget = budget.checked_sub(1)?;
        gate.read_included(file).ok()
    };
    for file in modules {
        let Some(text) = read(&file).filter(|t| t.contains("variable")) else {
            continue;
        };
        if let Some(body) = parse(&text) {
            let reader = Reader::new(&text, inputs.add_file(file));
            add_defaults(&body, &reader, &mut defaults);
        }
    }
    inputs.values = defaults;
    for file in tfvars {
        let Some(text) = read(&file) else {
            continue;
        };
        if let Some(body) = parse(&text) {
            let reader = Reader::new(&text, inputs.add_file(file));
            for attr in body.attributes() {
                let value = reader.expr(&attr.value);
                inputs.values.insert(attr.key.value().to_string(), value);
            }
        }
    }
    inputs
}

/// Adds the `default` of each `variable` block of `body` not already known (Terraform refuses a
/// variable declared twice; the first is kept).
fn add_defaults(body: &Body, reader: &Reader, defaults: &mut HashMap<String, Node>) {
    for structure in body.iter() {
        let Structure::Block(block) = structure else {
            continue;
        };
        let [label] = block.labels.as_slice() else {
            continue;
        };
        if block.ident.value().as_str() != "variable" {
            continue;
        }
        let Some(default) = block.body.get_attribute("default") else {
            continue;
        };
        let value = reader.expr(&default.value);
        if !matches!(value.value, crate::doc::Value::Null) {
            defaults.entry(label.as_str().to_string()).or_insert(value);
        }
    }
}

/// Parses another file of the module, or nothing when it does not parse (it is judged, and its
/// error reported, when the scan reaches it).
fn parse(text: &str) -> Option<Body> {
    if text.len() > super::MAX_BYTES
        || nesting::too_deep(text, nesting::MAX_DEPTH, nesting::MAX_SQUARE_DEPTH).is_some()
    {
        return None;
    }
    hcl_edit::parser::parse_body(text).ok()
}
