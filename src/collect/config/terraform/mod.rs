//! Terraform configuration files (`*.tf`), read with hcl-edit, which keeps every value's span.
//!
//! The document has the shape of Terraform's own JSON syntax, so that a policy names a resource
//! as Terraform does: a top-level block with labels is reached through them
//! (`resource.aws_s3_bucket.logs`, `data.aws_ami.ubuntu`, `module.vpc`, `variable.region`), and
//! `resource.aws_s3_bucket[*]` is every bucket of the file. `provider.aws` is a list, since a
//! provider is configured once per alias. A block without labels (`terraform`, `moved`, `import`)
//! is a list under its name, and the `locals` blocks merge into one `locals` map. Inside a block,
//! its attributes are keys and a nested block is always a list of maps (`ingress[*]`,
//! `metadata_options[0]`): without the provider's schema a reader cannot tell a block that may
//! repeat from one that may not. A labelled nested block (`dynamic "ingress"`) is a map from its
//! label to that list. Top-level attributes (a `.tfvars` file read with `format: terraform`) are
//! keys of the document. Two top-level blocks with the same labels are an error, as in Terraform.
//!
//! Values: literals are what they say (strings, numbers, booleans, null, lists, objects); a
//! string or heredoc without interpolation is its text, or the structure it holds when it is a
//! JSON object (a policy), as is the argument of `jsonencode`; a reference to an input variable or
//! a local is the value the module's files give it, when they give a known one ([`variables`]).
//! Any other expression (`"${local.name}-logs"`, `try(var.x, null)`, a conditional) is its
//! source text as written:
//! Terraform knows its value only at plan time, so a control that requires a literal fails it,
//! and the finding shows the expression. Blocks are named as Terraform addresses them
//! (`aws_s3_bucket.logs`, `data.aws_ami.ubuntu`, `module.vpc`), nested blocks by their line
//! (`ingress at line 12`).
//!
//! Before hcl-edit sees a text, [`nesting`] refuses one nested deeper than 32 levels (12 of them
//! square brackets), where the parser's backtracking would take exponential time.

mod nesting;
mod variables;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::template::{Element, Template};

use super::ParseError;
use crate::collect::gate::Gate;
use crate::doc::{Lines, Map, Node, Pos, Value};

/// A parsed file, and the other files of its module whose values it holds.
pub struct Parsed {
    /// The document.
    pub root: Node,
    /// A value with `pos.file == n` came from `included[n - 1]`.
    pub included: Vec<PathBuf>,
}

/// The largest Terraform file parsed. hcl-edit's syntax tree keeps every token's whitespace and
/// comments, about 53 bytes of memory per byte of text, and the document 18 more: a 7 MB file of
/// 40,000 resources took 510 MB. Real files are kilobytes; a generated one of 4 MiB holds some
/// 20,000 resources.
pub const MAX_BYTES: usize = 4 << 20;

/// Parses the text of the Terraform file `path`, resolving the variables it references from the
/// module's other files (read through `gate`).
pub fn parse(path: &Path, text: &str, gate: &Gate) -> Result<Parsed, ParseError> {
    if text.len() > MAX_BYTES {
        return Err(ParseError::new(
            0,
            0,
            format!(
                "{} bytes, more than the {} MiB vigil parses as Terraform (its syntax tree holds \
                 some 70 bytes of memory per byte)",
                text.len(),
                MAX_BYTES >> 20
            ),
        ));
    }
    let lines = Lines::new(text);
    if let Some(past) = nesting::too_deep(text, nesting::MAX_DEPTH, nesting::MAX_SQUARE_DEPTH) {
        let pos = lines.pos(past.offset);
        let message = if past.square {
            format!(
                "square brackets nested deeper than {} levels",
                nesting::MAX_SQUARE_DEPTH
            )
        } else {
            format!("nested deeper than {} levels", nesting::MAX_DEPTH)
        };
        return Err(ParseError::new(
            pos.line as usize,
            pos.col as usize,
            message,
        ));
    }
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        let at = e.location();
        ParseError::new(at.line(), at.column(), e.message().to_string())
    })?;
    let mut reader = Reader::new(text, &lines, 0);
    let inputs = if text.contains("var.") || text.contains("local.") {
        variables::collect(path, &body, &reader, gate)
    } else {
        variables::Inputs::default()
    };
    reader.inputs = Some(&inputs);
    let root = reader.top(&body)?;
    Ok(Parsed {
        root,
        included: inputs.files,
    })
}

/// The text being read, to turn spans into positions and expressions into their source.
struct Reader<'t> {
    text: &'t str,
    lines: &'t Lines<'t>,
    /// Which file the text is (`Pos::file`): 0 for the scanned one.
    file: u16,
    /// The known values of the module's input variables and locals, substituted for `var.NAME`
    /// and `local.NAME`.
    inputs: Option<&'t variables::Inputs>,
    /// Set when an expression read since it was cleared was kept as its source text.
    unknown: Cell<bool>,
}

impl<'t> Reader<'t> {
    /// A reader of the text of file `file`, whose line starts are `lines`; it substitutes no
    /// variable.
    fn new(text: &'t str, lines: &'t Lines<'t>, file: u16) -> Reader<'t> {
        Reader {
            text,
            lines,
            file,
            inputs: None,
            unknown: Cell::new(false),
        }
    }

    /// The value of `expr` when it is known before plan: a literal, or built only of literals and
    /// known variables and locals.
    fn known(&self, expr: &Expression) -> Option<Node> {
        self.unknown.set(false);
        let value = self.expr(expr);
        (!self.unknown.get()).then_some(value)
    }

    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Pos {
        let mut pos = span.map_or(Pos::line(1), |s| self.lines.pos(s.start));
        pos.file = self.file;
        pos
    }

    /// The known value of `expr` when it is a reference to an input variable or a local
    /// (`var.NAME`, `local.NAME`, or the older `"${var.NAME}"`).
    fn input(&self, expr: &Expression) -> Option<Node> {
        let inputs = self.inputs?;
        let traversal = match expr {
            Expression::Traversal(t) => t,
            Expression::StringTemplate(t) => match t.iter().collect::<Vec<_>>().as_slice() {
                [Element::Interpolation(i)] => match &i.expr {
                    Expression::Traversal(t) => t,
                    _ => return None,
                },
                _ => return None,
            },
            _ => return None,
        };
        let Expression::Variable(root) = &traversal.expr else {
            return None;
        };
        let (first, rest) = traversal.operators.split_first()?;
        let TraversalOperator::GetAttr(name) = first.value() else {
            return None;
        };
        // `var.settings.tokens`, `var.ports[0]`: into the value, as far as it is known.
        let mut value = inputs.get(root.value().as_str(), name.value().as_str())?;
        for op in rest {
            value = match (op.value(), &value.value) {
                (TraversalOperator::GetAttr(key), Value::Map(map)) => map.get(key.value())?,
                (TraversalOperator::Index(Expression::Number(n)), Value::List(items)) => {
                    items.get(usize::try_from(n.value().as_u64()?).ok()?)?
                }
                _ => return None,
            };
        }
        inputs.copy(value).then(|| value.clone())
    }

    /// The top-level body: blocks reached through their labels, attributes as keys.
    fn top(&self, body: &Body) -> Result<Node, ParseError> {
        let mut root = Map::new();
        for structure in body.iter() {
            let block = match structure {
                Structure::Attribute(attr) => {
                    let key = attr.key.value().as_str().to_string();
                    let key_pos = self.pos(attr.key.span());
                    root.insert_with_key_pos(key, key_pos, self.expr(&attr.value));
                    continue;
                }
                Structure::Block(block) => block,
            };
            let ident = block.ident.value().as_str();
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            let pos = self.pos(block.span());
            let mut facts = self.body(&block.body)?;
            match (ident, labels.as_slice()) {
                ("locals", []) => {
                    // Every `locals` block adds to one namespace, as Terraform reads them.
                    let locals = map_at(&mut root, "locals", pos)?;
                    for (k, key_pos, v) in facts.into_entries() {
                        locals.insert_with_key_pos(k, key_pos, v);
                    }
                }
                (_, []) => {
                    facts.set_label(ident.to_string());
                    append(&mut root, ident, Node::new(pos, Value::Map(facts)))?;
                }
                ("provider", [name]) => {
                    let alias = facts.get("alias").and_then(Node::as_str);
                    facts.set_label(match alias {
                        Some(alias) => format!("provider.{name}.{alias}"),
                        None => format!("provider.{name}"),
                    });
                    let providers = map_at(&mut root, "provider", pos)?;
                    append(providers, name, Node::new(pos, Value::Map(facts)))?;
                }
                (_, [parents @ .., last]) => {
                    facts.set_label(address(ident, &labels));
                    let mut map = map_at(&mut root, ident, pos)?;
                    for label in parents {
                        map = map_at(map, label, pos)?;
                    }
                    if let Some(first) = map.get(last) {
                        let line = first.pos.known_line().unwrap_or(0);
                        return Err(ParseError::new(
                            pos.line as usize,
                            pos.col as usize,
                            format!(
                                "duplicate {} (first at line {line})",
                                address(ident, &labels)
                            ),
                        ));
                    }
                    map.insert(last.to_string(), Node::new(pos, Value::Map(facts)));
                }
            }
        }
        Ok(Node::new(Pos::line(1), Value::Map(root)))
    }

    /// A block's body: its attributes, and its nested blocks as lists under their names.
    fn body(&self, body: &Body) -> Result<Map, ParseError> {
        let mut facts = Map::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    // hcl-edit rejects an attribute defined twice in one body.
                    let key = attr.key.value().as_str().to_string();
                    let key_pos = self.pos(attr.key.span());
                    facts.insert_with_key_pos(key, key_pos, self.expr(&attr.value));
                }
                Structure::Block(inner) => {
                    let ident = inner.ident.value().as_str();
                    let pos = self.pos(inner.span());
                    let line = pos.known_line().unwrap_or(0);
                    let mut nested = self.body(&inner.body)?;
                    let mut map = &mut facts;
                    match inner.labels.as_slice() {
                        [] => nested.set_label(format!("{ident} at line {line}")),
                        labels => {
                            let words: Vec<String> = labels
                                .iter()
                                .map(|l| format!("\"{}\"", l.as_str()))
                                .collect();
                            nested.set_label(format!("{ident} {} at line {line}", words.join(" ")));
                            map = map_at(map, ident, pos)?;
                            for label in &labels[..labels.len() - 1] {
                                map = map_at(map, label.as_str(), pos)?;
                            }
                        }
                    }
                    let key = inner.labels.last().map_or(ident, |l| l.as_str());
                    append(map, key, Node::new(pos, Value::Map(nested)))?;
                }
            }
        }
        Ok(facts)
    }

    /// An expression: its value when it is a literal, else its source text.
    fn expr(&self, expr: &Expression) -> Node {
        if let Some(value) = self.input(expr) {
            return value;
        }
        let pos = self.pos(expr.span());
        let value = match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => {
                let n = n.value();
                match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                }
            }
            Expression::Array(items) => Value::List(items.iter().map(|e| self.expr(e)).collect()),
            Expression::Object(object) => {
                let mut map = Map::new();
                for (key, value) in object.iter() {
                    let (name, key_pos) = match key {
                        ObjectKey::Ident(ident) => {
                            (ident.value().as_str().to_string(), self.pos(ident.span()))
                        }
                        ObjectKey::Expression(Expression::String(s)) => {
                            (s.value().clone(), self.pos(s.span()))
                        }
                        ObjectKey::Expression(e) => (self.source_of_unknown(e), self.pos(e.span())),
                    };
                    map.insert_with_key_pos(name, key_pos, self.expr(value.expr()));
                }
                Value::Map(map)
            }
            Expression::String(s) => return text_value(s.value().clone(), pos),
            Expression::StringTemplate(t) => match literal(t) {
                Some(text) => return text_value(text, pos),
                None => Value::Str(self.source_of_unknown(expr)),
            },
            Expression::HeredocTemplate(h) => match literal(&h.template) {
                Some(text) => return text_value(text, pos),
                None => Value::Str(self.source_of_unknown(expr)),
            },
            Expression::Parenthesis(p) => return self.expr(p.inner()),
            // `jsonencode({...})`: the structure it encodes, each value at its own line.
            Expression::FuncCall(call)
                if call.name.namespace.is_empty()
                    && call.name.name.value().as_str() == "jsonencode"
                    && call.args.len() == 1 =>
            {
                return self.expr(call.args.iter().next().expect("one argument"));
            }
            _ => Value::Str(self.source_of_unknown(expr)),
        };
        Node::new(pos, value)
    }

    /// The expression as written, standing for a value not known before plan.
    fn source_of_unknown(&self, expr: &Expression) -> String {
        self.unknown.set(true);
        expr.span()
            .and_then(|s| self.text.get(s))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// A string's value: its text, or, when the text is a JSON object (a policy in a heredoc), the
/// structure it holds, so that controls can reach into it (`policy.Statement[*].Action`), every
/// value at the string's position.
fn text_value(text: String, pos: Pos) -> Node {
    if text.trim_start().starts_with('{')
        && let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_str(&text)
    {
        return Node::from_json_at(&value, pos);
    }
    Node::str(pos, text)
}

/// The text of a template made of literals only.
fn literal(template: &Template) -> Option<String> {
    let mut text = String::new();
    for element in template.iter() {
        match element {
            Element::Literal(s) => text.push_str(s.value()),
            _ => return None,
        }
    }
    Some(text)
}

/// Terraform's address of a top-level block: `aws_s3_bucket.logs`, `data.aws_ami.ubuntu`,
/// `module.vpc`, `var.region`.
fn address(ident: &str, labels: &[&str]) -> String {
    let labels = labels.join(".");
    match ident {
        "resource" => labels,
        "variable" => format!("var.{labels}"),
        _ => format!("{ident}.{labels}"),
    }
}

/// The map under `key` in `map`, created empty at `pos` when missing.
fn map_at<'m>(map: &'m mut Map, key: &str, pos: Pos) -> Result<&'m mut Map, ParseError> {
    if !map.contains_key(key) {
        map.insert(key.to_string(), Node::new(pos, Value::Map(Map::new())));
    }
    match map.get_mut(key).map(|n| &mut n.value) {
        Some(Value::Map(inner)) => Ok(inner),
        _ => Err(clash(key, pos)),
    }
}

/// A block whose name an attribute of the same body already takes.
fn clash(key: &str, pos: Pos) -> ParseError {
    ParseError::new(
        pos.line as usize,
        pos.col as usize,
        format!("block `{key}` has the name of an attribute of the same body"),
    )
}

/// Appends `node` to the list `key` of `map` (created when missing).
fn append(map: &mut Map, key: &str, node: Node) -> Result<(), ParseError> {
    if map.get(key).is_some_and(|n| n.as_list().is_none()) {
        return Err(clash(key, node.pos));
    }
    map.push_to_list(key, node);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` as a file alone: no other file of its directory can be read.
    fn parse(text: &str) -> Result<Node, ParseError> {
        let nowhere = Path::new("/nonexistent-vigil-test");
        let gate = Gate::within(vec![nowhere.to_path_buf()]);
        super::parse(&nowhere.join("main.tf"), text, &gate).map(|p| p.root)
    }

    #[test]
    fn variables_take_the_values_terraform_would_give_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let write = |name: &str, text: &str| std::fs::write(root.join(name), text).unwrap();
        write(
            "main.tf",
            "resource \"aws_ebs_volume\" \"a\" {\n  encrypted = var.encrypt\n  size = var.size\n  \
             iops = \"${var.iops}\"\n  type = var.kind\n  tags = var.tags\n  zone = var.zone\n  \
             throughput = var.limits.throughput[1]\n  arn = var.limits.kms\n}\n\
             variable \"zone\" {\n  default = \"eu-west-1a\"\n}\n",
        );
        write(
            "variables.tf",
            "variable \"encrypt\" {\n  default = false\n}\nvariable \"size\" {\n  default = 10\n}\n\
             variable \"iops\" {\n  default = 3000\n}\nvariable \"kind\" {\n  type = string\n}\n\
             variable \"tags\" {\n  default = null\n}\n\
             variable \"limits\" {\n  default = { throughput = [125, 250] }\n}\n",
        );
        // terraform.tfvars first, then the auto files in lexical order.
        write("terraform.tfvars", "size = 20\nencrypt = true\n");
        write("b.auto.tfvars", "size = 40\n");
        write("a.auto.tfvars", "size = 30\n");
        write("notes.txt", "variable \"size\" { default = 1 }\n");
        let gate = Gate::within(vec![root.clone()]);
        let text = std::fs::read_to_string(root.join("main.tf")).unwrap();
        let parsed = super::parse(&root.join("main.tf"), &text, &gate).unwrap();
        let files: Vec<String> = parsed
            .included
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            files,
            [
                "variables.tf",
                "terraform.tfvars",
                "a.auto.tfvars",
                "b.auto.tfvars"
            ]
        );
        let ebs = parsed
            .root
            .get("resource")
            .unwrap()
            .get("aws_ebs_volume")
            .unwrap();
        let a = ebs.get("a").unwrap();
        let encrypt = a.get("encrypted").unwrap();
        assert_eq!(encrypt.value, Value::Bool(true));
        assert_eq!((encrypt.pos.file, encrypt.pos.line), (2, 2));
        let size = a.get("size").unwrap();
        assert_eq!(size.value, Value::Int(40));
        assert_eq!(size.pos.file, 4);
        // The older interpolation syntax is the same reference.
        let iops = a.get("iops").unwrap();
        assert_eq!(
            (iops.value.clone(), iops.pos.file, iops.pos.line),
            (Value::Int(3000), 1, 8)
        );
        // No default, or a null one: the expression stays.
        assert_eq!(a.get("type").unwrap().as_str(), Some("var.kind"));
        assert_eq!(a.get("tags").unwrap().as_str(), Some("var.tags"));
        // Into an object and a list; a key the default does not have stays the expression.
        let throughput = a.get("throughput").unwrap();
        assert_eq!(
            (throughput.value.clone(), throughput.pos.line),
            (Value::Int(250), 17)
        );
        assert_eq!(a.get("arn").unwrap().as_str(), Some("var.limits.kms"));
        // A default in the file itself.
        let zone = a.get("zone").unwrap();
        assert_eq!((zone.as_str(), zone.pos.file), (Some("eu-west-1a"), 0));

        // Locals: a literal, a known variable, a local of a local (in any order, in any file of
        // the module); one built with a function or a template is not known.
        write(
            "locals.tf",
            "locals {\n  chained = local.encrypt_all\n  encrypt_all = var.encrypt\n  \
             name = \"vol-${var.size}\"\n  ports = [22, 443]\n}\n",
        );
        write(
            "uses.tf",
            "locals {\n  mine = local.chained\n}\nresource \"aws_ebs_volume\" \"b\" {\n  \
             encrypted = local.mine\n  name = local.name\n  port = local.ports[1]\n  \
             kms = local.nowhere\n}\n",
        );
        // References copy their values up to a budget, past which they stay expressions: a
        // thousand references to a local of a thousand values would copy a million.
        let mut hostile = format!("locals {{\n  big = [{}]\n}}\nx = {{\n", "1, ".repeat(1000));
        for i in 0..1000 {
            hostile.push_str(&format!("  a{i} = local.big\n"));
        }
        hostile.push_str("}\n");
        let doc = parse(&hostile).unwrap();
        let x = doc.get("x").unwrap().as_map().unwrap();
        let copied = x.iter().filter(|(_, v)| v.as_list().is_some()).count();
        assert_eq!(copied, 99, "{} values each", 1001);
        assert_eq!(x.get("a999").unwrap().as_str(), Some("local.big"));

        // A new scan: a gate lists each directory once.
        let gate = Gate::within(vec![root.clone()]);
        let uses = std::fs::read_to_string(root.join("uses.tf")).unwrap();
        let parsed = super::parse(&root.join("uses.tf"), &uses, &gate).unwrap();
        let b = parsed
            .root
            .get("resource")
            .unwrap()
            .get("aws_ebs_volume")
            .unwrap();
        let b = b.get("b").unwrap();
        let encrypted = b.get("encrypted").unwrap();
        // true, from terraform.tfvars (the file index counts the files read for this one).
        assert_eq!(encrypted.value, Value::Bool(true));
        let from = &parsed.included[usize::from(encrypted.pos.file) - 1];
        assert!(from.ends_with("terraform.tfvars"), "{from:?}");
        assert_eq!(b.get("name").unwrap().as_str(), Some("local.name"));
        assert_eq!(b.get("port").unwrap().value, Value::Int(443));
        assert_eq!(b.get("kms").unwrap().as_str(), Some("local.nowhere"));

        // Outside the named paths, the other files are not read.
        let gate = Gate::within(vec![root.join("main.tf")]);
        let parsed = super::parse(&root.join("main.tf"), &text, &gate).unwrap();
        assert!(parsed.included.is_empty());
        let a = parsed
            .root
            .get("resource")
            .unwrap()
            .get("aws_ebs_volume")
            .unwrap();
        assert_eq!(
            a.get("a").unwrap().get("encrypted").unwrap().as_str(),
            Some("var.encrypt")
        );
    }

    const MAIN: &str = r#"
variable "region" {
  default = "eu-west-1"
}

resource "aws_security_group" "ssh" {
  name = "ssh"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port = 443
    to_port   = 443
    protocol  = "tcp"
    cidr_blocks = [var.office]
  }
}

resource "aws_ebs_volume" "data" {
  encrypted = var.encrypted
  size      = 40.5
  tags      = { Name = "data-${var.env}", "team" = "core" }
  policy    = <<EOF
{"Statement": []}
EOF
  role = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "*"
      Resource = "*"
    }]
  })
  note = "{not json"
  dynamic "tag" {
    for_each = var.tags
    content {
      key = tag.key
    }
  }
}

provider "aws" {
  region = var.region
}

provider "aws" {
  alias  = "east"
  region = "us-east-1"
}

terraform {
  required_version = ">= 1.5"
}

data "aws_ami" "ubuntu" {
  most_recent = true
}

locals { a = 1 }
locals { b = (2) }
"#;

    #[test]
    fn reads_blocks_labels_and_literals() {
        let doc = parse(MAIN).unwrap();
        let resources = doc.get("resource").unwrap().as_map().unwrap();
        assert_eq!(resources.len(), 2);
        let sg = doc
            .get("resource")
            .unwrap()
            .get("aws_security_group")
            .unwrap();
        let sg = sg.get("ssh").unwrap();
        assert_eq!(sg.as_map().unwrap().label(), Some("aws_security_group.ssh"));
        assert_eq!(sg.pos.line, 6);
        assert_eq!(sg.get("name").unwrap().as_str(), Some("ssh"));
        let ingress = sg.get("ingress").unwrap().as_list().unwrap();
        assert_eq!(ingress.len(), 2);
        let first = ingress[0].as_map().unwrap();
        assert_eq!(first.get("from_port").unwrap().value, Value::Int(22));
        assert_eq!(first.get("from_port").unwrap().pos.line, 9);
        let cidrs = first.get("cidr_blocks").unwrap().as_list().unwrap();
        assert_eq!(cidrs[0].as_str(), Some("0.0.0.0/0"));
        assert_eq!(first.label(), Some("ingress at line 8"));
        // A reference is its source text.
        let second = ingress[1].as_map().unwrap();
        let cidrs = second.get("cidr_blocks").unwrap().as_list().unwrap();
        assert_eq!(cidrs[0].as_str(), Some("var.office"));

        let ebs = doc.get("resource").unwrap().get("aws_ebs_volume").unwrap();
        let ebs = ebs.get("data").unwrap().as_map().unwrap();
        assert_eq!(
            ebs.get("encrypted").unwrap().as_str(),
            Some("var.encrypted")
        );
        assert_eq!(ebs.get("size").unwrap().value, Value::Float(40.5));
        let tags = ebs.get("tags").unwrap().as_map().unwrap();
        assert_eq!(
            tags.get("Name").unwrap().as_str(),
            Some("\"data-${var.env}\"")
        );
        assert_eq!(tags.get("team").unwrap().as_str(), Some("core"));
        // A JSON object in a heredoc is the structure it holds, at the heredoc's line.
        let policy = ebs.get("policy").unwrap();
        assert_eq!(policy.get("Statement").unwrap().as_list().unwrap().len(), 0);
        assert_eq!(policy.get("Statement").unwrap().pos.line, 26);
        // So is `jsonencode`'s argument, each value at its own line.
        let role = ebs.get("role").unwrap();
        let action = &role.get("Statement").unwrap().as_list().unwrap()[0]
            .get("Action")
            .unwrap();
        assert_eq!((action.as_str(), action.pos.line), (Some("*"), 33));
        // Text that is not a JSON object stays text.
        assert_eq!(ebs.get("note").unwrap().as_str(), Some("{not json"));
        let dynamic = ebs
            .get("dynamic")
            .unwrap()
            .get("tag")
            .unwrap()
            .as_list()
            .unwrap();
        assert_eq!(
            dynamic[0].as_map().unwrap().label(),
            Some("dynamic \"tag\" at line 38")
        );

        let ami = doc
            .get("data")
            .unwrap()
            .get("aws_ami")
            .unwrap()
            .get("ubuntu")
            .unwrap();
        assert_eq!(ami.as_map().unwrap().label(), Some("data.aws_ami.ubuntu"));
        let region = doc.get("variable").unwrap().get("region").unwrap();
        assert_eq!(region.get("default").unwrap().as_str(), Some("eu-west-1"));
        assert_eq!(region.as_map().unwrap().label(), Some("var.region"));
        let locals = doc.get("locals").unwrap().as_map().unwrap();
        assert_eq!(locals.get("a").unwrap().value, Value::Int(1));
        assert_eq!(locals.get("b").unwrap().value, Value::Int(2));
        let aws = doc
            .get("provider")
            .unwrap()
            .get("aws")
            .unwrap()
            .as_list()
            .unwrap();
        assert_eq!(aws.len(), 2);
        assert_eq!(aws[1].as_map().unwrap().label(), Some("provider.aws.east"));
        assert_eq!(doc.get("terraform").unwrap().as_list().unwrap().len(), 1);
    }

    #[test]
    fn duplicates_are_errors() {
        let e = parse("resource \"a\" \"b\" {}\n\nresource \"a\" \"b\" {}\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "duplicate a.b (first at line 1)")
        );
        let e = parse("resource \"a\" \"b\" {\n  x = 1\n  x = 2\n}\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("redefined attribute"), "{e:?}");
        let e = parse("resource \"a\" \"b\" {\n  x = 1\n  x {}\n}\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn syntax_errors_have_their_position() {
        let e = parse("resource \"a\" \"b\" {\n  x = \n}\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        let e = parse("resource \"a\" \"b\" {\n  x = 1\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("x = {}1{}\n", "(".repeat(100_000), ")".repeat(100_000));
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.col), (1, 5 + 32));
        assert_eq!(e.message, "nested deeper than 32 levels");
        let text = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.col), (1, 5 + 12));
        assert_eq!(e.message, "square brackets nested deeper than 12 levels");
        // A file larger than the parser's memory allows.
        let text = "x = 1\n".repeat(MAX_BYTES / 6 + 1);
        let e = parse(&text).unwrap_err();
        assert!(
            e.message.starts_with("4194306 bytes, more than the 4 MiB"),
            "{e:?}"
        );
        // Operators are chained without nesting; hcl-edit bounds their depth itself.
        let text = format!("x = {}\n", "a + ".repeat(100_000) + "1");
        assert!(parse(&text).is_err());
        // The parser's backtracking on these fuzzer inputs grows exponentially with the depth of
        // their unclosed square brackets (50 and 32 of them): refused before they are parsed.
        for text in [
            include_str!("../../../../fuzz/regressions/terraform/backtracking-brackets.tf"),
            include_str!("../../../../fuzz/regressions/terraform/backtracking-brackets-2.tf"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.message, "square brackets nested deeper than 12 levels");
        }
        // Ten levels, as deep as the public modules read nest, parse.
        let inner = format!("{}1{}", "[".repeat(5), "]".repeat(5));
        let text = format!("x = {}{inner}{}\n", "{a = (".repeat(5), ")}".repeat(5));
        assert!(parse(&text).is_ok(), "{text}");
    }
}
