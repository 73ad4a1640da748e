//! Policy files to the validated model, collecting every problem with its position.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::condition::Condition;
use super::diag::{Diagnostic, Diagnostics, suggest};
use super::fields::{Fields, describe, string_list};
use super::model::{Check, Control, Policy, Severity, TargetSpec};
use super::pattern::PatternCheck;
use crate::collect::walk::glob_set;
use crate::collect::{Registry, Source};
use crate::doc::{Node, Value};

const PACK_FIELDS: &[&str] = &["policy", "title", "version", "description", "controls"];
const CONTROL_FIELDS: &[&str] = &[
    "id",
    "title",
    "severity",
    "tags",
    "references",
    "rationale",
    "remediation",
    "secret",
    "target",
    "check",
];
/// Target fields every kind accepts; a collector adds its own options (`format`).
const TARGET_FIELDS: &[&str] = &["kind", "paths", "exclude", "tags", "when"];

/// The result of loading one policy file: the policy when it is usable, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    /// The policy, when no error was found.
    pub policy: Option<Policy>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads one policy from its text, checking target kinds against `registry`. `source` names it in
/// diagnostics and results.
pub fn load_policy(source: &str, text: &str, registry: &Registry) -> Loaded {
    let mut diags = Diagnostics::new(source, text);
    let policy = parse(source, text, registry, &mut diags);
    let policy = if diags.has_errors() { None } else { policy };
    Loaded {
        policy,
        diagnostics: diags.items,
    }
}

fn parse(source: &str, text: &str, registry: &Registry, diags: &mut Diagnostics) -> Option<Policy> {
    let docs = match crate::yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            let (line, col) = (e.line as usize, e.col as usize);
            match unclosed_flow(text, line) {
                // The parser notices a missing `}` or `]` only where the text stops making sense,
                // often lines later or at the end of the file: point at the bracket instead.
                Some((at, bracket)) => diags.error(
                    at,
                    format!(
                        "invalid YAML: this `{bracket}` is never closed ({} at line {line}, \
                         column {col})",
                        e.message
                    ),
                ),
                None => diags.error(
                    crate::doc::Pos::new(line, col),
                    format!("invalid YAML: {}", e.message),
                ),
            }
            return None;
        }
    };
    let root = match docs.as_slice() {
        [one] => one,
        [] => {
            diags.error(crate::doc::Pos::new(1, 1), "the policy file is empty");
            return None;
        }
        [_, second, ..] => {
            diags.error(
                second.pos,
                "a policy file holds one YAML document; split packs into files",
            );
            return None;
        }
    };
    let f = Fields::new(root, "policy", PACK_FIELDS, diags);
    if !f.is_map() {
        return None;
    }
    let id = f.req_str("policy", diags);
    if let (Some(id), Some(n)) = (&id, f.node("policy")) {
        check_id(id, n, "policy id", diags);
    }
    let title = f.req_str("title", diags);
    let version = f.req_str("version", diags);
    let description = f
        .opt_str("description", diags)
        .map(|d| d.trim().to_string())
        .unwrap_or_default();
    let mut controls = Vec::new();
    match f.require("controls", diags) {
        Some(Node {
            value: Value::List(items),
            ..
        }) => {
            let mut seen: HashMap<String, crate::doc::Pos> = HashMap::new();
            for item in items {
                // Duplicates are found from the raw id, so that they are reported even when one of
                // the two controls has other errors.
                if let Some(cid) = item.get("id").and_then(Node::as_str) {
                    if let Some(first) = seen.get(cid) {
                        diags.error(
                            item.pos,
                            format!(
                                "duplicate control id `{cid}` (first defined at line {})",
                                first.line
                            ),
                        );
                        continue;
                    }
                    seen.insert(cid.to_string(), item.pos);
                }
                if let Some(c) = parse_control(item, id.as_deref().unwrap_or(""), registry, diags) {
                    controls.push(c);
                }
            }
            if items.is_empty() {
                diags.error(
                    f.pos(),
                    "`controls` is empty: a policy needs at least one control",
                );
            }
        }
        Some(other) => diags.error(
            other.pos,
            format!(
                "`controls` must be a list of controls, found {}",
                describe(other)
            ),
        ),
        None => {}
    }
    Some(Policy {
        id: id?,
        title: title?,
        version: version?,
        description,
        source: source.to_string(),
        sha256: crate::text::hex(&Sha256::digest(text.as_bytes())),
        controls,
    })
}

/// The last `{` or `[` left open by the lines before `error_line` (up to it, inclusive), scanning
/// back from the error: a flow mapping or sequence whose closing bracket is missing. Quoted strings
/// and comments are skipped; a line is only considered while the brackets of the lines after it
/// balance, so a bracket closed further down is not blamed.
fn unclosed_flow(text: &str, error_line: usize) -> Option<(crate::doc::Pos, char)> {
    let lines: Vec<&str> = text.lines().collect();
    let last = error_line.min(lines.len());
    let mut closers_after = 0usize;
    for n in (1..=last).rev().take(200) {
        let mut open: Vec<(usize, char)> = Vec::new();
        let mut closed_here = 0usize;
        let mut quote: Option<char> = None;
        let chars: Vec<char> = lines[n - 1].chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (Some('"'), '\\') => i += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if i == 0 || chars[i - 1].is_whitespace() => break,
                (None, '{' | '[') => open.push((i, c)),
                (None, '}' | ']') if open.pop().is_none() => closed_here += 1,
                _ => {}
            }
            i += 1;
        }
        // Brackets this line opens are first matched by closers on the lines after it.
        let unmatched = open.len().saturating_sub(closers_after);
        if unmatched > 0 {
            let (col, bracket) = open[unmatched - 1];
            return Some((crate::doc::Pos::new(n, col + 1), bracket));
        }
        closers_after = closers_after - open.len().min(closers_after) + closed_here;
    }
    None
}

/// A value that must be one of a few names (severity, target kind, format): parsed, or reported as
/// "unknown X", with the closest name and the list of valid ones.
fn one_of<T>(
    node: &Node,
    what: &str,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
    diags: &mut Diagnostics,
) -> Option<T> {
    let parsed = node.as_str().and_then(parse);
    if parsed.is_none() {
        // "unknown severity `hgih`" for a string; "unknown severity: a list" for anything else.
        let given = match node.as_str() {
            Some(s) => format!(" `{s}`"),
            None => format!(": {}", describe(node)),
        };
        diags.error(
            node.pos,
            format!(
                "unknown {what}{given}{}; expected one of: {}",
                node.as_str()
                    .map(|g| suggest(g, names.iter().copied()))
                    .unwrap_or_default(),
                names.join(", ")
            ),
        );
    }
    parsed
}

fn check_id(id: &str, node: &Node, what: &str, diags: &mut Diagnostics) {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        diags.error(
            node.pos,
            format!("{what} `{id}` may only hold letters, digits, `-`, `_` and `.`"),
        );
    }
}

fn parse_control(
    node: &Node,
    policy: &str,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> Option<Control> {
    let f = Fields::new(node, "control", CONTROL_FIELDS, diags);
    if !f.is_map() {
        return None;
    }
    let id = f.req_str("id", diags);
    if let (Some(id), Some(n)) = (&id, f.node("id")) {
        check_id(id, n, "control id", diags);
    }
    let title = f.req_str("title", diags);
    let severity = f.require("severity", diags).and_then(|n| {
        one_of(
            n,
            "severity",
            &Severity::ALL_DESCENDING.map(Severity::as_str),
            Severity::parse,
            diags,
        )
    });
    let tags = f.str_list("tags", diags);
    let references = parse_references(f.node("references"), diags);
    if references.as_ref().is_some_and(BTreeMap::is_empty) {
        diags.warning(
            f.pos(),
            format!(
                "control `{}` has no `references`: auditors map findings to framework requirements through them",
                id.as_deref().unwrap_or("?")
            ),
        );
    }
    // Folded YAML scalars (`>`) end with a newline; free text is stored trimmed.
    let rationale = f.req_str("rationale", diags).map(|s| s.trim().to_string());
    let remediation = f
        .req_str("remediation", diags)
        .map(|s| s.trim().to_string());
    let secret = f.opt_bool("secret", diags).unwrap_or(false);
    let target = f
        .require("target", diags)
        .and_then(|t| parse_target(t, registry, diags));
    let check = f
        .require("check", diags)
        .and_then(|c| parse_check(c, target.as_ref(), registry, diags));
    if let Some(t) = &target {
        let fallback = f.node("check").map_or(f.pos(), |n| n.pos);
        if let Some(Check::Condition(c)) = &check {
            warn_unknown_keys(c, t, registry, fallback, diags);
        }
        if let Some(w) = &t.when {
            warn_unknown_keys(w, t, registry, fallback, diags);
        }
    }
    Some(Control {
        id: id?,
        policy: policy.to_string(),
        title: title?,
        severity: severity?,
        tags,
        references: references?,
        rationale: rationale?,
        remediation: remediation?,
        secret,
        target: target?,
        check: check?,
        pos: f.pos(),
    })
}

fn parse_references(
    node: Option<&Node>,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, Vec<String>>> {
    let mut refs = BTreeMap::new();
    let Some(node) = node else { return Some(refs) };
    let Some(map) = node.as_map() else {
        diags.error(
            node.pos,
            format!(
                "`references` maps a framework to requirement ids, found {}",
                describe(node)
            ),
        );
        return None;
    };
    for (framework, ids) in map.iter() {
        let ids = string_list(ids, framework, diags);
        if ids.is_empty() {
            diags.error(
                node.pos,
                format!("framework `{framework}` lists no requirement ids"),
            );
        }
        refs.insert(framework.to_string(), ids);
    }
    Some(refs)
}

fn parse_target(node: &Node, registry: &Registry, diags: &mut Diagnostics) -> Option<TargetSpec> {
    let kind_node = node.get("kind");
    let kinds = registry.kinds();
    let kind = kind_node.and_then(|n| {
        let names: Vec<&str> = kinds.iter().map(|k| k.name).collect();
        one_of(n, "target kind", &names, |s| registry.kind(s), diags)
    });
    // The fields a target may have: the common ones, and the options of the kind's collectors.
    let producers: Vec<_> = kind
        .map(|k| registry.producers(k).collect())
        .unwrap_or_default();
    let mut allowed = TARGET_FIELDS.to_vec();
    for (_, c) in &producers {
        allowed.extend(c.options().iter().map(|o| o.name));
    }
    if kind.is_none() {
        // Unknown kind: do not also report its options as unknown fields.
        for c in registry.collectors() {
            allowed.extend(c.options().iter().map(|o| o.name));
        }
    }
    let f = Fields::new(node, "target", &allowed, diags);
    if !f.is_map() {
        return None;
    }
    f.require("kind", diags);
    let paths = f.str_list("paths", diags);
    let exclude = f.str_list("exclude", diags);
    let tags = f.str_list("tags", diags);
    let reads_files = producers.iter().any(|(_, c)| c.source() == Source::File);
    let reads_others = producers.iter().any(|(_, c)| c.source() != Source::File);
    if let Some(k) = kind {
        if reads_files && !reads_others && (f.node("paths").is_none() || paths.is_empty()) {
            diags.error(
                f.pos(),
                format!("target needs `paths`: globs of the files the control applies to (kind `{k}` is read from files)"),
            );
        }
        if !reads_files {
            for key in ["paths", "exclude"] {
                if let Some(n) = f.node(key) {
                    diags.error(
                        n.pos,
                        format!("`{key}` selects files, and kind `{k}` is not read from files; select with `tags`"),
                    );
                }
            }
        }
        if !reads_others {
            if let Some(n) = f.node("tags") {
                diags.error(
                    n.pos,
                    format!("`tags` select endpoints and hosts, and kind `{k}` is read from files; select with `paths`"),
                );
            }
        }
    }
    for (key, globs) in [("paths", &paths), ("exclude", &exclude)] {
        for g in globs.iter() {
            if let Err(e) = glob_set(std::slice::from_ref(g)) {
                let pos = f.node(key).map(|n| n.pos).unwrap_or(f.pos());
                diags.error(pos, e.to_string());
            }
        }
    }
    let mut options = BTreeMap::new();
    let mut options_ok = true;
    for option in producers.iter().flat_map(|(_, c)| c.options()) {
        let Some(n) = f.node(option.name) else {
            continue;
        };
        let accept = |s: &str| option.values.contains(&s).then(|| s.to_string());
        match one_of(n, option.name, option.values, accept, diags) {
            Some(v) => {
                options.insert(option.name.to_string(), v);
            }
            None => options_ok = false,
        }
    }
    let when = match f.node("when") {
        None => Some(None),
        Some(n) => Condition::parse(n, diags).map(Some),
    };
    if !options_ok {
        return None;
    }
    Some(TargetSpec {
        kind: kind?.to_string(),
        paths,
        exclude,
        tags,
        options,
        when: when?,
    })
}

/// Warns of each key a condition reads that documents of the target's kind never have, when the
/// collector knows every field of that kind (certificates, files, sshd, Kubernetes): a misspelt key
/// would otherwise be absent everywhere, take its `default`, and pass in silence.
fn warn_unknown_keys(
    cond: &Condition,
    target: &TargetSpec,
    registry: &Registry,
    fallback: crate::doc::Pos,
    diags: &mut Diagnostics,
) {
    let known: Vec<&str> = registry
        .producers(&target.kind)
        .filter_map(|(_, c)| c.known_fields(&target.kind, &target.options))
        .flatten()
        .copied()
        .collect();
    if known.is_empty() {
        return;
    }
    for (key, pos) in cond.document_keys() {
        if known.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let variant = target
            .options
            .get("format")
            .map_or(target.kind.clone(), |f| format!("{} ({f})", target.kind));
        diags.warning(
            pos.unwrap_or(fallback),
            format!(
                "`{key}` is not a field of {variant} documents, so it is always absent{}; \
                 `vigil facts --fields {}` lists the fields",
                suggest(key, known.iter().copied()),
                target.options.get("format").unwrap_or(&target.kind)
            ),
        );
    }
}

fn parse_check(
    node: &Node,
    target: Option<&TargetSpec>,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> Option<Check> {
    let is_pattern = node.as_map().is_some_and(|m| m.contains_key("pattern"));
    if is_pattern {
        if let Some(t) = target {
            if !registry.producers(&t.kind).any(|(_, c)| c.reads_text()) {
                let text_kinds: Vec<&str> = registry
                    .collectors()
                    .iter()
                    .filter(|c| c.reads_text())
                    .flat_map(|c| c.kinds().iter().map(|k| k.name))
                    .collect();
                diags.error(
                    node.pos,
                    format!(
                        "a `pattern` check reads raw text and needs a target of kind `{}`, not `{}`",
                        text_kinds.join("` or `"),
                        t.kind
                    ),
                );
                return None;
            }
        }
        return PatternCheck::parse(node, diags).map(Check::Pattern);
    }
    Condition::parse(node, diags).map(Check::Condition)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"policy: demo
title: Demo
version: 1.0.0
controls:
  - id: D-1
    title: Root login disabled
    severity: high
    references: {NIST-800-53r5: [AC-6(2)]}
    rationale: r
    remediation: m
    target: {kind: config, paths: ["**/sshd_config"], format: sshd}
    check: {key: PermitRootLogin, default: prohibit-password, in: ["no"]}
"#;

    fn errors(text: &str) -> Vec<String> {
        load_policy("p.yaml", text, &Registry::builtin())
            .diagnostics
            .iter()
            .map(|d| format!("{}:{}: {}", d.pos.line, d.pos.col, d.message))
            .collect()
    }

    #[test]
    fn loads_a_valid_policy() {
        let l = load_policy("p.yaml", GOOD, &Registry::builtin());
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        let p = l.policy.unwrap();
        assert_eq!(p.controls[0].severity, Severity::High);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn reports_every_problem_with_its_position() {
        let bad = GOOD
            .replace("severity: high", "severity: hgih")
            .replace("    rationale: r\n", "    rationale: r\n    sevrity: x\n")
            .replace("format: sshd", "format: sshd_config");
        let e = errors(&bad);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("10:5: unknown field `sevrity` in control; did you mean `severity`?"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("7:15: unknown severity `hgih`; did you mean `high`?"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("12:63: unknown format `sshd_config`"),
            "{e:?}"
        );
    }

    #[test]
    fn rejects_duplicate_ids_and_mismatched_checks() {
        let dup = format!("{GOOD}{}", &GOOD[GOOD.find("  - id").unwrap()..]);
        let e = errors(&dup);
        assert!(
            e.iter()
                .any(|m| m.contains("duplicate control id `D-1` (first defined at line 5)")),
            "{e:?}"
        );
        let mismatch = GOOD.replace(
            "check: {key: PermitRootLogin, default: prohibit-password, in: [\"no\"]}",
            "check: {pattern: 'PermitRootLogin yes'}",
        );
        let e = errors(&mismatch);
        assert!(e[0].contains("needs a target of kind `file`"), "{e:?}");
    }

    #[test]
    fn yaml_errors_have_positions() {
        let e = errors("policy: x\ncontrols: [\n");
        assert!(
            e[0].starts_with("2:11: invalid YAML: this `[` is never closed"),
            "{e:?}"
        );
        // A flow mapping left open is blamed, not the line where the parser gave up.
        let text = "policy: x\ntitle: t\ncontrols:\n  - id: A-1\n    target: {kind: file, paths: ['{**}']\n    check: {pattern: x}\n";
        let e = errors(text);
        assert!(
            e[0].starts_with("5:13: invalid YAML: this `{` is never closed"),
            "{e:?}"
        );
        // Brackets that are closed, and brackets inside quotes, are not blamed.
        let e = errors("policy: x\nmeta: {a: '[', b: \"{\"}\ncontrols: [\n  {id: x,\n");
        assert!(e[0].contains("never closed"), "{e:?}");
        assert!(!e[0].starts_with("2:"), "{e:?}");
    }
}
