#!/usr/bin/env python3
"""Generates a fleet's history for bench/fleet.sh: HOSTS hosts x NIGHTS nights x VERDICTS verdicts
a run, written straight into a history file whose schema vigil created (a seed scan), so the
tables are exactly vigil's. Every host has its own verdicts (its own file paths); each night about
1% of a host's verdicts change state, as a fleet where little changes between nights.

usage: gen_fleet_history.py HISTORY --vigil VIGIL [--hosts 1000] [--nights 90] [--verdicts 500]
"""
import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

SEVERITIES = ["critical", "high", "medium", "low", "info"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("history")
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--nights", type=int, default=90)
    ap.add_argument("--verdicts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if os.path.exists(a.history):
        sys.exit(f"{a.history} exists; remove it first")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # A seed scan creates the schema (vigil's migrations) and a header with real controls.
    subprocess.run(
        [a.vigil, "scan", os.path.join(root, "testdata/ssh/weak"), "--quiet", "--format", "json",
         "--output", os.devnull, "--fail-on", "none", "--history", a.history],
        check=True, cwd=root,
    )
    db = sqlite3.connect(a.history)
    db.execute("PRAGMA synchronous = OFF")
    header_id, trailer = db.execute("SELECT header_id, trailer FROM runs").fetchone()
    controls = [c["id"] for c in json.loads(
        db.execute("SELECT body FROM headers WHERE id = ?", (header_id,)).fetchone()[0])["controls"]]
    trailer = json.loads(trailer)
    db.execute("DELETE FROM run_findings")
    db.execute("DELETE FROM run_counts")
    db.execute("DELETE FROM policies")
    db.execute("DELETE FROM runs")
    db.execute("DELETE FROM findings")
    db.commit()
    rng = random.Random(a.seed)
    start = time.time()

    finding_ids = {}

    def finding(host, slot, state):
        key = (host, slot, state)
        fid = finding_ids.get(key)
        if fid is not None:
            return fid
        control = controls[slot % len(controls)]
        severity = SEVERITIES[slot % 4]
        body = {"control": control, "severity": severity, "state": state,
                "target": {"file": f"/srv/host-{host:04}/conf/{slot:03}.conf", "kind": "config"}}
        if state == "fail":
            fp = hashlib.sha256(f"{host}/{slot}".encode()).hexdigest()[:32]
            body.update({"fingerprint": fp, "location": {"line": slot % 40 + 1},
                         "message": "Not satisfied.", "observed": "yes"})
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        sha = hashlib.sha256(text.encode()).digest()[:16]
        cur = db.execute(
            "INSERT INTO findings (sha256, control, state, severity, target, fingerprint, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sha, control, state, severity, body["target"]["file"], body.get("fingerprint"), text))
        finding_ids[key] = (cur.lastrowid, sha, state == "fail", severity)
        return finding_ids[key]

    run_id = 0
    for night in range(a.nights):
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - (a.nights - night) * 86400))
        for host in range(a.hosts):
            states = host_states.get(host)
            if states is None:
                states = [("fail" if rng.random() < 0.15 else "pass") for _ in range(a.verdicts)]
                host_states[host] = states
            else:
                for _ in range(max(1, a.verdicts // 100)):
                    s = rng.randrange(a.verdicts)
                    states[s] = "pass" if states[s] == "fail" else "fail"
            run_id += 1
            started = f"{day}T02:{host % 60:02}:00Z"
            t = dict(trailer)
            t["run"] = dict(trailer["run"], host=f"host-{host:04}", started_at=started,
                            finished_at=started, evaluated_at=started)
            db.execute(
                "INSERT INTO runs (id, header_id, host, started_at, finished_at, evaluated_at, "
                "arguments, tool_version, complete, findings, digest, trailer) "
                "VALUES (?, ?, ?, ?, ?, ?, '[]', '0.1.0', 1, ?, ?, ?)",
                (run_id, header_id, f"host-{host:04}", started, started, started, a.verdicts,
                 "0" * 64, json.dumps(t)))
            rows = []
            counts = {}
            for slot, state in enumerate(states):
                fid, sha, failing, severity = finding(host, slot, state)
                rows.append((run_id, slot, fid, sha, failing))
                counts[(state, severity)] = counts.get((state, severity), 0) + 1
            db.executemany(
                "INSERT INTO run_findings (run_id, seq, finding_id, sha256, failing) "
                "VALUES (?, ?, ?, ?, ?)", rows)
            db.executemany(
                "INSERT INTO run_counts (run_id, state, severity, n) VALUES (?, ?, ?, ?)",
                [(run_id, s, v, n) for (s, v), n in counts.items()])
        db.commit()
        print(f"  night {night + 1}/{a.nights}: {run_id} runs, {time.time() - start:.0f} s",
              file=sys.stderr)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"generated {a.history}: {a.hosts} hosts x {a.nights} nights x {a.verdicts} verdicts "
          f"({run_id * a.verdicts:,} stored verdicts) in {time.time() - start:.0f} s")


host_states = {}

if __name__ == "__main__":
    main()
