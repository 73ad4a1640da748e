#!/usr/bin/env bash
# Terraform against Checkov: the terraform pack beside the Checkov checks of the same requirements,
# on a tree of Terraform files you give it (modules laid out in their own directories, so that each
# tool reads a module's variables as Terraform does). bench/terraform_compare.py lists, per
# requirement, the resources both fail and those only one fails; hyperfine times both in one run.
#
# usage: bench/terraform.sh DIR [OUT_DIR]
#   DIR       a tree of *.tf files (for example a few public module repositories checked out side by
#             side); nothing in it is modified
#   OUT_DIR   keep both JSON outputs and the hyperfine export there (default: a temporary directory)
# environment:
#   PEERS_VENV=dir            where Checkov's virtualenv lives (shared with bench/peers.sh)
#   CHECKOV_VERSION=3.3.30    Checkov release to install
#   RUNS=5                    hyperfine timed runs of each command (after 1 warmup run)
#   VIGIL_BIN=path            benchmark this binary instead of building target/release/vigil
#
# The first run installs Checkov with pip, the only step that uses the network. Checkov runs with its
# network calls off (--skip-download, BC_SKIP_MAPPING, CKV_SKIP_PACKAGE_UPDATE_CHECK), inside an empty
# network namespace when `unshare -rn` is allowed. Prints Markdown on stdout, progress on stderr.
#
# Writes only under PEERS_VENV, OUT_DIR (or a temporary directory) and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: bench/terraform.sh DIR [OUT_DIR]" >&2; exit 2; }
dir=$(cd "$1" && pwd)
venvs=${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-bench-peers}
checkov_version=${CHECKOV_VERSION:-3.3.30}
runs=${RUNS:-5}
case $runs in *[!0-9]* | "") echo "terraform.sh: RUNS must be an integer" >&2; exit 2 ;; esac

# --- tools ---------------------------------------------------------------------------------------
script=terraform.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need_vigil_build
tools_ok
need_venv

output_dir "${2:-}"

pip_venv "$venvs" checkov checkov "$checkov_version"
checkov=$venvs/checkov/bin/checkov
vigil_binary >&2

offline=()
if command -v unshare >/dev/null && unshare -rn true 2>/dev/null; then
    offline=(unshare -rn)
fi
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

# The Checkov checks of the pack's requirements, as bench/terraform_compare.py maps them.
checks=$(python3 "$here/terraform_compare.py" --checks)

# --- runs ----------------------------------------------------------------------------------------
# vigil exits 1 only on an error finding with --fail-on none; Checkov exits 1 when a check fails.
vigil_cmd=("$vigil" scan "$dir" --policy policies/terraform.yaml --format json --fail-on none)
checkov_cmd=(${offline[@]+"${offline[@]}"} "$checkov" -d "$dir" --framework terraform -o json
    --quiet --skip-download --check "$checks")
echo "== vigil" >&2
rc=0
"${vigil_cmd[@]}" --output "$out/vigil.json" >&2 || rc=$?
[ "$rc" -le 1 ] || { echo "terraform.sh: vigil exited $rc" >&2; exit 2; }
echo "== checkov" >&2
rc=0
"${checkov_cmd[@]}" >"$out/checkov.json" 2>"$out/checkov.log" || rc=$?
[ "$rc" -le 1 ] || { echo "terraform.sh: checkov exited $rc (see $out/checkov.log)" >&2; exit 2; }

q() { printf '%q' "$1"; }
quoted() { local a s=""; for a in "$@"; do s+="$(q "$a") "; done; echo "${s% }"; }
echo "== hyperfine ($runs runs each)" >&2
hyperfine --warmup 1 --runs "$runs" --ignore-failure --style basic \
    --export-json "$out/hyperfine.json" \
    -n vigil "$(quoted "${vigil_cmd[@]}") --output /dev/null" \
    -n checkov "$(quoted "${checkov_cmd[@]}") > /dev/null" >&2

{
    echo "vigil $("$vigil" --version | awk '{print $2}'), Checkov $("$checkov" --version)"
} >"$out/versions.txt"

# --- comparison ----------------------------------------------------------------------------------
python3 "$here/terraform_compare.py" "$out" "$dir"
