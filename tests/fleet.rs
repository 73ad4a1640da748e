//! `vigil fleet report`: one report over a history many hosts write to: hosts ranked by
//! failures, the controls failing on the most hosts, what changed since each host's previous run,
//! hosts that stopped reporting, waivers about to end; in HTML, JSON and Markdown.

mod common;

use std::path::Path;

use common::{vigil, vigil_ok};
use serde_json::Value;

const AT: &str = "2030-01-15T00:00:00Z";

fn scan(dir: &Path, tree: &str, host: &str, tags: &[&str], waivers: Option<&str>) {
    let history = dir.join("history.db");
    let mut args = vec![
        "scan",
        tree,
        "--policy",
        "policies/ssh-hardening.yaml",
        "--at",
        AT,
        "--fail-on",
        "none",
        "--quiet",
        "--format",
        "json",
        "--output",
        "/dev/null",
        "--host-name",
        host,
        "--history",
        history.to_str().unwrap(),
    ];
    for t in tags {
        args.extend(["--tag", t]);
    }
    if let Some(w) = waivers {
        args.extend(["--waivers", w]);
    }
    vigil_ok(&args);
}

#[test]
fn the_fleet_report_ranks_hosts_and_says_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weak = std::fs::read_to_string("testdata/ssh/weak/sshd_config").unwrap();
    let hardened = std::fs::read_to_string("testdata/ssh/hardened/sshd_config").unwrap();
    let tree = |name: &str, config: &str| {
        let t = d.join(name);
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("sshd_config"), config).unwrap();
        t.display().to_string()
    };
    let waivers = d.join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - control: SSH-002\n    justification: Break-glass access until the HSM arrives.\n    approved_by: jane.doe@example.org\n    expires: 2030-01-20\n",
    )
    .unwrap();
    let w = waivers.to_str().unwrap();
    // Night 1.
    scan(d, &tree("web", &weak), "web-01", &["env=prod"], None);
    scan(d, &tree("db", &hardened), "db-01", &["env=prod"], None);
    scan(d, &tree("old", &weak), "old-01", &["env=prod"], None);
    scan(d, &tree("lab", &weak), "<img src=x>", &["env=lab"], None);
    // Night 2: web-01 fixed X11 forwarding and has a waiver; db-01 lets root log in.
    scan(
        d,
        &tree(
            "web",
            &weak.replace("X11Forwarding yes", "X11Forwarding no"),
        ),
        "web-01",
        &["env=prod"],
        Some(w),
    );
    scan(
        d,
        &tree(
            "db",
            &hardened.replace("PermitRootLogin no", "PermitRootLogin yes"),
        ),
        "db-01",
        &["env=prod"],
        None,
    );
    // old-01 stopped reporting three days ago.
    let db = rusqlite::Connection::open(d.join("history.db")).unwrap();
    db.execute(
        "UPDATE runs SET started_at = '2030-01-12T02:00:00Z' WHERE host = 'old-01'",
        [],
    )
    .unwrap();
    for host in ["web-01", "db-01", "<img src=x>"] {
        db.execute(
            "UPDATE runs SET started_at = '2030-01-14T02:00:00Z' WHERE host = ?1",
            [host],
        )
        .unwrap();
    }
    drop(db);

    let history = d.join("history.db").display().to_string();
    let out = d.join("out").display().to_string();
    vigil_ok(&[
        "fleet",
        "report",
        "--history",
        &history,
        "--tag",
        "env=prod",
        "--at",
        AT,
        "-f",
        "html,json,markdown",
        "--output-dir",
        &out,
    ]);
    let f: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/fleet.json")).unwrap()).unwrap();
    assert_eq!(f["hosts"], 3, "the lab host is not tagged env=prod");
    let ranking: Vec<&str> = f["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    // old-01 (weak) fails the most, web-01 one control less and one waived; db-01 the least.
    assert_eq!(ranking, ["old-01", "web-01", "db-01"]);
    assert_eq!(f["top_controls"][0]["control"], "SSH-001");
    assert_eq!(
        f["top_controls"][0]["hosts"], 3,
        "root login is allowed everywhere now"
    );
    assert_eq!(f["changes"]["compared"], 2);
    assert_eq!(f["changes"]["new"], 1);
    assert_eq!(f["changes"]["resolved"], 1);
    let items: Vec<(String, String, String)> = f["changes"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["host"].as_str().unwrap().to_string(),
                i["class"].as_str().unwrap().to_string(),
                i["control"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (
                "db-01".to_string(),
                "new".to_string(),
                "SSH-001".to_string()
            ),
            (
                "web-01".to_string(),
                "resolved".to_string(),
                "SSH-004".to_string()
            ),
        ]
    );
    assert_eq!(f["silent"].as_array().unwrap().len(), 1);
    assert_eq!(f["silent"][0]["host"], "old-01");
    assert_eq!(f["expiring_waivers"][0]["host"], "web-01");
    assert_eq!(f["expiring_waivers"][0]["control"], "SSH-002");
    assert_eq!(f["expiring_waivers"][0]["expires"], "2030-01-20");
    assert_eq!(f["trend"].as_array().unwrap().len(), 2, "two nights");
    assert_eq!(f["trend"][1]["hosts"], 2);

    let html = std::fs::read_to_string(d.join("out/fleet.html")).unwrap();
    assert!(
        html.contains("script-src &#x27;none&#x27;"),
        "no script runs"
    );
    assert!(html.contains("<h2>Hosts, most failures first</h2>"));
    assert_eq!(html.matches("<tr class=\"host\">").count(), 3);
    assert!(html.contains("<tr class=\"silent\"><td>old-01</td>"));
    assert!(html.contains("<tr class=\"waiver\"><td>web-01</td><td>SSH-002</td>"));
    let md = std::fs::read_to_string(d.join("out/fleet.md")).unwrap();
    assert!(md.contains("| db-01 | new | SSH-001 | high |"), "{md}");

    // Every host, and a host name that is markup stays text.
    let o = vigil(&["fleet", "report", "--history", &history, "--at", AT]);
    let html = String::from_utf8_lossy(&o.stdout);
    assert_eq!(html.matches("<tr class=\"host\">").count(), 4);
    assert!(html.contains("&lt;img src&#x3D;x&gt;"), "escaped");
    assert!(!html.contains("<img"));
}
