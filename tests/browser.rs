//! The HTML report in a real browser (headless Chromium): hostile scanned content does not run, the
//! page's own script does, every control is rendered, the page makes no network request even when a
//! template tries to, and a report of 100,000 findings stays small and opens quickly.
//!
//! Chromium is installed by `.ci/run`. Without it these tests are skipped locally with a message;
//! under CI (`CI` set) a missing browser is a failure.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{AT, vigil};

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
            }
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is required under CI (.ci/run installs it)");
    }
    eprintln!("skipping: chromium is not installed (apt-get install chromium)");
    None
}

/// Runs headless Chromium on a local file and returns the DOM after scripts ran.
fn dump_dom(browser: &Path, page: &Path, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read the DOM while the browser runs: a page larger than the pipe buffer would otherwise block it.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut dom).map(|_| dom)
    });
    // A guard against a browser that hangs, not a performance limit.
    let deadline = start + Duration::from_secs(600);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 600 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap().unwrap_or_default()
}

/// A loopback listener that counts HTTP requests (connections that send bytes). Chromium may open a
/// speculative connection to an origin it sees in the markup without sending anything on it; that is
/// not a request, and the CSP is about requests.
struct Probe {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn probe() -> Probe {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(150);
        while Instant::now() < end {
            if let Ok((mut conn, _)) = listener.accept() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    conn.set_nonblocking(false).ok();
                    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
                    let mut buf = [0u8; 512];
                    if std::io::Read::read(&mut conn, &mut buf).is_ok_and(|n| n > 0) {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Probe { port, hits }
}

#[test]
fn injected_markup_does_not_run_and_every_control_is_rendered() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let net = probe();
    // A scanned file that also tries to load a resource from a local server.
    let data = dir.path().join("injection");
    std::fs::create_dir(&data).unwrap();
    let hostile = std::fs::read_to_string(common::root("testdata/injection/app.yaml")).unwrap()
        + &format!(
            "beacon: \"<img src=http://127.0.0.1:{}/beacon.png>\"\n",
            net.port
        );
    std::fs::write(data.join("app.yaml"), hostile).unwrap();
    let report = dir.path().join("report.html");
    let out = vigil(&[
        "scan",
        data.to_str().unwrap(),
        "--policy",
        "testdata/policies/injection.yaml",
        "--policy",
        "policies/ssh-hardening.yaml",
        "--at",
        AT,
        "--format",
        "html",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dom = dump_dom(&browser, &report, &[]);
    assert!(
        dom.contains("<title>vigil compliance report</title>"),
        "the title is unchanged"
    );
    assert!(
        !dom.contains("<body data-pwned"),
        "the onerror handler did not run"
    );
    assert!(
        !dom.contains("<img"),
        "no image element was created from scanned content"
    );
    assert!(!dom.contains("<h1>injected</h1>"));
    assert!(
        dom.contains("&lt;script&gt;document.title="),
        "the payload is shown as text"
    );
    // 20 controls of the two policies, and the 2 of the suppressions pack every scan of files has.
    assert_eq!(
        dom.matches("<article class=\"control\"").count(),
        22,
        "every control of the three policies has a section"
    );
    assert!(
        dom.contains("22 of 22 controls shown"),
        "the report's own script ran under its CSP"
    );
    assert_eq!(
        net.hits.load(Ordering::SeqCst),
        0,
        "the page made no network request"
    );

    let shot = dir.path().join("shot.png");
    let _ = dump_dom(
        &browser,
        &report,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
        ],
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "a screenshot was taken"
    );
}

#[test]
fn the_content_security_policy_blocks_requests_a_template_would_make() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let net = probe();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    let builtin = std::fs::read_to_string(common::root("reports/report.html.hbs")).unwrap();
    let leaky = builtin.replace(
        "</footer>",
        &format!(
            "<img src=\"http://127.0.0.1:{p}/img.png\"><link rel=\"stylesheet\" href=\"http://127.0.0.1:{p}/x.css\"><script src=\"http://127.0.0.1:{p}/x.js\"></script><iframe src=\"http://127.0.0.1:{p}/frame\"></iframe></footer>",
            p = net.port
        ),
    );
    std::fs::write(templates.join("report.html.hbs"), leaky).unwrap();
    let report = dir.path().join("report.html");
    let out = vigil(&[
        "report",
        "tests/golden/results.json",
        "--format",
        "html",
        "--template-dir",
        templates.to_str().unwrap(),
        "--output",
        report.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains(&format!("127.0.0.1:{}/img.png", net.port))
    );
    let dom = dump_dom(&browser, &report, &[]);
    assert!(dom.contains("controls shown"), "the page rendered");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        net.hits.load(Ordering::SeqCst),
        0,
        "the CSP blocked every request"
    );
}

#[test]
fn a_report_of_100000_findings_stays_small_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut text = String::with_capacity(2_000_000);
    for i in 0..100_000 {
        text.push_str(&format!("TODO item {i}\n"));
    }
    std::fs::write(data.join("todo.txt"), text).unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        "policy: todo\ntitle: T\nversion: '1'\ncontrols:\n  - id: TODO-1\n    title: No TODO\n    severity: low\n    references: {NIST-800-53r5: [SA-11]}\n    rationale: r\n    remediation: m\n    target: {kind: file, paths: ['**']}\n    check: {pattern: 'TODO item [0-9]+'}\n",
    )
    .unwrap();
    let json = dir.path().join("results.json");
    let out = vigil(&[
        "scan",
        data.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--at",
        AT,
        "--format",
        "json",
        "--output",
        json.to_str().unwrap(),
        "--fail-on",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // And the two `not_applicable` verdicts of the suppressions pack (no file has a suppression).
    assert_eq!(results["findings"].as_array().unwrap().len(), 100_002);

    // How fast this renders is measured in bench/report.sh, not here: a timing limit fails on a
    // loaded machine.
    let report = dir.path().join("report.html");
    let out = vigil(&[
        "report",
        json.to_str().unwrap(),
        "--format",
        "html",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let size = std::fs::metadata(&report).unwrap().len();
    // Documented in the README: at most 200 findings per control in the HTML, the rest stay in the JSON.
    assert!(size < 1_000_000, "report is {size} bytes");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("99800 further findings of this control are in the JSON result."));

    let Some(browser) = chromium() else { return };
    let dom = dump_dom(&browser, &report, &[]);
    assert!(dom.contains("3 of 3 controls shown"));
}

/// The "since the last run" section of a scan stored in a history: new findings quoting hostile
/// content are shown as text, the trend chart is drawn, and the report's script still runs under
/// its CSP.
#[test]
fn the_drift_section_renders_hostile_findings_as_text() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let net = probe();
    let data = dir.path().join("injection");
    std::fs::create_dir(&data).unwrap();
    let original = std::fs::read_to_string(common::root("testdata/injection/app.yaml")).unwrap();
    let history = dir.path().join("history.db");
    let report = dir.path().join("report.html");
    for night in [1, 2] {
        let text = if night == 1 {
            original.clone()
        } else {
            original.clone()
                + &format!(
                    "beacon: \"<img src=http://127.0.0.1:{}/beacon.png>\"\n",
                    net.port
                )
        };
        std::fs::write(data.join("app.yaml"), text).unwrap();
        let out = vigil(&[
            "scan",
            data.to_str().unwrap(),
            "--policy",
            "testdata/policies/injection.yaml",
            "--at",
            AT,
            "--fail-on",
            "none",
            "--format",
            "html",
            "--output",
            report.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dom = dump_dom(&browser, &report, &[]);
    let drift = &dom[dom.find("<section id=\"drift\">").expect("a drift section")..];
    let drift = &drift[..drift.find("</section>").unwrap()];
    assert!(drift.contains("1 new</strong>"), "{drift}");
    assert!(drift.contains("&lt;img src=http://127.0.0.1:"), "{drift}");
    assert!(!dom.contains("<img"), "no image element was created");
    assert!(drift.contains("<polyline class=\"passrate-line\""));
    assert_eq!(drift.matches("<circle class=\"passrate-dot\"").count(), 2);
    assert!(dom.contains("controls shown"), "the report's script ran");
    assert_eq!(net.hits.load(Ordering::SeqCst), 0, "no network request");
}
