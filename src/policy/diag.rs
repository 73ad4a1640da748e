//! Policy diagnostics: every problem in a policy file, each with its file, line and column.
//!
//! Loading does not stop at the first problem: like a compiler, it reports all of them at once so an
//! author fixes a file in one pass.

use std::fmt;

use crate::doc::Pos;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The policy is usable, but something is missing that auditors will want (for example references).
    Warning,
    /// The policy cannot be used.
    Error,
}

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// The policy file, as given (or `builtin:<name>`).
    pub file: String,
    /// 1-based line and column.
    pub pos: Pos,
    /// A plain sentence saying what is wrong and, where possible, what would be right.
    pub message: String,
    /// The offending source line, shown under the message.
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {level}: {}",
            self.file, self.pos.line, self.pos.col, self.message
        )?;
        if let Some(line) = &self.snippet {
            let gutter = self.pos.line.to_string();
            write!(f, "\n {gutter} | {line}")?;
            let caret_at = (self.pos.col as usize).saturating_sub(1);
            let pad: String = line
                .chars()
                .take(caret_at)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n {} | {pad}^", " ".repeat(gutter.len()))?;
        }
        Ok(())
    }
}

/// The diagnostics of one policy file, filled while it is loaded.
#[derive(Debug)]
pub struct Diagnostics<'a> {
    file: &'a str,
    text: &'a str,
    /// Everything found so far, in the order it was found.
    pub items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    /// Starts collecting for `file`, whose contents are `text` (used for snippets).
    pub fn new(file: &'a str, text: &'a str) -> Diagnostics<'a> {
        Diagnostics {
            file,
            text,
            items: Vec::new(),
        }
    }

    /// Records an error at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Level::Error, pos, message.into());
    }

    /// Records a warning at `pos`.
    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Level::Warning, pos, message.into());
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.level == Level::Error)
    }

    fn push(&mut self, level: Level, pos: Pos, message: String) {
        let snippet = (pos.line > 0)
            .then(|| self.text.lines().nth(pos.line as usize - 1))
            .flatten()
            .map(|l| {
                // A line of a megabyte (a huge alternation) is shown only around its column.
                let l = l.trim_end();
                let keep = (pos.col as usize + 60).max(160);
                if l.chars().count() > keep {
                    format!("{}…", l.chars().take(keep).collect::<String>())
                } else {
                    l.to_string()
                }
            });
        self.items.push(Diagnostic {
            level,
            file: self.file.to_string(),
            pos,
            message,
            snippet,
        });
    }
}

/// "did you mean `x`?" for a misspelt name, when one candidate is close enough.
pub fn suggest<'c>(given: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    candidates
        .into_iter()
        // Case does not count: `ssh-01` is one edit from `SSH-001`.
        .map(|c| {
            let d = strsim::levenshtein(&given.to_lowercase(), &c.to_lowercase());
            (d, c)
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let mut d = Diagnostics::new("p.yaml", "a: 1\n  sevrity: high\n");
        d.error(Pos::new(2, 3), "unknown field `sevrity`");
        let text = d.items[0].to_string();
        assert_eq!(
            text,
            "p.yaml:2:3: error: unknown field `sevrity`\n 2 |   sevrity: high\n   |   ^"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("sevrity", ["severity", "title"]),
            "; did you mean `severity`?"
        );
        assert_eq!(suggest("zzz", ["severity", "title"]), "");
    }
}
