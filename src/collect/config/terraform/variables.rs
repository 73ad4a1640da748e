//! The values a module's input variables and local values take when Terraform runs without
//! `-var` flags: each `variable` block's `default`, from any `.tf` file of the module's directory,
//! overridden by `terraform.tfvars`, then by the `*.auto.tfvars` files in lexical order, as
//! Terraform loads them; and each `locals` value that is a literal or refers only to known
//! values. A reference `var.NAME` or `local.NAME` whose value is known this way is judged as that
//! value, which keeps the file and line it was written at.
//!
//! Only the files of the scanned file's own directory are read, through the gate (inside the
//! paths the user named, recorded for the verdict cache), and at most [`MAX_FILES`] of them, so
//! that a directory of thousands of files costs each one a bounded amount. A value that is not
//! known (no default, a function call, a file that cannot be read or parsed, past the bound)
//! stays the expression it is.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl_edit::structure::{Body, Structure};

use super::{Reader, nesting};
use crate::collect::gate::Gate;
use crate::doc::{Lines, Node, Value};

/// The most files of a directory read for the values of one file's variables.
pub const MAX_FILES: usize = 64;

/// How many times the `locals` are evaluated, each round knowing the values the last one found:
/// a local may refer to another, in any order.
const LOCAL_ROUNDS: usize = 4;

/// The most values that references may copy into one file's document. A reference copies its
/// value, and a thousand references to a local of a thousand values copy a million, as YAML
/// aliases can: past the budget a reference stays the expression it is.
pub const MAX_COPIED: usize = 100_000;

/// Known values of input variables and locals, and the files they were read from (`Pos::file`
/// `n` is `files[n - 1]`).
#[derive(Default)]
pub struct Inputs {
    pub values: HashMap<String, Node>,
    pub locals: HashMap<String, Node>,
    pub files: Vec<PathBuf>,
    /// Values copied by references so far, against [`MAX_COPIED`].
    copied: Cell<usize>,
}

impl Inputs {
    /// The value of `var.NAME` (`namespace` `var`) or `local.NAME` (`local`), when known.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Node> {
        match namespace {
            "var" => self.values.get(name),
            "local" => self.locals.get(name),
            _ => None,
        }
    }

    /// Takes the copy of `value` from the budget; false when that would spend more than it holds.
    pub fn copy(&self, value: &Node) -> bool {
        let total = self.copied.get() + size(value);
        self.copied.set(total.min(MAX_COPIED + 1));
        total <= MAX_COPIED
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
    // The module's files that set locals, kept until every variable is known.
    let mut with_locals: Vec<(String, Body, u16)> = Vec::new();
    for file in modules {
        let Some(text) = read(&file).filter(|t| t.contains("variable") || t.contains("locals"))
        else {
            continue;
        };
        if let Some(body) = parse(&text) {
            let index = inputs.add_file(file);
            let lines = Lines::new(&text);
            add_defaults(&body, &Reader::new(&text, &lines, index), &mut defaults);
            if text.contains("locals") {
                with_locals.push((text, body, index));
            }
        }
    }
    inputs.values = defaults;
    for file in tfvars {
        let Some(text) = read(&file) else {
            continue;
        };
        if let Some(body) = parse(&text) {
            let lines = Lines::new(&text);
            let reader = Reader::new(&text, &lines, inputs.add_file(file));
            for attr in body.attributes() {
                let value = reader.expr(&attr.value);
                inputs.values.insert(attr.key.value().to_string(), value);
            }
        }
    }
    // Each round evaluates the locals not yet known against those the earlier rounds found.
    let lines: Vec<Lines> = with_locals
        .iter()
        .map(|(text, ..)| Lines::new(text))
        .collect();
    let sources: Vec<(&str, &Lines, &Body, u16)> =
        std::iter::once((reader.text, reader.lines, own, 0))
            .chain(
                with_locals
                    .iter()
                    .zip(&lines)
                    .map(|((t, b, i), l)| (t.as_str(), l, b, *i)),
            )
            .collect();
    for _ in 0..LOCAL_ROUNDS {
        let mut found: HashMap<String, Node> = HashMap::new();
        for &(text, lines, body, index) in &sources {
            let mut reader = Reader::new(text, lines, index);
            reader.inputs = Some(&inputs);
            for block in body.get_blocks("locals") {
                for attr in block.body.attributes() {
                    let name = attr.key.value().as_str();
                    if inputs.locals.contains_key(name) || found.contains_key(name) {
                        continue;
                    }
                    if let Some(value) = reader.known(&attr.value) {
                        found.insert(name.to_string(), value);
                    }
                }
            }
        }
        if found.is_empty() {
            break;
        }
        inputs.locals.extend(found);
    }
    inputs
}

/// The number of values in `node`, itself included.
fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::List(items) => items.iter().map(size).sum(),
        Value::Map(map) => map.iter().map(|(_, v)| size(v)).sum(),
        _ => 0,
    }
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
        if !matches!(value.value, Value::Null) {
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
