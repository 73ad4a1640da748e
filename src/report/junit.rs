//! JUnit XML: a test suite per policy, a test case per finding.
//!
//! `fail` findings are failures, `error` findings are errors, `not_applicable`, `waived`,
//! `suppressed` and `baselined` are skipped (with the waiver's or the suppression's words), `pass`
//! passes. CI systems show the suites as test results, so a regression names the
//! control and file that broke. Findings arrive in target order, so each suite's test cases wait
//! in a spool on disk until the counts its `<testsuite>` element carries are known. Text is escaped
//! by quick-xml after dropping the characters XML 1.0 cannot hold.

use std::io::{self, Write};

use quick_xml::escape::escape;

use super::message;
use super::spool::Spool;
use crate::results::{ControlInfo, Finding, Header, Sink, State, Trailer};

#[derive(Default)]
struct Counts {
    tests: u64,
    skipped: u64,
    errors: u64,
    failures: u64,
}

impl Counts {
    fn add(&mut self, state: State) {
        self.tests += 1;
        match state {
            State::Fail => self.failures += 1,
            State::Error => self.errors += 1,
            State::NotApplicable | State::Waived | State::Suppressed | State::Baselined => {
                self.skipped += 1
            }
            State::Pass => {}
        }
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" skipped=\"{}\" errors=\"{}\" failures=\"{}\"",
            self.tests, self.skipped, self.errors, self.failures
        )
    }
}

struct Suite {
    name: String,
    counts: Counts,
    cases: Option<Spool>,
}

/// The JUnit report.
pub struct JunitSink<'w> {
    out: Box<dyn Write + 'w>,
    suites: Vec<Suite>,
    /// For each control of the header, its suite.
    suite_of: Vec<usize>,
    /// The header's controls.
    controls: Vec<ControlInfo>,
}

impl<'w> JunitSink<'w> {
    /// A sink writing to `out`.
    pub fn new(out: Box<dyn Write + 'w>) -> JunitSink<'w> {
        JunitSink {
            out,
            suites: Vec::new(),
            suite_of: Vec::new(),
            controls: Vec::new(),
        }
    }
}

/// Text as XML 1.0 can hold it: control characters other than tab and newlines, and U+FFFE/U+FFFF,
/// are dropped; markup characters are escaped; in attributes, newlines are kept as references.
fn xml(s: &str, attribute: bool) -> String {
    let kept: String = s
        .chars()
        .filter(|&c| {
            (c >= ' ' || matches!(c, '\t' | '\n' | '\r')) && c != '\u{FFFE}' && c != '\u{FFFF}'
        })
        .collect();
    let escaped = escape(kept.as_str()).into_owned();
    if attribute {
        escaped.replace('\n', "&#10;").replace('\r', "&#13;")
    } else {
        escaped
    }
}

fn case_name(f: &Finding<'_>) -> String {
    let mut name = format!(
        "{} {}",
        f.control,
        f.target.name().unwrap_or("(whole scan)")
    );
    if let Some(l) = &f.location {
        name.push_str(&format!(":{}", l.line));
    }
    if let Some(o) = &f.target.object {
        name.push_str(&format!(" [{o}]"));
    }
    if let Some(e) = &f.target.element {
        name.push_str(&format!(" {e}"));
    }
    name
}

fn write_case(out: &mut dyn Write, f: &Finding<'_>, c: &ControlInfo) -> io::Result<()> {
    let open = format!(
        "        <testcase name=\"{}\" classname=\"{}\"",
        xml(&case_name(f), true),
        xml(&format!("{}.{}", c.policy, c.id), true)
    );
    let text = message(f, c);
    match f.state {
        State::Pass => writeln!(out, "{open}/>"),
        State::Fail | State::Error => {
            let tag = if f.state == State::Fail {
                "failure"
            } else {
                "error"
            };
            let detail = format!(
                "{text}\nobserved: {}\nexpected: {}\nseverity: {}\nfingerprint: {}",
                f.observed.as_deref().unwrap_or("(not evaluated)"),
                c.expected,
                c.severity.as_str(),
                f.fingerprint.as_deref().unwrap_or("-")
            );
            writeln!(out, "{open}>")?;
            writeln!(
                out,
                "            <{tag} message=\"{}\" type=\"{}\">{}</{tag}>",
                xml(&text, true),
                c.severity.as_str(),
                xml(&detail, false)
            )?;
            writeln!(out, "        </testcase>")
        }
        State::NotApplicable | State::Waived | State::Suppressed | State::Baselined => {
            writeln!(out, "{open}>")?;
            let note = format!("{}: {text}", f.state.as_str());
            writeln!(
                out,
                "            <skipped message=\"{}\"/>",
                xml(&note, true)
            )?;
            writeln!(out, "        </testcase>")
        }
    }
}

impl Sink for JunitSink<'_> {
    fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.suites = header
            .policies
            .iter()
            .map(|p| Suite {
                name: format!("{} {}", p.id, p.version),
                counts: Counts::default(),
                cases: None,
            })
            .collect();
        self.suite_of = header
            .controls
            .iter()
            .map(|c| {
                header
                    .policies
                    .iter()
                    .position(|p| p.id == c.policy)
                    .unwrap_or(0)
            })
            .collect();
        self.controls = header.controls.clone();
        Ok(())
    }

    fn finding(&mut self, f: &Finding<'_>, control: usize, _canonical: &[u8]) -> io::Result<()> {
        let (Some(suite), Some(c)) = (
            self.suite_of
                .get(control)
                .and_then(|&s| self.suites.get_mut(s)),
            self.controls.get(control),
        ) else {
            return Ok(());
        };
        suite.counts.add(f.state);
        let cases = match &mut suite.cases {
            Some(s) => s,
            None => suite.cases.insert(Spool::new()?),
        };
        write_case(cases, f, c)
    }

    fn finish(&mut self, _header: &Header, _trailer: &Trailer) -> io::Result<()> {
        let mut total = Counts::default();
        for s in &self.suites {
            total.tests += s.counts.tests;
            total.skipped += s.counts.skipped;
            total.errors += s.counts.errors;
            total.failures += s.counts.failures;
        }
        writeln!(self.out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(
            self.out,
            "<testsuites name=\"vigil\" {}>",
            total.attributes()
        )?;
        for s in &mut self.suites {
            writeln!(
                self.out,
                "    <testsuite name=\"{}\" {}>",
                xml(&s.name, true),
                s.counts.attributes()
            )?;
            if let Some(cases) = &mut s.cases {
                cases.drain_into(&mut self.out)?;
            }
            writeln!(self.out, "    </testsuite>")?;
        }
        writeln!(self.out, "</testsuites>")?;
        self.out.flush()
    }
}
