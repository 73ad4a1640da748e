//! Field paths: how a check names a value inside a fact document.
//!
//! Syntax: dot-separated keys, `[N]` for a list index, `[*]` for every element of a list (or every
//! value of a map), and `["key.with.dots"]` for keys that are not plain words:
//! `spec.template.spec.containers[*].securityContext.privileged`,
//! `metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]`.

use std::fmt;

use crate::doc::{Node, Pos, Value};

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
    /// Every element of a list, or every value of a map.
    Wildcard,
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The steps from the document root.
    pub segments: Vec<Segment>,
}

/// One value a path leads to. A path with wildcards leads to many; a path through a missing key leads
/// to one absent candidate, so that `default:` can stand in for it.
#[derive(Debug, Clone)]
pub struct Candidate<'d> {
    /// The concrete path, wildcards replaced by indices: `spec.containers[1].image`.
    pub path: String,
    /// The value, or `None` when the key is absent.
    pub node: Option<&'d Node>,
    /// Position of the value, or of its nearest present ancestor when it is absent.
    pub pos: Pos,
    /// The first object of a list that a wildcard went through (one container of a pod): the
    /// element a failure of this value is attributed to.
    pub element: Option<Element>,
}

/// One object of a list that a check ranges over: a container, an nginx server block, an sshd
/// `Match` block. Each failing element gets a finding of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its concrete path: `containers[1]`.
    pub path: String,
    /// The name its collector gave it (`container "web"`), when it has one.
    pub label: Option<String>,
    /// Where it starts.
    pub pos: Pos,
}

impl Element {
    /// The element for list item `node` at concrete `path`, when the item is an object.
    pub fn of(path: &str, node: &Node) -> Option<Element> {
        let map = node.as_map()?;
        Some(Element {
            path: path.to_string(),
            label: map.label().map(str::to_string),
            pos: node.pos,
        })
    }

    /// How the element is named in a finding: its label, or its path.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.path)
    }
}

impl FieldPath {
    /// Parses a path; the error says what is wrong in words.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let mut segments = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut expect_key = true;
        if text.trim().is_empty() {
            return Err("the field path is empty".into());
        }
        while i < bytes.len() {
            match bytes[i] {
                b'[' => {
                    let close = text[i..]
                        .find(']')
                        .map(|j| i + j)
                        .ok_or_else(|| format!("unclosed `[` at character {}", i + 1))?;
                    let inner = text[i + 1..close].trim();
                    let seg = if inner == "*" {
                        Segment::Wildcard
                    } else if let Some(q) = inner
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                    {
                        Segment::Key(q.to_string())
                    } else if let Ok(n) = inner.parse::<usize>() {
                        Segment::Index(n)
                    } else {
                        return Err(format!(
                            "`[{inner}]` is not an index, `[*]` or a quoted key"
                        ));
                    };
                    segments.push(seg);
                    i = close + 1;
                    expect_key = false;
                }
                b'.' => {
                    if expect_key {
                        return Err(format!("empty key before `.` at character {}", i + 1));
                    }
                    i += 1;
                    expect_key = true;
                    if i == bytes.len() {
                        return Err("the field path ends with `.`".into());
                    }
                }
                _ => {
                    if !expect_key {
                        return Err(format!("missing `.` before character {}", i + 1));
                    }
                    let end = text[i..]
                        .find(['.', '['])
                        .map(|j| i + j)
                        .unwrap_or(text.len());
                    segments.push(Segment::Key(text[i..end].to_string()));
                    i = end;
                    expect_key = false;
                }
            }
        }
        Ok(FieldPath { segments })
    }

    /// Whether the path fans out over several values.
    pub fn has_wildcard(&self) -> bool {
        self.segments.contains(&Segment::Wildcard)
    }

    /// Every value the path leads to in `root`, in document order.
    pub fn resolve<'d>(&self, root: &'d Node) -> Vec<Candidate<'d>> {
        self.walk(root, true)
    }

    /// The values [`FieldPath::resolve`] leads to, for a yes-or-no question or a location: the same
    /// nodes at the same positions in the same order, but without the concrete path or element of
    /// each, which cost an allocation or two per value and which only evidence needs.
    pub fn resolve_values<'d>(&self, root: &'d Node) -> Vec<Candidate<'d>> {
        self.walk(root, false)
    }

    /// The one value a path without wildcards leads to (`None` inside when it is absent), found
    /// without the allocations of [`FieldPath::resolve_values`]: a control's `when` asks this of
    /// every document. `None` when the path has a wildcard.
    pub fn value<'d>(&self, root: &'d Node) -> Option<Option<&'d Node>> {
        let mut node = Some(root);
        let mut segments = &self.segments[..];
        while let Some((first, rest)) = segments.split_first() {
            match first {
                Segment::Key(k) => {
                    let (child, used, _) = key_child(node, k, rest);
                    node = child;
                    segments = &segments[used..];
                }
                Segment::Index(i) => {
                    node = node.and_then(|n| n.as_list()).and_then(|l| l.get(*i));
                    segments = rest;
                }
                Segment::Wildcard => return None,
            }
        }
        Some(node)
    }

    fn walk<'d>(&self, root: &'d Node, paths: bool) -> Vec<Candidate<'d>> {
        let mut out = Vec::new();
        // Room for a typical concrete path (`spec.template.spec.containers[3].securityContext`),
        // so that appending segments does not regrow it.
        let mut path = String::with_capacity(if paths { 96 } else { 0 });
        let mut walk = Walk {
            paths,
            path: &mut path,
            out: &mut out,
        };
        // The root's own position is not inherited: a key missing at the top of a document has no
        // better location than "the whole file".
        walk.step(&self.segments, Some(root), Pos::default(), None, false);
        out
    }
}

/// The child key `k` leads to from `node`, with the number of segments used and, when more than
/// one, the key they were joined into. A key that is absent may be the start of a key containing
/// dots: sysctl's `net.ipv4.ip_forward` is one key, and `key: net.ipv4.ip_forward` should find it,
/// so the key is tried joined with each following key segment in turn.
fn key_child<'d>(
    node: Option<&'d Node>,
    k: &str,
    rest: &[Segment],
) -> (Option<&'d Node>, usize, Option<String>) {
    let child = node.and_then(|n| n.get(k));
    let (None, Some(n), Some(Segment::Key(_))) = (child, node, rest.first()) else {
        // Found, under nothing, or with no key segment after it to join: nothing to try.
        return (child, 1, None);
    };
    let mut dotted = k.to_string();
    for (i, seg) in rest.iter().enumerate() {
        let Segment::Key(next) = seg else { break };
        dotted.push('.');
        dotted.push_str(next);
        if let Some(c) = n.get(&dotted) {
            return (Some(c), i + 2, Some(dotted));
        }
    }
    (None, 1, None)
}

/// One walk of a path through a document: the candidates found so far, and the concrete path to
/// where the walk is (when `paths`).
struct Walk<'w, 'd> {
    /// Whether to write concrete paths and find elements.
    paths: bool,
    path: &'w mut String,
    out: &'w mut Vec<Candidate<'d>>,
}

impl<'d> Walk<'_, 'd> {
    /// Follows `segments` from `node` (absent when a key on the way was missing), whose nearest
    /// known position is `pos`. `self.path` is the concrete path so far: each step appends its
    /// segment and takes it off again when it returns, so that a path string is allocated once per
    /// candidate, not once per step. `element` is the first list object a wildcard went through.
    fn step(
        &mut self,
        segments: &[Segment],
        node: Option<&'d Node>,
        pos: Pos,
        element: Option<&Element>,
        named: bool,
    ) {
        use std::fmt::Write as _;
        let Some((first, rest)) = segments.split_first() else {
            self.out.push(Candidate {
                path: self.path.clone(),
                node,
                pos,
                element: element.cloned(),
            });
            return;
        };
        let paths = self.paths;
        // `named`: whether the concrete path so far is not empty (the walk has left the root),
        // tracked apart from the path itself so that positions are the same when no path is written.
        debug_assert!(!paths || named != self.path.is_empty());
        let here = match node {
            Some(n) if named && n.pos.line > 0 => n.pos,
            _ => pos,
        };
        let len = self.path.len();
        match first {
            Segment::Key(k) => {
                let (child, used, joined) = key_child(node, k, rest);
                let key = joined.as_deref().unwrap_or(k);
                // Keys that are not words (host paths, annotation names) are quoted, as a policy
                // writes them: `["/etc/shadow"].mode`; dotted sysctl names stay readable.
                if paths {
                    let plain = key
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
                    if !plain {
                        let _ = write!(self.path, "[\"{key}\"]");
                    } else {
                        if !self.path.is_empty() {
                            self.path.push('.');
                        }
                        self.path.push_str(key);
                    }
                }
                self.step(
                    &segments[used..],
                    child,
                    here,
                    element,
                    named || !key.is_empty(),
                );
            }
            Segment::Index(i) => {
                let child = node.and_then(|n| n.as_list()).and_then(|l| l.get(*i));
                if paths {
                    let _ = write!(self.path, "[{i}]");
                }
                self.step(rest, child, here, element, true);
            }
            Segment::Wildcard => match node.map(|n| &n.value) {
                Some(Value::List(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if !paths {
                            self.step(rest, Some(item), here, None, true);
                            continue;
                        }
                        let _ = write!(self.path, "[{i}]");
                        let own;
                        let element = match element {
                            Some(e) => Some(e),
                            None => {
                                own = Element::of(self.path, item);
                                own.as_ref()
                            }
                        };
                        self.step(rest, Some(item), here, element, true);
                        self.path.truncate(len);
                    }
                }
                Some(Value::Map(m)) => {
                    for (k, v) in m.iter() {
                        if paths {
                            let _ = write!(self.path, "[\"{k}\"]");
                        }
                        self.step(rest, Some(v), here, element, true);
                        self.path.truncate(len);
                    }
                }
                // A wildcard over nothing yields nothing: "every container" of a pod without init
                // containers is vacuously fine.
                _ => {}
            },
        }
        self.path.truncate(len);
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Key(k)
                    if k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
                {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[\"{k}\"]")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Wildcard => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    #[test]
    fn parses_all_segment_forms() {
        let p = FieldPath::parse(r#"spec.containers[*].env[0]["a.b"].x"#).unwrap();
        assert_eq!(
            p.segments,
            vec![
                Segment::Key("spec".into()),
                Segment::Key("containers".into()),
                Segment::Wildcard,
                Segment::Key("env".into()),
                Segment::Index(0),
                Segment::Key("a.b".into()),
                Segment::Key("x".into()),
            ]
        );
        assert_eq!(p.to_string(), r#"spec.containers[*].env[0]["a.b"].x"#);
    }

    #[test]
    fn dotted_keys_are_found_whole() {
        let doc = &parse_documents("net.ipv4.ip_forward: 1\nkernel: {yama.ptrace_scope: 2}\n")
            .unwrap()[0];
        let c = FieldPath::parse("net.ipv4.ip_forward")
            .unwrap()
            .resolve(doc);
        assert_eq!(
            (c[0].path.as_str(), c[0].node.map(|n| &n.value)),
            ("net.ipv4.ip_forward", Some(&Value::Int(1)))
        );
        let c = FieldPath::parse("kernel.yama.ptrace_scope")
            .unwrap()
            .resolve(doc);
        assert_eq!(c[0].node.map(|n| &n.value), Some(&Value::Int(2)));
        let c = FieldPath::parse("net.ipv4.tcp_syncookies")
            .unwrap()
            .resolve(doc);
        assert!(c[0].node.is_none());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["", "a..b", "a.", "a[", "a[x]", ".a", "a[0]b"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn resolves_wildcards_and_absent_keys() {
        let doc = &parse_documents(
            "spec:\n  containers:\n    - name: a\n      securityContext: {privileged: true}\n    - name: b\n",
        )
        .unwrap()[0];
        let p = FieldPath::parse("spec.containers[*].securityContext.privileged").unwrap();
        let c = p.resolve(doc);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].path, "spec.containers[0].securityContext.privileged");
        assert_eq!(c[0].node.unwrap().value, Value::Bool(true));
        assert!(c[1].node.is_none());
        assert_eq!(c[1].pos.line, 5, "absent value points at its container");
        let e = c[1].element.as_ref().expect("the container is the element");
        assert_eq!((e.path.as_str(), e.pos.line), ("spec.containers[1]", 5));
        let none = FieldPath::parse("spec.initContainers[*].name").unwrap();
        assert!(none.resolve(doc).is_empty());
    }

    #[test]
    fn values_alone_are_the_values_of_the_full_resolution() {
        let doc = &parse_documents(
            "spec:\n  containers:\n    - name: a\n      env: [{x: 1}, {x: 2}]\n    - name: b\n  \
             labels: {\"a.b/c\": d, e: f}\nnet.ipv4.ip_forward: 1\n",
        )
        .unwrap()[0];
        for text in [
            "spec.containers[*].name",
            "spec.containers[*].env[*].x",
            "spec.containers[1].env[0].x",
            "spec.containers[*].missing",
            "spec.labels[*]",
            r#"spec.labels["a.b/c"]"#,
            "net.ipv4.ip_forward",
            "nothing.here",
        ] {
            let p = FieldPath::parse(text).unwrap();
            let full: Vec<_> = p
                .resolve(doc)
                .into_iter()
                .map(|c| (c.node, c.pos))
                .collect();
            let values: Vec<_> = p
                .resolve_values(doc)
                .into_iter()
                .map(|c| (c.node, c.pos))
                .collect();
            assert_eq!(values, full, "{text}");
            assert!(!full.is_empty(), "{text}");
            // A path without wildcards leads to exactly one value, which `value` finds alone.
            match p.value(doc) {
                Some(one) => assert_eq!(
                    vec![one],
                    full.iter().map(|c| c.0).collect::<Vec<_>>(),
                    "{text}"
                ),
                None => assert!(p.has_wildcard(), "{text}"),
            }
        }
        let dotted = FieldPath::parse("net.ipv4.ip_forward").unwrap();
        assert_eq!(
            dotted.value(doc).flatten().map(|n| &n.value),
            Some(&Value::Int(1)),
            "a key containing dots is found whole"
        );
    }
}
