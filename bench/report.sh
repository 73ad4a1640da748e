#!/usr/bin/env bash
# How long `vigil report` takes to verify and render a result of 100,000 findings (the size the
# browser test renders; timing lives here, not in the test), in the release build and in the debug
# build the tests use.
#
# usage: bench/report.sh [FINDINGS]      (default 100000)
# environment: RUNS=10 (hyperfine timed runs per command)
#
# Writes only under a temporary directory, removed at the end, and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
findings=${1:-100000}
runs=${RUNS:-10}
command -v hyperfine >/dev/null || { echo "report.sh: hyperfine not found (sudo apt-get install hyperfine)" >&2; exit 2; }

(cd "$root" && cargo build --release --quiet && cargo build --quiet)
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/data"
python3 -c 'import sys; sys.stdout.write("".join(f"TODO item {i}\n" for i in range(int(sys.argv[1]))))' \
    "$findings" >"$work/data/todo.txt"
cat >"$work/policy.yaml" <<'YAML'
policy: todo
title: TODO markers
version: '1'
controls:
  - id: TODO-1
    title: No TODO
    severity: low
    references: {NIST-800-53r5: [SA-11]}
    rationale: Unfinished work.
    remediation: Finish it.
    target: {kind: file, paths: ['**']}
    check: {pattern: 'TODO item [0-9]+'}
YAML
"$root/target/release/vigil" scan "$work/data" --policy "$work/policy.yaml" --at 2026-01-01 \
    --fail-on none --format json --output "$work/results.json"

for build in release debug; do
    vigil=$root/target/$build/vigil
    hyperfine --warmup 1 --runs "$runs" \
        -n "$build: html" "$vigil report $work/results.json --format html --output $work/report.html" \
        -n "$build: markdown" "$vigil report $work/results.json --format markdown --output $work/summary.md" \
        -n "$build: sarif" "$vigil report $work/results.json --format sarif --output $work/results.sarif" \
        -n "$build: verify" "$vigil verify $work/results.json"
done
