#!/usr/bin/env bash
# Certificate benchmark: `vigil scan` with the certificates pack against a one-process Python script
# (bench/certs_pyca.py, pyca/cryptography) applying the same seven headline checks to the same tree
# of certificate files. See bench/README-certs.md.
#
# usage: bench/certs.sh [DIR] [COUNT]
#   DIR     where the generated tree lives (default: ${TMPDIR:-/tmp}/vigil-bench-certs)
#   COUNT   number of certificate files (default: 10000)
# environment:
#   SEED=7          generator seed
#   RUNS=10         hyperfine timed runs per command (after 1 warmup run)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#
# Writes only under DIR and bench/results/ (besides cargo's target/ when it builds vigil).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
tree=${1:-${TMPDIR:-/tmp}/vigil-bench-certs}
count=${2:-10000}
seed=${SEED:-7}
runs=${RUNS:-10}
results=bench/results

case $count$seed$runs in *[!0-9]*) echo "certs.sh: COUNT, SEED and RUNS must be integers" >&2; exit 2 ;; esac
tree=$(python3 -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "$tree")
manifest=$tree/manifest.json

# --- tools ---------------------------------------------------------------------------------------
script=certs.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need_gnu_time
need_vigil_build
tools_ok
python3 -c 'import cryptography' 2>/dev/null ||
    { echo "certs.sh: python3 needs the cryptography package (pip install cryptography)" >&2; exit 2; }

# --- vigil ---------------------------------------------------------------------------------------
vigil_binary

# --- tree ----------------------------------------------------------------------------------------
gen_version=$(sed -n 's/^GENERATOR_VERSION = \([0-9]*\).*/\1/p' bench/gen_certs.py)
want="$count $seed $gen_version"
have=""
if [ -f "$manifest" ]; then
    have=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["parameters"]["files"], m["parameters"]["seed"], m["generator_version"])' "$manifest" 2>/dev/null || true)
fi
if [ "$have" = "$want" ] && [ -f "$tree/trust-store.crt" ]; then
    echo "== reusing $tree (manifest matches: $count files, seed $seed)"
else
    if [ -e "$tree" ] && [ -n "$(ls -A "$tree" 2>/dev/null)" ]; then
        # Only ever delete a tree that gen_certs.py wrote: its manifest names the generator.
        if ! grep -qs '"generator": "bench/gen_certs.py"' "$manifest"; then
            echo "certs.sh: $tree exists and was not written by bench/gen_certs.py (no $manifest); remove it or pick another DIR" >&2
            exit 2
        fi
        echo "== $tree was generated with other parameters (files seed version: ${have:-?}; wanted: $want); regenerating"
        rm -rf -- "$tree"
    fi
    echo "== generating $tree: $count certificate files, seed $seed"
    python3 bench/gen_certs.py "$tree" "$count" "$seed"
fi
at=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["at"])' "$manifest")
echo "   clock (--at): $at"

echo "== warming the page cache"
warm_bytes=$(find "$tree" -type f -exec cat {} + | wc -c)
echo "   read $warm_bytes bytes in $(find "$tree" -type f | wc -l) files"

# --- commands ------------------------------------------------------------------------------------
q() { printf '%q' "$1"; }
vigil_cmd="$(q "$vigil") scan $(q "$tree") --policy policies/certificates.yaml --trust-store $(q "$tree/trust-store.crt") --at $at --fail-on none --format json --output /dev/null"
# The same checks as the script: only the pack's controls that make its seven checks (see the table
# in bench/README-certs.md). No control reads the chain, so vigil does not build chains.
same_controls="--control CERT-001 --control CERT-002 --control 'CERT-00[5-9]' --control 'CERT-01[01]'"
vigil_same_cmd="$(q "$vigil") scan $(q "$tree") --policy policies/certificates.yaml $same_controls --trust-store $(q "$tree/trust-store.crt") --at $at --fail-on none --format json --output /dev/null"
pyca_cmd="python3 bench/certs_pyca.py $(q "$tree") --at $at"
cores=$(nproc)
mkdir -p "$results"

echo "== counting what each tool reads and finds (separate runs, not timed)"
"$vigil" scan "$tree" --policy policies/certificates.yaml --trust-store "$tree/trust-store.crt" --at "$at" \
    --fail-on none --format json --output "$results/certs-vigil.json"
python3 bench/certs_pyca.py "$tree" --at "$at" | tee "$results/certs-pyca.txt"

ticks_before=$(busy_ticks)
t_before=$(date +%s.%N)
echo "== hyperfine: 1 warmup + $runs runs each"
hyperfine --warmup 1 --runs "$runs" \
    --export-markdown "$results/certs-hyperfine.md" --export-json "$results/certs-hyperfine.json" \
    -n "vigil, same checks" "$vigil_same_cmd" \
    -n "vigil, whole pack" "$vigil_cmd" \
    -n "python (pyca)" "$pyca_cmd"
ticks_after=$(busy_ticks)
t_after=$(date +%s.%N)

echo "== peak memory (GNU time -v, one run each)"
eval "/usr/bin/time -v -o $(q "$results/certs-vigil-same-time.txt") $vigil_same_cmd"
eval "/usr/bin/time -v -o $(q "$results/certs-vigil-time.txt") $vigil_cmd"
eval "/usr/bin/time -v -o $(q "$results/certs-pyca-time.txt") $pyca_cmd" >/dev/null

# --- report --------------------------------------------------------------------------------------
python3 - "$results" "$manifest" "$cores" "$runs" "$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" \
    "$t_before" "$t_after" "$vigil" "$vigil_cmd" "$vigil_same_cmd" "$pyca_cmd" "$warm_bytes" "$tree" <<'PY'
import collections, json, math, os, platform, re, subprocess, sys, time
from machine import cpu, version, commit as commit_of, portable

(results, manifest_path, cores, runs, ticks, hz, t0, t1, vigil, vigil_cmd, vigil_same_cmd, pyca_cmd,
 tree_bytes, tree) = sys.argv[1:]
m = json.load(open(manifest_path))
s, v, p = json.load(open(os.path.join(results, "certs-hyperfine.json")))["results"]  # command order
for x in (s, v, p):
    x["stddev"] = x["stddev"] or 0.0  # null with a single run
wall = float(t1) - float(t0)
busy = int(ticks) / int(hz)
ours = sum((x["user"] + x["system"]) * (len(x["times"]) + 1) for x in (s, v, p))
other = max(0.0, busy - ours)
other_share = 100 * other / (wall * int(cores))
ratio = p["mean"] / s["mean"]
ratio_sd = ratio * math.hypot(s["stddev"] / s["mean"], p["stddev"] / p["mean"])
cpu_ratio = (p["user"] + p["system"]) / (s["user"] + s["system"])
pack_ratio = p["mean"] / v["mean"]


def rss_mib(name):
    for line in open(os.path.join(results, name)):
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    return float("nan")


vigil_rss, pyca_rss = rss_mib("certs-vigil-time.txt"), rss_mib("certs-pyca-time.txt")
same_rss = rss_mib("certs-vigil-same-time.txt")

doc = json.load(open(os.path.join(results, "certs-vigil.json")))
vigil_certs = doc["inventory"]["documents"].get("certificate", 0)
vigil_files = doc["inventory"]["files_read"]
fails = collections.Counter(f["control"] for f in doc["findings"] if f["state"] == "fail")
pyca_out = open(os.path.join(results, "certs-pyca.txt")).read()
pyca_certs = int(re.search(r"^certificates read: (\d+)", pyca_out, re.M).group(1))
pyca_files = int(re.search(r"^files read: (\d+)", pyca_out, re.M).group(1))
pyca_fail = {k: int(n) for k, n in re.findall(r"^(\w+): (\d+) failed", pyca_out, re.M)}

# The controls of the pack that make each of the script's checks.
controls = {
    "key_size": ["CERT-005", "CERT-006"],
    "signature_hash": ["CERT-007"],
    "subject_alt_name": ["CERT-008"],
    "lifetime": ["CERT-009"],
    "ca_flag": ["CERT-010"],
    "self_signed": ["CERT-011"],
    "expiry": ["CERT-001", "CERT-002"],
}
expected = m["expected_failures"]
agree = all(pyca_fail.get(c) == sum(fails[x] for x in xs) == expected[c] for c, xs in controls.items())
# The pack's own controls (the result also lists the built-in inline-suppressions pack's).
pack_controls = sum(1 for c in doc["controls"] if c["policy"] == "certificates")






commit = commit_of(".")
pyca_version = version(["python3", "-c", "import cryptography; print(cryptography.__version__)"])
keys = m["leaves_by_key"]

lines = [
    "# Certificate benchmark: vigil vs a pyca/cryptography script",
    "",
    f"Measured {time.strftime('%Y-%m-%d')} by `bench/certs.sh`: `{version([vigil, '--version'])}`, repository at {commit}.",
    "",
    f"- Machine: {cpu()}, {cores} cores, Linux {platform.release()}; Python {platform.python_version()}, "
    f"cryptography {pyca_version}, {version(['hyperfine', '--version'])}.",
    f"- Tree: {m['files']} `.pem` files in {m['directories']} directories, {m['certificates']} certificates "
    f"({m['chain_files']} files hold the leaf and the intermediate), {int(tree_bytes) / 2**20:.1f} MiB; leaves "
    f"{keys['rsa-2048']} RSA-2048, {keys['rsa-1024']} RSA-1024, {keys['ec-p256']} EC P-256; seed {m['parameters']['seed']}; "
    f"clock `--at {m['at']}`.",
    f"- hyperfine: 1 warmup + {runs} runs per command, warm page cache. vigil uses one thread per core, the "
    f"script one. Other processes used {other:.1f} CPU-seconds during the {wall:.0f} s of timing "
    f"({other_share:.1f}% of the machine).",
    "",
    "| | mean ± σ | min … max | user | system | peak RSS |",
    "|---|---|---|---|---|---|",
    f"| vigil, same checks | {s['mean']:.3f} s ± {s['stddev']:.3f} s | {s['min']:.3f} … {s['max']:.3f} s | {s['user']:.3f} s | {s['system']:.3f} s | {same_rss:.1f} MiB |",
    f"| vigil, whole pack | {v['mean']:.3f} s ± {v['stddev']:.3f} s | {v['min']:.3f} … {v['max']:.3f} s | {v['user']:.3f} s | {v['system']:.3f} s | {vigil_rss:.1f} MiB |",
    f"| python (pyca) | {p['mean']:.3f} s ± {p['stddev']:.3f} s | {p['min']:.3f} … {p['max']:.3f} s | {p['user']:.3f} s | {p['system']:.3f} s | {pyca_rss:.1f} MiB |",
    "",
    f"- **Ratio python / vigil on the same checks (mean wall time): {ratio:.2f} ± {ratio_sd:.2f}**; CPU time (user + system) ratio: {cpu_ratio:.2f}.",
    f"- Ratio python / vigil with the whole pack ({pack_controls} controls, every leaf's chain built and verified): {pack_ratio:.2f}.",
    f"- **Peak RSS: vigil {vigil_rss:.1f} MiB, python {pyca_rss:.1f} MiB.**",
    "",
    "What each tool read and found (separate, untimed runs):",
    "",
    f"- vigil: {vigil_certs} certificates in {vigil_files} files (`inventory.documents.certificate`; it also reads "
    f"`trust-store.crt`, {m['trust_store']['certificates']} certificates, and `manifest.json`), {sum(fails.values())} fail findings "
    f"from all {pack_controls} controls of the pack.",
    f"- python: {pyca_certs} certificates in {pyca_files} `.pem` files (manifest: {m['certificates']}).",
    f"- Failures per check {'agree' if agree else 'DO NOT agree'} between the script, vigil and the manifest:",
    "",
    "| check | python failures | vigil fail findings | vigil controls | expected (manifest) |",
    "|---|---|---|---|---|",
] + [
    f"| {c} | {pyca_fail.get(c, '?')} | {sum(fails[x] for x in xs)} | {', '.join(xs)} | {expected[c]} |"
    for c, xs in controls.items()
] + [
    "",
    "Commands (as run by hyperfine, from the repository root):",
    "",
    "```sh",
    portable(vigil_same_cmd, tree),
    portable(vigil_cmd, tree),
    portable(pyca_cmd, tree),
    "```",
]
summary = "\n".join(lines) + "\n"
if other_share > 3:
    print(f"certs.sh: warning: other processes used {other_share:.1f}% of the CPU time during the timing; rerun on a quiet machine", file=sys.stderr)
if not agree:
    print("certs.sh: warning: the failure counts of the script, vigil and the manifest differ (see the summary)", file=sys.stderr)
with open(os.path.join(results, "certs-summary.md"), "w") as f:
    f.write(summary)
print()
print(summary)
print(f"ratio python/vigil: {ratio:.2f} on the same checks, {pack_ratio:.2f} with the whole pack; peak RSS: vigil {vigil_rss:.1f} MiB, python {pyca_rss:.1f} MiB; "
      f"certificates read: vigil {vigil_certs}, python {pyca_certs}")
PY
echo "results: $results/certs-hyperfine.md (hyperfine), $results/certs-summary.md; raw (not tracked): certs-hyperfine.json, certs-vigil.json, certs-pyca.txt, certs-*-time.txt"
