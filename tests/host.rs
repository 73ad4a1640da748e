//! `vigil scan --root`: the host collectors and the `linux-baseline` pack against the fixture roots
//! in testdata/roots (a weak and a hardened Debian 12 filesystem), with the modes and owners git
//! does not keep applied to a copy first (testdata/roots/modes), and one scan of the live machine
//! that checks its facts are read.

mod common;

use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use common::{assert_lines, lines, root, scan_json, vigil};
use serde_json::Value;

const PACK: &str = "policies/linux-baseline.yaml";

/// Whether the tests may set owners (uid 0 and a uid no account has).
fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A copy of `testdata/roots/NAME`, every file owned by root, then the modes and owners of
/// testdata/roots/modes applied.
fn prepared(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root(&format!("testdata/roots/{name}")), dir.path());
    let modes = std::fs::read_to_string(root("testdata/roots/modes")).unwrap();
    for line in modes
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] != name {
            continue;
        }
        let path = dir.path().join(f[1]);
        let mode = u32::from_str_radix(f[2], 8).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        lchown(
            &path,
            Some(f[3].parse().unwrap()),
            Some(f[4].parse().unwrap()),
        )
        .unwrap();
    }
    dir
}

/// Copies a tree, keeping symbolic links as links, every entry owned by root.
fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.unwrap();
        let dest: PathBuf = to.join(entry.path().strip_prefix(from).unwrap());
        let ft = entry.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else if ft.is_symlink() {
            symlink(std::fs::read_link(entry.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        lchown(&dest, Some(0), Some(0)).unwrap();
    }
}

/// The scan's finding lines, with the temporary root shown as `ROOT`.
fn scan_root(dir: &Path) -> (i32, Value, Vec<String>) {
    let r = dir.to_str().unwrap();
    let (code, v) = scan_json(&["--root", r, "--policy", PACK, "--fail-on", "none"]);
    let lines = lines(&v)
        .into_iter()
        .map(|l| l.replace(r, "ROOT"))
        .collect();
    (code, v, lines)
}

/// Skips a test that sets owners when it cannot (an unprivileged developer run; CI runs as root).
macro_rules! needs_root {
    () => {
        if !privileged() {
            eprintln!("skipped: setting the fixture owners needs root");
            return;
        }
    };
}

/// Every control that judges the running kernel is not applicable to a mounted root.
const LIVE_ONLY: [&str; 13] = [
    "LNX-020", "LNX-022", "LNX-024", "LNX-026", "LNX-028", "LNX-030", "LNX-032", "LNX-034",
    "LNX-036", "LNX-038", "LNX-040", "LNX-042", "LNX-044",
];

fn with_live_only(mut expected: Vec<String>) -> Vec<String> {
    expected.extend(LIVE_ONLY.iter().map(|c| format!("{c} not_applicable *")));
    expected
}

#[test]
fn a_weak_root_fails_exactly_its_controls() {
    needs_root!();
    let dir = prepared("weak");
    let (_, v, actual) = scan_root(dir.path());
    let mut actual = actual;
    // Not-applicable verdicts come last, in control order.
    let (na, rest): (Vec<String>, Vec<String>) = actual
        .drain(..)
        .partition(|l| l.contains(" not_applicable "));
    let actual: Vec<String> = rest.into_iter().chain(na).collect();
    let expected: Vec<String> = with_live_only(
        [
            "LNX-001 fail ROOT",
            "LNX-002 fail ROOT",
            "LNX-003 pass ROOT",
            "LNX-004 fail ROOT",
            "LNX-005 fail ROOT",
            "LNX-006 fail ROOT",
            "LNX-007 fail ROOT",
            "LNX-008 fail ROOT",
            "LNX-009 fail ROOT",
            "LNX-010 fail ROOT",
            "LNX-011 fail ROOT",
            "LNX-012 fail ROOT",
            "LNX-013 fail ROOT",
            "LNX-014 fail ROOT",
            "LNX-015 fail ROOT",
            "LNX-021 fail ROOT:2 in /etc/sysctl.conf",
            "LNX-023 fail ROOT",
            "LNX-025 fail ROOT",
            "LNX-027 pass ROOT:2 in /usr/lib/sysctl.d/50-default.conf",
            "LNX-029 pass ROOT:4 in /usr/lib/sysctl.d/50-default.conf",
            "LNX-031 pass ROOT:3 in /usr/lib/sysctl.d/50-default.conf",
            "LNX-033 pass ROOT",
            "LNX-035 fail ROOT:3 in /etc/sysctl.conf",
            "LNX-037 pass ROOT",
            "LNX-039 fail ROOT:4 in /etc/sysctl.conf",
            "LNX-041 fail ROOT",
            "LNX-043 fail ROOT",
            "LNX-045 fail ROOT:7 in /etc/sysctl.conf",
            "LNX-050 fail ROOT:47 in /var/lib/dpkg/status",
            "LNX-051 pass ROOT",
            "LNX-052 fail ROOT:27 in /var/lib/dpkg/status",
            "LNX-053 fail ROOT:14 in /var/lib/dpkg/status",
            "LNX-054 fail ROOT:41 in /var/lib/dpkg/status",
            "LNX-055 fail ROOT",
            "LNX-056 fail ROOT",
            "LNX-057 pass ROOT:34 in /var/lib/dpkg/status",
            "LNX-058 fail ROOT",
            "LNX-060 fail ROOT",
            "LNX-061 fail ROOT:6 in /etc/shadow user guest",
            "LNX-062 fail ROOT:7 in /etc/passwd user legacy",
            "LNX-063 fail ROOT",
            "LNX-064 pass ROOT",
            "LNX-065 fail ROOT",
            "LNX-066 fail ROOT:5 in /etc/group",
            "LNX-067 fail ROOT:3 in /etc/login.defs",
            "LNX-068 fail ROOT:4 in /etc/login.defs",
            "LNX-069 pass ROOT:5 in /etc/login.defs",
            "LNX-070 fail ROOT:6 in /etc/login.defs",
            "LNX-071 fail ROOT:5 in /etc/security/limits.conf",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    );
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_lines(&actual, &expected);

    // The evidence says what was found.
    let observed = |control: &str| -> String {
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["control"] == control)
            .unwrap_or_else(|| panic!("no {control}"));
        f["observed"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(observed("LNX-001"), "rw-rw-rw-");
    assert_eq!(
        observed("LNX-008"),
        r#"["/etc/passwd"], ["/usr/share/doc/app/notes.txt"]"#
    );
    assert_eq!(observed("LNX-009"), r#"["/var/tmp"]"#);
    assert_eq!(observed("LNX-010"), r#"["/opt/legacy/tool"]"#);
    assert_eq!(observed("LNX-025"), "(absent; default: 0)");
    assert_eq!(observed("LNX-056"), "masked");
    assert_eq!(observed("LNX-060"), r#"["root","toor"]"#);
    assert_eq!(
        observed("LNX-063"),
        r#"["uid 0: root, toor","uid 1001: dev, dev2"]"#
    );
    assert_eq!(observed("LNX-070"), "022");
    // A guarded requirement (`exists: false`, or mode and owner) names why each alternative
    // fails: the mode beside the directory's existence, not the existence alone.
    let message = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["control"] == "LNX-007")
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default();
    assert_eq!(
        message,
        r#"Not satisfied: `["/etc/cron.d"].exists` is `true` and `["/etc/cron.d"].permissions` is `rwxr-xr-x`."#
    );
    // A password hash never reaches an output: only its state does.
    let text = v.to_string();
    assert!(
        !text.contains("fixtureHash") && !text.contains("NotARealMd5"),
        "{text}"
    );
}

#[test]
fn a_hardened_root_passes_every_control() {
    needs_root!();
    let dir = prepared("hardened");
    let (code, _, actual) = scan_root(dir.path());
    assert_eq!(code, 0);
    let judged: Vec<&String> = actual
        .iter()
        .filter(|l| !l.contains(" not_applicable "))
        .collect();
    assert_eq!(judged.len(), 62 - LIVE_ONLY.len(), "{actual:#?}");
    assert!(judged.iter().all(|l| l.contains(" pass ")), "{judged:#?}");
}

/// Facts that cannot be read are `error`, never `pass`: a shadow file that is not a regular file,
/// an rpm database, a missing os-release.
#[test]
fn unreadable_facts_are_errors() {
    needs_root!();
    let dir = prepared("hardened");
    let d = dir.path();
    std::fs::remove_file(d.join("etc/shadow")).unwrap();
    std::fs::create_dir(d.join("etc/shadow")).unwrap();
    std::fs::remove_file(d.join("var/lib/dpkg/status")).unwrap();
    std::fs::create_dir_all(d.join("var/lib/rpm")).unwrap();
    let (_, v, _) = scan_root(d);
    let findings = v["findings"].as_array().unwrap();
    // An error that blocks several controls is one finding naming them all.
    let state = |control: &str| -> (String, String) {
        let f = findings
            .iter()
            .find(|f| {
                f["control"] == control
                    || f["blocked_controls"]
                        .as_array()
                        .is_some_and(|b| b.iter().any(|c| c == control))
            })
            .unwrap_or_else(|| panic!("no verdict names {control}"));
        (
            f["state"].as_str().unwrap().to_string(),
            f["message"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (s, m) = state("LNX-061");
    assert_eq!(s, "error");
    assert!(
        m.contains("cannot read /etc/shadow: not a regular file"),
        "{m}"
    );
    let (s, m) = state("LNX-050");
    assert_eq!(s, "error");
    assert!(
        m.contains("the rpm package database is not supported"),
        "{m}"
    );
    // What could still be read is judged, and nothing blocked is called not applicable.
    assert_eq!(state("LNX-001").0, "pass");
    assert!(
        findings
            .iter()
            .all(|f| f["state"] != "not_applicable" || f["target"]["kind"] == "sysctl_live"),
        "{findings:#?}"
    );
}

/// The live machine: its facts are read (without asserting how hardened it is).
#[test]
fn the_live_machine_is_read() {
    let out = vigil(&["facts", "--root", "/"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let docs = v[0]["documents"].as_array().unwrap();
    let kind = |k: &str| -> &Value {
        &docs
            .iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} document: {:#}", v[0]["errors"]))["facts"]
    };
    assert!(kind("os")["id"].is_string());
    assert!(kind("os")["kernel_release"].is_string(), "live only");
    let live = kind("sysctl_live");
    assert!(
        live["kernel.ostype"] == "Linux",
        "the running kernel's parameters: {}",
        live["kernel.ostype"]
    );
    assert!(kind("mounts")["/"].is_object(), "/ is mounted");
    assert!(kind("file_meta")["/etc/passwd"]["exists"] == true);
    if privileged() {
        let users = kind("accounts")["users"].as_array().unwrap();
        assert!(users.iter().any(|u| u["name"] == "root" && u["uid"] == 0));
    }
    // A scan of the live machine judges every control, the running kernel's too.
    let (_, r) = scan_json(&["--root", "/", "--policy", PACK, "--fail-on", "none"]);
    let states: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| LIVE_ONLY.contains(&f["control"].as_str().unwrap()))
        .map(|f| f["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), LIVE_ONLY.len());
    assert!(
        states.iter().all(|s| *s == "pass" || *s == "fail"),
        "{states:?}"
    );
}

/// Without `--policy`, an audit of a host applies the built-in packs that judge hosts (the Linux
/// baseline) and lists no pack of files as not applicable; a scan of files does the reverse.
#[test]
fn the_built_in_packs_follow_what_is_scanned() {
    let (_, host) = scan_json(&["--root", "testdata/roots/hardened", "--fail-on", "none"]);
    let ids: Vec<&str> = host["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 62);
    assert!(ids.iter().all(|id| id.starts_with("LNX-")), "{ids:?}");
    let (_, files) = scan_json(&["testdata/ssh/hardened", "--fail-on", "none"]);
    assert!(
        files["controls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["id"].as_str().unwrap().starts_with("LNX-"))
    );
}

/// The host kinds read what a policy names, with no change to vigil: a package version compared in
/// dpkg's order, every match of a path glob as an element, unit states.
#[test]
fn policies_name_what_the_host_collectors_read() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("custom.yaml");
    std::fs::write(
        &policy,
        r#"policy: custom-host
title: Custom host checks
version: 1.0.0
controls:
  - id: CH-001
    title: OpenSSH has Debian's fix for CVE-2024-6387 (DSA-5724-1)
    severity: high
    references: {NIST-800-53r5: [SI-2]}
    rationale: regreSSHion gives unauthenticated remote code execution.
    remediation: Upgrade openssh-server.
    target: {kind: packages}
    check: {key: openssh-server.version, as: debian-version, gte: "1:9.2p1-2+deb12u3"}
  - id: CH-002
    title: Everything in /etc/cron.d is a regular file
    severity: low
    references: {NIST-800-53r5: [CM-6]}
    rationale: Links in cron.d point cron at files outside it.
    remediation: Replace links by files.
    target: {kind: file_meta}
    check:
      each: '["/etc/cron.d/*"][*]'
      check: {key: type, equals: file}
  - id: CH-003
    title: rsync is masked and cron enabled
    severity: low
    references: {NIST-800-53r5: [CM-7]}
    rationale: Only what is needed runs.
    remediation: systemctl mask rsync.
    target: {kind: services}
    check:
      all:
        - {key: '["rsync.service"].state', equals: masked}
        - {key: '["cron.service"].state', equals: enabled}
"#,
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let run = |root: &str| -> Vec<String> {
        let (_, v) = scan_json(&["--root", root, "--policy", p, "--fail-on", "none"]);
        lines(&v)
    };
    assert_lines(
        &run("testdata/roots/hardened"),
        &[
            "CH-001 pass testdata/roots/hardened:39 in /var/lib/dpkg/status",
            "CH-002 pass testdata/roots/hardened",
            "CH-003 pass testdata/roots/hardened",
        ],
    );
    assert_lines(
        &run("testdata/roots/weak"),
        &[
            "CH-001 fail testdata/roots/weak:24 in /var/lib/dpkg/status",
            "CH-002 pass testdata/roots/weak",
            "CH-003 fail testdata/roots/weak",
        ],
    );
    let out = vigil(&["facts", "--root", "testdata/roots/weak"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let meta = v[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "file_meta")
        .unwrap();
    let cron = meta["facts"]["/etc/cron.d/*"].as_array().unwrap();
    assert_eq!(cron.len(), 1, "{cron:?}");
    assert_eq!(cron[0]["path"], "/etc/cron.d/.placeholder");
}

/// Account files are read as glibc and pam_unix read them: the first shadow entry of a name wins
/// (a second one is reported), an empty passwd field is an empty password whatever shadow holds,
/// and a uid that is not a number makes the accounts facts an error rather than a guess.
#[test]
fn account_files_read_as_glibc_and_pam_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("etc")).unwrap();
    std::fs::write(
        d.join("etc/passwd"),
        "root:x:0:0::/root:/bin/bash\nalice::1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        d.join("etc/shadow"),
        "root:!:19000::::::\nalice:$y$j9T$salt$hash:19000::::::\nbob::19000::::::\nbob:$y$j9T$salt$hash:19000::::::\n",
    )
    .unwrap();
    std::fs::write(d.join("etc/group"), "root:x:0:\n").unwrap();
    let out = vigil(&["facts", "--root", d.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = &v[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "accounts")
        .unwrap()["facts"];
    assert_eq!(
        accounts["empty_password_users"],
        serde_json::json!(["alice", "bob"])
    );
    assert_eq!(
        accounts["duplicate_user_names"],
        serde_json::json!(["bob (twice in /etc/shadow)"])
    );
    std::fs::write(
        d.join("etc/passwd"),
        "root:x:0:0::/root:/bin/bash\ntoor:x:zero:0::/root:/bin/bash\n",
    )
    .unwrap();
    let out = vigil(&["facts", "--root", d.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = v[0]["errors"].to_string();
    assert!(
        errors.contains("line 2 of /etc/passwd has a uid or gid that is not a number"),
        "{errors}"
    );
}
