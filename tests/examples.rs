//! The scheduled and CI examples of `docs/examples/`, checked as far as this machine can:
//!
//! - the systemd service and timer pass `systemd-analyze verify` (with the service pointed at the
//!   vigil binary under test) and keep their sandbox rating;
//! - the Kubernetes manifests validate, strictly and offline, against a pinned Kubernetes version
//!   (`kubernetes-validate`), and a broken copy does not;
//! - every `vigil` command line of every example (unit `Exec` lines, cron lines, the CronJob's
//!   containers, the CI `run:` and `script:` lines) runs for real against fixtures, with its
//!   outputs sent to a temporary directory and `--root` to `testdata/roots/weak`;
//! - the CI files upload what the scan writes (SARIF, JUnit) even when the scan fails.
//!
//! `systemd-analyze` and `kubernetes-validate` are installed by `.ci/run`. Without one of them its
//! test is skipped locally with a message; under CI (`CI` set) a missing tool is a failure.
//!
//! The scheduled examples store their runs with `--history` and compare them with `vigil diff`:
//! `history_commands_of_the_scheduled_examples_run` runs them over two nights of a changing
//! machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SERVICE: &str = "docs/examples/systemd/vigil-nightly.service";
const TIMER: &str = "docs/examples/systemd/vigil-nightly.timer";
const CRON: &str = "docs/examples/cron/vigil.cron";
const CRONJOB: &str = "docs/examples/kubernetes/cronjob.yaml";
const SHARDED: &str = "docs/examples/kubernetes/sharded-scan.yaml";
const MERGE: &str = "docs/examples/kubernetes/merge-job.yaml";
const ENDPOINTS: &str = "docs/examples/kubernetes/endpoints-cronjob.yaml";
const NODE_AUDIT: &str = "docs/examples/kubernetes/node-audit-daemonset.yaml";
const HISTORY_SECRET: &str = "docs/examples/kubernetes/history-secret.yaml";
const FLEET_REPORT: &str = "docs/examples/kubernetes/fleet-report-cronjob.yaml";
const FLEET_SERVICE: &str = "docs/examples/systemd/vigil-fleet.service";
const FLEET_TIMER: &str = "docs/examples/systemd/vigil-fleet.timer";
const LOCAL_POSTGRES: &str = "docs/examples/postgres/local-postgres.sh";
const GITHUB: &str = "docs/examples/ci/github-actions.yml";
const GITLAB: &str = "docs/examples/ci/gitlab-ci.yml";

/// Where the examples' binary lives; the service is pointed at the binary under test instead.
const INSTALLED_VIGIL: &str = "/usr/local/bin/vigil";

/// The Kubernetes version the manifests are validated against (bundled with kubernetes-validate).
const KUBERNETES_VERSION: &str = "1.30";

/// The root filesystem that stands for the audited machine (`--root /`, `--root /host`).
const FIXTURE_ROOT: &str = "testdata/roots/weak";

/// The tree that stands for the repository a CI job scans (`.`): failures of high severity, and no
/// file that gives an `error`.
const FIXTURE_REPO: &str = "testdata/ssh/weak";

fn read(rel: &str) -> String {
    std::fs::read_to_string(common::root(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Says that a test cannot run for want of `tool`: a skip line outside CI, a failure under CI.
fn missing(tool: &str, install: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is required under CI ({install}; .ci/run installs it)");
    }
    eprintln!("skipping: {tool} is not installed ({install})");
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------------------
// Reading the examples: every `vigil` command line, as words.
// ---------------------------------------------------------------------------------------------

/// Splits a shell command line into words and the operators `;`, `&&`, `||`, `|` (quotes
/// respected; enough for the examples, which use no escapes inside quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            ';' | '&' | '|' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut op = c.to_string();
                if c != ';' && chars.peek() == Some(&c) {
                    op.push(chars.next().unwrap());
                }
                words.push(op);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `vigil` commands of a shell line: the commands between its operators whose program is
/// `vigil` (by name or path), without the program. A vigil command whose meaning depends on the
/// shell (a variable, a redirection, a glob) is refused, so the test never runs something else
/// than the example says.
fn vigil_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for command in shell_words(line).split(|w| [";", "&&", "||", "|", "&"].contains(&w.as_str())) {
        let Some(program) = command.first() else {
            continue;
        };
        if Path::new(program).file_name().is_some_and(|n| n == "vigil") {
            for w in &command[1..] {
                assert!(
                    !w.contains(['$', '>', '<', '*', '%', '`']),
                    "`{line}`: the test runs vigil lines without a shell; `{w}` needs one"
                );
            }
            commands.push(command[1..].to_vec());
        }
    }
    commands
}

/// The command lines of a systemd unit's `ExecStart=`, `ExecStartPre=` and `ExecStartPost=`
/// settings, without their prefixes (`-` ignores a failure, `@`, `:`, `+`, `!`, `|`).
fn systemd_commands(unit: &str) -> Vec<Vec<String>> {
    let joined = unit.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if ["ExecStart", "ExecStartPre", "ExecStartPost"].contains(&key.trim()) {
            let value = value.trim_start_matches(['-', '@', ':', '+', '!', '|']);
            commands.extend(vigil_commands(value));
        }
    }
    commands
}

/// The commands of a `/etc/cron.d` file: five time fields (or an `@daily`-style one), the user,
/// then the command line.
fn cron_commands(table: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for line in table.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap();
        if first.contains('=') {
            continue; // SHELL=, PATH=, MAILTO=
        }
        let fields = if first.starts_with('@') { 2 } else { 6 };
        let mut rest = line;
        for _ in 0..fields {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            rest = &rest[end..];
        }
        let found = vigil_commands(rest.trim());
        assert!(
            !found.is_empty(),
            "cron line without a vigil command: {line}"
        );
        commands.extend(found);
    }
    commands
}

/// Parses a YAML stream into JSON documents with vigil's own YAML reader.
fn yaml(rel: &str) -> Vec<Value> {
    vigil::yaml::parse_documents(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
        .iter()
        .map(|d| d.to_json())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The containers of the CronJob's pod, init containers first (the order they run in).
fn cronjob_containers(docs: &[Value]) -> Vec<Value> {
    let cronjob = docs
        .iter()
        .find(|d| d["kind"] == "CronJob")
        .expect("a CronJob document");
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let mut all = Vec::new();
    for key in ["initContainers", "containers"] {
        all.extend(pod[key].as_array().cloned().unwrap_or_default());
    }
    all
}

/// The vigil commands of the CronJob's containers: `command` then `args`, no shell involved.
fn cronjob_commands(docs: &[Value]) -> Vec<Vec<String>> {
    cronjob_containers(docs)
        .iter()
        .filter_map(|c| {
            let mut words = strings(&c["command"]);
            words.extend(strings(&c["args"]));
            let program = words.first()?;
            Path::new(program)
                .file_name()
                .is_some_and(|n| n == "vigil")
                .then(|| words[1..].to_vec())
        })
        .collect()
}

/// Shell lines, with backslash continuations joined.
fn script_lines(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The steps of every job of a GitHub Actions workflow.
fn github_steps(workflow: &Value) -> Vec<Value> {
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn github_commands(workflow: &Value) -> Vec<Vec<String>> {
    github_steps(workflow)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(script_lines)
        .flat_map(|l| vigil_commands(&l))
        .collect()
}

/// The jobs of a GitLab CI file: top-level mappings with a `script`.
fn gitlab_jobs(pipeline: &Value) -> Vec<(String, Value)> {
    pipeline
        .as_object()
        .expect("a mapping")
        .iter()
        .filter(|(name, job)| !name.starts_with('.') && job.get("script").is_some())
        .map(|(name, job)| (name.clone(), job.clone()))
        .collect()
}

fn gitlab_commands(pipeline: &Value) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for (_, job) in gitlab_jobs(pipeline) {
        for key in ["before_script", "script", "after_script"] {
            for line in strings(&job[key]) {
                for l in script_lines(&line) {
                    commands.extend(vigil_commands(&l));
                }
            }
        }
    }
    commands
}

/// Every example file with its vigil commands, in the order they run.
fn scheduled_examples() -> Vec<(&'static str, Vec<Vec<String>>)> {
    vec![
        (SERVICE, systemd_commands(&read(SERVICE))),
        (CRON, cron_commands(&read(CRON))),
        (CRONJOB, cronjob_commands(&yaml(CRONJOB))),
    ]
}

fn ci_examples() -> Vec<(&'static str, Vec<Vec<String>>)> {
    vec![
        (GITHUB, github_commands(&yaml(GITHUB)[0])),
        (GITLAB, gitlab_commands(&yaml(GITLAB)[0])),
    ]
}

fn is_history(command: &[String]) -> bool {
    matches!(command[0].as_str(), "diff" | "history") || command.iter().any(|w| w == "--history")
}

// ---------------------------------------------------------------------------------------------
// Running the examples' commands against fixtures.
// ---------------------------------------------------------------------------------------------

/// Options of the examples that take a value, and those of them that name a file or directory
/// written or read by the job (sent to the temporary directory).
const VALUE_OPTIONS: &[&str] = &[
    "--root",
    "--history",
    "--format",
    "-f",
    "--output-dir",
    "--output",
    "-o",
    "--fail-on",
    "--baseline",
    "--waivers",
    "--exclude",
    "--include",
    "--keep",
    "--host-name",
    "--tag",
];
const PATH_OPTIONS: &[&str] = &["--history", "--output-dir", "--output", "-o", "--baseline"];
const FLAGS: &[&str] = &["--allow-errors", "--allow-empty", "--quiet", "-q"];

/// An example's vigil command made to run here: the files it writes or reads (`--history`,
/// `--output-dir`, `-o`, `--baseline`) inside `tmp` at the same relative place (`/var/lib/vigil/x`
/// becomes `tmp/var/lib/vigil/x`, `vigil-out` becomes `tmp/vigil-out`, their directories
/// created), `--root` the fixture root, and the paths a scan names the fixture repository.
fn localize(command: &[String], tmp: &Path) -> Vec<String> {
    let mut out = vec![command[0].clone()];
    let mut words = command[1..].iter();
    while let Some(w) = words.next() {
        if VALUE_OPTIONS.contains(&w.as_str()) {
            let value = words
                .next()
                .unwrap_or_else(|| panic!("{w} without a value"));
            out.push(w.clone());
            if w == "--root" {
                out.push(common::root(FIXTURE_ROOT).display().to_string());
            } else if PATH_OPTIONS.contains(&w.as_str()) {
                out.push(in_tmp(tmp, value).display().to_string());
            } else {
                out.push(value.clone());
            }
        } else if FLAGS.contains(&w.as_str()) {
            out.push(w.clone());
        } else if w.starts_with('-') {
            panic!(
                "{command:?}: this test does not know the option {w}; add it to VALUE_OPTIONS or FLAGS"
            );
        } else if command[0] == "scan" {
            out.push(common::root(FIXTURE_REPO).display().to_string());
        } else {
            out.push(w.clone()); // a subcommand: `history prune`
        }
    }
    out
}

fn in_tmp(tmp: &Path, path: &str) -> PathBuf {
    let p = tmp.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

/// The value of `option` in a command.
fn option<'a>(command: &'a [String], option: &str) -> Option<&'a str> {
    let i = command.iter().position(|w| w == option)?;
    command.get(i + 1).map(String::as_str)
}

fn without_option(command: &[String], option: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = command.iter();
    while let Some(w) = words.next() {
        if w == option {
            words.next();
        } else {
            out.push(w.clone());
        }
    }
    out
}

fn run_vigil(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("VIGIL_HISTORY")
        .output()
        .expect("the vigil binary runs")
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_example_has_the_vigil_commands_it_describes() {
    let subcommands = |cs: &[Vec<String>]| -> Vec<String> {
        cs.iter()
            .map(|c| {
                if c[0] == "history" {
                    format!("history {}", c[1])
                } else {
                    c[0].clone()
                }
            })
            .collect()
    };
    let mut found = Vec::new();
    for (file, commands) in scheduled_examples().into_iter().chain(ci_examples()) {
        found.push(format!("{file}: {}", subcommands(&commands).join(", ")));
    }
    assert_eq!(
        found,
        [
            format!("{SERVICE}: scan, diff, history prune"),
            format!("{CRON}: scan, diff, history prune"),
            format!("{CRONJOB}: scan, diff"),
            format!("{GITHUB}: scan"),
            format!("{GITLAB}: scan"),
        ]
    );
}

/// Within each scheduled example, the diff and the pruning work on the history the scan writes,
/// and the diff lands beside the reports.
#[test]
fn scheduled_examples_diff_the_history_they_scan_into() {
    for (file, commands) in scheduled_examples() {
        let histories: Vec<&str> = commands
            .iter()
            .map(|c| {
                option(c, "--history").unwrap_or_else(|| panic!("{file}: {c:?} has no --history"))
            })
            .collect();
        assert!(
            histories.iter().all(|h| *h == histories[0]),
            "{file}: one history file: {histories:?}"
        );
        let scan = &commands[0];
        assert_eq!(scan[0], "scan", "{file}: the scan runs first");
        let reports = option(scan, "--output-dir").expect("the scan writes its reports");
        let diff = commands.iter().find(|c| c[0] == "diff").unwrap();
        let diff_out = option(diff, "-o").expect("the diff is written to a file");
        assert_eq!(
            Path::new(diff_out).parent(),
            Some(Path::new(reports)),
            "{file}: the diff is written beside the reports"
        );
        assert_eq!(option(diff, "--format"), Some("markdown"), "{file}");
        for flag in ["--root", "--quiet", "--allow-errors"] {
            assert!(
                scan.iter().any(|w| w == flag),
                "{file}: the scan has {flag}"
            );
        }
        assert_eq!(option(scan, "--fail-on"), Some("none"), "{file}");
        assert_eq!(option(scan, "--format"), Some("html,json"), "{file}");
    }
}

/// The scans of the scheduled examples, run now against the fixture root without their
/// `--history` option (the rest of each line is as the example gives it): they exit 0 whatever
/// they find, and write the HTML report and the JSON result where the example says.
#[test]
fn scheduled_scans_run_without_their_history_option() {
    for (file, commands) in scheduled_examples() {
        let tmp = tempfile::tempdir().unwrap();
        let scan = localize(&without_option(&commands[0], "--history"), tmp.path());
        let out = run_vigil(&scan);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {scan:?}\n{}",
            text(&out)
        );
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{file}: --quiet prints nothing: {}",
            text(&out)
        );
        let reports = PathBuf::from(option(&scan, "--output-dir").unwrap());
        assert!(reports.join("report.html").is_file(), "{file}: report.html");
        let result = json_file(&reports.join("results.json"));
        assert_eq!(result["inventory"]["hosts"], 1, "{file}");
        let fails = result["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["state"] == "fail" && f["target"]["host"].is_string())
            .count();
        assert!(fails > 0, "{file}: the weak root fails host controls");
    }
}

/// The scheduled examples as two nights would run them: every vigil command in order, each night,
/// on a copy of the fixture root that changes in between (ASLR turned back on, kernel pointers
/// exposed). On the second night every command succeeds, the diff names exactly those two changes
/// and the HTML report shows them in its "since the last run" section.
#[test]
fn history_commands_of_the_scheduled_examples_run() {
    for (file, commands) in scheduled_examples() {
        assert!(commands.iter().all(|c| is_history(c)), "{file}");
        let tmp = tempfile::tempdir().unwrap();
        let machine = tmp.path().join("machine");
        common::copy_tree(&common::root(FIXTURE_ROOT), &machine);
        let commands: Vec<Vec<String>> = commands
            .iter()
            .map(|c| with_root(&localize(c, tmp.path()), &machine))
            .collect();
        run_two_nights(file, &commands, |night| {
            if night == 2 {
                let sysctl = machine.join("etc/sysctl.conf");
                let text = std::fs::read_to_string(&sysctl).unwrap();
                let changed = text.replace(
                    "kernel.randomize_va_space = 0",
                    "kernel.randomize_va_space = 2",
                ) + "kernel.kptr_restrict = 0\n";
                std::fs::write(&sysctl, changed).unwrap();
            }
        });
        let history = std::fs::read(option(&commands[0], "--history").unwrap()).unwrap();
        assert!(
            history.starts_with(b"SQLite format 3\0"),
            "{file}: the history is a SQLite database"
        );
        let diff = commands.iter().find(|c| c[0] == "diff").unwrap();
        let written = std::fs::read_to_string(option(diff, "-o").unwrap()).unwrap();
        assert!(
            written.contains("**1 new, 1 resolved, 0 changed,"),
            "{file}: {written}"
        );
        let new = &written
            [written.find("### New failures").unwrap()..written.find("### Resolved").unwrap()];
        assert!(new.contains("| LNX-027 |"), "{file}: {written}");
        let resolved = &written[written.find("### Resolved").unwrap()..];
        assert!(resolved.contains("| LNX-021 |"), "{file}: {written}");

        let reports = PathBuf::from(option(&commands[0], "--output-dir").unwrap());
        let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
        let drift = &html[html
            .find("<section id=\"drift\">")
            .expect("a drift section")..];
        let drift = &drift[..drift.find("</section>").unwrap()];
        assert!(
            drift.contains("Run 2 of the history, compared with run 1"),
            "{file}"
        );
        assert!(drift.contains("1 new</strong>") && drift.contains("1 resolved</strong>"));
        assert!(drift.contains("<td>LNX-027</td>") && drift.contains("<td>LNX-021</td>"));
        assert!(
            drift.contains("The last 2 runs"),
            "{file}: the trend has both nights"
        );
    }
}

/// Runs a scheduled example's commands as two nights would, calling `before` ahead of each night:
/// every scan succeeds, and on the second night every command (the first night's diff has no
/// earlier run to compare with).
fn run_two_nights(file: &str, commands: &[Vec<String>], mut before: impl FnMut(u32)) {
    for night in 1..=2 {
        before(night);
        for command in commands {
            let out = run_vigil(command);
            if night == 2 || command[0] == "scan" {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{file}, night {night}: {command:?}\n{}",
                    text(&out)
                );
            }
        }
    }
}

/// `command` with its `--root` pointing at `root`.
fn with_root(command: &[String], root: &Path) -> Vec<String> {
    let mut out = command.to_vec();
    if let Some(i) = out.iter().position(|w| w == "--root") {
        out[i + 1] = root.display().to_string();
    }
    out
}

/// The CI examples' scans, run against a fixture repository with a baseline made from it: they pass
/// (every failure is known), write valid SARIF and JUnit where the upload steps read them, and fail
/// without the baseline (so the job gates on new failures).
#[test]
fn ci_scans_run_and_gate_on_new_failures() {
    let schema: Value =
        serde_json::from_str(include_str!("../testdata/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    for (file, commands) in ci_examples() {
        assert!(!commands.iter().any(|c| is_history(c)), "{file}");
        let tmp = tempfile::tempdir().unwrap();
        let scan = localize(&commands[0], tmp.path());
        let baseline = option(&scan, "--baseline").expect("the CI scan uses a baseline");
        // The baseline as the example's comments make it: a JSON result, then `baseline create`.
        let repo = common::root(FIXTURE_REPO).display().to_string();
        let result = tmp.path().join("results.json").display().to_string();
        for args in [
            vec![
                "scan",
                &repo,
                "--format",
                "json",
                "--output",
                &result,
                "--fail-on",
                "none",
            ],
            vec!["baseline", "create", &result, "-o", baseline],
        ] {
            let out = common::vigil(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        }

        let out = run_vigil(&scan);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {scan:?}\n{}",
            text(&out)
        );
        let dir = PathBuf::from(option(&scan, "--output-dir").unwrap());
        let sarif = json_file(&dir.join("results.sarif"));
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let failing: Vec<&Value> = results.iter().filter(|r| r["kind"] == "fail").collect();
        assert!(!failing.is_empty(), "{file}: the fixture has failures");
        assert!(
            failing.iter().all(|r| r["suppressions"].is_array()),
            "{file}: every known failure is suppressed in SARIF"
        );
        let junit = junit_counts(&dir.join("junit.xml"));
        assert!(junit.cases > 0 && junit.failures == 0, "{file}: {junit:?}");
        assert!(dir.join("summary.md").is_file(), "{file}: summary.md");

        let unbaselined = without_option(&scan, "--baseline");
        let out = run_vigil(&unbaselined);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{file}: without the baseline the job fails: {}",
            text(&out)
        );
        assert!(junit_counts(&dir.join("junit.xml")).failures > 0);
    }
}

#[derive(Debug)]
struct JunitCounts {
    cases: usize,
    failures: usize,
}

fn junit_counts(path: &Path) -> JunitCounts {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut counts = JunitCounts {
        cases: 0,
        failures: 0,
    };
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => counts.cases += 1,
                    b"failure" => counts.failures += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// The CI files upload what the scan writes.
// ---------------------------------------------------------------------------------------------

fn joined(dir: &str, file: &str) -> String {
    format!("{}/{file}", dir.trim_end_matches('/'))
}

#[test]
fn github_workflow_uploads_sarif_and_junit_even_when_the_scan_fails() {
    let docs = yaml(GITHUB);
    assert_eq!(docs.len(), 1, "one workflow");
    let workflow = &docs[0];
    assert!(workflow["on"].is_object(), "the workflow has triggers");
    let dir = option(&github_commands(workflow)[0], "--output-dir")
        .expect("the scan writes a directory")
        .to_string();
    let steps = github_steps(workflow);
    let step = |action: &str| -> &Value {
        steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .unwrap_or_else(|| panic!("a step uses {action}"))
    };
    let always = |s: &Value| s["if"].as_str().is_some_and(|c| c.contains("always()"));

    let sarif = step("github/codeql-action/upload-sarif@");
    assert_eq!(sarif["with"]["sarif_file"], joined(&dir, "results.sarif"));
    assert!(always(sarif), "the SARIF upload runs when the scan fails");
    let job = workflow["jobs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(job["permissions"]["security-events"], "write");

    let junit = step("dorny/test-reporter@");
    assert_eq!(junit["with"]["path"], joined(&dir, "junit.xml"));
    assert_eq!(junit["with"]["reporter"], "java-junit");
    assert!(always(junit), "the JUnit report runs when the scan fails");

    let artifact = step("actions/upload-artifact@");
    assert_eq!(
        artifact["with"]["path"]
            .as_str()
            .map(|p| p.trim_end_matches('/')),
        Some(dir.trim_end_matches('/'))
    );
    assert!(always(artifact));
}

#[test]
fn gitlab_job_reports_junit_and_keeps_the_sarif_even_when_the_scan_fails() {
    let docs = yaml(GITLAB);
    assert_eq!(docs.len(), 1);
    let jobs = gitlab_jobs(&docs[0]);
    assert_eq!(jobs.len(), 1, "one job");
    let job = &jobs[0].1;
    let dir = option(&gitlab_commands(&docs[0])[0], "--output-dir")
        .expect("the scan writes a directory")
        .to_string();
    let artifacts = &job["artifacts"];
    assert_eq!(artifacts["when"], "always");
    assert_eq!(artifacts["reports"]["junit"], joined(&dir, "junit.xml"));
    assert!(
        strings(&artifacts["paths"])
            .iter()
            .any(|p| p.trim_end_matches('/') == dir.trim_end_matches('/')),
        "the output directory, SARIF included, is kept"
    );
    assert!(
        artifacts["reports"].get("sast").is_none(),
        "GitLab's sast report is its own JSON format, not SARIF"
    );
    assert!(read(GITLAB).contains("not SARIF"), "the file says why");
}

// ---------------------------------------------------------------------------------------------
// systemd
// ---------------------------------------------------------------------------------------------

fn systemd_analyze() -> Option<&'static str> {
    if runs("systemd-analyze", &["--version"]) {
        Some("systemd-analyze")
    } else {
        missing("systemd-analyze", "apt-get install systemd");
        None
    }
}

/// The service and timer copied into `dir`, the service's vigil replaced by `binary`.
fn units_in(dir: &Path, binary: &str) -> (PathBuf, PathBuf) {
    units_of(dir, binary, SERVICE, TIMER)
}

/// [`units_in`] of another service and timer.
fn units_of(dir: &Path, binary: &str, service: &str, timer: &str) -> (PathBuf, PathBuf) {
    let text = read(service);
    assert!(
        text.matches(INSTALLED_VIGIL).count() >= 2,
        "the service runs {INSTALLED_VIGIL}"
    );
    let name = |rel: &str| dir.join(Path::new(rel).file_name().unwrap());
    let (service_path, timer_path) = (name(service), name(timer));
    std::fs::write(&service_path, text.replace(INSTALLED_VIGIL, binary)).unwrap();
    std::fs::write(&timer_path, read(timer)).unwrap();
    (service_path, timer_path)
}

fn verify(tool: &str, service: &Path, timer: &Path) -> Output {
    Command::new(tool)
        .arg("verify")
        .arg(service)
        .arg(timer)
        .output()
        .expect("systemd-analyze runs")
}

#[test]
fn systemd_units_verify() {
    let Some(tool) = systemd_analyze() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (service, timer) = units_in(tmp.path(), env!("CARGO_BIN_EXE_vigil"));
    let out = verify(tool, &service, &timer);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    // Warnings (an unknown or misspelt setting, a value that does not parse) leave the exit
    // status 0 and name the unit file.
    assert!(
        !said.contains("vigil-nightly"),
        "systemd-analyze has something to say about the units:\n{said}"
    );

    // The check has teeth: a binary that is not there, or a timer that never fires, is refused.
    let missing_binary = tmp.path().join("no-such-vigil");
    let (service, timer) = units_in(tmp.path(), missing_binary.to_str().unwrap());
    let out = verify(tool, &service, &timer);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is not executable"), "{}", text(&out));

    let (service, timer) = units_in(tmp.path(), env!("CARGO_BIN_EXE_vigil"));
    let broken = read(TIMER).replace("OnCalendar=*-*-* 02:30", "OnCalendar=*-*-* 25:30");
    assert_ne!(broken, read(TIMER));
    std::fs::write(&timer, broken).unwrap();
    let out = verify(tool, &service, &timer);
    assert!(!out.status.success(), "{}", text(&out));
}

/// The timer fires every night at 02:30 and catches up after downtime.
#[test]
fn the_timer_fires_nightly_at_half_past_two() {
    let timer = read(TIMER);
    for setting in [
        "OnCalendar=*-*-* 02:30",
        "Persistent=true",
        "RandomizedDelaySec=",
        "WantedBy=timers.target",
    ] {
        assert!(
            timer.lines().any(|l| l.starts_with(setting)),
            "the timer has {setting}"
        );
    }
}

/// The service's sandbox keeps systemd's "OK" rating (an exposure of 2.0 or less out of 10), and
/// leaves out what would make a live scan judge the sandbox instead of the host: a private /tmp
/// or /dev, a /proc without /proc/sys.
#[test]
fn the_service_is_sandboxed_without_hiding_the_host() {
    let service = read(SERVICE);
    let settings: Vec<&str> = service
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for absent in [
        "DynamicUser=",
        "PrivateTmp=",
        "PrivateDevices=",
        "ProcSubset=",
    ] {
        assert!(
            !settings.iter().any(|l| l.starts_with(absent)),
            "{absent} would change what a scan of the live host sees"
        );
    }
    for present in [
        "Type=oneshot",
        "ProtectSystem=strict",
        "StateDirectory=vigil",
        "ReadWritePaths=/var/lib/vigil",
        "NoNewPrivileges=yes",
        "PrivateNetwork=yes",
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
    ] {
        assert!(settings.contains(&present), "the service has {present}");
    }

    let Some(tool) = systemd_analyze() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (unit, _) = units_in(tmp.path(), env!("CARGO_BIN_EXE_vigil"));
    let out = Command::new(tool)
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let said = text(&out);
    assert!(out.status.success(), "exposure above 2.0:\n{said}");
    let level: f64 = said
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for vigil-nightly.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
    assert!(level <= 2.0, "exposure {level}");
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

/// The kubernetes-validate command: the executable on the PATH, else the Python module.
fn kubernetes_validate() -> Option<Vec<String>> {
    if runs("kubernetes-validate", &["--version"]) {
        return Some(vec!["kubernetes-validate".into()]);
    }
    if runs("python3", &["-m", "kubernetes_validate", "--version"]) {
        return Some(vec![
            "python3".into(),
            "-m".into(),
            "kubernetes_validate".into(),
        ]);
    }
    missing("kubernetes-validate", "pip install kubernetes-validate");
    None
}

/// Validates a manifest strictly (unknown fields are errors) against the pinned version's schemas,
/// which the package carries: nothing is downloaded.
fn validate(tool: &[String], manifest: &Path) -> Output {
    Command::new(&tool[0])
        .args(&tool[1..])
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
        .arg(manifest)
        .output()
        .expect("kubernetes-validate runs")
}

#[test]
fn kubernetes_manifests_validate_strictly() {
    let Some(tool) = kubernetes_validate() else {
        return;
    };
    let out = validate(&tool, &common::root(CRONJOB));
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for resource in [
        "namespace/vigil",
        "persistentvolumeclaim/vigil-history",
        "cronjob/vigil-nightly",
    ] {
        assert!(
            said.contains(&format!(
                "passed for resource {resource} against version {KUBERNETES_VERSION}"
            )),
            "{resource} validated:\n{said}"
        );
    }

    // A field the schema does not know, in the CronJob's spec and deep in its pod template, is
    // rejected: the validation is strict.
    let tmp = tempfile::tempdir().unwrap();
    let original = read(CRONJOB);
    for (from, to, field) in [
        (
            "  concurrencyPolicy: Forbid\n",
            "  concurrencyPolicy: Forbid\n  concurrency: 1\n",
            "concurrency",
        ),
        (
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesytem: true",
            "readOnlyRootFilesytem",
        ),
    ] {
        assert!(original.contains(from));
        let broken = tmp.path().join("broken.yaml");
        std::fs::write(&broken, original.replacen(from, to, 1)).unwrap();
        let out = validate(&tool, &broken);
        let said = text(&out);
        assert!(!out.status.success(), "{field} accepted:\n{said}");
        assert!(
            said.contains("did not validate for resource cronjob/vigil-nightly")
                && said.contains(&format!("'{field}' was unexpected")),
            "{said}"
        );
    }
}

/// The pod runs with the least it needs: no privilege escalation, a read-only root filesystem,
/// every capability dropped (the scan adds back only DAC_READ_SEARCH), the node read-only, one run
/// at a time, and the history on a claim of the same file.
#[test]
fn the_cronjob_runs_one_locked_down_pod_at_a_time() {
    let docs = yaml(CRONJOB);
    let cronjob = docs.iter().find(|d| d["kind"] == "CronJob").unwrap();
    assert_eq!(cronjob["apiVersion"], "batch/v1");
    assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    for c in cronjob_containers(&docs) {
        let name = c["name"].as_str().unwrap();
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{name}");
        let added = strings(&sc["capabilities"]["add"]);
        assert!(
            added.is_empty() || added == ["DAC_READ_SEARCH"],
            "{name}: {added:?}"
        );
        for m in c["volumeMounts"].as_array().unwrap() {
            if m["name"] == "host" {
                assert_eq!(m["readOnly"], true, "{name}: the node is mounted read-only");
            }
        }
    }
    let volumes = pod["volumes"].as_array().unwrap();
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .expect("the history is on a claim");
    assert!(
        docs.iter()
            .any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == claim),
        "the claim {claim} is in the file"
    );
}

/// The vigil commands of the Jobs of a manifest: init containers, then containers.
fn job_commands(docs: &[Value]) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for job in docs.iter().filter(|d| d["kind"] == "Job") {
        let pod = &job["spec"]["template"]["spec"];
        for key in ["initContainers", "containers"] {
            for c in pod[key].as_array().cloned().unwrap_or_default() {
                let mut words = strings(&c["command"]);
                words.extend(strings(&c["args"]));
                if words.first().is_some_and(|w| w == "vigil") {
                    commands.push(words[1..].to_vec());
                }
            }
        }
    }
    commands
}

/// The sharded scan of the Kubernetes example, run as its Indexed Job's 8 pods would run it (the
/// index substituted for `$(JOB_COMPLETION_INDEX)`, `/data` a fixture tree, `/results` a temporary
/// directory), then its merge Job: the merged result is the result one scan writes, and the
/// report renders.
#[test]
fn the_sharded_job_and_its_merge_give_the_unsharded_result() {
    let shards = job_commands(&yaml(SHARDED));
    let merge = job_commands(&yaml(MERGE));
    assert_eq!(shards.len(), 1, "one scan container");
    assert_eq!(merge.len(), 2, "merge, then report");
    let job = yaml(SHARDED)
        .into_iter()
        .find(|d| d["kind"] == "Job")
        .unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(
        option(&shards[0], "--shard"),
        Some(format!("$(JOB_COMPLETION_INDEX)/{n}").as_str())
    );

    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    std::fs::create_dir(&results).unwrap();
    let data = common::root("testdata").display().to_string();
    let place = |command: &[String], index: Option<u64>| -> Vec<String> {
        command
            .iter()
            .map(|w| {
                let w = match index {
                    Some(i) => w.replace("$(JOB_COMPLETION_INDEX)", &i.to_string()),
                    None => w.clone(),
                };
                if w == "/data" {
                    data.clone()
                } else if let Some(rest) = w.strip_prefix("/results/") {
                    results.join(rest).display().to_string()
                } else {
                    w
                }
            })
            .collect()
    };
    for i in 0..n {
        let out = run_vigil(&place(&shards[0], Some(i)));
        assert_eq!(out.status.code(), Some(0), "shard {i}: {}", text(&out));
    }
    for command in &merge {
        let out = run_vigil(&place(command, None));
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", text(&out));
    }
    assert!(results.join("report.html").is_file());

    // One process scanning the same tree with the same arguments, but no shard.
    let mut whole = without_option(&place(&shards[0], Some(0)), "--shard");
    let at = whole.iter().position(|w| w == "--output").unwrap();
    whole[at + 1] = tmp.path().join("whole.json").display().to_string();
    let out = run_vigil(&whole);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let content = |path: &Path| {
        let mut v = json_file(path);
        let o = v.as_object_mut().unwrap();
        o.remove("run");
        o.remove("integrity");
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(
        content(&results.join("result.json")),
        content(&tmp.path().join("whole.json"))
    );
}

#[test]
fn the_sharded_and_endpoint_manifests_validate_strictly() {
    let Some(tool) = kubernetes_validate() else {
        return;
    };
    for (file, resources) in [
        (
            SHARDED,
            &["persistentvolumeclaim/vigil-results", "job/vigil-shards"][..],
        ),
        (MERGE, &["job/vigil-merge"][..]),
        (NODE_AUDIT, &["daemonset/vigil-node-audit"][..]),
        (HISTORY_SECRET, &["secret/vigil-history"][..]),
        (
            FLEET_REPORT,
            &[
                "persistentvolumeclaim/vigil-fleet-report",
                "cronjob/vigil-fleet-report",
            ][..],
        ),
    ] {
        let out = validate(&tool, &common::root(file));
        let said = text(&out);
        assert!(out.status.success(), "{file}: {said}");
        for resource in resources {
            assert!(
                said.contains(&format!(
                    "passed for resource {resource} against version {KUBERNETES_VERSION}"
                )),
                "{resource} validated:\n{said}"
            );
        }
    }
}

/// The endpoint CronJob's inventory and commands, run over two nights with the inventory's
/// addresses and ports pointed at a closed loopback port (nothing else is contacted): the inventory
/// parses, every endpoint is judged (an `error`, as nothing listens), the run is stored and the
/// diff of the second night is written.
#[test]
fn the_endpoint_cronjob_audits_its_inventory() {
    let docs = yaml(ENDPOINTS);
    let inventory = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .and_then(|d| d["data"]["inventory.yaml"].as_str())
        .expect("the inventory's ConfigMap")
        .to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut local = String::new();
    for line in inventory.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("address:") {
            local.push_str(&format!("{indent}address: 127.0.0.1\n"));
        } else if trimmed.starts_with("ports:") {
            local.push_str(&format!("{indent}ports: [{port}]\n"));
        } else {
            local.push_str(line);
            local.push('\n');
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let inventory_file = tmp.path().join("inventory.yaml");
    std::fs::write(&inventory_file, &local).unwrap();
    let place = |command: &[String]| -> Vec<String> {
        command
            .iter()
            .map(|w| {
                if w == "/etc/vigil/inventory.yaml" {
                    inventory_file.display().to_string()
                } else if let Some(rest) = w.strip_prefix("/var/lib/vigil/") {
                    in_tmp(tmp.path(), &format!("var/lib/vigil/{rest}"))
                        .display()
                        .to_string()
                } else {
                    w.clone()
                }
            })
            .chain(
                ["--connect-timeout".to_string(), "1s".to_string()]
                    .into_iter()
                    .filter(|_| command[0] == "scan"),
            )
            .collect()
    };
    let commands: Vec<Vec<String>> = cronjob_commands(&docs).iter().map(|c| place(c)).collect();
    assert_eq!(commands.len(), 2, "scan, then diff");
    run_two_nights(ENDPOINTS, &commands, |_| {});
    let reports = PathBuf::from(option(&commands[0], "--output-dir").unwrap());
    let result = json_file(&reports.join("results.json"));
    assert_eq!(
        result["inventory"]["endpoints"], 3,
        "every endpoint of the inventory"
    );
    let endpoints: std::collections::BTreeSet<&str> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["target"]["endpoint"].as_str())
        .collect();
    assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    assert!(endpoints.iter().any(|e| e.starts_with("mail.example.org")));
    let diff = std::fs::read_to_string(option(&commands[1], "-o").unwrap()).unwrap();
    assert!(diff.contains("0 new, 0 resolved"), "{diff}");
}

// ---------------------------------------------------------------------------------------------
// The fleet's examples, against a PostgreSQL server started on a spare loopback port.
// ---------------------------------------------------------------------------------------------

/// Runs an example's vigil command with `VIGIL_HISTORY` set, as the Secret or the environment file
/// sets it; it must succeed.
fn run_with_history(args: &[String], url: &str) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("VIGIL_HISTORY", url)
        .output()
        .expect("the vigil binary runs");
    assert_eq!(out.status.code(), Some(0), "vigil {args:?}: {}", text(&out));
    assert!(
        !text(&out).contains(common::postgres::PASSWORD),
        "vigil {args:?} printed the password"
    );
    out
}

/// The vigil commands of the DaemonSet's script, with the pod's environment put in.
fn daemonset_commands(node: &str) -> Vec<Vec<String>> {
    let docs = yaml(NODE_AUDIT);
    let daemonset = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    let container = &daemonset["spec"]["template"]["spec"]["containers"][0];
    let env = |name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("the container sets {name}"))
            .clone()
    };
    assert_eq!(
        env("NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );
    let secret = &env("VIGIL_HISTORY")["valueFrom"]["secretKeyRef"];
    let declared = yaml(HISTORY_SECRET);
    assert_eq!(secret["name"], declared[0]["metadata"]["name"]);
    assert!(
        declared[0]["stringData"][secret["key"].as_str().unwrap()]
            .as_str()
            .is_some_and(|u| u.starts_with("postgres://"))
    );
    let cluster = env("CLUSTER")["value"].as_str().unwrap().to_string();
    let script = container["command"][2].as_str().expect("a shell script");
    let commands: Vec<Vec<String>> = script_lines(script)
        .iter()
        .map(|l| l.replace("$NODE_NAME", node).replace("$CLUSTER", &cluster))
        .flat_map(|l| vigil_commands(&l))
        .collect();
    assert_eq!(commands.len(), 1, "one scan a night");
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/host" && m["readOnly"] == true),
        "the node's root is mounted read-only at /host"
    );
    commands
}

/// Two nodes of the DaemonSet and this machine's systemd units store their runs into one
/// PostgreSQL history; the fleet report CronJob then reports the cluster's two nodes, and the
/// unit's diff of the second night is written.
#[test]
fn the_fleet_examples_write_to_postgres_and_report() {
    let Some(pg) = common::postgres::Postgres::start(&[], &[]) else {
        return;
    };
    let url = pg.database("fleet");
    let tmp = tempfile::tempdir().unwrap();
    for node in ["node-a", "node-b"] {
        for command in daemonset_commands(node) {
            assert_eq!(option(&command, "--root"), Some("/host"));
            assert_eq!(option(&command, "--host-name"), Some(node));
            run_with_history(&localize(&command, tmp.path()), &url);
        }
    }
    // This machine, on its timer, two nights running.
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let unit = read(FLEET_SERVICE).replace("%H", &host);
    assert!(unit.contains("EnvironmentFile=/etc/vigil/history.env"));
    let commands = systemd_commands(&unit);
    assert_eq!(commands.len(), 2, "{commands:?}");
    for night in 0..2 {
        for (i, command) in commands.iter().enumerate() {
            let args = localize(command, tmp.path());
            if night == 0 && i == 1 {
                continue; // the first night has no previous run to compare with ("-" prefix)
            }
            run_with_history(&args, &url);
        }
    }
    let diff = std::fs::read_to_string(tmp.path().join("var/lib/vigil/latest/diff.md")).unwrap();
    assert!(diff.contains(&host), "the diff names the host:\n{diff}");
    // The morning's fleet report, over the cluster's nodes (the tag).
    let report = cronjob_commands(&yaml(FLEET_REPORT));
    assert_eq!(report.len(), 1);
    run_with_history(&localize(&report[0], tmp.path()), &url);
    let fleet = json_file(&tmp.path().join("var/lib/vigil/fleet/fleet.json"));
    assert_eq!(fleet["hosts"], 2, "{fleet}");
    let hosts: Vec<&str> = fleet["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    let mut sorted = hosts.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["node-a", "node-b"]);
    for f in ["fleet.html", "fleet.md"] {
        assert!(
            tmp.path().join("var/lib/vigil/fleet").join(f).exists(),
            "{f}"
        );
    }
}

#[test]
fn fleet_units_verify() {
    let Some(tool) = systemd_analyze() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (service, timer) = units_of(
        tmp.path(),
        env!("CARGO_BIN_EXE_vigil"),
        FLEET_SERVICE,
        FLEET_TIMER,
    );
    let out = verify(tool, &service, &timer);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("vigil-fleet"),
        "systemd-analyze has something to say:\n{said}"
    );
    let missing_binary = tmp.path().join("no-such-vigil");
    let (service, timer) = units_of(
        tmp.path(),
        missing_binary.to_str().unwrap(),
        FLEET_SERVICE,
        FLEET_TIMER,
    );
    let out = verify(tool, &service, &timer);
    assert!(!out.status.success(), "{}", text(&out));
}

/// The README's walk-through of a shared history: the bundled script starts PostgreSQL, two scans
/// from two "hosts" store their runs in it, and the fleet report shows both.
#[test]
fn the_bundled_postgres_example_runs() {
    // Only to find out whether PostgreSQL is here (and fail under CI if it is not).
    if common::postgres::Postgres::start(&[], &[]).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pg");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let script = common::root(LOCAL_POSTGRES);
    let start = Command::new(&script)
        .args(["start", dir.to_str().unwrap(), &port])
        .output()
        .unwrap();
    assert!(start.status.success(), "{}", text(&start));
    assert!(
        text(&start).contains("export VIGIL_HISTORY="),
        "{}",
        text(&start)
    );
    // Stopped however the test ends.
    struct Stop(PathBuf, PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new(&self.0).arg("stop").arg(&self.1).output();
        }
    }
    let _stop = Stop(script.clone(), dir.clone());
    let url = std::fs::read_to_string(dir.join("url")).unwrap();
    let url = url.trim();
    assert!(
        url.starts_with("postgres://vigil:") && url.contains(&port),
        "{url}"
    );
    let again = Command::new(&script)
        .args(["start", dir.to_str().unwrap(), &port])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "starting twice is harmless: {}",
        text(&again)
    );
    let readme = read("README.md");
    for (host, tree) in [
        ("web-01", "testdata/ssh/weak"),
        ("db-01", "testdata/ssh/hardened"),
    ] {
        assert!(
            readme.contains(&format!("--host-name {host}")),
            "the README scans {host}"
        );
        let args: Vec<String> = [
            "scan",
            tree,
            "--host-name",
            host,
            "--fail-on",
            "none",
            "-q",
            "-f",
            "json",
            "-o",
            "/dev/null",
        ]
        .map(String::from)
        .to_vec();
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VIGIL_HISTORY", url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let report = tmp.path().join("fleet.json");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "fleet",
            "report",
            "-f",
            "json",
            "-o",
            report.to_str().unwrap(),
        ])
        .env("VIGIL_HISTORY", url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = json_file(&report);
    assert_eq!(fleet["hosts"], 2, "{fleet}");
}
