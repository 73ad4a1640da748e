//! The history in PostgreSQL (`--history postgres://...`), against Debian's PostgreSQL started on a
//! spare loopback port: the same answers as the SQLite history, many hosts writing at once with
//! nothing lost, a writer losing its server mid-run, and a password never shown or stored.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::postgres::{PASSWORD, Postgres};
use serde_json::Value;

const AT: &str = "2030-01-15T00:00:00Z";

/// Runs vigil with `VIGIL_HISTORY` set to `history`; asserts the password shows nowhere in what
/// it printed.
fn vigil_with(history: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("VIGIL_HISTORY", history)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(PASSWORD),
            "the password was printed by vigil {args:?}"
        );
    }
    out
}

fn ok(history: &str, args: &[&str]) -> String {
    let out = vigil_with(history, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "vigil {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A tree of `files` copies of an sshd_config: 20 verdicts each under the ssh-hardening pack.
fn tree(dir: &Path, name: &str, files: usize, config: &str) -> String {
    let t = dir.join(name);
    for i in 0..files {
        let d = t.join(format!("h{i:04}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("sshd_config"), config).unwrap();
    }
    t.display().to_string()
}

fn scan_to(tree: &str, host: &str, out: &Path) {
    common::vigil_ok(&[
        "scan",
        tree,
        "--policy",
        "policies/ssh-hardening.yaml",
        "--at",
        AT,
        "--fail-on",
        "none",
        "--quiet",
        "-f",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--host-name",
        host,
        "--tag",
        "env=prod",
    ]);
}

/// Every question asked of a history gets the same answer from PostgreSQL as from SQLite, given
/// the same runs (imported from the same result files).
#[test]
fn postgres_answers_as_sqlite_does() {
    let Some(pg) = Postgres::start(&[], &[]) else {
        return;
    };
    let url = pg.database("same");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weak = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    let hardened = std::fs::read_to_string("testdata/ssh/hardened/sshd_config").unwrap();
    // Each host's tree changes in place from one night to the next.
    let nights = [
        ("web-01", "web", weak.clone()),
        ("db-01", "db", hardened.clone()),
        (
            "web-01",
            "web",
            weak.replace("X11Forwarding yes", "X11Forwarding no"),
        ),
        (
            "db-01",
            "db",
            hardened.replace("PermitRootLogin no", "PermitRootLogin yes"),
        ),
    ];
    let sqlite = d.join("history.db").display().to_string();
    for (i, (host, name, config)) in nights.iter().enumerate() {
        let result = d.join(format!("night{i}.json"));
        let t = tree(d, name, if *name == "web" { 3 } else { 2 }, config);
        scan_to(&t, host, &result);
        for h in [&url, &sqlite] {
            ok(h, &["history", "import", result.to_str().unwrap()]);
        }
    }
    let questions: &[&[&str]] = &[
        &["history", "list", "-f", "json"],
        &["history", "list", "-f", "json", "--host-name", "db-01"],
        &["diff", "-f", "json", "--host-name", "web-01"],
        &["diff", "-f", "json", "--host-name", "db-01"],
        &["diff", "1", "3", "-f", "markdown"],
        &[
            "fleet", "report", "--at", AT, "-f", "json", "--tag", "env=prod",
        ],
        &[
            "history",
            "show",
            "latest",
            "--host-name",
            "web-01",
            "-f",
            "json",
        ],
    ];
    for q in questions {
        let a = ok(&url, q);
        let b = ok(&sqlite, q);
        assert!(!a.trim().is_empty(), "{q:?} answered nothing");
        assert_eq!(a, b, "PostgreSQL and SQLite differ on {q:?}");
    }
    // The answers are the right ones, not only the same.
    let diff: Value =
        serde_json::from_str(&ok(&url, &["diff", "-f", "json", "--host-name", "web-01"])).unwrap();
    assert_eq!(diff["counts"]["resolved"], 3, "{diff}");
    assert_eq!(diff["counts"]["new"], 0, "{diff}");
    let fleet: Value =
        serde_json::from_str(&ok(&url, &["fleet", "report", "--at", AT, "-f", "json"])).unwrap();
    assert_eq!(fleet["hosts"], 2);
    assert_eq!(fleet["changes"]["compared"], 2);
    assert_eq!(fleet["changes"]["new"], 2, "{}", fleet["changes"]);
    // The stored run replays to the very result it was imported from (its digest checks).
    let shown: Value = serde_json::from_str(&ok(
        &url,
        &[
            "history",
            "show",
            "latest",
            "--host-name",
            "db-01",
            "-f",
            "json",
        ],
    ))
    .unwrap();
    let night3: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("night3.json")).unwrap()).unwrap();
    assert_eq!(shown["findings"], night3["findings"]);
    assert_eq!(shown["integrity"], night3["integrity"]);
    // Pruning every run deletes the same runs and verdicts from both, and leaves nothing. `--keep
    // 0d` deletes the runs started before the current second: the last night must be a second old.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let pruned = |h: &str| {
        let out = vigil_with(h, &["history", "prune", "--keep", "0d"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        said[said
            .find(" deleted, with")
            .unwrap_or_else(|| panic!("{said}"))..]
            .to_string()
    };
    let said = pruned(&url);
    assert_eq!(said, pruned(&sqlite));
    assert!(said.contains("with 97 verdicts"), "{said}");
    assert_eq!(ok(&url, &["history", "list", "-f", "json"]).trim(), "[]");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for table in [
        "findings",
        "headers",
        "run_findings",
        "run_counts",
        "run_tags",
        "policies",
    ] {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM vigil.{table}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} after pruning every run");
    }
}

/// Two hosts scan into the server; the password, given on the command line once, is neither
/// printed nor stored, and the HTML report of the second night shows what changed.
#[test]
fn scans_store_runs_without_the_password() {
    let Some(pg) = Postgres::start(&[], &[]) else {
        return;
    };
    let url = pg.database("scans");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weak = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    let scan = |t: &str, host: &str, on_command_line: bool, html: &Path| {
        let mut args = vec![
            "scan",
            t,
            "--policy",
            "policies/ssh-hardening.yaml",
            "--at",
            AT,
            "--fail-on",
            "none",
            "-f",
            "html,json",
            "--output-dir",
            html.to_str().unwrap(),
            "--host-name",
            host,
        ];
        if on_command_line {
            args.extend(["--history", &url]);
        }
        let out = vigil_with(&url, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let out1 = d.join("out1");
    let out2 = d.join("out2");
    scan(&tree(d, "web", 2, &weak), "web-01", true, &out1);
    scan(&tree(d, "db", 1, &weak), "db-01", false, &out1);
    let t2 = tree(
        d,
        "web",
        2,
        &weak.replace("X11Forwarding yes", "X11Forwarding no"),
    );
    let note = scan(&t2, "web-01", true, &out2);
    assert!(
        note.contains(&format!(
            "postgres://postgres:***@127.0.0.1:{}/scans",
            pg.port
        )),
        "the history is named without its password: {note}"
    );
    assert!(note.contains("since run 1: 0 new, 2 resolved"), "{note}");
    for f in std::fs::read_dir(&out2).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(
            !text.contains(PASSWORD),
            "{} holds the password",
            f.path().display()
        );
    }
    let html = std::fs::read_to_string(out2.join("report.html")).unwrap();
    assert!(
        html.contains("Since the last run"),
        "the drift section is missing"
    );
    // What the server holds: three complete runs, no password anywhere, the URL redacted.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows = client
        .query(
            "SELECT host, complete, arguments, trailer FROM vigil.runs ORDER BY id",
            &[],
        )
        .unwrap();
    let hosts: Vec<(String, i16)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        hosts,
        [
            ("web-01".into(), 1),
            ("db-01".into(), 1),
            ("web-01".into(), 1)
        ]
    );
    for r in &rows {
        let (arguments, trailer): (String, String) = (r.get(2), r.get(3));
        assert!(!arguments.contains(PASSWORD) && !trailer.contains(PASSWORD));
    }
    let first: String = rows[0].get(2);
    assert!(
        first.contains("postgres://postgres:***@127.0.0.1"),
        "{first}"
    );
    let dump: i64 = client
        .query_one(
            "SELECT count(*) FROM vigil.findings WHERE body LIKE '%' || $1 || '%'",
            &[&PASSWORD],
        )
        .unwrap()
        .get(0);
    assert_eq!(dump, 0);
    // Help shows where VIGIL_HISTORY comes from, never its value.
    ok(&url, &["scan", "--help"]);
    ok(&url, &["history", "list", "--help"]);
    // A wrong password is refused with a clear error naming the server, not the password.
    let wrong = url.replace(PASSWORD, "not-the-password");
    let out = vigil_with(&wrong, &["history", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
}

/// A schema `vigil` of another application, or an empty database read as a history, is refused
/// and left as it was.
#[test]
fn foreign_and_missing_histories_are_refused() {
    let Some(pg) = Postgres::start(&[], &[]) else {
        return;
    };
    let empty = pg.database("empty");
    let out = vigil_with(&empty, &["history", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no vigil history in this database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let foreign = pg.database("other_app");
    let mut client = postgres::Client::connect(&foreign, postgres::NoTls).unwrap();
    client
        .batch_execute("CREATE SCHEMA vigil; CREATE TABLE vigil.runs (id int);")
        .unwrap();
    let out = vigil_with(
        &foreign,
        &[
            "scan",
            "testdata/ssh/weak",
            "--policy",
            "policies/ssh-hardening.yaml",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a vigil history"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'vigil'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the foreign schema was changed");
}

/// 200 scans of 1,000 verdicts each write to one server at once: every run is complete, and
/// holds every one of its verdicts exactly once, in order; verdicts shared by runs are stored
/// once.
#[test]
fn two_hundred_concurrent_writers_lose_nothing() {
    const WRITERS: usize = 200;
    let Some(pg) = Postgres::start(&["max_connections=250"], &[]) else {
        return;
    };
    let url = pg.database("load");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weak = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    let fixed = weak.replace("X11Forwarding yes", "X11Forwarding no");
    let sysctl = std::fs::read_to_string("testdata/sysctl/weak/sysctl.conf").unwrap();
    // Two trees of 42 sshd_config files (18 verdicts each) and 11 sysctl.conf files (22 each),
    // plus the 2 verdicts of the inline suppressions' pack: 1,000. Half the writers scan each.
    let trees = [("a", &weak), ("b", &fixed)].map(|(name, config)| {
        let t = tree(d, name, 42, config);
        for i in 0..11 {
            let k = Path::new(&t).join(format!("k{i:02}"));
            std::fs::create_dir_all(&k).unwrap();
            std::fs::write(k.join("sysctl.conf"), &sysctl).unwrap();
        }
        t
    });
    let scan_args = |t: &str, host: &str| -> Vec<String> {
        [
            "scan",
            t,
            "--policy",
            "policies/ssh-hardening.yaml",
            "--policy",
            "policies/linux-sysctl.yaml",
            "--at",
            AT,
            "--fail-on",
            "none",
            "-q",
            "-f",
            "json",
            "--host-name",
            host,
        ]
        .map(String::from)
        .to_vec()
    };
    let mut references = Vec::new();
    for (i, t) in trees.iter().enumerate() {
        let out = d.join(format!("reference{i}.json"));
        let mut args = scan_args(t, "reference");
        args.extend(["-o".into(), out.display().to_string()]);
        common::vigil_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v["findings"].as_array().unwrap().len(), 1000);
        references.push(v);
    }
    // Created before the writers start, so that they race on storing runs, not on the schema.
    let mut warm_up = scan_args(&trees[0], "warm-up");
    warm_up.extend(["-o".into(), "/dev/null".into()]);
    ok(
        &url,
        &warm_up.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            let host = format!("host-{i:03}");
            Command::new(env!("CARGO_BIN_EXE_vigil"))
                .args(scan_args(&trees[i % 2], &host))
                .args(["-o", "/dev/null", "--tag", &format!("tree={}", i % 2)])
                .env("VIGIL_HISTORY", &url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "writer {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let one = |client: &mut postgres::Client, sql: &str| -> i64 {
        client.query_one(sql, &[]).unwrap().get(0)
    };
    assert_eq!(
        one(
            &mut client,
            "SELECT count(*) FROM vigil.runs WHERE complete = 1 AND host LIKE 'host-%'"
        ),
        WRITERS as i64
    );
    assert_eq!(
        one(
            &mut client,
            "SELECT count(DISTINCT host) FROM vigil.runs WHERE host LIKE 'host-%'"
        ),
        WRITERS as i64
    );
    // Every run: 1,000 links numbered 0 to 999, as many as it recorded.
    let bad = one(
        &mut client,
        "SELECT count(*) FROM vigil.runs r WHERE r.findings <> 1000 OR (SELECT count(*) \
         FROM vigil.run_findings rf WHERE rf.run_id = r.id) <> 1000 OR (SELECT max(seq) - min(seq) \
         FROM vigil.run_findings rf WHERE rf.run_id = r.id) <> 999",
    );
    assert_eq!(bad, 0, "runs with a verdict lost or stored twice");
    // Runs of the same tree link the same verdicts in the same order; each verdict stored once.
    let orders = one(
        &mut client,
        "SELECT count(DISTINCT o) FROM (SELECT string_agg(finding_id::text, ',' ORDER BY seq) AS o \
         FROM vigil.run_findings GROUP BY run_id) AS orders",
    );
    assert_eq!(orders, 2, "the runs of one tree disagree on their verdicts");
    // 1,000 verdicts a tree, of which the suppressions pack's 2 are the same in both.
    assert_eq!(
        one(&mut client, "SELECT count(*) FROM vigil.findings"),
        1998
    );
    assert_eq!(
        one(&mut client, "SELECT count(*) FROM vigil.run_findings"),
        (WRITERS as i64 + 1) * 1000
    );
    // A stored run replays to the reference scan's verdicts (its digest checks).
    for (i, reference) in references.iter().enumerate() {
        let host = format!("host-{:03}", 100 + i);
        let shown: Value = serde_json::from_str(&ok(
            &url,
            &[
                "history",
                "show",
                "latest",
                "--host-name",
                &host,
                "-f",
                "json",
            ],
        ))
        .unwrap();
        assert_eq!(shown["findings"], reference["findings"]);
    }
}

/// A writer whose server goes away mid-run fails with a clear error, and the run it was storing
/// is left incomplete: listed as such, never the `latest` run, never compared.
#[test]
fn a_writer_that_loses_its_server_leaves_an_incomplete_run() {
    let Some(mut pg) = Postgres::start(&[], &[]) else {
        return;
    };
    let url = pg.database("lost");
    let dir = tempfile::tempdir().unwrap();
    let weak = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    // 60,000 verdicts: the run is stored in several transactions.
    let t = tree(dir.path(), "big", 3000, &weak);
    let mut writer = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "scan",
            &t,
            "--policy",
            "policies/ssh-hardening.yaml",
            "--at",
            AT,
        ])
        .args(["--fail-on", "none", "-q", "-f", "json", "-o", "/dev/null"])
        .args(["--host-name", "web-01"])
        .env("VIGIL_HISTORY", &url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the run exists, the test takes the history's lock alone: the writer waits for it at its
    // next transaction, mid-run, and the server goes away then.
    let mut client = loop {
        if let Ok(c) = postgres::Client::connect(&url, postgres::NoTls) {
            break c;
        }
    };
    loop {
        let runs = client
            .query("SELECT complete FROM vigil.runs WHERE host = 'web-01'", &[])
            .map(|rows| rows.len())
            .unwrap_or(0);
        if runs > 0 {
            break;
        }
        if writer.try_wait().unwrap().is_some() {
            let (code, err) = writer_output(&mut writer);
            panic!("the writer ended ({code:?}) before its run was stored: {err}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    client
        .batch_execute("SELECT pg_advisory_lock(1447512396)")
        .unwrap();
    let complete: i16 = client
        .query_one("SELECT complete FROM vigil.runs WHERE host = 'web-01'", &[])
        .unwrap()
        .get(0);
    assert_eq!(complete, 0, "the run completed before the server went away");
    drop(client);
    pg.crash();
    let out = writer_output(&mut writer);
    assert_eq!(out.0, Some(2), "{}", out.1);
    assert!(
        out.1.contains("lost the connection to the history"),
        "{}",
        out.1
    );
    assert!(!out.1.contains(PASSWORD), "{}", out.1);
    pg.restart();
    let list: Value = serde_json::from_str(&ok(&url, &["history", "list", "-f", "json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["complete"], false, "{list}");
    let shown = vigil_with(&url, &["history", "show", "latest", "-f", "json"]);
    assert_eq!(shown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&shown.stderr).contains("no complete run"),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
}

/// The exit code and standard error of a process expected to end soon. A writer must never hang on
/// a server that went away: one still running after ten minutes (a hang, not a slow machine) is
/// killed and the test fails.
fn writer_output(child: &mut std::process::Child) -> (Option<i32>, String) {
    use std::io::Read;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(600) {
            let _ = child.kill();
            panic!("the writer hung after its server went away");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// `sslmode=require` with the server's CA in `sslrootcert`: the history is reached over TLS; the
/// same server is refused when its certificate does not verify against the trust store given.
#[test]
fn tls_to_the_server_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| common::openssl(args, d);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=vigil test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "30",
        "-extfile",
        "ext.cnf",
    ]);
    let Some(pg) = Postgres::start(
        &["ssl=on"],
        &[
            (&d.join("server.pem"), "server.crt"),
            (&d.join("server.key"), "server.key"),
        ],
    ) else {
        return;
    };
    let url = pg.database("tls");
    let ca = d.join("ca.pem");
    let verified = format!("{url}?sslmode=require&sslrootcert={}", ca.display());
    ok(
        &verified,
        &[
            "scan",
            "testdata/ssh/weak",
            "--policy",
            "policies/ssh-hardening.yaml",
            "--fail-on",
            "none",
            "-q",
            "-f",
            "json",
            "-o",
            "/dev/null",
            "--host-name",
            "tls-host",
        ],
    );
    let list: Value =
        serde_json::from_str(&ok(&verified, &["history", "list", "-f", "json"])).unwrap();
    assert_eq!(list[0]["host"], "tls-host");
    // Without the CA, the system's trust store does not know the server's certificate: refused,
    // with sslmode=require and with the default (prefer), which uses the TLS the server offers.
    for unverified in [format!("{url}?sslmode=require"), url.clone()] {
        let out = vigil_with(&unverified, &["history", "list"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot connect to the history"), "{err}");
        assert!(err.contains("UnknownIssuer"), "{err}");
    }
    // TLS turned off by the user: the same server, in plain text.
    ok(&format!("{url}?sslmode=disable"), &["history", "list"]);
}
