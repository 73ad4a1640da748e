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

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::budget::Budgeted;
use super::condition::{REGEX_SIZE_LIMIT, one_line};
use super::diag::Diagnostics;
use super::fields::{Fields, describe, string_of};
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
    pub allow: Vec<Regex>,
    /// Matches whose whole text matches any of these are ignored: the context around the judged
    /// value, such as the name of the key it is assigned to (`SecretId: ...` names a secret, and
    /// is not one), which a pattern cannot exclude without look-around.
    pub allow_match: Vec<Regex>,
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
        let allow = regex_list(f.node("allow"), "allow", diags);
        let allow_match = regex_list(f.node("allow_match"), "allow_match", diags);
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

    /// Whether a match is kept as a finding, after the entropy floor and the allow-lists: `value`
    /// is the judged group, `whole` the whole match.
    pub fn keeps(&self, value: &[u8], whole: &[u8]) -> bool {
        if self
            .min_entropy
            .is_some_and(|min| shannon_entropy(value) < min)
        {
            return false;
        }
        !self.allow.iter().any(|a| a.is_match(value))
            && !self.allow_match.iter().any(|a| a.is_match(whole))
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

/// A list of regular expressions (or one), each compiled as patterns are; `None` after reporting
/// every one that is not a string or does not compile.
fn regex_list(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> Option<Vec<Regex>> {
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
        match string_of(item, field, diags).map(|s| compile(&s)) {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => {
                diags.error(item.pos, format!("invalid regular expression: {e}"));
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
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
            c.keeps(&caps[1], &caps[0])
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
    fn every_bad_allow_expression_is_reported() {
        let errors = check("pattern: 'x'\nallow: ['(']\nallow_match: ['[']\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("invalid regular expression"),
            "{errors:?}"
        );
    }

    #[test]
    fn entropy_separates_words_from_keys() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!(shannon_entropy(b"changeme") < 3.0);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }
}
