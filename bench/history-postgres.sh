#!/usr/bin/env bash
# History benchmark, PostgreSQL: what `--history postgres://...` adds to a scan of about a million
# verdicts, and what each stored run costs on the server. See bench/README.md ("History").
#
# usage: bench/history-postgres.sh [FILES]   (default: 250000 files, about 1,030,000 verdicts)
# environment:
#   TREE_ROOT=dir   where the generated tree lives (default: ${TMPDIR:-/tmp}/vigil-bench-scale, shared
#                   with bench/scale.sh and bench/history.sh)
#   RUNS=5          hyperfine timed runs per command (after 1 warmup run)
#   PORT=55433      the loopback port of the throw-away server
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#
# Starts Debian's PostgreSQL in a temporary directory on 127.0.0.1 (docs/examples/postgres/
# local-postgres.sh, default settings: fsync on), then times side by side with hyperfine:
#   - the scan alone (JSON result to /dev/null);
#   - the scan storing its run into the server, which already holds the previous, unchanged night.
# Then the growth of the server's vigil tables (tables, indexes and TOAST, after VACUUM) for one more
# unchanged night, in bytes per verdict; and the first night into an empty database.
# Writes bench/results/history-postgres-summary.md (tracked) and history-postgres-* (untracked).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results=$here/results
tree_root=${TREE_ROOT:-${TMPDIR:-/tmp}/vigil-bench-scale}
runs=${RUNS:-5}
port=${PORT:-55433}
files=${1:-250000}
case $files$runs$port in '' | *[!0-9]*) echo "history-postgres.sh: FILES, RUNS and PORT must be integers" >&2; exit 2 ;; esac

script=history-postgres.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need psql "sudo apt-get install postgresql"
need_gnu_time
need_vigil_build
tools_ok
vigil_binary

mkdir -p "$tree_root" "$results"
scale_tree "$files"

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-pg.XXXXXX")
chmod 711 "$work" # run as root, the server runs as the postgres user, which must reach $work/pg
server="$root/docs/examples/postgres/local-postgres.sh"
trap '"$server" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf -- "$work"' EXIT
trap 'exit 130' INT TERM # so that the server is stopped however the script ends
"$server" start "$work/pg" "$port" >/dev/null
url=$(cat "$work/pg/url")
export VIGIL_HISTORY=$url
# Queries as the cluster's owner over its Unix socket.
sql() {
    local run=()
    [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" psql -h "$work/pg" -p "$port" -U vigil -d vigil -qAt -c "$1"
}
size() {
    sql "VACUUM" >/dev/null
    sql "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'vigil' AND c.relkind = 'r'"
}

q() { printf '%q' "$1"; }
scan="$(q "$vigil") scan $(q "$tree") --fail-on none --allow-errors --quiet --format json --output /dev/null"
# The history comes from VIGIL_HISTORY (the password stays off every command line); the scan alone
# runs without it.
nightly="$scan --host-name nightly"
scan="env -u VIGIL_HISTORY $scan"

echo "== the first night, into an empty database"
/usr/bin/time -v -o "$results/history-postgres-first-time.txt" $nightly
first_size=$(size)
verdicts=$(sql "SELECT findings FROM runs ORDER BY id DESC LIMIT 1")

echo "== hyperfine: 1 warmup + $runs runs each"
hyperfine --warmup 1 --runs "$runs" --export-json "$results/history-postgres-hyperfine.json" \
    -n scan "$scan" \
    -n "scan --history postgres:// (nightly, unchanged)" "$nightly"

echo "== storage: one more unchanged night"
before=$(size)
runs_before=$(sql "SELECT count(*) FROM runs")
/usr/bin/time -v -o "$results/history-postgres-nightly-time.txt" $nightly
after=$(size)
/usr/bin/time -v -o "$results/history-postgres-scan-time.txt" $scan
tables=$(sql "SELECT string_agg(c.relname || ' ' || pg_total_relation_size(c.oid), ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'vigil' AND c.relkind = 'r'")
server_version=$(sql "SHOW server_version")

python3 - "$results" "$verdicts" "$before" "$after" "$first_size" "$runs_before" "$files" "$vigil" "$server_version" "$tables" <<'PY'
import json, re, subprocess, sys
import machine
from pathlib import Path
res, verdicts, before, after, first_size, runs_before, files, vigil, server, tables = sys.argv[1:]
res = Path(res)
verdicts, before, after, first_size = int(verdicts), int(before), int(after), int(first_size)
h = json.load(open(res / "history-postgres-hyperfine.json"))["results"]
def time_of(name):
    t = (res / f"history-postgres-{name}-time.txt").read_text()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    return rss, wall
base = h[0]["mean"]
rows = []
for r, name in zip(h, ["scan", "nightly"]):
    rows.append(f"| {r['command']} | {r['mean']:.2f} s ± {r['stddev'] or 0:.2f} s | {r['mean'] / base:.2f} | {time_of(name)[0]:.1f} MiB |")
first_rss, first_wall = time_of("first")
per = (after - before) / verdicts
version = subprocess.run([vigil, "--version"], capture_output=True, text=True).stdout.strip()
rev = machine.commit()
out = f"""# History benchmark, PostgreSQL

Measured by `bench/history-postgres.sh {files}`: `{version}`, repository at {rev}; PostgreSQL {server} on
127.0.0.1 (default settings, fsync on); {verdicts:,} verdicts per run (every bundled pack over the
`bench/gen_scale_tree.py` tree of {int(files):,} files), warm page cache, hyperfine 1 warmup + {len(h[0]['times'])} runs.

| command | wall time | × scan alone | peak RSS |
|---|---:|---:|---:|
{chr(10).join(rows)}

Storage: one more unchanged night grew the vigil tables (with their indexes, after VACUUM) from {before:,} to
{after:,} bytes (they held {runs_before} runs): **{per:.1f} bytes per unchanged verdict per run** (goal: at most 100,
{'met' if per <= 100 else 'NOT met'}).

The first night into an empty database took {first_wall} (peak RSS {first_rss:.1f} MiB) and left {first_size:,} bytes
({first_size / verdicts:.0f} bytes per verdict: every distinct verdict is stored once, with its evidence).

Tables after the last night (bytes): {tables}.
"""
(res / "history-postgres-summary.md").write_text(out)
print(out)
PY
