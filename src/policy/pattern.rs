//! Pattern checks: regular expressions run over a file's raw bytes.
//!
//! ```yaml
//! check:
//!   pattern: '(?P<secret>AKIA[0-9A-Z]{16})'
//!   expect: absent        # absent (default): every match is a finding; present: the file must match
//!   capture: secret       # the group holding the value to judge and redact (default: whole match)
//!   min_entropy: 3.0      # ignore matches whose captured value is less random than this (bits/char)
//!   allow: ['EXAMPLE$']   # ignore matches whose captured value matches one of these
//!   allow_match: ['^\w*Id"?\s*:']  # ignore matches whose whole text matches one of these
//! ```
//!
//! An item of `allow` or `allow_match` may be scoped to some files: `{regex: '…', paths: ['**/*.rs']}`.

use globset::{Candidate, GlobSet};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::budget::Budgeted;
use super::condition::{REGEX_SIZE_LIMIT, one_line};
use super::diag::Diagnostics;
use super::fields::{Fields, describe, string_list, string_of};
use crate::collect::walk::glob_set;
use crate::doc::{Node, Value};

/// Whether a pattern must be absent from, or present in, a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Every match is a failure (secrets, forbidden settings).
    Absent,
    /// The file fails when nothing matches (a required banner, a required setting).
    Present,
}

/// A validated pattern check.
#[derive(Debug, Clone)]
pub struct PatternCheck {
    /// The compiled expression.
    pub regex: Regex,
    /// The same expression, for files too large for `regex` to search within the matching budget.
    pub budgeted: Budgeted,
    /// The expression as written, for descriptions and for building a combined matcher.
    pub source: String,
    /// Absent or present.
    pub expect: Expect,
    /// Index of the capture group holding the judged value (0: the whole match).
    pub capture: usize,
    /// Minimum Shannon entropy of the judged value, in bits per character.
    pub min_entropy: Option<f64>,
    /// Judged values matching any of these are ignored (documented example keys, placeholders).
    pub allow: Vec<Allow>,
    /// Matches whose whole text matches any of these are ignored: the context around the judged
    /// value, such as the name of the key it is assigned to (`SecretId: ...` names a secret, and
    /// is not one), which a pattern cannot exclude without look-around.
    pub allow_match: Vec<Allow>,
}

/// One item of `allow` or `allow_match`: an expression, for every file or only for some. What is
/// code in one language is a value in another: `password: ConnectionSecrets` is a type annotation
/// in Rust, and may be a password in YAML.
#[derive(Debug, Clone)]
pub struct Allow {
    regex: Regex,
    /// The files it applies to (`None`: all).
    paths: Option<GlobSet>,
}

/// The names a file's path is matched by, as target globs match them: as shown, and relative to
/// the directory scanned.
pub struct FileNames<'a> {
    shown: Candidate<'a>,
    relative: Candidate<'a>,
}

impl<'a> FileNames<'a> {
    /// A file shown as `shown`, found as `relative` under its root.
    pub fn new(shown: &'a str, relative: &'a str) -> FileNames<'a> {
        FileNames {
            shown: Candidate::new(shown),
            relative: Candidate::new(relative),
        }
    }

    fn matched_by(&self, globs: &GlobSet) -> bool {
        globs.is_match_candidate(&self.shown) || globs.is_match_candidate(&self.relative)
    }
}

impl Allow {
    /// Whether it applies to a file named `file` and matches `text`.
    fn allows(&self, text: &[u8], file: &FileNames<'_>) -> bool {
        self.paths.as_ref().is_none_or(|g| file.matched_by(g)) && self.regex.is_match(text)
    }
}

const FIELDS: &[&str] = &[
    "pattern",
    "expect",
    "capture",
    "min_entropy",
    "allow",
    "allow_match",
];

/// Compiles a pattern the way every pattern check is compiled: over raw bytes, with ASCII classes
/// (`\w`, `\d`, `\b` and `(?i)` are ASCII-only, as in most secret scanners), which keeps matching
/// on the fast DFA engines whatever the file holds.
pub fn compile(text: &str) -> Result<Regex, String> {
    RegexBuilder::new(text)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| one_line(&e.to_string()))
}

/// Compiles patterns into one set, as the scan groups them (`engine::patterns`): bytes, ASCII
/// classes, a size limit per pattern.
pub fn compile_set(sources: &[&str]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(sources)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT * sources.len())
        .dfa_size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
}

impl PatternCheck {
    /// Parses a pattern check from its policy node.
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<PatternCheck> {
        let f = Fields::new(node, "pattern check", FIELDS, diags);
        let pat_node = f.require("pattern", diags)?;
        let source = string_of(pat_node, "pattern", diags)?;
        // Also as the scan compiles it, in a pattern set: a pattern that fits alone but not there
        // is reported here, at its line and column, not as a failed scan.
        let regex = match compile(&source).and_then(|r| {
            compile_set(&[source.as_str()]).map_err(|e| one_line(&e.to_string()))?;
            let budgeted = Budgeted::new(&[source.as_str()]).map_err(|e| one_line(&e))?;
            Ok((r, budgeted))
        }) {
            Ok(r) => Some(r),
            Err(e) => {
                diags.error(pat_node.pos, format!("invalid regular expression: {e}"));
                None
            }
        };
        let expect = match f.node("expect") {
            None => Some(Expect::Absent),
            Some(n) => match n.as_str() {
                Some("absent") => Some(Expect::Absent),
                Some("present") => Some(Expect::Present),
                _ => {
                    diags.error(
                        n.pos,
                        format!(
                            "`expect` must be `absent` or `present`, found {}",
                            describe(n)
                        ),
                    );
                    None
                }
            },
        };
        let capture = match (f.node("capture"), &regex) {
            (None, _) => Some(0),
            (Some(n), Some((re, _))) => {
                let found = match &n.value {
                    Value::Int(i) => usize::try_from(*i).ok().filter(|i| *i < re.captures_len()),
                    Value::Str(name) => re.capture_names().position(|c| c == Some(name.as_str())),
                    _ => None,
                };
                if found.is_none() {
                    diags.error(
                        n.pos,
                        format!(
                            "`capture` names no group of the pattern ({}); use a group name or number",
                            describe(n)
                        ),
                    );
                }
                found
            }
            (Some(_), None) => None,
        };
        let min_entropy = match f.node("min_entropy") {
            None => Some(None),
            Some(n) => match n.value {
                Value::Int(i) if (0..=8).contains(&i) => Some(Some(i as f64)),
                Value::Float(x) if (0.0..=8.0).contains(&x) => Some(Some(x)),
                _ => {
                    diags.error(
                        n.pos,
                        format!("`min_entropy` must be a number of bits per character between 0 and 8, found {}", describe(n)),
                    );
                    None
                }
            },
        };
        let allow = allow_list(f.node("allow"), "allow", diags);
        let allow_match = allow_list(f.node("allow_match"), "allow_match", diags);
        let (regex, budgeted) = regex?;
        Some(PatternCheck {
            regex,
            budgeted,
            source,
            expect: expect?,
            capture: capture?,
            min_entropy: min_entropy?,
            allow: allow?,
            allow_match: allow_match?,
        })
    }

    /// Whether a match in `file` is kept as a finding, after the entropy floor and the
    /// allow-lists: `value` is the judged group, `whole` the whole match.
    pub fn keeps(&self, value: &[u8], whole: &[u8], file: &FileNames<'_>) -> bool {
        if self
            .min_entropy
            .is_some_and(|min| shannon_entropy(value) < min)
        {
            return false;
        }
        !self.allow.iter().any(|a| a.allows(value, file))
            && !self.allow_match.iter().any(|a| a.allows(whole, file))
    }

    /// The check in words, for findings and `policy explain`.
    pub fn describe(&self) -> String {
        let mut s = match self.expect {
            Expect::Absent => format!("no match for /{}/", self.source),
            Expect::Present => format!("at least one match for /{}/", self.source),
        };
        if let Some(e) = self.min_entropy {
            s.push_str(&format!(" with entropy >= {e} bits/char"));
        }
        s
    }
}

/// An `allow` or `allow_match` list (or one item): each item an expression, or a mapping of
/// `regex` and the `paths` it applies to; `None` after reporting every item that is not one or does
/// not compile.
fn allow_list(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> Option<Vec<Allow>> {
    let Some(n) = node else {
        return Some(Vec::new());
    };
    let items: Vec<&Node> = match &n.value {
        Value::List(l) => l.iter().collect(),
        _ => vec![n],
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match allow_item(item, field, diags) {
            Some(a) => out.push(a),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The fields of a scoped allow item.
const ALLOW_FIELDS: &[&str] = &["regex", "paths"];

fn allow_item(item: &Node, field: &str, diags: &mut Diagnostics) -> Option<Allow> {
    let (regex_node, paths) = if item.as_map().is_some() {
        let f = Fields::new(item, "scoped allow item", ALLOW_FIELDS, diags);
        // `None` when missing or invalid; the expression is still checked, so that both are told.
        let paths = f.require("paths", diags).and_then(|n| scope(n, diags));
        (f.require("regex", diags), paths.map(Some))
    } else {
        (Some(item), Some(None))
    };
    let regex_node = regex_node?;
    let source = string_of(regex_node, field, diags)?;
    let regex = compile(&source)
        .map_err(|e| diags.error(regex_node.pos, format!("invalid regular expression: {e}")))
        .ok()?;
    Some(Allow {
        regex,
        paths: paths?,
    })
}

/// The globs of a scoped allow item, compiled as target globs are.
fn scope(node: &Node, diags: &mut Diagnostics) -> Option<GlobSet> {
    let globs = string_list(node, "paths", diags);
    if globs.is_empty() {
        diags.error(node.pos, "`paths` needs at least one glob");
        return None;
    }
    glob_set(&globs)
        .map_err(|e| diags.error(node.pos, e.to_string()))
        .ok()
}

/// Shannon entropy of a byte string in bits per byte: about 4 for hex, about 6 for base64 secrets,
/// lower for words like `changeme`.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<PatternCheck, Vec<String>> {
        let node = &crate::yaml::parse_documents(yaml).unwrap()[0];
        let mut diags = Diagnostics::new("t", yaml);
        PatternCheck::parse(node, &mut diags)
            .ok_or_else(|| diags.items.iter().map(|d| d.message.clone()).collect())
    }

    #[test]
    fn allow_tests_the_value_and_allow_match_the_whole_match() {
        let c = check(
            "pattern: '[A-Za-z]*Secret[A-Za-z]*\"?:\\s*\"(?P<v>[^\"]+)'\n\
             capture: v\n\
             allow: ['^arn:']\n\
             allow_match: ['^[A-Za-z]*Id\"?:', '^[A-Za-z]*Name\"?:']\n",
        )
        .unwrap();
        let kept = |line: &str| {
            let caps = c.regex.captures(line.as_bytes()).unwrap();
            c.keeps(&caps[1], &caps[0], &FileNames::new("a.json", "a.json"))
        };
        assert!(kept(r#""ClientSecret": "q8Vt2mKx""#));
        assert!(
            !kept(r#""SecretId": "q8Vt2mKx""#),
            "a key that names the secret"
        );
        assert!(!kept(r#""SecretName": "q8Vt2mKx""#));
        assert!(
            !kept(r#""ClientSecret": "arn:aws:secretsmanager""#),
            "an allowed value"
        );
    }

    #[test]
    fn scoped_items_apply_to_the_files_their_paths_match() {
        let c = check(
            "pattern: 'secret\\s*[:=]\\s*\"?(?P<v>[A-Za-z0-9]+)'\n\
             capture: v\n\
             allow_match: ['^secret\\s*=\\s*Example', {regex: '[:=]\\s*[A-Za-z]', paths: ['**/*.rs', 'src/*.py']}]\n",
        )
        .unwrap();
        let kept = |line: &str, shown: &str, relative: &str| {
            let caps = c.regex.captures(line.as_bytes()).unwrap();
            c.keeps(&caps[1], &caps[0], &FileNames::new(shown, relative))
        };
        // Unquoted: code in a Rust file, a value in YAML.
        assert!(!kept("secret: ConnectionSecrets", "lib/a.rs", "lib/a.rs"));
        assert!(kept(
            "secret: ConnectionSecrets",
            "lib/a.yaml",
            "lib/a.yaml"
        ));
        assert!(kept("secret: \"Q8vT2mKx\"", "lib/a.rs", "lib/a.rs"));
        // Matched by the path relative to the scanned directory too.
        assert!(!kept("secret = Q8vT2mKx", "repo/src/app.py", "src/app.py"));
        assert!(kept(
            "secret = Q8vT2mKx",
            "repo/lib/src/app.py",
            "lib/src/app.py"
        ));
        // An unscoped item applies everywhere.
        assert!(!kept("secret = Example9", "a.yaml", "a.yaml"));
    }

    #[test]
    fn every_bad_allow_expression_is_reported() {
        let errors = check("pattern: 'x'\nallow: ['(']\nallow_match: ['[']\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("invalid regular expression"),
            "{errors:?}"
        );
        let errors = check(
            "pattern: 'x'\n\
             allow: [{regex: '('}, {regex: 'a', paths: []}, {regex: 'a', paths: ['a/[']}, {regex: 'a', path: ['x']}]\n",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 6, "{errors:?}");
        for (error, expected) in errors.iter().zip([
            "missing the required field `paths`",
            "invalid regular expression",
            "at least one glob",
            "a/[",
            "unknown field `path`",
            "missing the required field `paths`",
        ]) {
            assert!(error.contains(expected), "{expected}: {errors:?}");
        }
    }

    #[test]
    fn entropy_separates_words_from_keys() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!(shannon_entropy(b"changeme") < 3.0);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }
}
