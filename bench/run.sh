#!/usr/bin/env bash
# Benchmark `vigil scan` with the secrets pack against ripgrep searching the same patterns over the
# same synthetic tree. See bench/README.md.
#
# usage: bench/run.sh [TREE_DIR] [FILES] [SIZE_MB]
#   TREE_DIR  where the generated tree lives (default: ${TMPDIR:-/tmp}/vigil-bench-tree); its
#             manifest is TREE_DIR.manifest.json
#   FILES     number of files (default: 100000)
#   SIZE_MB   total size target in MiB (default: 1024)
# environment:
#   SEED=1          generator seed
#   RUNS=5          hyperfine timed runs per command (after 1 warmup run)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#   STRICT=1        exit 1 when a goal (ratio <= 1.5, peak RSS < 200 MiB) is missed
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
tree=${1:-${TMPDIR:-/tmp}/vigil-bench-tree}
files=${2:-100000}
size_mb=${3:-1024}
seed=${SEED:-1}
runs=${RUNS:-5}
policy=$root/policies/secrets.yaml
results=$here/results
max_ratio=1.5
max_rss_mib=200

case $files$size_mb$seed$runs in *[!0-9]*) echo "run.sh: FILES, SIZE_MB, SEED and RUNS must be integers" >&2; exit 2 ;; esac
tree=$(python3 -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "$tree" 2>/dev/null || echo "$tree")
manifest=$tree.manifest.json

# --- tools ---------------------------------------------------------------------------------------
missing=0
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "run.sh: \`$1\` not found. Install it with: $2" >&2
        missing=1
    fi
}
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need rg "sudo apt-get install ripgrep   (or: cargo install --locked ripgrep)"
[ -x /usr/bin/time ] || { echo "run.sh: GNU time (/usr/bin/time) not found. Install it with: sudo apt-get install time" >&2; missing=1; }
[ -n "${VIGIL_BIN:-}" ] || need cargo "https://rustup.rs (or set VIGIL_BIN to a built vigil binary)"
[ "$missing" = 0 ] || exit 2

# --- vigil ---------------------------------------------------------------------------------------
if [ -n "${VIGIL_BIN:-}" ]; then
    vigil=$VIGIL_BIN
else
    echo "== building vigil (cargo build --release)"
    (cd "$root" && cargo build --release --quiet)
    vigil=$root/target/release/vigil
fi
[ -x "$vigil" ] || { echo "run.sh: $vigil is not executable" >&2; exit 2; }

# --- tree ----------------------------------------------------------------------------------------
gen_version=$(python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import gen_tree; print(gen_tree.GENERATOR_VERSION)' "$here")
want="$files $size_mb $seed $gen_version"
have="" have_tree=""
if [ -f "$manifest" ]; then
    have=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
p = m["parameters"]
print(p["files"], p["size_mb"], p["seed"], m["generator_version"])' "$manifest" 2>/dev/null || true)
    have_tree=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tree"])' "$manifest" 2>/dev/null || true)
fi
if [ -d "$tree" ] && [ "$have" = "$want" ] && [ "$have_tree" = "$tree" ]; then
    echo "== reusing $tree (manifest matches: $files files, $size_mb MiB, seed $seed)"
else
    if [ -e "$tree" ]; then
        # Only ever delete a tree that gen_tree.py wrote: its manifest names it.
        if [ "$have_tree" != "$tree" ]; then
            echo "run.sh: $tree exists but has no gen_tree.py manifest ($manifest); remove it or pick another TREE_DIR" >&2
            exit 2
        fi
        echo "== $tree was generated with other parameters (files size_mb seed version: $have; wanted: $want); regenerating"
        rm -rf -- "$tree"
    fi
    rm -f -- "$manifest"
    echo "== generating $tree: $files files, $size_mb MiB, seed $seed"
    python3 "$here/gen_tree.py" "$tree" --files "$files" --size-mb "$size_mb" --seed "$seed"
fi
[ ! -e "$tree/.git" ] || { echo "run.sh: $tree contains .git (vigil's pack excludes it, ripgrep would not)" >&2; exit 2; }

tree_bytes=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes"])' "$manifest")
avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [ "$avail_kib" -gt 0 ] && [ $((avail_kib * 1024)) -lt $((tree_bytes * 3 / 2)) ]; then
    echo "run.sh: warning: $((avail_kib / 1024)) MiB available memory may not keep the $((tree_bytes >> 20)) MiB tree in the page cache; timings would include disk reads" >&2
fi

echo "== warming the page cache"
warm_bytes=$(find "$tree" -type f -print0 | xargs -0 cat | wc -c)
echo "   read $warm_bytes bytes (manifest: $tree_bytes)"

# --- commands ------------------------------------------------------------------------------------
q() { printf '%q' "$1"; }
vigil_cmd="$(q "$vigil") scan $(q "$tree") --policy $(q "$policy") --format json --output /dev/null --fail-on none"
rg_cmd="rg --no-unicode --hidden --no-ignore -c $(python3 "$here/patterns.py" --rg-args "$policy") $(q "$tree")"
# vigil and ripgrep both use one thread per core by default; neither is given -j.
cores=$(nproc)

mkdir -p "$results"
printf '# Generated by bench/run.sh: the two benchmarked commands, exactly as hyperfine ran them.\n%s\n%s\n' \
    "$vigil_cmd" "$rg_cmd" >"$results/commands.sh"

echo "== counting what each tool finds (separate runs, not timed)"
"$vigil" scan "$tree" --policy "$policy" --format json --output "$results/vigil-findings.json" --fail-on none
rc=0
eval "$rg_cmd" >"$results/rg-counts.txt" || rc=$?
[ "$rc" -le 1 ] || { echo "run.sh: ripgrep failed (exit $rc)" >&2; exit 1; }

# Busy (non-idle) CPU time of the whole machine, in clock ticks: compared, around the timing, with
# the CPU time hyperfine reports for the benchmarked commands, it shows how much other processes ran.
busy_ticks() {
    local _c u n s i w q sq st rest
    read -r _c u n s i w q sq st rest </proc/stat
    echo $((u + n + s + q + sq + st))
}
ticks_before=$(busy_ticks)
t_before=$(date +%s.%N)
echo "== hyperfine: 1 warmup + $runs runs each, $cores cores, default thread counts"
hyperfine --warmup 1 --runs "$runs" --output=pipe \
    --export-markdown "$results/secrets.md" --export-json "$results/secrets.json" \
    -n vigil "$vigil_cmd" \
    -n ripgrep "$rg_cmd"
ticks_after=$(busy_ticks)
t_after=$(date +%s.%N)

echo "== peak memory (GNU time -v, one run each)"
eval "/usr/bin/time -v -o $(q "$results/vigil-time.txt") $vigil_cmd" 2>/dev/null
eval "/usr/bin/time -v -o $(q "$results/rg-time.txt") $rg_cmd" >/dev/null

resident="unknown (fincore not installed)"
if command -v fincore >/dev/null 2>&1; then
    resident=$(cd "$tree" && find . -type f -print0 | xargs -0 fincore -b -n 2>/dev/null |
        awk -v total="$tree_bytes" '{r += $1} END {p = 100 * r / total; if (p > 100) p = 100; printf "%.0f%%", p}')
fi
echo "   tree in page cache after timing: $resident"

# --- report --------------------------------------------------------------------------------------
python3 - "$results" "$manifest" "$max_ratio" "$max_rss_mib" "$cores" "$runs" "$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$t_before" "$t_after" "$resident" "$vigil" <<'PY'
import collections, json, math, os, platform, subprocess, sys, time

results, manifest_path, max_ratio, max_rss, cores, runs, ticks, hz, t0, t1, resident, vigil = sys.argv[1:]
max_ratio, max_rss = float(max_ratio), float(max_rss)
m = json.load(open(manifest_path))
v, r = json.load(open(os.path.join(results, "secrets.json")))["results"]  # in command order
for x in (v, r):
    x["stddev"] = x["stddev"] or 0.0  # null with a single run
# CPU time the machine spent during the timing, minus what the benchmarked commands used (their
# timed runs, plus one warmup run each estimated at their mean): what other processes took.
wall = float(t1) - float(t0)
busy = int(ticks) / int(hz)
ours = sum((x["user"] + x["system"]) * (len(x["times"]) + 1) for x in (v, r))
other = max(0.0, busy - ours)
other_share = 100 * other / (wall * int(cores))
ratio = v["mean"] / r["mean"]
ratio_sd = ratio * math.hypot(v["stddev"] / v["mean"], r["stddev"] / r["mean"])

def rss_mib(name):
    for line in open(os.path.join(results, name)):
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    return float("nan")

vigil_rss, rg_rss = rss_mib("vigil-time.txt"), rss_mib("rg-time.txt")

doc = json.load(open(os.path.join(results, "vigil-findings.json")))
fails = [f for f in doc["findings"] if f["state"] == "fail"]
by_control = collections.Counter(f["control"] for f in fails)
vigil_files = len({f["target"].get("file") or f["target"].get("path") for f in fails})
inv = doc["inventory"]
rg_lines = rg_files = 0
for line in open(os.path.join(results, "rg-counts.txt")):
    if line.strip():
        rg_lines += int(line.rsplit(":", 1)[1])
        rg_files += 1

def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
    except Exception:
        return "?"

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"

try:
    commit = subprocess.run(["git", "-C", os.path.dirname(results), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
except Exception:
    commit = "?"

ok_ratio, ok_rss = ratio <= max_ratio, vigil_rss < max_rss
exp = m["expected_vigil_fail_findings_by_control"]
controls = sorted(set(exp) | set(by_control))
lines = [
    "# Secrets benchmark: vigil vs ripgrep",
    "",
    f"Measured {time.strftime('%Y-%m-%d')} by `bench/run.sh`: `{version([vigil, '--version'])}` ({vigil}), repository at {commit}.",
    "",
    f"- Machine: {cpu()}, {cores} cores, Linux {platform.release()}; {version(['rg', '--version'])}, {version(['hyperfine', '--version'])}.",
    f"- Tree: {m['files']} files, {m['bytes'] / 2**20:.0f} MiB ({m['big_logs']['files']} MiB-sized logs: {m['big_logs']['bytes'] / 2**20:.0f} MiB; "
    f"{m['binary_files']} binary files), seed {m['parameters']['seed']}, sha256 {m['sha256'][:16]}…; "
    f"{m['seeded_secrets']} seeded secrets in {m['files_with_secrets']} files, {m['decoy_lines']} decoy lines.",
    f"- hyperfine: 1 warmup + {runs} runs per command, warm page cache ({resident} of the tree resident after timing), output through a pipe; "
    f"both tools with their default thread count (one per core). "
    f"Other processes used {other:.1f} CPU-seconds during the {wall:.0f} s of timing ({other_share:.1f}% of the machine).",
    "",
    "| | mean ± σ | min … max | user | system | peak RSS |",
    "|---|---|---|---|---|---|",
    f"| vigil | {v['mean']:.3f} s ± {v['stddev']:.3f} s | {v['min']:.3f} … {v['max']:.3f} s | {v['user']:.3f} s | {v['system']:.3f} s | {vigil_rss:.1f} MiB |",
    f"| ripgrep | {r['mean']:.3f} s ± {r['stddev']:.3f} s | {r['min']:.3f} … {r['max']:.3f} s | {r['user']:.3f} s | {r['system']:.3f} s | {rg_rss:.1f} MiB |",
    "",
    f"- **Ratio vigil / ripgrep (mean wall time): {ratio:.2f} ± {ratio_sd:.2f}** (goal ≤ {max_ratio}: {'met' if ok_ratio else 'NOT met'}).",
    f"- **vigil peak RSS: {vigil_rss:.1f} MiB** (goal < {max_rss:.0f} MiB: {'met' if ok_rss else 'NOT met'}).",
    "",
    "What each tool found (separate, untimed runs):",
    "",
    f"- vigil: {len(fails)} fail findings in {vigil_files} files (manifest expects {m['expected_vigil_fail_findings']}); "
    f"read {inv['files_read']} files, {inv['bytes_read']} bytes, skipped {inv['binary_files_skipped']} binary files.",
    f"- ripgrep: {rg_lines} matching lines in {rg_files} files (`-c` counts; manifest expects {m['expected_rg_matching_lines']} = "
    f"{m['seeded_secrets']} seeded secret lines + {m['decoy_lines']} decoys, which vigil's allow-lists and entropy floors drop).",
    "",
    "| control | vigil fail findings | expected (manifest) |",
    "|---|---|---|",
] + [f"| {c} | {by_control.get(c, 0)} | {exp.get(c, 0)} |" for c in controls] + [
    "",
    "Commands (as run by hyperfine):",
    "",
    "```sh",
    *open(os.path.join(results, "commands.sh")).read().splitlines()[1:],
    "```",
]
summary = "\n".join(lines) + "\n"
print(f"   CPU time during the timing: machine {busy:.1f} s, benchmarked commands {ours:.1f} s (estimated), other processes {other:.1f} s")
if other_share > 3:
    print(f"run.sh: warning: other processes used {other_share:.1f}% of the CPU time during the timing; rerun on a quiet machine", file=sys.stderr)
with open(os.path.join(results, "summary.md"), "w") as f:
    f.write(summary)
print()
print(summary)
if os.environ.get("STRICT") == "1" and not (ok_ratio and ok_rss):
    sys.exit(1)
PY
echo "results: $results/secrets.md (hyperfine), $results/summary.md; raw (not tracked): secrets.json, vigil-findings.json, rg-counts.txt, *-time.txt, commands.sh"
