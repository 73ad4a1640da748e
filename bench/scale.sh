#!/usr/bin/env bash
# Scale benchmark: `vigil scan` with every bundled pack against ripgrep reading the same generated
# tree, at several tree sizes, so that the growth of wall time and peak memory is visible; and the
# repeat scan of the unchanged tree with the verdict cache (`--cache`, both strategies), whose
# results must equal the first scan's. See bench/README-scale.md.
#
# usage: bench/scale.sh [SIZES...]      (default: 10000 100000 1000000 files)
# environment:
#   TREE_ROOT=dir   where the trees live (default: ${TMPDIR:-/tmp}/vigil-bench-scale): one tree
#                   TREE_ROOT/tree-N per size, its manifest tree-N.manifest.json and the full
#                   result document of one vigil run, tree-N.results.json
#   RUNS=3          hyperfine timed runs per command (after 1 warmup run)
#   SEED=1          generator seed
#   AT=2026-12-01T00:00:00Z   the evaluation clock every vigil command is given (`--at`), as a CI
#                   gate pins it; it changes no cost of a first scan, and lets the repeat scans
#                   reuse the verdicts on certificates too (AT= runs without it)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#
# Writes only under TREE_ROOT and bench/results/ (besides cargo's target/ when it builds vigil):
# bench/results/scale-summary.md (tracked) and, untracked, bench/results/scale-N-* (hyperfine JSON,
# GNU time output, counts).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results=$here/results
tree_root=${TREE_ROOT:-${TMPDIR:-/tmp}/vigil-bench-scale}
runs=${RUNS:-3}
seed=${SEED:-1}
at=${AT-2026-12-01T00:00:00Z}
at_args=()
[ -z "$at" ] || at_args=(--at "$at")
needle=vigil-needle-not-present
max_ratio=1.5
max_rss_mib=150

if [ $# -eq 0 ]; then
    set -- 10000 100000 1000000
fi
for n in "$@" "$runs" "$seed"; do
    case $n in '' | *[!0-9]*) echo "scale.sh: SIZES, RUNS and SEED must be integers (got '$n')" >&2; exit 2 ;; esac
done
for n in "$@"; do
    [ "$n" -gt 0 ] || { echo "scale.sh: a size must be positive" >&2; exit 2; }
done
[ "$runs" -gt 0 ] || { echo "scale.sh: RUNS must be positive" >&2; exit 2; }

# --- tools ---------------------------------------------------------------------------------------
script=scale.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need rg "sudo apt-get install ripgrep   (or: cargo install --locked ripgrep)"
need_gnu_time
need_vigil_build
tools_ok

# --- vigil ---------------------------------------------------------------------------------------
vigil_binary

mkdir -p "$tree_root" "$results"
tree_root=$(cd "$tree_root" && pwd)
cores=$(nproc)
q() { printf '%q' "$1"; }

# What a tree's manifest must say for the tree to be reused: files, seed, generator versions, complete.
gen_version=$(python3 -B -c '
import sys
sys.path.insert(0, sys.argv[1])
import gen_scale_tree, gen_tree
print(gen_scale_tree.GENERATOR_VERSION, gen_tree.GENERATOR_VERSION)' "$here")
manifest_field() {
    python3 -c '
import json, sys
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
if sys.argv[2] == "key":
    p = m.get("parameters", {})
    print(p.get("files"), p.get("seed"), m.get("generator_version"), m.get("gen_tree_version"), m.get("complete"))
elif sys.argv[2] == "owner":
    print(m.get("generator", ""), m.get("tree", ""))
else:
    print(m[sys.argv[2]])' "$1" "$2"
}


sizes=()
for files in "$@"; do
    tree=$tree_root/tree-$files
    manifest=$tree.manifest.json
    echo
    echo "=== $files files: $tree"

    # --- tree ------------------------------------------------------------------------------------
    want="$files $seed $gen_version True"
    have=$(manifest_field "$manifest" key)
    owner=$(manifest_field "$manifest" owner)
    if [ -d "$tree" ] && [ "$have" = "$want" ] && [ "$owner" = "bench/gen_scale_tree.py $tree" ]; then
        echo "== reusing the tree (manifest matches: $files files, seed $seed)"
    else
        if [ -e "$tree" ] || [ -e "$tree.partial" ]; then
            # Only ever delete a tree that gen_scale_tree.py wrote: its manifest names it.
            if [ "$owner" != "bench/gen_scale_tree.py $tree" ]; then
                echo "scale.sh: $tree exists but $manifest does not say bench/gen_scale_tree.py wrote it; remove it or pick another TREE_ROOT" >&2
                exit 2
            fi
            echo "== the tree was generated with other parameters or is incomplete (files seed versions complete: $have; wanted: $want); regenerating"
            rm -rf -- "$tree" "$tree.partial"
        fi
        rm -f -- "$manifest" "$tree.results.json"
        echo "== generating: $files files, seed $seed"
        python3 "$here/gen_scale_tree.py" "$tree" --files "$files" --seed "$seed"
    fi
    [ ! -e "$tree/.git" ] || { echo "scale.sh: $tree contains .git (the secrets pack excludes it, ripgrep would not)" >&2; exit 2; }

    tree_bytes=$(manifest_field "$manifest" bytes)
    page_bytes=$(manifest_field "$manifest" bytes_in_4k_pages)
    # The page cache holds whole pages, and every file also costs an inode and a dentry (~1 KiB).
    need_bytes=$((page_bytes + files * 1024))
    avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    if [ "$avail_kib" -gt 0 ] && [ $((avail_kib * 1024)) -lt $((need_bytes * 3 / 2)) ]; then
        echo "scale.sh: warning: $((avail_kib / 1024)) MiB of available memory may not keep the tree in the page cache" \
            "($((tree_bytes >> 20)) MiB of files, about $((need_bytes >> 20)) MiB with pages and inodes); timings would include disk reads" >&2
    fi

    # --- commands --------------------------------------------------------------------------------
    vigil_cmd="$(q "$vigil") scan $(q "$tree")${at:+ --at $(q "$at")} --fail-on none --allow-errors --format json --output /dev/null"
    rg_cmd="rg -c -F --hidden --no-ignore $needle $(q "$tree")"
    # The repeat scans: the caches are filled by an untimed scan first; a timed run writes its cache
    # again only if something changed, as a nightly scan would.
    content_cache="$tree_root/tree-$files.content.cache"
    metadata_cache="$tree_root/tree-$files.metadata.cache"
    content_cmd="$vigil_cmd --cache $(q "$content_cache")"
    metadata_cmd="$vigil_cmd --cache $(q "$metadata_cache") --cache-strategy metadata"
    # Both tools with their default thread count (one per core): neither is given -j.
    printf '%s\n%s\n%s\n%s\n' "$vigil_cmd" "$rg_cmd" "$content_cmd" "$metadata_cmd" >"$results/scale-$files-commands.sh"

    echo "== warming the page cache (ripgrep reads every file, twice)"
    for _ in 1 2; do
        rc=0
        rg -c -F --hidden --no-ignore "$needle" "$tree" >/dev/null || rc=$?
        # Exit 1: no match, which is the point; anything else is an error.
        [ "$rc" -eq 1 ] || { echo "scale.sh: ripgrep exited $rc while warming $tree (is '$needle' in the tree?)" >&2; exit 1; }
    done

    echo "== counting what vigil finds (one untimed run, full result document)"
    "$vigil" scan "$tree" "${at_args[@]}" --fail-on none --allow-errors --format json --output "$tree.results.json"

    echo "== filling the caches, and checking that results from them equal the first scan's"
    rm -f "$content_cache" "$metadata_cache"
    for strategy in content metadata; do
        cache="$tree_root/tree-$files.$strategy.cache"
        for pass in fill reuse; do
            "$vigil" scan "$tree" "${at_args[@]}" --fail-on none --allow-errors --format json --output "$tree.cached.json" \
                --cache "$cache" --cache-strategy "$strategy" 2>"$results/scale-$files-$strategy-$pass.txt"
            grep '^vigil: cache' "$results/scale-$files-$strategy-$pass.txt" | sed 's/^/   /'
        done
        # Everything before the run's own metadata (times, command line) and the seal over it.
        fresh_at=$(grep -b -m1 '^  "run": {' "$tree.results.json" | cut -d: -f1)
        cached_at=$(grep -b -m1 '^  "run": {' "$tree.cached.json" | cut -d: -f1)
        if [ "$fresh_at" != "$cached_at" ] || ! cmp -s -n "$fresh_at" "$tree.results.json" "$tree.cached.json"; then
            echo "scale.sh: the results of the scan from the $strategy cache differ from the first scan's" >&2
            exit 1
        fi
    done
    rm -f "$tree.cached.json"

    ticks_before=$(busy_ticks)
    t_before=$(date +%s.%N)
    echo "== hyperfine: 1 warmup + $runs runs each, $cores cores, default thread counts"
    # ripgrep exits 1 when the literal is not found; exit codes are checked from the JSON afterwards.
    hyperfine --warmup 1 --runs "$runs" --output=pipe --ignore-failure \
        --export-json "$results/scale-$files-hyperfine.json" \
        -n vigil "$vigil_cmd" \
        -n ripgrep "$rg_cmd" \
        -n vigil-content-cache "$content_cmd" \
        -n vigil-metadata-cache "$metadata_cmd"
    ticks_after=$(busy_ticks)
    t_after=$(date +%s.%N)

    echo "== peak memory (GNU time -v, one run each)"
    eval "/usr/bin/time -v -o $(q "$results/scale-$files-vigil-time.txt") $vigil_cmd" 2>/dev/null
    rc=0
    eval "/usr/bin/time -v -o $(q "$results/scale-$files-rg-time.txt") $rg_cmd" >/dev/null || rc=$?
    [ "$rc" -eq 1 ] || { echo "scale.sh: ripgrep exited $rc under /usr/bin/time" >&2; exit 1; }

    # How much of the tree was still in the page cache after the timing (memory pressure or proactive
    # reclaim can evict it, and then the timings include disk reads).
    resident="unknown"
    if command -v fincore >/dev/null 2>&1; then
        resident=$(cd "$tree" && find . -type f -print0 | xargs -0 fincore -b -n 2>/dev/null |
            awk -v total="$page_bytes" '{r += $1} END {p = 100 * r / total; if (p > 100) p = 100; printf "%.0f%%", p}')
        echo "   tree in the page cache after the timing: $resident"
    fi

    # --- counts (streamed: the result document of a 1M-file tree is over a GiB) -----------------
    python3 - "$tree.results.json" "$manifest" "$results/scale-$files-hyperfine.json" "$results/scale-$files-counts.json" \
        "$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$t_before" "$t_after" "$cores" "$tree" "$resident" <<'PY'
import collections, json, re, sys

path, manifest, hyper, out, ticks, hz, t0, t1, cores, tree, resident = sys.argv[1:]
CHUNK = 16 << 20
dec = json.JSONDecoder()
states, packs, errors = collections.Counter(), collections.Counter(), collections.Counter()
examples = {}
with open(path, encoding="utf-8") as f:
    buf = ""
    while True:
        at = buf.find('\n  "findings": [')  # a key of the top-level object (the document is indented by 2)
        if at >= 0:
            i = buf.index("[", at) + 1
            break
        more = f.read(CHUNK)
        if not more:
            sys.exit(f"{path}: no findings array")
        buf += more
    while True:
        while i < len(buf) and buf[i] in " \t\r\n,":
            i += 1
        if i == len(buf):
            more = f.read(CHUNK)
            if not more:
                sys.exit(f"{path}: truncated")
            buf, i = more, 0
            continue
        if buf[i] == "]":
            i += 1
            break
        try:
            finding, end = dec.raw_decode(buf, i)
        except json.JSONDecodeError:
            more = f.read(CHUNK)
            if not more:
                raise
            buf, i = buf[i:] + more, 0
            continue
        states[finding["state"]] += 1
        packs[(finding["control"].split("-")[0], finding["state"])] += 1
        if finding["state"] == "error":
            key = (finding["control"], re.sub(r"\d+", "N", finding.get("message", "")))
            errors[key] += 1
            target = finding.get("target", {})
            examples.setdefault(key, (target.get("file") or target.get("path") or "?").replace(tree + "/", "", 1))
        i = end
        if i > CHUNK:
            buf, i = buf[i:], 0
    rest = (buf[i:] + f.read()).strip().lstrip(",")
doc = json.loads("{" + rest)
m = json.load(open(manifest))
v, r, *_ = json.load(open(hyper))["results"]  # in command order
codes = {"vigil": sorted(set(v.get("exit_codes", []))), "ripgrep": sorted(set(r.get("exit_codes", [])))}
if codes["vigil"] not in ([], [0]) or codes["ripgrep"] not in ([], [1]):
    sys.exit(f"unexpected exit codes in the timed runs: {codes} (vigil must exit 0, ripgrep 1)")
wall = float(t1) - float(t0)
busy = int(ticks) / int(hz)
ours = sum((x["user"] + x["system"]) * (len(x["times"]) + 1) for x in json.load(open(hyper))["results"])
record = {
    "files": m["files"],
    "bytes": m["bytes"],
    "generation_seconds": m["seconds"],
    "findings": sum(states.values()),
    "findings_by_state": dict(sorted(states.items())),
    "findings_by_pack_and_state": {f"{p} {s}": n for (p, s), n in sorted(packs.items())},
    "errors": [{"control": c, "message": msg, "count": n, "example": examples[(c, msg)]} for (c, msg), n in errors.most_common()],
    "summary": doc.get("summary"),
    "inventory": doc.get("inventory"),
    "scan_errors": len(doc.get("scan_errors") or []),
    "resident_after_timing": resident,
    "other_cpu_share": 100 * max(0.0, busy - ours) / (wall * int(cores)) if wall > 0 else 0.0,
    "expected_secret_findings": m["expected_vigil_secret_findings_by_control"],
}
json.dump(record, open(out, "w"), indent=2)
inv = record["inventory"] or {}
print(f"   vigil: {record['findings']} findings {record['findings_by_state']}, files_read {inv.get('files_read')}, "
      f"{len(errors)} kinds of error finding; other processes used {record['other_cpu_share']:.1f}% of the CPU during the timing")
if record["other_cpu_share"] > 3:
    print(f"scale.sh: warning: other processes used {record['other_cpu_share']:.1f}% of the CPU time during the timing; "
          "rerun on a quiet machine", file=sys.stderr)
PY
    sizes+=("$files")
done

# --- report --------------------------------------------------------------------------------------
commit=$(python3 -c 'import sys, machine; print(machine.commit(sys.argv[1]))' "$root")
AT_SHOWN="$at" python3 - "$results" "$vigil" "$root" "$tree_root" "$cores" "$runs" "$seed" "$max_ratio" "$max_rss_mib" "$commit" "${sizes[@]}" <<'PY'
import json, os, platform, subprocess, sys, time
from machine import cpu, version

results, vigil, root, tree_root, cores, runs, seed, max_ratio, max_rss, commit, *sizes = sys.argv[1:]
max_ratio, max_rss = float(max_ratio), float(max_rss)


def rss_mib(name):
    for line in open(os.path.join(results, name)):
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    return float("nan")




def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    return 0




def show(path):
    """A path as the summary shows it: relative to the repository or to TREE_ROOT."""
    return path.replace(tree_root + "/", "$TREE_ROOT/").replace(root + "/", "")


def human(n):
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


rows = []
for n in sizes:
    v, r, vc, vm = json.load(open(os.path.join(results, f"scale-{n}-hyperfine.json")))["results"]
    for x in (v, r, vc, vm):
        x["stddev"] = x["stddev"] or 0.0
    c = json.load(open(os.path.join(results, f"scale-{n}-counts.json")))
    cmds = open(os.path.join(results, f"scale-{n}-commands.sh")).read().splitlines()
    cache = {s: next((l.strip() for l in open(os.path.join(results, f"scale-{n}-{s}-reuse.txt")) if l.startswith("vigil: cache")), "?")
             for s in ("content", "metadata")}
    rows.append({"n": int(n), "v": v, "r": r, "vc": vc, "vm": vm, "cache": cache, "c": c, "cmds": cmds,
                 "vrss": rss_mib(f"scale-{n}-vigil-time.txt"), "rrss": rss_mib(f"scale-{n}-rg-time.txt")})

lines = [
    "# Scale benchmark: vigil (every bundled pack) vs ripgrep",
    "",
    f"Measured {time.strftime('%Y-%m-%d')} by `bench/scale.sh {' '.join(sizes)}`: `{version([vigil, '--version'])}` "
    f"(`{show(vigil)}`), repository at {commit}.",
    "",
    f"- Machine: {cpu()}, {cores} cores, {meminfo('MemTotal')} MiB of memory, Linux {platform.release()}; "
    f"{version(['rg', '--version'])}, {version(['hyperfine', '--version'])}.",
    f"- Trees: `bench/gen_scale_tree.py TREE_ROOT/tree-N --files N --seed {seed}` (see bench/README-scale.md).",
    f"- hyperfine: 1 warmup + {runs} runs per command, warm page cache (ripgrep read the tree twice before), output through a pipe; "
    "both tools with their default thread count (one per core). Peak RSS: one more run of each under `/usr/bin/time -v`.",
    (f"- Every vigil command is given `--at {os.environ['AT_SHOWN']}`, as a CI gate pins its clock: it costs a first scan nothing, "
     "and lets the repeat scans reuse the verdicts on certificates too." if os.environ.get("AT_SHOWN") else
     "- No `--at`: the repeat scans judge the certificates again, since the clock moved."),
    "",
    "| files | tree size | vigil mean ± σ | ripgrep mean ± σ | vigil / ripgrep | vigil peak RSS | ripgrep peak RSS |",
    "|---:|---:|---:|---:|---:|---:|---:|",
]
for x in rows:
    v, r = x["v"], x["r"]
    lines.append(f"| {x['n']:,} | {human(x['c']['bytes'])} | {v['mean']:.3f} s ± {v['stddev']:.3f} s | {r['mean']:.3f} s ± {r['stddev']:.3f} s "
                 f"| {v['mean'] / r['mean']:.2f} | {x['vrss']:.1f} MiB | {x['rrss']:.1f} MiB |")
lines += ["", "CPU time per run (user + system), throughput, the share of the machine's CPU time other processes used during the timing, "
          "and the share of the tree still in the page cache after it (`fincore`):", "",
          "| files | vigil CPU | ripgrep CPU | vigil files/s | ripgrep files/s | other processes | tree in page cache |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
for x in rows:
    v, r = x["v"], x["r"]
    lines.append(f"| {x['n']:,} | {v['user'] + v['system']:.2f} s | {r['user'] + r['system']:.2f} s | {x['n'] / v['mean']:,.0f} "
                 f"| {x['n'] / r['mean']:,.0f} | {x['c']['other_cpu_share']:.1f}% | {x['c']['resident_after_timing']} |")
lines += ["", "The repeat scan of the unchanged tree with the verdict cache, timed in the same hyperfine run (each run writes the "
          "cache again only if it changed; the results from it were checked equal to the first scan's, apart from the run's times and command line):", "",
          "| files | `--cache` (content) | vigil / ripgrep | `--cache --cache-strategy metadata` | vigil / ripgrep | content CPU | metadata CPU |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
for x in rows:
    r, vc, vm = x["r"], x["vc"], x["vm"]
    lines.append(f"| {x['n']:,} | {vc['mean']:.3f} s ± {vc['stddev']:.3f} s | {vc['mean'] / r['mean']:.2f} "
                 f"| {vm['mean']:.3f} s ± {vm['stddev']:.3f} s | {vm['mean'] / r['mean']:.2f} "
                 f"| {vc['user'] + vc['system']:.2f} s | {vm['user'] + vm['system']:.2f} s |")
lines += ["", "What the cache reported on the untimed repeat scans:", ""]
for x in rows:
    for s in ("content", "metadata"):
        lines.append(f"- {x['n']:,} files, {s}: `{x['cache'][s].replace(tree_root + '/', '$TREE_ROOT/')}`")
if len(rows) > 1:
    a, b = rows[0], rows[-1]
    f = b["n"] / a["n"]
    lines += ["", f"Growth from {a['n']:,} to {b['n']:,} files (×{f:g}): vigil wall time ×{b['v']['mean'] / a['v']['mean']:.1f}, "
              f"peak RSS ×{b['vrss'] / a['vrss']:.2f}; ripgrep wall time ×{b['r']['mean'] / a['r']['mean']:.1f}, peak RSS ×{b['rrss'] / a['rrss']:.2f}."]
big = rows[-1]
ratio = big["v"]["mean"] / big["r"]["mean"]
cached = min(big["vc"]["mean"], big["vm"]["mean"]) / big["r"]["mean"]
lines += [
    "",
    f"Goals, at the largest size measured ({big['n']:,} files; the goals are stated for 1,000,000):",
    "",
    f"- vigil wall time within {max_ratio}× of ripgrep: **{ratio:.2f}×**, {'met' if ratio <= max_ratio else 'NOT met'}; "
    f"a repeat scan of the unchanged tree with `--cache`: {cached:.2f}×.",
    f"- vigil peak RSS under {max_rss:.0f} MiB: **{big['vrss']:.1f} MiB**, {'met' if big['vrss'] < max_rss else 'NOT met'}.",
    "",
    "What vigil reported (a separate, untimed run of each size with `--output TREE_ROOT/tree-N.results.json`):",
    "",
    "| files | files_read | bytes_read | findings | fail | error | pass | secrets fail (expected) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for x in rows:
    c = x["c"]
    inv, st = c["inventory"] or {}, c["findings_by_state"]
    sec = c["findings_by_pack_and_state"].get("SEC fail", 0)
    lines.append(f"| {x['n']:,} | {inv.get('files_read', '?'):,} | {inv.get('bytes_read', 0):,} | {c['findings']:,} | {st.get('fail', 0):,} "
                 f"| {st.get('error', 0):,} | {st.get('pass', 0):,} | {sec:,} ({sum(c['expected_secret_findings'].values()):,}) |")
errs = [(x["n"], e) for x in rows for e in x["c"]["errors"]]
if errs:
    lines += ["", "Error findings (the generated files are valid for their format, so each is a generator or a vigil bug):", "",
              "| files | control | count | message (digits as N) | example |", "|---:|---|---:|---|---|"]
    for n, e in errs[:30]:
        msg = e["message"].replace("|", "\\|")
        lines.append(f"| {n:,} | {e['control']} | {e['count']} | {msg} | `{e['example']}` |")
else:
    lines += ["", "No error findings."]
lines += ["", "Commands (as run by hyperfine; TREE_ROOT defaults to `${TMPDIR:-/tmp}/vigil-bench-scale`):", "", "```sh"]
for x in rows:
    lines += [show(c) for c in x["cmds"]]
lines += ["```"]
summary = "\n".join(lines) + "\n"
with open(os.path.join(results, "scale-summary.md"), "w") as f:
    f.write(summary)
print()
print(summary)
PY
echo "results: bench/results/scale-summary.md; raw (not tracked): bench/results/scale-N-{hyperfine.json,vigil-time.txt,rg-time.txt,counts.json,commands.sh}, $tree_root/tree-N.results.json"
