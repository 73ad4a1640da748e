#!/usr/bin/env bash
# How long `vigil verify` and `vigil report` take to read a saved result and render it, and
# `vigil history import` and `vigil diff` to store it.
#
# By default on a generated result of 100,000 findings (the size the browser test renders; timing
# lives here, not in the test), in the release build and in the debug build the tests use. With
# RESULT, on that saved result instead (for instance the tree-N.results.json that bench/scale.sh
# leaves under its TREE_ROOT), in the release build only.
#
# usage: bench/report.sh [FINDINGS]      (default 100000; ignored with RESULT)
# environment:
#   RUNS=10          hyperfine timed runs per command (after 1 warmup run)
#   RESULT=file      time the commands on this saved result
#   BASELINE=binary  also time this vigil binary (an older build), side by side with each build
#   SUMMARY=file     where the hyperfine tables go (default bench/results/report-hyperfine.md)
#
# Writes under a temporary directory (removed at the end), the summary and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
findings=${1:-100000}
runs=${RUNS:-10}
baseline=${BASELINE:-}
command -v hyperfine >/dev/null || { echo "report.sh: hyperfine not found (sudo apt-get install hyperfine)" >&2; exit 2; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "report.sh: BASELINE=$baseline is not an executable" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

if [ -n "${RESULT:-}" ]; then
    [ -f "$RESULT" ] || { echo "report.sh: RESULT=$RESULT is not a file" >&2; exit 2; }
    results=$RESULT
    builds=(release)
    (cd "$root" && cargo build --release --quiet)
else
    builds=(release debug)
    (cd "$root" && cargo build --release --quiet && cargo build --quiet)
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
    results=$work/results.json
    "$root/target/release/vigil" scan "$work/data" --policy "$work/policy.yaml" --at 2026-01-01 \
        --fail-on none --format json --output "$results"
fi
echo "== $results: $(wc -c <"$results") bytes"

mkdir -p "$here/results"
summary=${SUMMARY:-$here/results/report-hyperfine.md}
: >"$summary"
q() { printf '%q' "$1"; }
for build in "${builds[@]}"; do
    # Each command once per binary, so that hyperfine puts them side by side.
    binaries=("$build=$root/target/$build/vigil")
    [ -z "$baseline" ] || binaries+=("baseline=$baseline")
    # A history that already holds the result, as a fleet's history holds last night's upload.
    "${binaries[0]#*=}" history import --history "$work/seeded.db" "$results" 2>/dev/null
    for what in verify html markdown sarif import reimport diff; do
        args=()
        for pair in "${binaries[@]}"; do
            label=${pair%%=*}
            # A baseline from before SARIF left out passing verdicts writes four times the bytes:
            # other work, not a comparison.
            [ "$what/$label" != sarif/baseline ] || continue
            vigil=$(q "${pair#*=}")
            prepare=()
            case $what in
                verify) cmd="$vigil verify $(q "$results")" ;;
                # Into a new history, and into one holding the result already (its host's previous
                # run: each verdict is linked, none stored again).
                import)
                    prepare=(--prepare "rm -f $(q "$work/new.db")")
                    cmd="$vigil history import --history $(q "$work/new.db") $(q "$results")" ;;
                reimport)
                    prepare=(--prepare "cp $(q "$work/seeded.db") $(q "$work/again.db")")
                    cmd="$vigil history import --history $(q "$work/again.db") $(q "$results")" ;;
                diff) cmd="$vigil diff $(q "$results") $(q "$results") --format json" ;;
                *) cmd="$vigil report $(q "$results") --format $what --output $(q "$work/out-$label.$what")" ;;
            esac
            args+=("${prepare[@]}" -n "$label: $what" "$cmd")
        done
        hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$work/part.md" "${args[@]}"
        cat "$work/part.md" >>"$summary"
        echo >>"$summary"
    done
done
echo "== summary: $summary"
