//! The verdict cache (`vigil scan --cache`): reused verdicts are exactly the verdicts judged afresh,
//! and whatever changed since (a file's bytes, its mode, a file it includes, the clock for
//! certificates, the policies) is judged again. A damaged cache costs time, never a verdict.

mod common;

use std::path::{Path, PathBuf};

use common::{AT, copy_tree, vigil};
use serde_json::Value;

/// Scans `tree` with `extra` arguments; returns the result without its run metadata and digest,
/// and standard error.
fn scan(tree: &Path, extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "scan",
        tree.to_str().unwrap(),
        "--fail-on",
        "none",
        "--allow-errors",
        "--format",
        "json",
        "--threads",
        "2",
    ];
    args.extend_from_slice(extra);
    let out = vigil(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "vigil {args:?}: {stderr}");
    let mut json: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    let obj = json.as_object_mut().unwrap();
    obj.remove("run");
    obj.remove("integrity");
    (json, stderr)
}

/// An nginx site serving TLS on port 443 with `protocols`.
fn site_with(protocols: &str) -> String {
    format!("server {{\n  listen 443 ssl;\n  ssl_protocols {protocols};\n}}\n")
}

/// The arguments of a scan at `AT` with the cache `cache` and its `strategy`.
fn with_cache<'a>(cache: &'a str, strategy: &'a str) -> [&'a str; 6] {
    ["--at", AT, "--cache", cache, "--cache-strategy", strategy]
}

/// Bytes of a cache file's header (magic, format, strategy, fingerprint): the records follow.
const HEADER: usize = 20 + 4 + 1 + 32;

/// A temporary directory holding `tree/NAME`, a copy of the bundled file `source`, and the path of
/// a cache beside the tree.
fn one_file(source: &str, name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::copy(common::root(source), tree.join(name)).unwrap();
    let cache = dir.path().join("cache");
    (dir, tree, cache)
}

/// The counts of the cache's line on standard error: (reused, judged afresh, kept).
fn counts(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("vigil: cache "))
        .unwrap_or_else(|| panic!("no cache line in: {stderr}"));
    let numbers: Vec<u64> = line
        .split(": ")
        .nth(2)
        .unwrap()
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// The findings about the file named `name`, as `control state`, in result order.
fn verdicts_on(result: &Value, name: &str) -> Vec<String> {
    result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| common::target_name(f).ends_with(name))
        .map(|f| format!("{} {}", f["control"].as_str().unwrap(), f["state"]))
        .collect()
}

/// Scans `tree` with `args` (a cache) after a change: the result must be a fresh scan's, and the
/// verdicts on each of `changed` must differ from `earlier`'s. Returns the result and standard error.
fn judged_again(tree: &Path, args: &[&str], earlier: &Value, changed: &[&str]) -> (Value, String) {
    let (now, err) = scan(tree, args);
    let (fresh, _) = scan(tree, &["--at", AT]);
    assert!(now == fresh, "{args:?}: the change is judged again");
    for name in changed {
        assert_ne!(
            verdicts_on(&now, name),
            verdicts_on(earlier, name),
            "{name}, {args:?}"
        );
    }
    (now, err)
}

/// Writes `text` (as long as what it replaces) to `path` and puts its modification time back.
fn rewrite_keeping_mtime(path: &Path, text: &str) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), text.len() as u64);
    std::fs::write(path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

/// Waits until files written now count as settled for the `metadata` strategy, which keeps no
/// file changed within two seconds of a scan's start.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

#[test]
fn reused_verdicts_are_the_verdicts_judged_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    copy_tree(&common::root("testdata"), &tree);
    settle();
    let (fresh, _) = scan(&tree, &["--at", AT]);
    for strategy in ["content", "metadata"] {
        let cache = dir.path().join(format!("{strategy}.cache"));
        let args = with_cache(cache.to_str().unwrap(), strategy);
        let (first, err) = scan(&tree, &args);
        let (reused, judged, kept) = counts(&err);
        assert_eq!(reused, 0, "{strategy}: nothing to reuse yet");
        assert!(kept > 100 && kept <= judged, "{strategy}: {err}");
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let before = inode(&cache);
        let (second, err) = scan(&tree, &args);
        assert_eq!(
            counts(&err),
            (kept, judged - kept, kept),
            "{strategy}: every file kept is reused"
        );
        assert!(err.contains(" kept (unchanged)"), "{err}");
        assert_eq!(
            inode(&cache),
            before,
            "{strategy}: an unchanged cache is not written again"
        );
        assert!(first == fresh, "{strategy}: the first scan with a cache");
        assert!(second == fresh, "{strategy}: the scan from the cache");
    }
}

#[test]
fn whatever_changed_is_judged_again() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("etc/ssh")).unwrap();
    std::fs::create_dir_all(tree.join("etc/nginx/conf.d")).unwrap();
    let sshd = tree.join("etc/ssh/sshd_config");
    std::fs::write(&sshd, "PermitRootLogin no\nX11Forwarding no\n").unwrap();
    std::fs::write(
        tree.join("etc/nginx/nginx.conf"),
        "events {}\nhttp {\n  include conf.d/*.conf;\n}\n",
    )
    .unwrap();
    let site = tree.join("etc/nginx/conf.d/site.conf");
    std::fs::write(&site, site_with("TLSv1.2")).unwrap();
    let notes = tree.join("notes.txt");
    std::fs::write(&notes, "nothing to see\n").unwrap();
    std::fs::create_dir_all(tree.join("etc/sysctl.d")).unwrap();
    std::fs::write(
        tree.join("etc/sysctl.conf"),
        "kernel.randomize_va_space = 2\n",
    )
    .unwrap();
    settle();
    for strategy in ["content", "metadata"] {
        let cache = dir.path().join(format!("{strategy}.cache"));
        let args = with_cache(cache.to_str().unwrap(), strategy);
        let (before, _) = scan(&tree, &args);
        let (again, err) = scan(&tree, &args);
        assert!(again == before);
        let (reused, _, _) = counts(&err);
        assert!(reused >= 2, "the sshd config and the text file: {err}");

        // Same length, another verdict; the modification time put back as it was. Under
        // `metadata` only the change time tells, of the file and of the site an nginx.conf
        // includes, which now allows TLS 1.1.
        rewrite_keeping_mtime(&sshd, "PermitRootLogin ye\nX11Forwarding no\n");
        rewrite_keeping_mtime(&site, &site_with("TLSv1.1"));
        settle();
        let (after, err) = judged_again(&tree, &args, &before, &["sshd_config", "nginx.conf"]);
        assert!(counts(&err).0 >= 1, "the text file is still reused: {err}");

        // New files where configs look for them: a second site, a sysctl drop-in.
        let extra = tree.join("etc/nginx/conf.d/extra.conf");
        std::fs::write(&extra, site_with("SSLv3")).unwrap();
        let dropin = tree.join("etc/sysctl.d/99-aslr.conf");
        std::fs::write(&dropin, "net.ipv4.conf.all.accept_redirects = 0\n").unwrap();
        settle();
        judged_again(&tree, &args, &after, &["nginx.conf", "sysctl.conf"]);
        std::fs::remove_file(&extra).unwrap();
        std::fs::remove_file(&dropin).unwrap();
        let (removed, _) = scan(&tree, &args);
        assert!(removed == after, "{strategy}: and so are files removed");

        // A new mode is a change too (it is a fact of every file).
        let mut perms = std::fs::metadata(&notes).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&notes, perms.clone()).unwrap();
        settle();
        let (_, err) = scan(&tree, &args);
        let (reused_now, _, _) = counts(&err);
        let (_, err) = scan(&tree, &args);
        assert_eq!(
            counts(&err).0,
            reused_now + 1,
            "{strategy}: the text file was judged again after its mode changed, then reused"
        );
        // Put things back for the next strategy.
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
        std::fs::set_permissions(&notes, perms).unwrap();
        std::fs::write(&sshd, "PermitRootLogin no\nX11Forwarding no\n").unwrap();
        std::fs::write(&site, site_with("TLSv1.2")).unwrap();
        settle();
    }
}

#[test]
fn certificates_are_reused_at_the_same_clock_only() {
    let (_dir, tree, cache) = one_file("testdata/certs/good/server-rsa.pem", "server.pem");
    let cache = cache.to_str().unwrap();
    let at = |when: &str| scan(&tree, &["--at", when, "--cache", cache]);
    let (valid, _) = at(AT);
    let (_, err) = at(AT);
    assert_eq!(counts(&err).0, 1, "the same instant: reused");
    // Long after it expired: judged again, and now it fails.
    let (expired, err) = at("2099-01-01T00:00:00Z");
    assert_eq!(counts(&err).0, 0, "another instant: judged again");
    let (fresh, _) = scan(&tree, &["--at", "2099-01-01T00:00:00Z"]);
    assert!(expired == fresh);
    assert_ne!(
        verdicts_on(&valid, "server.pem"),
        verdicts_on(&expired, "server.pem")
    );
}

#[test]
fn another_policy_or_a_damaged_cache_is_judged_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    copy_tree(&common::root("testdata/ssh"), &tree);
    let cache = dir.path().join("cache");
    let c = cache.to_str().unwrap();
    let (fresh, err) = scan(&tree, &["--at", AT, "--cache", c]);
    let (_, judged, kept) = counts(&err);
    assert!(kept > 0);
    let ssh_only = common::root("policies/ssh-hardening.yaml");
    let (_, err) = scan(
        &tree,
        &[
            "--at",
            AT,
            "--cache",
            c,
            "--policy",
            ssh_only.to_str().unwrap(),
        ],
    );
    assert_eq!(counts(&err).0, 0, "other policies: nothing reused");
    let (_, err) = scan(
        &tree,
        &["--at", AT, "--cache", c, "--max-file-size", "1MiB"],
    );
    assert_eq!(counts(&err).0, 0, "other options: nothing reused");
    // Every byte after the header flipped: read, refused, judged afresh; the same results.
    let (_, _) = scan(&tree, &["--at", AT, "--cache", c]);
    let mut bytes = std::fs::read(&cache).unwrap();
    for b in &mut bytes[HEADER..] {
        *b ^= 0x5a;
    }
    std::fs::write(&cache, &bytes).unwrap();
    let (after, err) = scan(&tree, &["--at", AT, "--cache", c]);
    assert!(after == fresh, "a damaged cache changes no verdict");
    assert_eq!(counts(&err).0, 0, "{err}");
    // Garbage from the first byte: the same.
    std::fs::write(&cache, b"not a cache").unwrap();
    let (after, err) = scan(&tree, &["--at", AT, "--cache", c]);
    assert!(after == fresh);
    assert_eq!(counts(&err), (0, judged, kept));
}

#[test]
fn a_record_damaged_anywhere_is_judged_afresh() {
    // One bit flipped in a record still decodes as verdicts (another state, line or message);
    // each record carries a checksum, so a damaged one is judged afresh instead of reused.
    let (_dir, tree, cache) = one_file("testdata/ssh/broken/sshd_config", "sshd_config");
    let c = cache.to_str().unwrap();
    let ssh = common::root("policies/ssh-hardening.yaml");
    let args = ["--at", AT, "--cache", c, "--policy", ssh.to_str().unwrap()];
    let (fresh, _) = scan(&tree, &args);
    let (again, err) = scan(&tree, &args);
    assert_eq!(counts(&err), (1, 0, 1));
    assert!(again == fresh);
    let kept = std::fs::read(&cache).unwrap();
    // About a hundred places spread over the record, its last byte included.
    let step = (kept.len() - HEADER).div_ceil(100);
    let mut places: Vec<usize> = (HEADER..kept.len()).step_by(step).collect();
    places.push(kept.len() - 1);
    for at in places {
        let mut damaged = kept.clone();
        damaged[at] ^= 1 << (at % 8);
        std::fs::write(&cache, &damaged).unwrap();
        let (after, err) = scan(&tree, &args);
        assert_eq!(counts(&err), (0, 1, 1), "byte {at} of {}", kept.len());
        assert!(
            after == fresh,
            "byte {at}: a damaged record changes no verdict"
        );
    }
}

#[test]
fn a_cache_that_cannot_be_written_stops_the_scan_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/cache");
    let out = vigil(&[
        "scan",
        "testdata/ssh",
        "--format",
        "json",
        "--cache",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write the cache") && err.contains("no/such/dir/cache"),
        "{err}"
    );
}

#[test]
fn a_cache_inside_the_scanned_tree_is_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    copy_tree(&common::root("testdata/secrets"), &tree);
    let (fresh, _) = scan(&tree, &["--at", AT]);
    let cache = tree.join(".vigil-cache");
    let args = ["--at", AT, "--cache", cache.to_str().unwrap()];
    let (first, _) = scan(&tree, &args);
    assert!(cache.is_file());
    let (second, err) = scan(&tree, &args);
    assert!(counts(&err).0 > 0, "{err}");
    assert!(
        first == fresh && second == fresh,
        "the cache is no file of the tree"
    );
    // Named otherwise on the command line (`./`), it is still recognised.
    let dotted = format!("{}/./.vigil-cache", tree.display());
    let (third, _) = scan(&tree, &["--at", AT, "--cache", &dotted]);
    assert!(third == fresh);
}

#[test]
fn verdicts_kept_for_one_user_are_not_reused_for_another() {
    // Running vigil under other groups takes root (`setpriv`); anyone else cannot test this.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs root and setpriv to scan as another group");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    copy_tree(&common::root("testdata/ssh"), &tree);
    settle();
    let cache = dir.path().join("metadata.cache");
    let args = with_cache(cache.to_str().unwrap(), "metadata");
    scan(&tree, &args);
    let (_, err) = scan(&tree, &args);
    let (reused, _, kept) = counts(&err);
    assert!(reused > 0 && reused == kept, "{err}");
    // The same scan by root in another group, with no supplementary groups: judged afresh.
    let out = std::process::Command::new("setpriv")
        .args([
            "--regid",
            "65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_vigil"),
        ])
        .args([
            "scan",
            tree.to_str().unwrap(),
            "--fail-on",
            "none",
            "--allow-errors",
        ])
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(counts(&err).0, 0, "nothing reused for another group: {err}");
}

/// A Terraform file's values come from its module's variables: a new `terraform.tfvars`, or a
/// changed default, judges it again.
#[test]
fn a_terraform_file_is_judged_again_when_its_variables_change() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("main.tf"),
        "resource \"aws_ebs_volume\" \"data\" {\n  encrypted = var.encrypt\n}\n",
    )
    .unwrap();
    let variables = tree.join("variables.tf");
    std::fs::write(&variables, "variable \"encrypt\" {\n  default = true\n}\n").unwrap();
    settle();
    let pack = ["--policy", "policies/terraform.yaml", "--control", "TF-004"];
    // The cached scan's verdict on main.tf, checked equal to a fresh scan's.
    let verdict = |args: &[&str]| {
        let (cached, _) = scan(&tree, args);
        let (fresh, _) = scan(&tree, &[&["--at", AT][..], &pack].concat());
        assert!(cached == fresh, "{args:?}");
        verdicts_on(&cached, "main.tf")
    };
    for strategy in ["content", "metadata"] {
        let cache = dir.path().join(format!("{strategy}.cache"));
        let args = [&with_cache(cache.to_str().unwrap(), strategy)[..], &pack].concat();
        assert_eq!(verdict(&args), ["TF-004 \"pass\""]);
        let tfvars = tree.join("terraform.tfvars");
        std::fs::write(&tfvars, "encrypt = false\n").unwrap();
        settle();
        assert_eq!(
            verdict(&args),
            ["TF-004 \"fail\""],
            "{strategy}: a new tfvars"
        );
        std::fs::remove_file(&tfvars).unwrap();
        settle();
        assert_eq!(
            verdict(&args),
            ["TF-004 \"pass\""],
            "{strategy}: the tfvars removed"
        );
        rewrite_keeping_mtime(&variables, "variable \"encrypt\" {\n  default = fals\n}\n");
        settle();
        // `fals` is no literal: the default is the text it is, which fails.
        assert_eq!(
            verdict(&args),
            ["TF-004 \"fail\""],
            "{strategy}: a changed default"
        );
        std::fs::write(&variables, "variable \"encrypt\" {\n  default = true\n}\n").unwrap();
        settle();
    }
}
