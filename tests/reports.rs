//! Every report format rendered from one fixed result: golden files for each format (bless with
//! `VIGIL_BLESS=1 cargo test --test reports`), schema validation of SARIF and JSON, well-formed JUnit,
//! escaping of hostile scanned content, integrity verification, and rendering from saved JSON.

mod common;

use std::path::PathBuf;

use common::vigil;
use serde_json::Value;
use vigil::engine::{self, ScanOptions};
use vigil::policy::PolicySet;
use vigil::report::{self, Format, Style};
use vigil::results::{Capture, Document, Finding, RunInfo, State};

/// A scan of several fixtures with every time-dependent field fixed, and one finding waived so the
/// waived section has content.
fn fixed_result() -> Document {
    let policies = PolicySet::load(&[
        PathBuf::from("policies/ssh-hardening.yaml"),
        PathBuf::from("policies/kubernetes-pod-security.yaml"),
        PathBuf::from("policies/secrets.yaml"),
        PathBuf::from("testdata/policies/injection.yaml"),
    ])
    .expect("policies load");
    let opts = ScanOptions {
        paths: [
            "testdata/ssh",
            "testdata/k8s",
            "testdata/secrets/app",
            "testdata/injection",
        ]
        .map(PathBuf::from)
        .to_vec(),
        at: Some(vigil::cli::parse_at(common::AT).unwrap()),
        threads: Some(2),
        ..ScanOptions::default()
    };
    let mut findings = Vec::new();
    let outcome = engine::scan(
        &policies,
        &opts,
        vec![Box::new(Capture::new(&mut findings))],
    )
    .expect("scan runs");
    let mut run = Document {
        header: outcome.header,
        findings,
        trailer: outcome.trailer,
    };
    run.trailer.run = RunInfo {
        started_at: "2030-01-15T00:00:00Z".into(),
        finished_at: "2030-01-15T00:00:02Z".into(),
        duration_ms: 1850,
        evaluated_at: common::AT.into(),
        host: "audit-host-01".into(),
        arguments: [
            "vigil",
            "scan",
            "testdata/ssh",
            "testdata/k8s",
            "testdata/secrets/app",
            "testdata/injection",
        ]
        .map(String::from)
        .to_vec(),
        machine_id: None,
        tags: Vec::new(),
        shard: None,
    };
    let waived = run
        .findings
        .iter_mut()
        .find(|f| f.control == "SSH-004" && f.state == State::Fail)
        .expect("the weak sshd_config fails SSH-004");
    waived.state = State::Waived;
    waived.message = Some("Waived until 2030-06-30: legacy jump host (ticket SEC-1234).".into());
    run
}

fn render(run: &Document, format: Format) -> String {
    let out = report::render(run, format, &Style::plain(false)).expect("renders");
    String::from_utf8(out).expect("UTF-8")
}

fn golden(name: &str, actual: &str) {
    let path = common::root(&format!("tests/golden/{name}"));
    if std::env::var_os("VIGIL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with VIGIL_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or(
                expected.lines().count().min(actual.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{name} differs from the golden file at line {line}:\n  golden: {:?}\n  actual: {:?}\n(re-bless with VIGIL_BLESS=1 after reviewing)",
            expected.lines().nth(line - 1).unwrap_or(""),
            actual.lines().nth(line - 1).unwrap_or("")
        );
    }
}

#[test]
fn every_format_matches_its_golden_file() {
    let run = fixed_result();
    golden("results.json", &render(&run, Format::Json));
    let html = render(&run, Format::Html);
    // States read as words, and the integrity hint names no file this run may not have written.
    assert!(!html.contains(">not_applicable<"));
    assert!(html.contains(">not applicable<"));
    assert!(!html.contains("vigil verify results.json"));
    // Long tokens break only where they must: no mid-word breaking of every code span.
    assert!(!html.contains("break-all"));
    golden("report.html", &html);
    golden("results.sarif", &render(&run, Format::Sarif));
    golden("junit.xml", &render(&run, Format::Junit));
    golden("summary.md", &render(&run, Format::Markdown));
    golden("console.txt", &render(&run, Format::Console));
}

#[test]
fn report_renders_the_same_from_saved_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    std::fs::write(&json, render(&fixed_result(), Format::Json)).unwrap();
    let out_dir = dir.path().join("out");
    let out = vigil(&[
        "report",
        json.to_str().unwrap(),
        "--format",
        "html,sarif,junit,markdown",
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = fixed_result();
    for (file, format) in [
        ("report.html", Format::Html),
        ("results.sarif", Format::Sarif),
        ("junit.xml", Format::Junit),
        ("summary.md", Format::Markdown),
    ] {
        let written = std::fs::read_to_string(out_dir.join(file)).unwrap();
        assert_eq!(
            written,
            render(&run, format),
            "{file} rendered later differs"
        );
    }
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../testdata/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let invalid = |sarif: &Value| -> Vec<String> {
        validator
            .iter_errors(sarif)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect()
    };
    let fixed = fixed_result();
    let sarif: Value = serde_json::from_str(&render(&fixed, Format::Sarif)).unwrap();
    let errors = invalid(&sarif);
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ssh001 = rules.iter().find(|r| r["id"] == "SSH-001").unwrap();
    assert_eq!(ssh001["properties"]["security-severity"], "8.0");
    assert!(
        ssh001["help"]["text"]
            .as_str()
            .unwrap()
            .contains("Remediation: Set `PermitRootLogin no`")
    );
    let results = run["results"].as_array().unwrap();
    let fail = results
        .iter()
        .find(|r| r["ruleId"] == "SSH-001" && r["kind"] == "fail")
        .unwrap();
    let phys = &fail["locations"][0]["physicalLocation"];
    assert_eq!(
        phys["artifactLocation"]["uri"],
        "testdata/ssh/weak/sshd_config"
    );
    assert_eq!(phys["region"]["startLine"], 5);
    let k8s = results
        .iter()
        .find(|r| r["ruleId"] == "K8S-001" && r["kind"] == "fail")
        .unwrap();
    assert_eq!(
        k8s["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "DaemonSet/kube-system/node-agent"
    );
    let waived = results
        .iter()
        .find(|r| r["ruleId"] == "SSH-004" && r["suppressions"].is_array())
        .unwrap();
    assert_eq!(waived["suppressions"][0]["kind"], "external");
    // Passing and not-applicable verdicts are counted in the run, not results; every other
    // finding is one.
    let kept = |f: &&Finding<'static>| !matches!(f.state, State::Pass | State::NotApplicable);
    let findings = &fixed.findings;
    let passes = findings.iter().filter(|f| f.state == State::Pass).count();
    let not_applicable = findings
        .iter()
        .filter(|f| f.state == State::NotApplicable)
        .count();
    assert!(
        passes > 0 && not_applicable > 0,
        "the fixed result has both"
    );
    assert_eq!(results.len(), findings.iter().filter(kept).count());
    assert!(
        results
            .iter()
            .all(|r| r["kind"] == "fail" || r["kind"] == "review")
    );
    assert_eq!(
        run["properties"]["verdictsLeftOut"],
        serde_json::json!({"notApplicable": not_applicable, "pass": passes})
    );

    // With `--sarif-passes` nothing is left out, and the document is still valid.
    let style = Style {
        sarif_passes: true,
        ..Style::plain(false)
    };
    let all = report::render(&fixed, Format::Sarif, &style).unwrap();
    let all: Value = serde_json::from_slice(&all).unwrap();
    let errors = invalid(&all);
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &all["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len(), "nothing is dropped");
    let kinds = |k: &str| results.iter().filter(|r| r["kind"] == k).count();
    assert_eq!(
        (kinds("pass"), kinds("notApplicable")),
        (passes, not_applicable)
    );
    assert!(run["properties"]["verdictsLeftOut"].is_null());
}

#[test]
fn sarif_fingerprints_survive_line_shifts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = std::fs::read_to_string(common::root("testdata/ssh/weak/sshd_config")).unwrap();
    let fingerprints = |text: &str| -> Vec<(String, String, u64)> {
        std::fs::create_dir_all(dir.path().join("ssh")).unwrap();
        std::fs::write(dir.path().join("ssh/sshd_config"), text).unwrap();
        let (_, r) = common::scan_json(&[
            dir.path().join("ssh").to_str().unwrap(),
            "--policy",
            "policies/ssh-hardening.yaml",
        ]);
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["state"] == "fail")
            .map(|f| {
                (
                    f["control"].as_str().unwrap().to_string(),
                    f["fingerprint"].as_str().unwrap().to_string(),
                    f["location"]["line"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let before = fingerprints(&conf);
    let after = fingerprints(&format!("# a new comment\n# and another\n{conf}"));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!((&b.0, &b.1), (&a.0, &a.1), "same control, same fingerprint");
        if b.2 > 0 {
            assert_eq!(a.2, b.2 + 2, "the line moved");
        }
    }
}

#[test]
fn junit_is_well_formed_with_a_suite_per_policy() {
    let xml = render(&fixed_result(), Format::Junit);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut suites = Vec::new();
    let (mut failures, mut errors, mut skipped) = (0, 0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testsuite" => suites.push(
                        String::from_utf8_lossy(
                            &e.try_get_attribute("name").unwrap().unwrap().value,
                        )
                        .into_owned(),
                    ),
                    b"failure" => failures += 1,
                    b"error" => errors += 1,
                    b"skipped" => skipped += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        suites,
        [
            "ssh-hardening 1.0.0",
            "kubernetes-pod-security 1.2.0",
            "secrets 1.5.0",
            "injection-probe 1.0.0"
        ]
    );
    let run = fixed_result();
    let count = |s: State| run.findings.iter().filter(|f| f.state == s).count();
    assert_eq!(failures, count(State::Fail));
    assert_eq!(errors, count(State::Error));
    assert_eq!(skipped, count(State::NotApplicable) + count(State::Waived));
}

#[test]
fn hostile_scanned_content_is_shown_as_text_everywhere() {
    let run = fixed_result();
    let html = render(&run, Format::Html);
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the report's own script"
    );
    assert!(
        !html.contains("<img"),
        "no image element from a scanned value"
    );
    assert!(!html.contains("<h1>injected"));
    assert!(html.contains("&lt;script&gt;document.title&#x3D;&#x27;pwned&#x27;&lt;/script&gt;"));
    assert!(html.contains("&lt;img src&#x3D;x onerror&#x3D;"));
    assert!(
        html.contains("{{7*7}} {{{raw}}}"),
        "template syntax in data is not evaluated"
    );
    let md = render(&run, Format::Markdown);
    assert!(!md.contains("<img") && !md.contains("<script"));
    assert!(md.contains("&lt;img src=x onerror=") || md.contains("&lt;script&gt;"));
}

#[test]
fn verify_detects_a_changed_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let text = render(&fixed_result(), Format::Json);
    std::fs::write(&path, &text).unwrap();
    let ok = vigil(&["verify", path.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(": ok (sha256:"));
    let tampered = text.replacen("\"state\":\"fail\"", "\"state\":\"pass\"", 1);
    assert_ne!(tampered, text);
    std::fs::write(&path, tampered).unwrap();
    let bad = vigil(&["verify", path.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("digest mismatch"));
    // The report is rendered and verified in one pass: an altered result writes nothing, neither
    // a file nor a streamed format on standard output.
    let html = dir.path().join("report.html");
    let report = vigil(&[
        "report",
        path.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        report.status.code(),
        Some(2),
        "no report from an altered result"
    );
    assert!(String::from_utf8_lossy(&report.stderr).contains("digest mismatch"));
    assert!(!html.exists(), "no file is left behind");
    let sarif = vigil(&["report", path.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(2));
    assert!(sarif.stdout.is_empty(), "nothing reaches standard output");
    let both = dir.path().join("out");
    let dir_report = vigil(&[
        "report",
        path.to_str().unwrap(),
        "--format",
        "json,junit,markdown,console",
        "--output-dir",
        both.to_str().unwrap(),
    ]);
    assert_eq!(dir_report.status.code(), Some(2));
    assert!(dir_report.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&both).map(|d| d.count()).unwrap_or(0), 0);

    // The unaltered result renders, to files and to standard output alike.
    std::fs::write(&path, &text).unwrap();
    let good = vigil(&["report", path.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(good.status.code(), Some(0));
    let sarif: Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
}

/// A damaged result is refused by `verify` and `report` alike, with the line and column where it
/// stops making sense, however far into the findings that is.
#[test]
fn a_damaged_result_is_refused_naming_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let text = render(&fixed_result(), Format::Json);
    let lines: Vec<&str> = text.lines().collect();
    // Findings are written one a line; the first follows `"findings": [`.
    let first = 1 + lines
        .iter()
        .position(|l| l.trim() == "\"findings\": [")
        .unwrap();
    assert!(lines[first].trim_start().starts_with('{') && lines[first].ends_with(','));
    let before: usize = lines[..first].iter().map(|l| l.len() + 1).sum();
    let second = &lines[first + 1];

    // Cut in the middle of the second finding.
    let cut = before + lines[first].len() + 1 + second.len() / 2;
    // A stray word after the first finding's comma.
    let stray = format!(
        "{}{} x\n{}",
        &text[..before],
        lines[first],
        &text[before + lines[first].len() + 1..]
    );
    let cases = [
        (
            text[..cut].to_string(),
            format!("at line {} column {}", first + 2, second.len() / 2),
        ),
        (
            stray,
            format!(
                "expected value at line {} column {}",
                first + 1,
                lines[first].len() + 2
            ),
        ),
    ];
    for (damaged, error) in cases {
        std::fs::write(&path, &damaged).unwrap();
        for args in [vec!["verify"], vec!["report", "--format", "markdown"]] {
            let mut args = args;
            args.push(path.to_str().unwrap());
            let o = vigil(&args);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("not a vigil result"), "{args:?}: {stderr}");
            assert!(stderr.contains(&error), "{args:?}: {error} in {stderr}");
        }
    }
}

/// A result whose members were sorted (`jq -S`, to compare two results) is still the same result:
/// it verifies and renders exactly as it did, in either schema, and a finding that does not read
/// is named even though the schema was learnt only after it.
#[test]
fn a_result_with_sorted_members_reads_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = std::fs::read_to_string(common::root("tests/golden/results-schema-1.0.json")).unwrap();
    let v2 = render(&fixed_result(), Format::Json);
    for (name, text) in [("v2", v2.clone()), ("v1", v1)] {
        let sorted = common::members_sorted(&text);
        let findings_at = sorted.find("\"findings\"").unwrap();
        assert!(findings_at < sorted.find("\"schema_version\"").unwrap());
        let mut outputs = Vec::new();
        for (kind, doc) in [("as-written", &text), ("sorted", &sorted)] {
            let path = dir.path().join(format!("{name}-{kind}.json"));
            std::fs::write(&path, doc).unwrap();
            let history = dir.path().join(format!("{name}-{kind}.db"));
            // Every format, a baseline made from it, and the run a history stores from it.
            let out = dir.path().join(format!("{name}-{kind}"));
            let (path, history, out) = (
                path.to_str().unwrap(),
                history.to_str().unwrap(),
                out.to_str().unwrap(),
            );
            let formats = "json,html,markdown,sarif,junit";
            let (baseline, shown) = (format!("{out}/baseline.json"), format!("{out}/shown.json"));
            for args in [
                vec!["verify", path],
                vec!["report", path, "--format", formats, "--output-dir", out],
                vec!["baseline", "create", path, "-o", &baseline],
                vec!["history", "import", "--history", history, path],
                vec![
                    "history",
                    "show",
                    "--history",
                    history,
                    "1",
                    "-f",
                    "json",
                    "-o",
                    &shown,
                ],
            ] {
                let o = vigil(&args);
                let stderr = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(0), "{name} {kind} {args:?}: {stderr}");
            }
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().into_string().unwrap(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            files.sort();
            assert_eq!(files.len(), 7);
            outputs.push(files);
        }
        assert!(
            outputs[0] == outputs[1],
            "{name}: the sorted result renders differently"
        );
    }

    // The second finding loses its state: named by its place, as the schema came after it.
    let mut doc: Value = serde_json::from_str(&common::members_sorted(&v2)).unwrap();
    doc["findings"][1].as_object_mut().unwrap().remove("state");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = vigil(&["report", path.to_str().unwrap(), "--format", "markdown"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("finding: missing field `state` (the document's finding 2)"),
        "{stderr}"
    );
}

#[test]
fn results_of_schema_1_0_still_verify_and_render() {
    let v1 = "tests/golden/results-schema-1.0.json";
    let old: Value =
        serde_json::from_str(&std::fs::read_to_string(common::root(v1)).unwrap()).unwrap();
    assert_eq!(old["schema_version"], "1.0");
    let ok = vigil(&["verify", v1]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = vigil(&[
        "report",
        v1,
        "--format",
        "json,html",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let upgraded: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(upgraded["schema_version"], "2.0");
    let (old_findings, new_findings) = (
        old["findings"].as_array().unwrap(),
        upgraded["findings"].as_array().unwrap(),
    );
    assert_eq!(old_findings.len(), new_findings.len());
    for (o, n) in old_findings.iter().zip(new_findings) {
        assert_eq!(o["control"], n["control"]);
        assert_eq!(o["state"], n["state"]);
        match o["target"]["path"].as_str().unwrap() {
            "*" => assert!(n["target"]["file"].is_null()),
            path => assert_eq!(n["target"]["file"], path),
        }
    }
    assert_eq!(upgraded["summary"]["by_state"], old["summary"]["by_state"]);
    let again = vigil(&["verify", dir.path().join("results.json").to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    // Code spans of a message are shown as code, as in policy texts.
    assert!(
        html.contains("Not satisfied: <code>PermitRootLogin</code> is yes at line 5."),
        "{html}"
    );
}
