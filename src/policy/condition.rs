//! The condition language: predicates over fact fields, composed with `all`, `any` and `not`.
//!
//! A leaf names a field with `key:` and tests it with exactly one operator:
//!
//! ```yaml
//! key: spec.containers[*].securityContext.privileged
//! default: false          # stands in when the field is absent
//! quantifier: every       # every (default) or some, over the values the path leads to
//! equals: false
//! ```
//!
//! Parsing validates everything up front (operators, regexes, paths, value types) and reports each
//! problem with its position; evaluation ([`super::eval`]) can then not fail.

use std::fmt;

use regex::Regex;

use super::compare::Conversion;
use super::diag::{Diagnostics, suggest};
use super::fields::{describe, string_of};
use super::path::FieldPath;
use crate::collect::Fields;
use crate::doc::{Node, Pos, Value};

/// Largest compiled size of a regex taken from a policy, so a hostile pattern cannot exhaust memory.
pub const REGEX_SIZE_LIMIT: usize = 1 << 22;

/// A parsed, validated condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Every sub-condition holds.
    All(Vec<Condition>),
    /// At least one sub-condition holds.
    Any(Vec<Condition>),
    /// The sub-condition does not hold.
    Not(Box<Condition>),
    /// A test of one field.
    Field(Box<FieldTest>),
    /// A condition applied to each element a path leads to, relative to that element: "every TLS
    /// server block sets `ssl_protocols` without TLSv1".
    Each(Box<Each>),
}

/// `each: PATH` with an optional `where:` filter and a `check:` run on every selected element.
#[derive(Debug, Clone)]
pub struct Each {
    /// The elements to visit (usually ends in `[*]`).
    pub path: FieldPath,
    /// Only elements for which this holds are checked.
    pub filter: Option<Condition>,
    /// The condition each element must satisfy, with field paths relative to the element.
    pub check: Condition,
    /// Whether every selected element, or some, must satisfy it.
    pub quantifier: Quantifier,
}

/// Which of the values a wildcard path leads to must satisfy the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// All of them (vacuously true when there are none).
    Every,
    /// At least one.
    Some,
}

/// A leaf condition.
#[derive(Debug, Clone)]
pub struct FieldTest {
    /// The field to look at.
    pub path: FieldPath,
    /// Value used when the field is absent.
    pub default: Option<Node>,
    /// How many of the values must pass.
    pub quantifier: Quantifier,
    /// Splits a string value into several values on this separator (`Ciphers a,b,c`).
    pub split: Option<String>,
    /// Compare text ignoring ASCII case.
    pub ignore_case: bool,
    /// Conversion applied before ordering comparisons.
    pub conversion: Option<Conversion>,
    /// The test.
    pub op: Operator,
    /// Where the leaf is written, for diagnostics.
    pub pos: Pos,
}

/// A test applied to one value.
#[derive(Debug, Clone)]
pub enum Operator {
    /// Equal to the value.
    Equals(Node),
    /// Equal to one of the values.
    In(Vec<Node>),
    /// Equal to none of the values.
    NotIn(Vec<Node>),
    /// The text matches the regular expression (unanchored; use `^...$` for a full match).
    Matches(Regex),
    /// Strictly less than.
    Lt(Node),
    /// Less than or equal.
    Lte(Node),
    /// Strictly greater than.
    Gt(Node),
    /// Greater than or equal.
    Gte(Node),
    /// A list holding the element, a string holding the substring, or a map holding the key.
    Contains(Node),
    /// The opposite of `contains`.
    Excludes(Node),
    /// The field is present (`true`) or absent (`false`); `absent: true` is `exists: false`.
    Exists(bool),
    /// A port specification (a number, a range `N-M`, or `*` for every port) that includes the
    /// port: how firewall rules of every cloud write the ports they open.
    Covers(u16),
}

/// Keys a leaf may carry besides its operator.
const LEAF_FIELDS: [&str; 6] = ["key", "default", "quantifier", "split", "ignore_case", "as"];

/// Operator names, as written in policies.
pub const OPERATORS: [&str; 13] = [
    "equals", "in", "not_in", "matches", "lt", "lte", "gt", "gte", "contains", "excludes",
    "exists", "absent", "covers",
];

const COMBINATORS: [&str; 4] = ["all", "any", "not", "each"];

const EACH_FIELDS: [&str; 4] = ["each", "where", "check", "quantifier"];

impl Condition {
    /// The top-level fields the condition reads, so that a collector can skip facts nobody asks
    /// for (the certificate collector skips chain validation).
    pub fn fields(&self) -> Fields {
        let mut f = Fields::none();
        self.collect_fields(&mut f);
        f
    }

    /// The first step of every field path the condition reads on the document itself, with where
    /// it is written (`None` for an `each`, whose position is the condition's): what a misspelt key
    /// is looked for in.
    pub fn document_keys(&self) -> Vec<(&str, Option<Pos>)> {
        let mut out = Vec::new();
        self.collect_keys(&mut out);
        out
    }

    fn collect_keys<'c>(&'c self, out: &mut Vec<(&'c str, Option<Pos>)>) {
        let first = |path: &'c FieldPath| match path.segments.first() {
            Some(super::path::Segment::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|c| c.collect_keys(out));
            }
            Condition::Not(inner) => inner.collect_keys(out),
            Condition::Field(test) => {
                if let Some(k) = first(&test.path) {
                    out.push((k, Some(test.pos)));
                }
            }
            Condition::Each(each) => {
                if let Some(k) = first(&each.path) {
                    out.push((k, None));
                }
            }
        }
    }

    fn collect_fields(&self, out: &mut Fields) {
        // A dotted path may name one top-level key whole (`kernel.randomize_va_space` in a sysctl
        // document): every dotted prefix of its leading keys is a key the document may be asked for.
        let mut add = |path: &FieldPath| {
            let mut prefix = String::new();
            for segment in &path.segments {
                let super::path::Segment::Key(k) = segment else {
                    break;
                };
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(k);
                out.add(&prefix);
            }
            if prefix.is_empty() {
                *out = Fields::All;
            }
        };
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|c| c.collect_fields(out));
            }
            Condition::Not(inner) => inner.collect_fields(out),
            Condition::Field(test) => add(&test.path),
            // The elements' own fields are relative to the element: the path's first step is what
            // the document is asked for.
            Condition::Each(each) => add(&each.path),
        }
    }

    /// Parses a condition from a policy node, recording every problem in `diags`. Returns `None` when
    /// the condition is unusable.
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<Condition> {
        let Some(map) = node.as_map() else {
            diags.error(
                node.pos,
                format!("a condition must be a mapping, found {}", describe(node)),
            );
            return None;
        };
        let combinators: Vec<&str> = COMBINATORS
            .iter()
            .copied()
            .filter(|c| map.contains_key(c))
            .collect();
        if combinators.contains(&"each") {
            return Each::parse(node, diags).map(|e| Condition::Each(Box::new(e)));
        }
        if !combinators.is_empty() {
            if map.len() != 1 {
                diags.error(
                    node.pos,
                    format!(
                        "`{}` must be the only key of its mapping; put the other tests inside it",
                        combinators[0]
                    ),
                );
                return None;
            }
            let (name, child) = map.iter().next()?;
            return match name {
                "not" => Condition::parse(child, diags).map(|c| Condition::Not(Box::new(c))),
                _ => {
                    let Some(items) = child.as_list() else {
                        diags.error(
                            child.pos,
                            format!(
                                "`{name}` takes a list of conditions, found {}",
                                describe(child)
                            ),
                        );
                        return None;
                    };
                    if items.is_empty() {
                        diags.error(child.pos, format!("`{name}` needs at least one condition"));
                        return None;
                    }
                    let parsed: Vec<Option<Condition>> =
                        items.iter().map(|i| Condition::parse(i, diags)).collect();
                    let parsed: Option<Vec<Condition>> = parsed.into_iter().collect();
                    let parsed = parsed?;
                    Some(if name == "all" {
                        Condition::All(parsed)
                    } else {
                        Condition::Any(parsed)
                    })
                }
            };
        }
        FieldTest::parse(node, diags).map(|t| Condition::Field(Box::new(t)))
    }
}

fn parse_quantifier(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Quantifier> {
    match node {
        None => Some(Quantifier::Every),
        Some(q) => match q.as_str() {
            Some("every") => Some(Quantifier::Every),
            Some("some") => Some(Quantifier::Some),
            _ => {
                diags.error(
                    q.pos,
                    format!(
                        "`quantifier` must be `every` or `some`, found {}",
                        describe(q)
                    ),
                );
                None
            }
        },
    }
}

impl Each {
    fn parse(node: &Node, diags: &mut Diagnostics) -> Option<Each> {
        let map = node.as_map()?;
        let mut ok = true;
        for (k, key_pos, _) in map.iter_with_key_pos() {
            if !EACH_FIELDS.contains(&k) {
                diags.error(
                    key_pos,
                    format!(
                        "unknown field `{k}` in `each`{}; expected one of: {}",
                        suggest(k, EACH_FIELDS),
                        EACH_FIELDS.join(", ")
                    ),
                );
                ok = false;
            }
        }
        let path_node = map.get("each")?;
        let path = match string_of(path_node, "each", diags).map(|s| FieldPath::parse(&s)) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                diags.error(path_node.pos, format!("invalid field path: {e}"));
                None
            }
            None => None,
        };
        let filter = match map.get("where") {
            None => Some(None),
            Some(w) => Condition::parse(w, diags).map(Some),
        };
        let check = match map.get("check") {
            None => {
                diags.error(
                    node.pos,
                    "`each` needs a `check:` condition to apply to every element",
                );
                None
            }
            Some(c) => Condition::parse(c, diags),
        };
        let quantifier = parse_quantifier(map.get("quantifier"), diags);
        if !ok {
            return None;
        }
        Some(Each {
            path: path?,
            filter: filter?,
            check: check?,
            quantifier: quantifier?,
        })
    }
}

impl FieldTest {
    fn parse(node: &Node, diags: &mut Diagnostics) -> Option<FieldTest> {
        let map = node.as_map()?;
        let mut ok = true;
        let mut ops = Vec::new();
        for (k, key_pos, _) in map.iter_with_key_pos() {
            if OPERATORS.contains(&k) {
                ops.push((k, key_pos));
            } else if !LEAF_FIELDS.contains(&k) {
                let known = OPERATORS
                    .iter()
                    .chain(LEAF_FIELDS.iter())
                    .chain(COMBINATORS.iter());
                diags.error(
                    key_pos,
                    format!(
                        "unknown operator `{k}`{}; operators are: {}",
                        suggest(k, known.copied()),
                        OPERATORS.join(", ")
                    ),
                );
                ok = false;
            }
        }
        let path = match map.get("key") {
            None => {
                diags.error(
                    node.pos,
                    "a condition needs `key:` (the field to test) and one operator, or one of `all`, `any`, `not`",
                );
                None
            }
            Some(k) => match string_of(k, "key", diags).map(|s| FieldPath::parse(&s)) {
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    diags.error(k.pos, format!("invalid field path: {e}"));
                    None
                }
                None => None,
            },
        };
        let op = match ops.as_slice() {
            // An unknown key was most likely meant as the operator: that error says it all.
            [] if !ok => None,
            [] => {
                diags.error(
                    node.pos,
                    format!(
                        "the condition on `{}` has no operator; add one of: {}",
                        map.get("key").and_then(Node::as_str).unwrap_or("?"),
                        OPERATORS.join(", ")
                    ),
                );
                None
            }
            [(name, _)] => parse_operator(name, map.get(name)?, diags),
            [_, (second, pos), ..] => {
                diags.error(
                    *pos,
                    format!(
                        "a condition takes exactly one operator; `{second}` is a second one (combine tests with `all:`)"
                    ),
                );
                None
            }
        };
        let quantifier = parse_quantifier(map.get("quantifier"), diags).unwrap_or_else(|| {
            ok = false;
            Quantifier::Every
        });
        let split = map.get("split").and_then(|n| string_of(n, "split", diags));
        if split.as_deref() == Some("") {
            diags.error(map.get("split")?.pos, "`split` needs a non-empty separator");
            ok = false;
        }
        let ignore_case = match map.get("ignore_case") {
            None => false,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(n) => {
                diags.error(
                    n.pos,
                    format!("`ignore_case` must be true or false, found {}", describe(n)),
                );
                ok = false;
                false
            }
        };
        let conversion = match map.get("as") {
            None => None,
            Some(n) => match n.as_str().and_then(Conversion::parse) {
                Some(c) => Some(c),
                None => {
                    diags.error(
                        n.pos,
                        format!(
                            "`as` must be one of {}, found {}",
                            Conversion::NAMES.join(", "),
                            describe(n)
                        ),
                    );
                    ok = false;
                    None
                }
            },
        };
        let default = map.get("default").cloned();
        if let (Some(d), Some(Operator::Exists(_))) = (&default, &op) {
            diags.error(
                d.pos,
                "`default` has no effect with `exists`/`absent`, which look at the field itself",
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        Some(FieldTest {
            path: path?,
            default,
            quantifier,
            split,
            ignore_case,
            conversion,
            op: op?,
            pos: node.pos,
        })
    }
}

fn parse_operator(name: &str, value: &Node, diags: &mut Diagnostics) -> Option<Operator> {
    let scalar = |diags: &mut Diagnostics| -> Option<Node> {
        match value.value {
            Value::List(_) | Value::Map(_) => {
                diags.error(
                    value.pos,
                    format!(
                        "`{name}` takes a single value, found {}; use `in` for several",
                        describe(value)
                    ),
                );
                None
            }
            _ => Some(value.clone()),
        }
    };
    let list = |diags: &mut Diagnostics| -> Option<Vec<Node>> {
        match &value.value {
            Value::List(items) if !items.is_empty() => Some(items.clone()),
            _ => {
                diags.error(
                    value.pos,
                    format!(
                        "`{name}` takes a non-empty list of values, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    };
    let boolean = |diags: &mut Diagnostics| -> Option<bool> {
        match value.value {
            Value::Bool(b) => Some(b),
            _ => {
                diags.error(
                    value.pos,
                    format!("`{name}` takes true or false, found {}", describe(value)),
                );
                None
            }
        }
    };
    Some(match name {
        "equals" => Operator::Equals(value.clone()),
        "in" => Operator::In(list(diags)?),
        "not_in" => Operator::NotIn(list(diags)?),
        "matches" => Operator::Matches(compile_regex(value, diags)?),
        "lt" => Operator::Lt(scalar(diags)?),
        "lte" => Operator::Lte(scalar(diags)?),
        "gt" => Operator::Gt(scalar(diags)?),
        "gte" => Operator::Gte(scalar(diags)?),
        "contains" => Operator::Contains(scalar(diags)?),
        "excludes" => Operator::Excludes(scalar(diags)?),
        "exists" => Operator::Exists(boolean(diags)?),
        "absent" => Operator::Exists(!boolean(diags)?),
        "covers" => match value.value {
            Value::Int(port) if (0..=65535).contains(&port) => Operator::Covers(port as u16),
            _ => {
                diags.error(
                    value.pos,
                    format!(
                        "`covers` takes a port number (0 to 65535), found {}",
                        describe(value)
                    ),
                );
                return None;
            }
        },
        _ => unreachable!("operator names are checked by the caller"),
    })
}

/// Compiles a regex written in a policy, with a size limit, reporting errors at the value.
pub fn compile_regex(value: &Node, diags: &mut Diagnostics) -> Option<Regex> {
    let text = string_of(value, "matches", diags)?;
    match regex::RegexBuilder::new(&text)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            diags.error(
                value.pos,
                format!("invalid regular expression: {}", one_line(&e.to_string())),
            );
            None
        }
    }
}

/// The regex crate renders syntax errors over several lines (the pattern, a caret line, then
/// `error: <what>`); policy diagnostics point at the pattern themselves, so only the last part is kept.
pub fn one_line(s: &str) -> String {
    let last = s
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s);
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

impl fmt::Display for Condition {
    /// The condition in words, as shown in findings under "expected".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Condition], word: &str| {
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match c {
                    Condition::All(_) | Condition::Any(_) => write!(f, "({c})")?,
                    _ => write!(f, "{c}")?,
                }
            }
            Ok(())
        };
        match self {
            Condition::All(items) => join(f, items, "and"),
            Condition::Any(items) => join(f, items, "or"),
            Condition::Not(c) => write!(f, "not ({c})"),
            Condition::Field(t) => write!(f, "{t}"),
            Condition::Each(e) => {
                let q = match e.quantifier {
                    Quantifier::Every => "every",
                    Quantifier::Some => "some",
                };
                write!(f, "for {q} {}", e.path)?;
                if let Some(w) = &e.filter {
                    write!(f, " where ({w})")?;
                }
                write!(f, ": {}", e.check)
            }
        }
    }
}

fn quoted(n: &Node) -> String {
    match &n.value {
        Value::Str(s) => format!("\"{s}\""),
        v => v.to_string(),
    }
}

impl fmt::Display for FieldTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.has_wildcard() || self.split.is_some() {
            match self.quantifier {
                Quantifier::Every => f.write_str("every ")?,
                Quantifier::Some => f.write_str("some ")?,
            }
        }
        write!(f, "{}", self.path)?;
        if let Some(sep) = &self.split {
            write!(f, " item (split on \"{sep}\")")?;
        }
        let list = |v: &[Node]| v.iter().map(quoted).collect::<Vec<_>>().join(", ");
        match &self.op {
            Operator::Equals(v) => write!(f, " equals {}", quoted(v))?,
            Operator::In(v) => write!(f, " is one of [{}]", list(v))?,
            Operator::NotIn(v) => write!(f, " is none of [{}]", list(v))?,
            Operator::Matches(r) => write!(f, " matches /{}/", r.as_str())?,
            Operator::Lt(v) => write!(f, " < {}", quoted(v))?,
            Operator::Lte(v) => write!(f, " <= {}", quoted(v))?,
            Operator::Gt(v) => write!(f, " > {}", quoted(v))?,
            Operator::Gte(v) => write!(f, " >= {}", quoted(v))?,
            Operator::Contains(v) => write!(f, " contains {}", quoted(v))?,
            Operator::Excludes(v) => write!(f, " does not contain {}", quoted(v))?,
            Operator::Exists(true) => f.write_str(" is set")?,
            Operator::Exists(false) => f.write_str(" is not set")?,
            Operator::Covers(port) => write!(f, " covers port {port}")?,
        }
        if self.ignore_case {
            f.write_str(" (ignoring case)")?;
        }
        if let Some(d) = &self.default {
            write!(f, " (default when unset: {})", quoted(d))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn parse(src: &str) -> (Option<Condition>, Vec<String>) {
        let doc = &parse_documents(src).unwrap()[0];
        let mut d = Diagnostics::new("t.yaml", src);
        let c = Condition::parse(doc, &mut d);
        (
            c,
            d.items
                .iter()
                .map(|i| format!("{}:{} {}", i.pos.line, i.pos.col, i.message))
                .collect(),
        )
    }

    #[test]
    fn describes_conditions_in_words() {
        let (c, errs) = parse(
            "all:\n  - {key: PermitRootLogin, in: ['no'], default: prohibit-password}\n  - not: {key: 'a[*].b', quantifier: some, equals: true}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.unwrap().to_string(),
            "PermitRootLogin is one of [\"no\"] (default when unset: \"prohibit-password\") and not (some a[*].b equals true)"
        );
    }

    #[test]
    fn reports_unknown_operators_with_position() {
        let (c, errs) = parse("key: a\nequal: 1\n");
        assert!(c.is_none());
        assert_eq!(
            errs[0],
            "2:1 unknown operator `equal`; did you mean `equals`?; operators are: equals, in, not_in, matches, lt, lte, gt, gte, contains, excludes, exists, absent, covers"
        );
    }

    #[test]
    fn reports_invalid_regex_and_second_operator() {
        let (_, errs) = parse("key: a\nmatches: '(unclosed'\n");
        assert!(
            errs[0].starts_with("2:10 invalid regular expression"),
            "{errs:?}"
        );
        let (_, errs) = parse("key: a\nequals: 1\nin: [2]\n");
        assert!(
            errs[0].starts_with("3:1 a condition takes exactly one operator"),
            "{errs:?}"
        );
    }

    #[test]
    fn each_applies_a_condition_per_element() {
        let (c, errs) = parse(
            "each: 'servers[*]'\nwhere: {key: tls, equals: true}\ncheck: {key: ssl_protocols, exists: true}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.unwrap().to_string(),
            "for every servers[*] where (tls equals true): ssl_protocols is set"
        );
        let (_, errs) = parse("each: 'a[*]'\nchek: {key: x, exists: true}\n");
        assert!(errs[0].contains("did you mean `check`"), "{errs:?}");
    }

    #[test]
    fn rejects_bad_shapes() {
        let (_, errs) = parse("all: {key: a, equals: 1}\n");
        assert!(errs[0].contains("`all` takes a list"), "{errs:?}");
        let (_, errs) = parse("key: a\n");
        assert!(errs[0].contains("has no operator"), "{errs:?}");
        let (_, errs) = parse("key: a\nin: x\n");
        assert!(errs[0].contains("non-empty list"), "{errs:?}");
        let (_, errs) = parse("key: 'a..b'\nequals: 1\n");
        assert!(errs[0].contains("invalid field path"), "{errs:?}");
    }
}
