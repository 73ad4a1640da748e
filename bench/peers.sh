#!/usr/bin/env bash
# Accuracy against peers: vigil's secrets pack against detect-secrets on testdata/secrets, and its
# kubernetes-pod-security pack against Checkov on the manifests of testdata/, each scored by
# bench/peers.py against a ground truth written by hand (true positives, misses, false alarms).
# See docs/peer-comparison.md.
#
# usage: bench/peers.sh [OUT_DIR]
#   OUT_DIR   keep the tools' JSON outputs there (default: a temporary directory, removed at the end)
# environment:
#   PEERS_VENV=dir                where the two virtualenvs live
#                                 (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vigil-bench-peers)
#   CHECKOV_VERSION=3.3.30        Checkov release to install
#   DETECT_SECRETS_VERSION=1.5.0  detect-secrets release to install
#   VIGIL_BIN=path                score this binary instead of building target/release/vigil
#
# The first run installs Checkov and detect-secrets with pip, each into a virtualenv of its own
# (Checkov depends on bc-detect-secrets, a fork that installs the same `detect_secrets` module);
# later runs reuse them while the versions match. pip is the only step that uses the network: the
# scanners run with their network calls off (Checkov: --skip-download, BC_SKIP_MAPPING and
# CKV_SKIP_PACKAGE_UPDATE_CHECK; detect-secrets: --no-verify), inside an empty network namespace
# when `unshare -rn` is allowed. Prints Markdown on stdout.
#
# Writes only under PEERS_VENV, OUT_DIR (or a temporary directory) and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
venvs=${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-bench-peers}
checkov_version=${CHECKOV_VERSION:-3.3.30}
detect_secrets_version=${DETECT_SECRETS_VERSION:-1.5.0}
at=2030-01-15
k8s_dirs=(testdata/k8s testdata/elements/k8s testdata/real/k8s)

# --- tools ---------------------------------------------------------------------------------------
script=peers.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need_vigil_build
tools_ok
need_venv

output_dir "${1:-}"

pip_venv "$venvs" checkov checkov "$checkov_version"
pip_venv "$venvs" detect-secrets detect-secrets "$detect_secrets_version"
checkov=$venvs/checkov/bin/checkov
detect_secrets=$venvs/detect-secrets/bin/detect-secrets

vigil_binary >&2

# The peers run without network when an unprivileged network namespace can be made.
offline=()
if command -v unshare >/dev/null && unshare -rn true 2>/dev/null; then
    offline=(unshare -rn)
fi
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

{
    echo "vigil $("$vigil" --version | awk '{print $2}') (tree at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src policies 2>/dev/null || echo ', src/ or policies/ modified'))"
    echo "Checkov $("$checkov" --version)"
    echo "detect-secrets $("$detect_secrets" --version)"
} >"$out/versions.txt"

# --- runs ----------------------------------------------------------------------------------------
# Exit codes: vigil with --fail-on none exits 1 only on an error finding (broken.yaml gives one);
# Checkov exits 1 when a check fails. Both are expected here; the JSON is what counts.
echo "== vigil" >&2
rc=0
"$vigil" scan testdata/secrets --policy policies/secrets.yaml --format json --fail-on none \
    --at "$at" --output "$out/vigil-secrets.json" >&2 || rc=$?
[ "$rc" -le 1 ] || { echo "peers.sh: vigil exited $rc on testdata/secrets" >&2; exit 2; }
"$vigil" scan "${k8s_dirs[@]}" --policy policies/kubernetes-pod-security.yaml --format json \
    --fail-on none --at "$at" --output "$out/vigil-k8s.json" >&2 || rc=$?
[ "$rc" -le 1 ] || { echo "peers.sh: vigil exited $rc on the manifests" >&2; exit 2; }

echo "== detect-secrets" >&2
${offline[@]+"${offline[@]}"} "$detect_secrets" scan --all-files --no-verify testdata/secrets >"$out/detect-secrets.json"

echo "== checkov" >&2
for dir in "${k8s_dirs[@]}"; do
    rc=0
    ${offline[@]+"${offline[@]}"} "$checkov" -d "$dir" --framework kubernetes -o json --skip-download \
        >"$out/checkov-${dir//\//_}.json" 2>"$out/checkov-${dir//\//_}.log" || rc=$?
    [ "$rc" -le 1 ] || { echo "peers.sh: checkov exited $rc on $dir (see $out/checkov-${dir//\//_}.log)" >&2; exit 2; }
done

for f in vigil-secrets vigil-k8s; do
    [ -s "$out/$f.json" ] || { echo "peers.sh: vigil wrote no $f.json" >&2; exit 2; }
done

# --- scoring -------------------------------------------------------------------------------------
python3 "$here/peers.py" "$out" "$root"
