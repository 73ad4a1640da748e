#!/usr/bin/env python3
"""Copies a vigil SQLite history into a PostgreSQL history whose schema vigil created (a seed scan
with --history postgres://...), table by table with COPY through psql: the same rows, so that
bench/fleet.sh can time `vigil fleet report` over the same generated fleet in both databases.
The PostgreSQL tables are emptied first; afterwards the id sequences follow the copied ids and the
tables are analysed.

usage: history_to_postgres.py HISTORY.db -- PSQL_COMMAND...
  (PSQL_COMMAND connects to the database, e.g. psql -h /run/dir -p 55432 -U vigil -d vigil)
"""
import sqlite3
import subprocess
import sys
import time

# In an order that satisfies the foreign keys.
TABLES = [
    ("headers", ["id", "sha256", "body"]),
    ("runs", ["id", "header_id", "host", "started_at", "finished_at", "evaluated_at", "arguments",
              "tool_version", "complete", "findings", "digest", "trailer", "machine_id"]),
    ("policies", ["run_id", "policy", "version", "sha256", "source"]),
    ("findings", ["id", "sha256", "control", "state", "severity", "target", "fingerprint", "body"]),
    ("run_findings", ["run_id", "seq", "finding_id", "sha256", "failing"]),
    ("run_counts", ["run_id", "state", "severity", "n"]),
    ("run_tags", ["run_id", "tag"]),
]


def field(v):
    """A value in PostgreSQL's text COPY format."""
    if v is None:
        return "\\N"
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()
    if isinstance(v, bool):
        return "1" if v else "0"
    text = str(v)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main():
    if "--" not in sys.argv or sys.argv.index("--") != 2:
        sys.exit(__doc__)
    history, psql = sys.argv[1], sys.argv[3:]
    db = sqlite3.connect(history)
    start = time.time()
    names = ", ".join(f"vigil.{t}" for t, _ in TABLES)
    subprocess.run(psql + ["-q", "-c", f"TRUNCATE {names}"], check=True)
    for table, columns in TABLES:
        cols = ", ".join(columns)
        copy = subprocess.Popen(
            psql + ["-q", "-c", f"\\copy vigil.{table} ({cols}) FROM STDIN"],
            stdin=subprocess.PIPE, text=True)
        n = 0
        for row in db.execute(f"SELECT {cols} FROM {table}"):
            copy.stdin.write("\t".join(field(v) for v in row) + "\n")
            n += 1
        copy.stdin.close()
        if copy.wait() != 0:
            sys.exit(f"copying {table} failed")
        print(f"  {table}: {n:,} rows, {time.time() - start:.0f} s", file=sys.stderr)
    fix = "; ".join(
        f"SELECT setval(pg_get_serial_sequence('vigil.{t}', 'id'), "
        f"coalesce((SELECT max(id) FROM vigil.{t}), 0) + 1, false)"
        for t in ["headers", "runs", "findings"])
    subprocess.run(psql + ["-q", "-c", fix], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(psql + ["-q", "-c", "VACUUM ANALYZE"], check=True)
    print(f"copied {history} in {time.time() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
