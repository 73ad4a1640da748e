#!/usr/bin/env bash
# Parser scaling: `vigil facts` over generated 1 MB and 10 MB inputs of each config format, so that
# a parser or a lookup that is quadratic in its input shows as a 100x jump between the two sizes
# instead of 10x. Needs hyperfine and python3.
#
# usage: bench/parsers.sh            environment: RUNS=5
# Writes only under a temporary directory (removed at the end) and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=${RUNS:-5}
command -v hyperfine >/dev/null || { echo "parsers.sh: hyperfine not found (sudo apt-get install hyperfine)" >&2; exit 2; }
(cd "$root" && cargo build --release --quiet)
vigil=$root/target/release/vigil
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

python3 - "$work" <<'PY'
import json, os, sys
out = sys.argv[1]
def lines(n, f): return "".join(f(i) for i in range(n))
for mb in (1, 10):
    d = os.path.join(out, f"{mb}mb")
    os.makedirs(os.path.join(d, "nginx"))
    n = mb * 50_000  # about 20 bytes per entry
    open(os.path.join(d, "keys.yaml"), "w").write(lines(n, lambda i: f"key{i}: value{i}\n"))
    json.dump({f"key{i}": i for i in range(n)}, open(os.path.join(d, "keys.json"), "w"))
    open(os.path.join(d, "keys.toml"), "w").write(lines(n, lambda i: f"key{i} = {i}\n"))
    open(os.path.join(d, "keys.ini"), "w").write("[s]\n" + lines(n, lambda i: f"key{i} = {i}\n"))
    open(os.path.join(d, "app.env"), "w").write(lines(n, lambda i: f"KEY{i}={i}\n"))
    open(os.path.join(d, "sysctl.conf"), "w").write(lines(n, lambda i: f"net.bench.key{i} = {i}\n"))
    open(os.path.join(d, "sshd_config"), "w").write(lines(n, lambda i: f"AcceptEnv VAR{i}\n"))
    open(os.path.join(d, "nginx", "nginx.conf"), "w").write(
        "http {\n" + lines(n // 4, lambda i: f"  server {{ listen {8000 + i % 1000}; server_name s{i}; }}\n") + "}\n")
PY

for file in keys.yaml keys.json keys.toml keys.ini app.env sysctl.conf sshd_config nginx/nginx.conf; do
    hyperfine --warmup 1 --runs "$runs" \
        -n "$file 1 MB" "$vigil facts $work/1mb/$file" \
        -n "$file 10 MB" "$vigil facts $work/10mb/$file" --output=null
done
