#!/usr/bin/env bash
# Cost of hostile inputs: each case at two sizes, ten times apart, so cost that grows faster than
# the input shows as a jump of more than 10x. Prints wall time (hyperfine, mean of RUNS) and peak
# RSS (GNU time) per case; the pattern-budget case shows a pathological policy pattern stopped at
# once instead of searching for half a minute, and the large-files case (logs of 4 and 40 MiB on 8
# threads) the read budget holding memory flat. Exit codes are ignored: these inputs give errors.
#
# usage: bench/hostile.sh            environment: RUNS=3, VIGIL_BIN=path/to/vigil
# Writes only under a temporary directory (removed at the end) and cargo's target/.
set -euo pipefail

script=hostile.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
need hyperfine "sudo apt-get install hyperfine"
need python3 "sudo apt-get install python3"
need_gnu_time
need_vigil_build
tools_ok
vigil_binary
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

python3 - "$work" <<'PY'
import os, random, sys
out = sys.argv[1]
random.seed(13)
b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
def put(name, text):
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
for n in (10_000, 100_000):
    # Invalid PEM blocks: each a finding-sized error, none a certificate.
    put(f"pem-{n}/bundle.pem", "".join(
        f"-----BEGIN CERTIFICATE-----\nnot base64 {i} !!\n-----END CERTIFICATE-----\n" for i in range(n)))
    # A Deployment with n containers, none hardened: every container fails most controls.
    containers = "".join(f"        - name: c{i}\n          image: registry.example/app:{i}\n" for i in range(n))
    put(f"deploy-{n}/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n  template:\n    spec:\n"
        f"      containers:\n{containers}")
for n in (300, 3_000):
    # One host root with n sysctl drop-ins: each is a file of the scan, and each asks which file
    # stands for the root (the drop-in directories were listed once per drop-in, n^2 entries).
    put(f"dropins-{n}/etc/sysctl.conf", "kernel.kptr_restrict = 2\n")
    for i in range(n):
        put(f"dropins-{n}/etc/sysctl.d/{i:05}-x.conf", "net.ipv4.ip_forward = 0\n")
for mb in (1, 10):
    # AWS access key ids, one per line: every line a secret finding.
    n = mb * 1_000_000 // 21
    put(f"aws-{mb}mb/keys.txt", "".join(
        "AKIA" + "".join(random.choice(b32) for _ in range(16)) + "\n" for _ in range(n)))
    put(f"letters-{mb}mb/letters.txt", "a" * (mb * 1_000_000))
for mb in (4, 40):
    # Sixteen logs of mb MiB, each among 31 small files so that each batch of files a worker takes
    # holds one: judged on 8 threads, they would all be in memory at once without the read budget.
    line = "GET /index.html 200 0.004\n"
    for d in range(16):
        put(f"big-{mb}mb/d{d:02}/access.log", line * (mb * (1 << 20) // len(line)))
        for k in range(31):
            put(f"big-{mb}mb/d{d:02}/small-{k:02}.txt", "ok\n")
put("budget.yaml", """policy: budget
title: A pathological pattern
version: '1'
controls:
  - id: BUDGET-1
    title: Ten thousand letters in a row
    severity: low
    references: {CWE: [CWE-1333]}
    rationale: A pattern whose automaton has 10,000 states.
    remediation: None.
    target: {kind: file, paths: ['**']}
    check: {pattern: '(?:[a-z]{100}){100}'}
""")
PY

cases=(
    "pem-10000 pem-100000 --policy $root/policies/certificates.yaml"
    "deploy-10000 deploy-100000 --policy $root/policies/kubernetes-pod-security.yaml"
    "dropins-300 dropins-3000 --policy $root/policies/linux-sysctl.yaml"
    "aws-1mb aws-10mb --policy $root/policies/secrets.yaml"
    "letters-1mb letters-10mb --policy $work/budget.yaml"
    "big-4mb big-40mb --policy $root/policies/secrets.yaml --threads 8"
)
printf '%-22s %12s %12s %10s %10s\n' case "small (s)" "large (s)" "small MiB" "large MiB"
for c in "${cases[@]}"; do
    read -r small large policy_flag policy extra <<<"$c"
    row=()
    for dir in "$small" "$large"; do
        cmd="$vigil scan $work/$dir $policy_flag $policy ${extra:-} --at 2026-01-01 --format json -o $work/out.json --fail-on none"
        "$vigil" policy lint $policy >/dev/null 2>&1 || { echo "$script: cannot load $policy" >&2; exit 2; }
        hyperfine -i --runs "$runs" --export-json "$work/h.json" --output=null "$cmd" >/dev/null 2>&1
        mean=$(python3 -c "import json,sys; print('%.2f' % json.load(open(sys.argv[1]))['results'][0]['mean'])" "$work/h.json")
        kib=$( (/usr/bin/time -f '%M' $cmd 2>&1 >/dev/null || true) | tail -1)
        row+=("$mean" "$((kib / 1024))")
    done
    printf '%-22s %12s %12s %10s %10s\n' "${small%-*}" "${row[0]}" "${row[2]}" "${row[1]}" "${row[3]}"
done
