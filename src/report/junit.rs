//! JUnit XML: a test suite per policy, a test case per control and target.
//!
//! `fail` findings are failures, `error` findings are errors, `not_applicable` and `waived` are
//! skipped, `pass` passes. CI systems show the suite as test results, so a regression names the
//! control and file that broke. The XML is written by quick-junit, which escapes and strips
//! characters that XML cannot hold.

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::results::{Finding, ScanRun, State};

fn case_name(f: &Finding) -> String {
    let mut name = format!("{} {}", f.control, f.target.path);
    if let Some(l) = &f.location {
        name.push_str(&format!(":{}", l.line));
    }
    if let Some(o) = &f.target.object {
        name.push_str(&format!(" [{o}]"));
    }
    name
}

fn case(f: &Finding) -> TestCase {
    let detail = format!(
        "{}\nobserved: {}\nexpected: {}\nseverity: {}\nfingerprint: {}",
        f.message,
        f.observed,
        f.expected,
        f.severity.as_str(),
        f.fingerprint
    );
    let status = match f.state {
        State::Pass => TestCaseStatus::success(),
        State::Fail | State::Error => {
            let kind = if f.state == State::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(f.message.as_str());
            s.set_type(f.severity.as_str());
            s.set_description(detail.as_str());
            s
        }
        State::NotApplicable | State::Waived => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("{}: {}", f.state.as_str(), f.message));
            s
        }
    };
    let mut tc = TestCase::new(case_name(f), status);
    tc.set_classname(format!("{}.{}", f.policy, f.control));
    tc
}

/// Writes the JUnit report.
pub fn write(run: &ScanRun, out: &mut dyn Write) -> io::Result<()> {
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for p in &run.policies {
        suites.insert(
            p.id.as_str(),
            TestSuite::new(format!("{} {}", p.id, p.version)),
        );
    }
    for f in &run.findings {
        let suite = suites
            .entry(f.policy.as_str())
            .or_insert_with(|| TestSuite::new(f.policy.clone()));
        suite.add_test_case(case(f));
    }
    let mut report = Report::new("vigil");
    // Policy order, as in the result document.
    for p in &run.policies {
        if let Some(s) = suites.remove(p.id.as_str()) {
            report.add_test_suite(s);
        }
    }
    report.add_test_suites(suites.into_values());
    report.serialize(&mut *out).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
