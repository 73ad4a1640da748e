//! Secrets in what other controls report. A secret control redacts its own matches; but a value
//! that an sshd or Kubernetes control quotes (an image reference with a token in it), a parse error
//! that quotes a line, or a file name may hold a secret too. Every string a finding carries passes
//! through [`scrub`] on its way out, which redacts whatever the bundled secrets pack would
//! recognise, as that pack redacts it (see [`crate::redact`]), whichever policies the scan runs.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexSet, RegexSetBuilder};

use crate::policy::{Check, PolicySet};

/// The secrets pack's patterns, with the capture group that holds each secret.
struct Rules {
    any: RegexSet,
    each: Vec<(Regex, usize)>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        // The secrets pack alone: loading every bundled pack would cost a scan more than all
        // of its scrubbing.
        let set = PolicySet::builtin_pack("secrets")
            .expect("the secrets pack is bundled")
            .expect("the bundled packs load");
        let each: Vec<(Regex, usize)> = set
            .policies
            .iter()
            .filter(|p| p.id == "secrets")
            .flat_map(|p| &p.controls)
            .filter(|c| c.secret)
            .filter_map(|c| match &c.check {
                Check::Pattern(p) => Some((p.regex.clone(), p.capture)),
                Check::Condition(_) => None,
            })
            .collect();
        // Compiled as each pattern is (`policy::pattern::compile`): bytes, ASCII classes.
        let any = RegexSetBuilder::new(each.iter().map(|(r, _)| r.as_str()))
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .expect("the patterns compiled one by one compile as a set");
        Rules { any, each }
    })
}

/// `text` with every secret the secrets pack recognises redacted.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let rules = rules();
    let bytes = text.as_bytes();
    if !rules.any.is_match(bytes) {
        return Cow::Borrowed(text);
    }
    // Spans of secrets, from every rule that matches.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for i in rules.any.matches(bytes).iter() {
        let (re, capture) = &rules.each[i];
        for caps in re.captures_iter(bytes) {
            if let Some(m) = caps.get(*capture).or_else(|| caps.get(0)) {
                spans.push((m.start(), m.end()));
            }
        }
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&crate::redact::redact(&text[start..end]));
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// [`scrub`] for an owned string, reusing it when nothing is redacted.
pub fn scrub_owned(text: String) -> String {
    match scrub(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

/// [`scrub`] over every string of a JSON value, keys included: what `vigil facts` prints is a
/// file's content, and goes where findings go (a terminal, a CI log, a ticket).
pub fn scrub_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = scrub(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_json),
        Value::Object(map) => {
            if map.keys().any(|k| matches!(scrub(k), Cow::Owned(_))) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (scrub_owned(k), v))
                    .collect();
            }
            map.values_mut().for_each(scrub_json);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_string_of_a_json_value() {
        let key = "AKIAQWERTYUIOPASDFGH";
        let mut v = serde_json::json!({
            "code": format!("local k = \"{key}\""),
            key: [1, {"nested": key}],
            "plain": "PermitRootLogin no",
        });
        scrub_json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("QWERTY"), "{text}");
        assert_eq!(v["plain"], "PermitRootLogin no");
        assert_eq!(v["code"], "local k = \"AKIA…[redacted, 20 chars]\"");
        assert_eq!(
            v["AKIA…[redacted, 20 chars]"][1]["nested"],
            "AKIA…[redacted, 20 chars]"
        );
    }

    #[test]
    fn redacts_what_the_secrets_pack_finds_anywhere() {
        assert_eq!(scrub("PermitRootLogin no"), "PermitRootLogin no");
        let token = format!("ghp_{}", "a1B2c3D4".repeat(4) + "z9Y8");
        let image = format!("registry.example.com/app:1.0?token={token}");
        let scrubbed = scrub(&image);
        assert!(!scrubbed.contains(&token[4..]), "{scrubbed}");
        assert!(scrubbed.contains("…[redacted, "), "{scrubbed}");
        let key = "AKIAQWERTYUIOPASDFGH";
        let msg = format!("duplicate key `{key}` at line 3");
        assert_eq!(
            scrub(&msg),
            "duplicate key `AKIA…[redacted, 20 chars]` at line 3"
        );
    }
}
