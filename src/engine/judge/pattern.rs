//! Pattern checks: every pattern of every control matched over a file's bytes (see
//! `engine::patterns` for the grouping), each
//! kept match located by line and column.

use super::{Context, Finisher, Judged, PassEvidence, Verdict};
use crate::collect::Target;
use crate::policy::Check;
use crate::policy::budget::{OverBudget, Spans};
use crate::policy::eval::clip;
use crate::policy::pattern::{Expect, FileNames, PatternCheck};
use crate::redact::redact;
use crate::results::{Location, State};

/// Positions of newlines, built only for files with matches.
struct LineIndex<'a> {
    bytes: &'a [u8],
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(bytes: &'a [u8]) -> LineIndex<'a> {
        LineIndex {
            bytes,
            newlines: memchr::memchr_iter(b'\n', bytes).collect(),
        }
    }

    /// 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.newlines.partition_point(|&nl| nl < offset);
        let start = if line == 0 {
            0
        } else {
            self.newlines[line - 1] + 1
        };
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(char_count(&self.bytes[start..offset]) + 1).unwrap_or(u32::MAX),
        )
    }
}

/// Characters in UTF-8 bytes (invalid bytes count as one each).
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// One kept match of a pattern.
struct Hit {
    start: usize,
    end: usize,
    value: String,
}

/// Every kept match of `check` in `bytes`, located at its judged value (the secret, not the
/// context around it); searched by the regex crate when that fits the matching budget, by the
/// budgeted engines otherwise.
fn matches_of(
    check: &PatternCheck,
    bytes: &[u8],
    file: &FileNames<'_>,
) -> Result<Vec<Hit>, OverBudget> {
    let spans: Vec<Spans> = if check.budgeted.unrestricted(bytes.len()) {
        check
            .regex
            .captures_iter(bytes)
            .filter_map(|caps| {
                let whole = caps.get(0)?.range();
                let judged = caps.get(check.capture).map_or(whole.clone(), |m| m.range());
                Some(Spans { judged, whole })
            })
            .collect()
    } else {
        check.budgeted.spans(bytes, check.capture)?
    };
    Ok(spans
        .into_iter()
        .filter(|s| check.keeps(&bytes[s.judged.clone()], &bytes[s.whole.clone()], file))
        .map(|s| s.judged)
        .map(|span| Hit {
            value: String::from_utf8_lossy(&bytes[span.clone()]).into_owned(),
            start: span.start,
            end: span.end,
        })
        .collect())
}

/// Runs the pattern controls at `wanted` (indices into the plan's controls) over `bytes`, the
/// contents of `target`.
pub fn run(
    ctx: &Context<'_>,
    target: &Target,
    bytes: &[u8],
    wanted: &[usize],
    out: &mut Judged,
    finisher: &mut Finisher<'_>,
) {
    let plan = ctx.plan;
    let matched = plan.patterns.matching(bytes, wanted);
    let mut lines: Option<LineIndex> = None;
    // Scoped allow rules match the file's names as target globs do; only a file with matches
    // needs them.
    let mut names: Option<FileNames> = None;
    for &ci in wanted {
        out.make_room(finisher);
        let c = plan.controls[ci];
        let Check::Pattern(check) = &c.check else {
            continue;
        };
        let hits = if matched.contains(&ci) {
            let file = names.get_or_insert_with(|| match target.file() {
                Some(e) => FileNames::new(&e.display, &e.relative),
                None => FileNames::new(target.name(), target.name()),
            });
            match matches_of(check, bytes, file) {
                Ok(hits) => hits,
                Err(over) => {
                    out.verdicts.push(Verdict {
                        message: Some(over.to_string()),
                        ..Verdict::new(ci, State::Error)
                    });
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        if hits.is_empty() {
            match check.expect {
                Expect::Absent if ctx.pass_evidence == PassEvidence::Full => {
                    out.verdicts.push(Verdict {
                        observed: Some("(no match)".into()),
                        message: Some(format!("Satisfied: {} (no match in the file).", c.title)),
                        ..Verdict::new(ci, State::Pass)
                    });
                }
                Expect::Absent => out.clean.push(ci),
                Expect::Present => out.verdicts.push(Verdict {
                    observed: Some("(no match)".into()),
                    message: Some(
                        "Not satisfied: the file has no line matching the required pattern.".into(),
                    ),
                    ..Verdict::new(ci, State::Fail)
                }),
            }
            continue;
        }
        let index = lines.get_or_insert_with(|| LineIndex::new(bytes));
        let located = hits.iter().map(|h| {
            let (line, column) = index.position(h.start);
            let line_end = index
                .newlines
                .get(usize::try_from(line).unwrap_or(0).saturating_sub(1))
                .copied()
                .unwrap_or(bytes.len())
                .min(h.end);
            let end_column =
                column + u32::try_from(char_count(&bytes[h.start..line_end])).unwrap_or(0);
            let shown = if c.secret {
                redact(&h.value)
            } else {
                clip(&h.value)
            };
            let location = Location {
                column: Some(column),
                end_column: Some(end_column),
                line,
                path: None,
            };
            (location, shown)
        });
        match check.expect {
            Expect::Absent => {
                for (loc, shown) in located {
                    let message = format!(
                        "Not satisfied: pattern matched at line {}, column {}.",
                        loc.line,
                        loc.column.unwrap_or(0)
                    );
                    out.verdicts.push(Verdict {
                        location: Some(loc),
                        observed: Some(shown),
                        message: Some(message),
                        ..Verdict::new(ci, State::Fail)
                    });
                    out.make_room(finisher);
                }
            }
            Expect::Present => {
                let Some((loc, shown)) = located.into_iter().next() else {
                    continue;
                };
                let mut pass = Verdict {
                    location: Some(loc),
                    ..Verdict::new(ci, State::Pass)
                };
                if ctx.pass_evidence == PassEvidence::Full {
                    let line = pass.location.as_ref().map_or(0, |l| l.line);
                    pass.message = Some(format!("Satisfied: {} (line {line}).", c.title));
                    pass.observed = Some(shown);
                }
                out.verdicts.push(pass);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_positions() {
        let text = "ab\ncé d\n\nx".as_bytes();
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(7), (2, 4), "é is one character");
        assert_eq!(idx.position(10), (4, 1));
    }
}
