#!/usr/bin/env bash
# Fleet report benchmark: `vigil fleet report` over a generated history of HOSTS hosts x NIGHTS
# nights x VERDICTS verdicts a run (default 1000 x 90 x 500: 45 million stored verdicts), in each
# format, timed by hyperfine; also the history's size per stored verdict.
#
# usage: bench/fleet.sh [HOSTS [NIGHTS [VERDICTS]]]
# environment:
#   WORK=dir        where the history is generated (default: a temporary directory, removed at the end;
#                   give one to keep the history between runs: it is reused when its size matches)
#   RUNS=3          hyperfine timed runs per format (after 1 warmup run)
#   VIGIL_BIN=path  benchmark this binary instead of building target/release/vigil
#   DB=postgres     read the fleet from PostgreSQL: the generated history is copied, row for row, into
#                   a throw-away server on 127.0.0.1:${PORT:-55434} (docs/examples/postgres/
#                   local-postgres.sh; bench/history_to_postgres.py) and the report reads it there
#
# Writes bench/results/fleet-summary.md (fleet-postgres-summary.md with DB=postgres; tracked) and
# bench/results/fleet-hyperfine.json.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results=$here/results
hosts=${1:-1000}
nights=${2:-90}
verdicts=${3:-500}
runs=${RUNS:-3}
db=${DB:-sqlite}
port=${PORT:-55434}
case $db in sqlite | postgres) ;; *) echo "fleet.sh: DB is sqlite or postgres" >&2; exit 2 ;; esac
case $hosts$nights$verdicts$runs$port in '' | *[!0-9]*) echo "fleet.sh: arguments must be integers" >&2; exit 2 ;; esac

script=fleet.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
[ "$db" = sqlite ] || need psql "sudo apt-get install postgresql"
need_vigil_build
tools_ok
vigil_binary

if [ -n "${WORK:-}" ]; then
    work=$WORK
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-fleet.XXXXXX")
    remove_work=1
fi
server=$root/docs/examples/postgres/local-postgres.sh
cleanup() {
    [ "$db" = sqlite ] || "$server" stop "$work/pg" >/dev/null 2>&1 || true
    [ -z "${remove_work:-}" ] || rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that a server is stopped however the script ends
history=$work/fleet-$hosts-$nights-$verdicts.db
mkdir -p "$results"
if [ ! -s "$history" ]; then
    echo "== generating the history: $hosts hosts x $nights nights x $verdicts verdicts"
    python3 "$here/gen_fleet_history.py" "$history" --vigil "$vigil" \
        --hosts "$hosts" --nights "$nights" --verdicts "$verdicts"
fi

q() { printf '%q' "$1"; }
if [ "$db" = postgres ]; then
    echo "== copying the history into PostgreSQL"
    chmod 711 "$work" # the server runs as the postgres user when this runs as root
    rm -rf -- "$work/pg"
    "$server" start "$work/pg" "$port" >/dev/null
    # The URL (and its password) stays in the environment, out of every command line.
    export VIGIL_HISTORY
    VIGIL_HISTORY=$(cat "$work/pg/url")
    (cd "$root" && "$vigil" scan testdata/ssh/weak --quiet --format json --output /dev/null --fail-on none)
    psql=(psql -h "$work/pg" -p "$port" -U vigil -d vigil)
    [ "$(id -u)" != 0 ] || psql=(runuser -u postgres -- "${psql[@]}")
    python3 "$here/history_to_postgres.py" "$history" -- "${psql[@]}"
    size=$("${psql[@]}" -qAt -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'vigil' AND c.relkind = 'r'")
    cmd() { echo "$(q "$vigil") fleet report --format $1 --output /dev/null"; }
else
    size=$(stat -c %s "$history")
    cmd() { echo "$(q "$vigil") fleet report --history $(q "$history") --format $1 --output /dev/null"; }
fi
echo "== hyperfine: 1 warmup + $runs runs per format"
hyperfine --warmup 1 --runs "$runs" --export-json "$results/fleet-hyperfine.json" \
    -n html "$(cmd html)" -n json "$(cmd json)" -n markdown "$(cmd markdown)"

python3 - "$results" "$db" "$size" "$hosts" "$nights" "$verdicts" "$vigil" <<'PY'
import json, os, subprocess, sys
import machine
from pathlib import Path
res, db, size, hosts, nights, verdicts, vigil = sys.argv[1:]
res = Path(res)
h = json.load(open(res / "fleet-hyperfine.json"))["results"]
stored = int(hosts) * int(nights) * int(verdicts)
size = int(size)
where = (f"SQLite file of {size / 2**30:.2f} GiB" if db == "sqlite" else
         f"copied row for row into PostgreSQL on 127.0.0.1 ({size / 2**30:.2f} GiB of tables and indexes)")
server = ""
if db == "postgres":
    server = " (`DB=postgres`)"
rows = "\n".join(f"| {r['command']} | {r['mean']:.2f} s ± {r['stddev'] or 0:.2f} s | {r['max']:.2f} s |" for r in h)
version = subprocess.run([vigil, "--version"], capture_output=True, text=True).stdout.strip()
rev = machine.commit()
worst = max(r["max"] for r in h)
out = f"""# Fleet report benchmark

Measured by `bench/fleet.sh {hosts} {nights} {verdicts}`{server}: `{version}`, repository at {rev}; a history of
{int(hosts):,} hosts x {int(nights)} nights x {int(verdicts)} verdicts ({stored:,} stored verdicts, each night about 1% of
a host's verdicts change), generated by `bench/gen_fleet_history.py`; {where}
({size / stored:.1f} bytes per stored verdict, the generator's findings included).

| format | mean | slowest run |
|---|---:|---:|
{rows}

Goal: the fleet report renders in under 10 s: slowest run **{worst:.2f} s** ({'met' if worst < 10 else 'NOT met'}).
"""
(res / ("fleet-summary.md" if db == "sqlite" else "fleet-postgres-summary.md")).write_text(out)
print(out)
PY
