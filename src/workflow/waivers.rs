//! Waivers: accepted risks, each with who accepted it, why and until when. A finding that fails or
//! errs and matches an active waiver is recorded `waived`, with the waiver's words, in every
//! output; the run reports each waiver as active, expiring (within 14 days), expired (no longer
//! applies) or unused (matched nothing). Expiry is judged at the scan's clock (`--at`).
//!
//! ```yaml
//! waivers:
//!   - control: SSH-001             # an id, or a glob over ids (`CERT-00*`)
//!     target: "legacy/**"          # optional: a glob over the file, endpoint or host name
//!     fingerprint: 5d41402abc4b... # optional: a certificate's SHA-256 (the finding's object)
//!     tag: lab                     # optional: endpoints and hosts with this tag
//!     justification: Replaced by the Q3 migration; the host is isolated.
//!     approved_by: jane.doe@example.org
//!     expires: 2027-03-31
//!     ticket: SEC-1234             # optional
//! ```

use globset::{Glob, GlobMatcher};
use time::{Date, OffsetDateTime};

use crate::doc::{Node, Pos};
use crate::policy::diag::Diagnostics;
use crate::results::{Finding, State, WaiverRef, WaiverStatus};

/// A waiver ending within this many days is reported as expiring.
const EXPIRING_DAYS: i64 = 14;

/// The waivers of one file, judged at one clock.
#[derive(Debug)]
pub struct Waivers {
    entries: Vec<Waiver>,
    today: Date,
}

#[derive(Debug)]
struct Waiver {
    control: GlobMatcher,
    control_text: String,
    target: Option<(GlobMatcher, String)>,
    fingerprint: Option<String>,
    tag: Option<String>,
    words: WaiverRef,
    expires: Date,
    location: String,
}

const KEYS: [&str; 8] = [
    "control",
    "target",
    "fingerprint",
    "tag",
    "justification",
    "approved_by",
    "expires",
    "ticket",
];

impl Waivers {
    /// Reads a waiver file; every problem is rendered as `file:line:column: error: ...`.
    pub fn load(file: &str, text: &str, at: OffsetDateTime) -> Result<Waivers, String> {
        let mut diags = Diagnostics::new(file, text);
        let entries = parse(file, text, &mut diags);
        if diags.has_errors() || entries.is_none() {
            let rendered: Vec<String> = diags.items.iter().map(|d| d.to_string()).collect();
            return Err(rendered.join("\n"));
        }
        Ok(Waivers {
            entries: entries.unwrap_or_default(),
            today: at.date(),
        })
    }

    /// The waiver that accepts `f` (a failure or an error on a target with `tags`), as an index.
    pub fn find(&self, f: &Finding<'_>, tags: &[String]) -> Option<usize> {
        if !matches!(f.state, State::Fail | State::Error) {
            return None;
        }
        let name = f
            .target
            .file
            .as_deref()
            .or(f.target.endpoint.as_deref())
            .or(f.target.host.as_deref());
        self.entries.iter().position(|w| {
            w.expires >= self.today
                && (w.control.is_match(f.control.as_ref())
                    || f.blocked_controls
                        .iter()
                        .any(|c| w.control.is_match(c.as_ref())))
                && w.target
                    .as_ref()
                    .is_none_or(|(g, _)| name.is_some_and(|n| g.is_match(n)))
                && w.fingerprint.as_ref().is_none_or(|fp| {
                    f.target
                        .object
                        .as_deref()
                        .is_some_and(|o| o.to_ascii_lowercase().contains(fp))
                })
                && w.tag.as_ref().is_none_or(|t| tags.contains(t))
        })
    }

    /// The words a finding accepted by waiver `i` carries.
    pub fn words(&self, i: usize) -> WaiverRef {
        self.entries[i].words.clone()
    }

    /// How each waiver fared, given how many findings each accepted.
    pub fn report(&self, matched: &[u64]) -> Vec<WaiverStatus> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let hits = matched.get(i).copied().unwrap_or(0);
                let left = (w.expires - self.today).whole_days();
                let status = if left < 0 {
                    "expired"
                } else if hits == 0 {
                    "unused"
                } else if left < EXPIRING_DAYS {
                    "expiring"
                } else {
                    "active"
                };
                WaiverStatus {
                    approved_by: w.words.approved_by.clone(),
                    control: w.control_text.clone(),
                    expires: w.words.expires.clone(),
                    location: w.location.clone(),
                    matched: hits,
                    status: status.to_string(),
                    target: w.target.as_ref().map(|(_, t)| t.clone()),
                }
            })
            .collect()
    }

    /// How many waivers the file holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse(file: &str, text: &str, diags: &mut Diagnostics<'_>) -> Option<Vec<Waiver>> {
    let docs = match crate::yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            diags.error(Pos::new(e.line as usize, e.col as usize), e.message);
            return None;
        }
    };
    let Some(list) = docs
        .first()
        .and_then(|d| d.get("waivers"))
        .and_then(Node::as_list)
    else {
        diags.error(
            docs.first().map_or(Pos::new(1, 1), |d| d.pos),
            "a waiver file is a mapping with a `waivers` list",
        );
        return None;
    };
    let mut out = Vec::new();
    for w in list {
        let Some(map) = w.as_map() else {
            diags.error(w.pos, "each waiver is a mapping");
            continue;
        };
        for (key, pos, _) in map.iter_with_key_pos() {
            if !KEYS.contains(&key) {
                diags.error(
                    pos,
                    format!(
                        "unknown key `{key}`{}",
                        crate::policy::diag::suggest(key, KEYS)
                    ),
                );
            }
        }
        let text_of = |key: &str, diags: &mut Diagnostics<'_>, required: bool| -> Option<String> {
            match w.get(key) {
                Some(n) => match n.value.scalar_text().filter(|t| !t.trim().is_empty()) {
                    Some(t) => Some(t),
                    None => {
                        diags.error(n.pos, format!("`{key}` must be a non-empty text"));
                        None
                    }
                },
                None if required => {
                    diags.error(w.pos, format!("a waiver needs `{key}`"));
                    None
                }
                None => None,
            }
        };
        let control = text_of("control", diags, true);
        let justification = text_of("justification", diags, true);
        let approved_by = text_of("approved_by", diags, true);
        let expires_text = text_of("expires", diags, true);
        let target = text_of("target", diags, false);
        let fingerprint = text_of("fingerprint", diags, false);
        let tag = text_of("tag", diags, false);
        let ticket = text_of("ticket", diags, false);
        let glob = |text: &str, key: &str, diags: &mut Diagnostics<'_>| -> Option<GlobMatcher> {
            match Glob::new(text) {
                Ok(g) => Some(g.compile_matcher()),
                Err(e) => {
                    let pos = w.get(key).map_or(w.pos, |n| n.pos);
                    diags.error(pos, format!("`{key}` is not a valid glob: {e}"));
                    None
                }
            }
        };
        let expires = expires_text.as_deref().and_then(|t| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            match Date::parse(t.trim(), format) {
                Ok(d) => Some(d),
                Err(_) => {
                    let pos = w.get("expires").map_or(w.pos, |n| n.pos);
                    diags.error(
                        pos,
                        format!("`expires` is a date (YYYY-MM-DD), found `{t}`"),
                    );
                    None
                }
            }
        });
        let control_glob = control.as_deref().and_then(|c| glob(c, "control", diags));
        let target_glob = target.as_deref().and_then(|t| glob(t, "target", diags));
        let (
            Some(control),
            Some(control_glob),
            Some(justification),
            Some(approved_by),
            Some(expires),
        ) = (control, control_glob, justification, approved_by, expires)
        else {
            continue;
        };
        if target.is_some() && target_glob.is_none() {
            continue;
        }
        out.push(Waiver {
            control: control_glob,
            control_text: control,
            target: target_glob.zip(target),
            fingerprint: fingerprint.map(|f| {
                f.trim()
                    .trim_start_matches("sha256:")
                    .replace(':', "")
                    .to_ascii_lowercase()
            }),
            tag,
            words: WaiverRef {
                approved_by,
                expires: expires_text.unwrap_or_default(),
                justification,
                ticket,
            },
            expires,
            location: format!("{file}:{}", w.pos.line),
        });
    }
    Some(out)
}
