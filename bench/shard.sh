#!/usr/bin/env bash
# Sharded scan benchmark: one `vigil scan` of a generated tree against N `vigil scan --shard I/N`
# processes run at once and `vigil merge` of their parts, checking that the merged result has the
# same content as the single scan (everything but `run` and the digest covering it).
#
# usage: bench/shard.sh [FILES [N]]     (default: 1000000 files, N = 8)
# environment:
#   TREE_ROOT=dir   where the generated tree lives (default: ${TMPDIR:-/tmp}/vigil-bench-scale, shared
#                   with bench/scale.sh: tree-N made by bench/gen_scale_tree.py)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#
# Writes bench/results/shard-summary.md (tracked) and bench/results/shard-* (untracked); the parts
# and results go to a temporary directory, removed at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results=$here/results
tree_root=${TREE_ROOT:-${TMPDIR:-/tmp}/vigil-bench-scale}
files=${1:-1000000}
shards=${2:-8}
case $files$shards in '' | *[!0-9]*) echo "shard.sh: FILES and N must be integers" >&2; exit 2 ;; esac

script=shard.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need_gnu_time
need_vigil_build
tools_ok
vigil_binary

mkdir -p "$tree_root" "$results"
scale_tree "$files"

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-shard.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
at=2026-12-01T00:00:00Z
scan=("$vigil" scan "$tree" --at "$at" --fail-on none --allow-errors --quiet --format json)

echo "== warming the page cache"
"${scan[@]}" --output /dev/null

echo "== one process"
/usr/bin/time -f '%e %M' -o "$results/shard-single-time.txt" "${scan[@]}" --output "$work/single.json"

echo "== $shards processes at once, then merge"
start=$(date +%s.%N)
pids=()
for ((i = 0; i < shards; i++)); do
    /usr/bin/time -f '%e %M' -o "$results/shard-part-$i-time.txt" \
        "${scan[@]}" --shard "$i/$shards" --output "$work/part-$i.json" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
scanned=$(date +%s.%N)
parts=()
for ((i = 0; i < shards; i++)); do parts+=("$work/part-$i.json"); done
/usr/bin/time -f '%e %M' -o "$results/shard-merge-time.txt" "$vigil" merge "${parts[@]}" --output "$work/merged.json"
end=$(date +%s.%N)

python3 - "$results" "$work" "$shards" "$files" "$start" "$scanned" "$end" "$vigil" <<'PY'
import json, subprocess, sys
import machine
from pathlib import Path
res, work, shards, files, start, scanned, end, vigil = sys.argv[1:]
res, work, shards = Path(res), Path(work), int(shards)
def content(p):
    with open(p) as f:
        d = json.load(f)
    d.pop("run"); d.pop("integrity")
    return json.dumps(d, separators=(",", ":"))
same = content(work / "single.json") == content(work / "merged.json")
def t(name):
    e, m = (res / f"shard-{name}-time.txt").read_text().split()
    return float(e), int(m) / 1024
single, single_rss = t("single")
merge, merge_rss = t("merge")
part_rss = max(t(f"part-{i}")[1] for i in range(shards))
with open(work / "single.json") as f:
    total = json.load(f)["summary"]["total"]
version = subprocess.run([vigil, "--version"], capture_output=True, text=True).stdout.strip()
rev = machine.commit()
out = f"""# Sharded scan benchmark

Measured by `bench/shard.sh {files} {shards}`: `{version}`, repository at {rev}; the `bench/gen_scale_tree.py` tree of
{int(files):,} files with every bundled pack, {total:,} findings, warm page cache, `--at` fixed.

| | wall time | peak RSS |
|---|---:|---:|
| one process | {single:.1f} s | {single_rss:.1f} MiB |
| {shards} `--shard` processes at once | {float(scanned) - float(start):.1f} s | {part_rss:.1f} MiB (largest part) |
| `vigil merge` of the {shards} parts | {merge:.1f} s | {merge_rss:.1f} MiB |

Merged content identical to the single scan's (all but `run` and `integrity`): **{'yes' if same else 'NO'}**.
"""
(res / "shard-summary.md").write_text(out)
print(out)
sys.exit(0 if same else 1)
PY
