#!/usr/bin/env bash
# History benchmark: what `--history FILE` adds to a scan of about a million verdicts, and what each
# stored run costs on disk. See bench/README.md ("History").
#
# usage: bench/history.sh [FILES]     (default: 250000 files, about 1,030,000 verdicts with every pack)
# environment:
#   TREE_ROOT=dir   where the generated tree lives (default: ${TMPDIR:-/tmp}/vigil-bench-scale, shared
#                   with bench/scale.sh: tree-N made by bench/gen_scale_tree.py)
#   RUNS=5          hyperfine timed runs per command (after 1 warmup run)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#
# Three commands, timed side by side by hyperfine on a warm page cache:
#   - the scan alone (JSON result to /dev/null);
#   - the scan storing its run into a history that already holds the previous night (nothing
#     changed since: the nightly case);
#   - the scan storing its run into a new, empty history (the first night).
# Then the history's growth per unchanged run, in bytes per verdict, and peak RSS of each.
# Writes bench/results/history-summary.md (tracked) and bench/results/history-* (untracked).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results=$here/results
tree_root=${TREE_ROOT:-${TMPDIR:-/tmp}/vigil-bench-scale}
runs=${RUNS:-5}
files=${1:-250000}
case $files$runs in '' | *[!0-9]*) echo "history.sh: FILES and RUNS must be integers" >&2; exit 2 ;; esac

script=history.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need_gnu_time
need_vigil_build
tools_ok
vigil_binary

mkdir -p "$tree_root" "$results"
scale_tree "$files"

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-history.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
q() { printf '%q' "$1"; }
scan="$(q "$vigil") scan $(q "$tree") --fail-on none --allow-errors --quiet --format json --output /dev/null"
nightly="$scan --history $(q "$work/nightly.db")"
first="$scan --history $(q "$work/first.db")"

echo "== warming the page cache, and the nightly history's first run"
$scan
$nightly
verdicts=$(python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT findings FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])' "$work/nightly.db")

echo "== hyperfine: 1 warmup + $runs runs each"
hyperfine --warmup 1 --runs "$runs" --export-json "$results/history-hyperfine.json" \
    -n scan "$scan" \
    -n "scan --history (nightly, unchanged)" "$nightly" \
    -n "scan --history (first run, empty history)" --prepare "rm -f $(q "$work/first.db")*" "$first"

echo "== storage: one more unchanged night"
size() { stat -c %s "$1"; }
before=$(size "$work/nightly.db")
runs_before=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM runs").fetchone()[0])' "$work/nightly.db")
/usr/bin/time -v -o "$results/history-nightly-time.txt" $nightly
after=$(size "$work/nightly.db")
rm -f "$work/first.db"*
/usr/bin/time -v -o "$results/history-first-time.txt" $first
first_size=$(size "$work/first.db")
/usr/bin/time -v -o "$results/history-scan-time.txt" $scan

python3 - "$results" "$verdicts" "$before" "$after" "$first_size" "$runs_before" "$files" "$vigil" <<'PY'
import json, re, subprocess, sys
import machine
from pathlib import Path
res, verdicts, before, after, first_size, runs_before, files, vigil = sys.argv[1:]
res = Path(res)
verdicts, before, after, first_size = int(verdicts), int(before), int(after), int(first_size)
h = json.load(open(res / "history-hyperfine.json"))["results"]
def rss(name):
    t = (res / f"history-{name}-time.txt").read_text()
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
base = h[0]["mean"]
rows = []
for r, name in zip(h, ["scan", "nightly", "first"]):
    rows.append(f"| {r['command']} | {r['mean']:.2f} s ± {r['stddev'] or 0:.2f} s | {r['mean'] / base:.2f} | {rss(name):.1f} MiB |")
per = (after - before) / verdicts
version = subprocess.run([vigil, "--version"], capture_output=True, text=True).stdout.strip()
rev = machine.commit()
nightly_ratio = h[1]["mean"] / base
out = f"""# History benchmark

Measured by `bench/history.sh {files}`: `{version}`, repository at {rev}; {verdicts:,} verdicts per run
(every bundled pack over `bench/gen_scale_tree.py` tree of {int(files):,} files), warm page cache, hyperfine
1 warmup + {len(h[0]['times'])} runs.

| command | wall time | × scan alone | peak RSS |
|---|---:|---:|---:|
{chr(10).join(rows)}

Storage: an unchanged night grew the history from {before:,} to {after:,} bytes (it held {runs_before} runs):
**{per:.1f} bytes per unchanged verdict per run**. A first run into an empty history writes {first_size:,} bytes
({first_size / verdicts:.0f} bytes per verdict: every distinct verdict is stored once, with its evidence).

Goals: storing a run adds at most 30% to the scan's wall time: **{(nightly_ratio - 1) * 100:+.0f}%** for a nightly run
({'met' if nightly_ratio <= 1.3 else 'NOT met'}); under 100 bytes per unchanged verdict per run: **{per:.1f}** ({'met' if per < 100 else 'NOT met'}).
"""
(res / "history-summary.md").write_text(out)
print(out)
PY
