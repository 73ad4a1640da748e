//! The README's first command, run as the README gives it: a newcomer sees the fixtures as their
//! names say (good and hardened ones pass; weak, defective and broken ones do not).

mod common;

use common::vigil;
use serde_json::Value;

/// The arguments of the README's `cargo run --release -- scan ...` line.
fn readme_scan_arguments() -> Vec<String> {
    let readme = std::fs::read_to_string(common::root("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- scan "))
        .expect("the README opens with a scan command");
    line.trim_start_matches("cargo run --release -- ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_scan_shows_good_fixtures_as_good_and_bad_ones_as_bad() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = readme_scan_arguments();
    let out_dir = args
        .iter()
        .position(|a| a == "--output-dir")
        .expect("the README writes a report directory");
    args[out_dir + 1] = dir.path().to_str().unwrap().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = vigil(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "report.html",
        "results.json",
        "results.sarif",
        "junit.xml",
        "summary.md",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} written");
    }
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let findings = result["findings"].as_array().unwrap();
    let under = |part: &str, states: &[&str]| {
        findings
            .iter()
            .filter(|f| {
                f["target"]["file"]
                    .as_str()
                    .is_some_and(|p| p.contains(part))
                    && states.contains(&f["state"].as_str().unwrap())
            })
            .count()
    };
    for good in [
        "certs/good/",
        "ssh/hardened/",
        "nginx/hardened/",
        "sysctl/hardened/",
        "k8s/hardened-deployment.yaml",
    ] {
        assert!(under(good, &["pass"]) > 0, "{good} is judged");
        assert_eq!(under(good, &["fail", "error"]), 0, "{good} passes");
    }
    for bad in ["certs/defects/", "ssh/weak/", "nginx/weak/", "sysctl/weak/"] {
        assert!(under(bad, &["fail"]) > 0, "{bad} fails");
    }
    for broken in [
        "ssh/broken/",
        "nginx/broken/",
        "k8s/broken.yaml",
        "certs/bad/",
    ] {
        assert!(under(broken, &["error"]) > 0, "{broken} gives errors");
    }
}

/// Every example after the opening commands calls `vigil`: the README says how to get it on the
/// `PATH` before the first of them.
#[test]
fn the_readme_says_how_to_install_vigil_before_using_it() {
    let readme = std::fs::read_to_string(common::root("README.md")).unwrap();
    let install = readme
        .find("cargo install --path .")
        .expect("the README gives the install command");
    let first_use = readme.find("\nvigil scan ").expect("usage examples");
    assert!(install < first_use);
}
