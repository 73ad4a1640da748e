//! History: `vigil scan --history FILE` stores every run in SQLite; `vigil diff` says what changed
//! between runs (or result files); the HTML report shows the drift and the trend; `vigil history`
//! lists, shows and prunes runs. Concurrent writers, damaged and foreign files, and histories of an
//! older schema are covered here.

mod common;

use std::path::{Path, PathBuf};

use common::{AT, vigil, vigil_ok};
use serde_json::Value;

/// The integers a one-column query over the history returns.
fn ints(db: &rusqlite::Connection, sql: &str) -> Vec<i64> {
    db.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

struct Night {
    dir: tempfile::TempDir,
}

impl Night {
    fn new() -> Night {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        let n = Night { dir };
        n.write(&std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap());
        n
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).to_str().unwrap().to_string()
    }

    fn write(&self, config: &str) {
        std::fs::write(self.path("tree/sshd_config"), config).unwrap();
    }

    /// Scans the tree into the history, with the JSON and HTML outputs in `out-<name>`.
    fn scan(&self, name: &str, extra: &[&str]) -> std::process::Output {
        let out = self.s(&format!("out-{name}"));
        let (tree, history) = (self.s("tree"), self.s("history.db"));
        let mut args = vec![
            "scan",
            &tree,
            "--policy",
            "policies/ssh-hardening.yaml",
            "--at",
            AT,
            "--fail-on",
            "none",
            "--format",
            "json,html",
            "--output-dir",
            &out,
            "--history",
            &history,
        ];
        args.extend_from_slice(extra);
        vigil_ok(&args)
    }

    fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(rel)).unwrap()).unwrap()
    }

    fn diff_json(&self, args: &[&str]) -> Value {
        let history = self.s("history.db");
        let mut all = vec!["diff", "--history", &history, "--format", "json"];
        all.extend_from_slice(args);
        let o = vigil_ok(&all);
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

/// The second night's config: a line added at the top (every line moves), X11 forwarding fixed,
/// a weaker keepalive count, and another weak cipher.
fn second_night(first: &str) -> String {
    let moved = format!("# Reviewed by the platform team.\n{first}");
    moved
        .replace("X11Forwarding yes", "X11Forwarding no")
        .replace(
            "ClientAliveInterval 0",
            "ClientAliveInterval 0\nClientAliveCountMax 10",
        )
        .replace(
            "Ciphers aes128-ctr,aes256-cbc,3des-cbc",
            "Ciphers aes128-ctr,3des-cbc",
        )
}

const WAIVER: &str = "waivers:
  - control: SSH-001
    justification: Root logs in until the backup job moves to a service account.
    approved_by: jane.doe@example.org
    expires: 2030-06-30
";

fn controls(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["control"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_nights_show_what_changed_in_diff_console_markdown_and_html() {
    let n = Night::new();
    let first = n.scan("1", &[]);
    let note = String::from_utf8_lossy(&first.stderr);
    assert!(
        note.contains("run 1 stored; the first run of this host in it"),
        "{note}"
    );
    let html1 = std::fs::read_to_string(n.path("out-1/report.html")).unwrap();
    assert!(html1.contains("Run 1 is the first run of this host in the history"));

    let original = std::fs::read_to_string(n.path("tree/sshd_config")).unwrap();
    n.write(&second_night(&original));
    std::fs::write(n.path("waivers.yaml"), WAIVER).unwrap();
    let waivers = n.s("waivers.yaml");
    let second = n.scan("2", &["--waivers", &waivers]);
    let note = String::from_utf8_lossy(&second.stderr);
    assert!(
        note.contains("run 2 stored; since run 1: 2 new, 2 resolved, 1 changed, 13 still failing"),
        "{note}"
    );

    let d = n.diff_json(&[]);
    assert_eq!(d["from"]["run"], 1);
    assert_eq!(d["to"]["run"], 2);
    // Most severe first.
    assert_eq!(controls(&d["new"]), ["SSH-009", "SSH-008"]);
    assert_eq!(controls(&d["resolved"]), ["SSH-009", "SSH-004"]);
    assert_eq!(controls(&d["changed"]), ["SSH-001"]);
    assert_eq!(d["changed"][0]["was"], "fail");
    assert_eq!(d["changed"][0]["state"], "waived");
    // The cipher that is still offered is named on each side.
    assert_eq!(d["new"][0]["observed"], "3des-cbc");
    assert_eq!(d["resolved"][0]["observed"], "aes256-cbc, 3des-cbc");
    // Every line moved, yet the failures that stayed are the same findings: none is new.
    assert_eq!(d["counts"]["still_failing"], 13);
    assert_eq!(controls(&d["still_failing"]).len(), 13);
    assert!(
        d["still_failing"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["control"] != "SSH-008" && i["control"] != "SSH-004")
    );
    // SSH-017 passed both nights; the suppression checks (SUP-001, SUP-002) had no comment to judge.
    assert_eq!(d["counts"]["unchanged"], 3);

    // The same comparison between the two result files, without the history.
    let (r1, r2) = (n.s("out-1/results.json"), n.s("out-2/results.json"));
    let o = vigil(&["diff", &r1, &r2, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["counts"], d["counts"]);
    assert_eq!(f["new"], d["new"]);
    assert_eq!(f["from"]["file"], r1.as_str());
    // A run against a result file.
    let history = n.s("history.db");
    let o = vigil(&["diff", "1", &r2, "--history", &history, "-f", "json"]);
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["counts"], d["counts"]);
    assert_eq!(m["from"]["run"], 1);

    // Console and Markdown name the same findings.
    let o = vigil(&["diff", "--history", &history]);
    let console = String::from_utf8_lossy(&o.stdout);
    assert!(console.contains("2 new, 2 resolved, 1 changed, 13 still failing, 3 unchanged"));
    assert!(console.contains("SSH-001 [high]"), "{console}");
    assert!(console.contains("fail -> waived"), "{console}");
    let o = vigil(&["diff", "--history", &history, "-f", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("### New failures"));
    assert!(md.contains("| SSH-008 | low | fail |"), "{md}");
    assert!(md.contains("fail → waived"));

    // The HTML report of the second night shows the drift and a trend of both runs.
    let html = std::fs::read_to_string(n.path("out-2/report.html")).unwrap();
    assert!(html.contains("<h2>Since the last run</h2>"));
    assert!(html.contains("compared with run 1"));
    assert!(html.contains("2 new</strong>"));
    assert!(html.contains("2 resolved</strong>"));
    assert!(html.contains("The last 2 runs"));
    assert_eq!(html.matches("<circle class=\"passrate-dot\"").count(), 2);

    // A gate on the diff: new failures at or above medium fail it; none are critical.
    let o = vigil(&["diff", "--history", &history, "--fail-on", "medium"]);
    assert_eq!(o.status.code(), Some(1));
    let o = vigil(&["diff", "--history", &history, "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn stored_runs_are_listed_and_shown_as_their_results() {
    let n = Night::new();
    n.scan("1", &[]);
    n.scan("2", &[]);
    let history = n.s("history.db");
    let o = vigil(&["history", "list", "--history", &history, "-f", "json"]);
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run"], 2, "newest first");
    assert_eq!(runs[0]["complete"], true);
    // 18 controls of the pack, and the two checks of inline suppressions.
    assert_eq!(runs[0]["findings"], 20);
    assert_eq!(runs[0]["states"]["fail"], 16);
    assert_eq!(runs[0]["policies"][0], "ssh-hardening@1.0.0");
    // The second run stored no verdict the first had not: the same night costs one link each.
    let db = rusqlite::Connection::open(n.path("history.db")).unwrap();
    let distinct: i64 = db
        .query_row("SELECT count(*) FROM findings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(distinct, 20);

    // `history show` gives back the result the scan wrote, byte for byte but for the run block.
    let shown = n.s("shown.json");
    vigil_ok(&[
        "history",
        "show",
        "1",
        "--history",
        &history,
        "-f",
        "json",
        "-o",
        &shown,
    ]);
    let mut a = n.json("shown.json");
    let mut b = n.json("out-1/results.json");
    assert_eq!(a["integrity"], b["integrity"]);
    a.as_object_mut().unwrap().remove("run");
    b.as_object_mut().unwrap().remove("run");
    assert_eq!(a, b);
    let o = vigil(&["verify", &shown]);
    assert_eq!(o.status.code(), Some(0));

    // A stored verdict altered afterwards is caught by the digest.
    db.execute(
        "UPDATE findings SET body = replace(body, '\"yes\"', '\"no\"') WHERE control = 'SSH-001'",
        [],
    )
    .unwrap();
    let o = vigil(&["history", "show", "1", "--history", &history, "-f", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("run 1 no longer matches its digest"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "nothing is shown of an altered run");
}

#[test]
fn prune_deletes_old_runs_and_the_verdicts_only_they_had() {
    let n = Night::new();
    n.scan("1", &[]);
    let original = std::fs::read_to_string(n.path("tree/sshd_config")).unwrap();
    n.write(&second_night(&original));
    n.scan("2", &[]);
    let db = rusqlite::Connection::open(n.path("history.db")).unwrap();
    db.execute(
        "UPDATE runs SET started_at = '2020-01-01T00:00:00Z' WHERE id = 1",
        [],
    )
    .unwrap();
    let history = n.s("history.db");
    let o = vigil_ok(&["history", "prune", "--keep", "90d", "--history", &history]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 runs started before"));
    let ids = ints(&db, "SELECT id FROM runs");
    assert_eq!(ids, [2]);
    let orphans: i64 = db
        .query_row(
            "SELECT count(*) FROM findings WHERE id NOT IN (SELECT finding_id FROM run_findings)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    // What is left is whole.
    let o = vigil(&["history", "show", "2", "--history", &history, "-f", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let o = vigil(&["diff", "--history", &history]);
    assert_eq!(o.status.code(), Some(2), "one run left: nothing to compare");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the first complete run of its host"));
}

#[test]
fn concurrent_scans_store_every_run_intact() {
    let n = Night::new();
    let history = n.s("history.db");
    let trees = [
        "testdata/ssh",
        "testdata/k8s",
        "testdata/certs",
        "testdata/nginx",
    ];
    let children: Vec<_> = trees
        .iter()
        .enumerate()
        .map(|(i, tree)| {
            let out = n.s(&format!("out-{i}.json"));
            std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
                .args([
                    "scan",
                    tree,
                    "--at",
                    AT,
                    "--fail-on",
                    "none",
                    "--allow-errors",
                    "-q",
                    "-f",
                    "json",
                    "-o",
                    &out,
                    "-j",
                    "1",
                    "--history",
                    &history,
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let o = vigil(&["history", "list", "--history", &history, "-f", "json"]);
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), trees.len());
    // Each stored run gives back exactly the result its scan wrote.
    for run in runs.as_array().unwrap() {
        assert_eq!(run["complete"], true);
        let id = run["run"].to_string();
        let o = vigil_ok(&["history", "show", &id, "--history", &history, "-f", "json"]);
        let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
        let digest = shown["integrity"]["digest"].clone();
        let written = (0..trees.len())
            .map(|i| n.json(&format!("out-{i}.json")))
            .find(|r| r["integrity"]["digest"] == digest)
            .expect("a scan wrote this result");
        assert_eq!(shown["findings"], written["findings"]);
        assert_eq!(run["findings"], written["summary"]["total"]);
    }
}

fn sha256(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

#[test]
fn damaged_and_foreign_files_are_refused_and_left_untouched() {
    let n = Night::new();
    n.scan("1", &[]);
    let scan_into = |history: &str| {
        let tree = n.s("tree");
        vigil(&[
            "scan",
            &tree,
            "--policy",
            "policies/ssh-hardening.yaml",
            "-q",
            "-f",
            "json",
            "--history",
            history,
        ])
    };

    // A damaged history: its schema page overwritten.
    let damaged = n.path("damaged.db");
    let mut bytes = std::fs::read(n.path("history.db")).unwrap();
    for b in &mut bytes[100..1500] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let before = sha256(&damaged);
    let o = scan_into(damaged.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the history is damaged"), "{err}");
    assert!(err.contains("left untouched"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "nothing is scanned into a damaged history"
    );
    assert_eq!(sha256(&damaged), before);

    // Not a database at all.
    let text = n.path("notes.txt");
    std::fs::write(&text, "remember the milk\n").unwrap();
    let o = scan_into(text.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a vigil history: not an SQLite database")
    );
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "remember the milk\n"
    );

    // Another application's database.
    let foreign = n.path("app.db");
    let db = rusqlite::Connection::open(&foreign).unwrap();
    db.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ann');")
        .unwrap();
    drop(db);
    let before = sha256(&foreign);
    let o = scan_into(foreign.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("an SQLite database with tables of its own")
    );
    assert_eq!(sha256(&foreign), before);

    // A history from a newer vigil.
    let newer = n.path("newer.db");
    std::fs::copy(n.path("history.db"), &newer).unwrap();
    let db = rusqlite::Connection::open(&newer).unwrap();
    db.execute(
        "INSERT INTO schema_version (version, applied_at, tool_version) VALUES (99, 'x', '9.0')",
        [],
    )
    .unwrap();
    drop(db);
    let o = scan_into(newer.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("written by a newer vigil (history schema 99)")
    );
}

#[test]
fn a_history_of_the_first_schema_is_migrated() {
    let n = Night::new();
    n.scan("1", &[]);
    let history = n.s("history.db");
    let before = vigil(&["history", "list", "--history", &history, "-f", "json"]);
    // Take the file back to schema 1, as the first vigil with a history wrote it: no counts
    // table, no host identity.
    let db = rusqlite::Connection::open(n.path("history.db")).unwrap();
    db.execute_batch(
        "DROP TABLE run_counts; DROP TABLE run_tags; ALTER TABLE runs DROP COLUMN machine_id; \
         DELETE FROM schema_version WHERE version > 1;",
    )
    .unwrap();
    drop(db);
    let o = vigil_ok(&["history", "list", "--history", &history, "-f", "json"]);
    // The counts are rebuilt from the stored verdicts.
    let counts = |out: &[u8]| {
        let runs: Value = serde_json::from_slice(out).unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["run"].clone(),
                    r["states"].clone(),
                    r["pass_rate"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&o.stdout), counts(&before.stdout));
    assert!(counts(&o.stdout)[0].1["fail"].as_i64().unwrap() > 0);
    let db = rusqlite::Connection::open(n.path("history.db")).unwrap();
    let versions = ints(&db, "SELECT version FROM schema_version ORDER BY version");
    assert_eq!(versions, [1, 2, 3]);
    // And the migrated history takes the next run.
    n.scan("2", &[]);
}

#[test]
fn runs_of_several_hosts_are_told_apart_by_name_and_tag() {
    let n = Night::new();
    let history = n.s("history.db");
    // Two hosts scanning into one history, night after night; web-01 fixes X11 forwarding on the
    // second night, db-01 changes nothing.
    n.scan(
        "web-1",
        &[
            "--host-name",
            "web-01",
            "--tag",
            "env=prod",
            "--tag",
            "role=web",
        ],
    );
    n.scan("db-1", &["--host-name", "db-01", "--tag", "env=prod"]);
    let original = std::fs::read_to_string(n.path("tree/sshd_config")).unwrap();
    n.write(&original.replace("X11Forwarding yes", "X11Forwarding no"));
    n.scan(
        "web-2",
        &[
            "--host-name",
            "web-01",
            "--tag",
            "env=prod",
            "--tag",
            "role=web",
        ],
    );
    n.write(&original);
    n.scan("db-2", &["--host-name", "db-01", "--tag", "env=prod"]);

    let result = n.json("out-web-2/results.json");
    assert_eq!(result["run"]["host"], "web-01");
    assert_eq!(
        result["run"]["tags"],
        serde_json::json!(["env=prod", "role=web"])
    );

    let list = |extra: &[&str]| -> Vec<i64> {
        let mut args = vec!["history", "list", "--history", &history, "-f", "json"];
        args.extend_from_slice(extra);
        let o = vigil_ok(&args);
        let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| r["run"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(list(&[]), [4, 3, 2, 1]);
    assert_eq!(list(&["--host-name", "web-01"]), [3, 1]);
    assert_eq!(list(&["--tag", "role=web"]), [3, 1]);
    assert_eq!(list(&["--tag", "env=prod", "--host-name", "db-01"]), [4, 2]);
    assert!(list(&["--tag", "env=dev"]).is_empty());

    // Without --host-name, the latest run (db-01's) and the run before it of the same host.
    let d = n.diff_json(&[]);
    assert_eq!(
        (d["from"]["run"].as_i64(), d["to"]["run"].as_i64()),
        (Some(2), Some(4))
    );
    // The drift of each run compares it with the previous run of its own host.
    let d = n.diff_json(&["--host-name", "web-01"]);
    assert_eq!(
        (d["from"]["run"].as_i64(), d["to"]["run"].as_i64()),
        (Some(1), Some(3))
    );
    assert_eq!(controls(&d["resolved"]), ["SSH-004"]);
    let d = n.diff_json(&["--host-name", "db-01"]);
    assert_eq!(
        (d["from"]["run"].as_i64(), d["to"]["run"].as_i64()),
        (Some(2), Some(4))
    );
    assert_eq!(d["counts"]["resolved"], 0);
    let html = std::fs::read_to_string(n.path("out-db-2/report.html")).unwrap();
    assert!(
        html.contains("compared with run 2"),
        "db-01 is compared with db-01"
    );

    // Results saved elsewhere are imported as runs, with their host and tags.
    let other = tempfile::tempdir().unwrap();
    let fleet = other.path().join("fleet.db").display().to_string();
    let (r1, r2) = (n.s("out-web-1/results.json"), n.s("out-db-2/results.json"));
    vigil_ok(&["history", "import", &r1, &r2, "--history", &fleet]);
    let o = vigil(&[
        "history",
        "list",
        "--history",
        &fleet,
        "-f",
        "json",
        "--tag",
        "role=web",
    ]);
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["host"], "web-01");
    // An altered result, a cut-short one and one that is not JSON are refused, and leave the
    // history as it was: the import stores a result in the pass that checks its digest, and
    // takes back what it stored when the check fails.
    let text = std::fs::read_to_string(&r1).unwrap();
    let db = rusqlite::Connection::open(other.path().join("fleet.db")).unwrap();
    let contents = |db: &rusqlite::Connection| {
        [
            "runs",
            "findings",
            "run_findings",
            "headers",
            "policies",
            "run_counts",
            "run_tags",
        ]
        .map(|t| ints(db, &format!("SELECT count(*) FROM {t}"))[0])
    };
    let before = contents(&db);
    let cut = text
        .find("\"summary\"")
        .expect("a summary after the findings");
    for (name, body, why) in [
        (
            "altered.json",
            text.replacen("\"fail\"", "\"pass\"", 1),
            "digest",
        ),
        ("cut.json", text[..cut].to_string(), "line"),
        ("garbage.json", format!("{}{{", &text[..cut]), "line"),
    ] {
        let path = other.path().join(name);
        std::fs::write(&path, body).unwrap();
        let o = vigil(&[
            "history",
            "import",
            path.to_str().unwrap(),
            "--history",
            &fleet,
        ]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
        assert_eq!(contents(&db), before, "nothing of {name} is stored");
    }
    let o = vigil(&["history", "list", "--history", &fleet, "-f", "json"]);
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
}
