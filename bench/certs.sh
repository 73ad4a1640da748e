#!/usr/bin/env bash
# Certificate benchmark: `vigil scan` with the `certificates` pack against the loop a user would
# write today with openssl, over 10,000 certificate files (mixed RSA/EC, one in ten a chain).
#
#   bench/certs.sh [DIR] [COUNT]      (default DIR: a temporary directory, COUNT: 10000)
#
# Needs hyperfine, openssl and python3 with `cryptography` (pip install cryptography). Builds the
# release binary. The openssl loop takes minutes, so it runs 3 times; vigil runs 10 times.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)}
count=${2:-10000}

python3 -c 'import cryptography' 2>/dev/null || { echo "bench/certs.sh: python3 needs the cryptography package" >&2; exit 2; }
cargo build --release --quiet
vigil=$(pwd)/target/release/vigil

if [ ! -f "$dir/trust-store.crt" ]; then
  echo "generating $count certificate files in $dir" >&2
  python3 bench/gen_certs.py "$dir" "$count"
fi
files=$(find "$dir" -name '*.pem' | wc -l)
echo "$files certificate files, $(du -sh "$dir" | cut -f1)" >&2

# The user's loop: one openssl process per file, expiry within 30 days (2592000 s).
loop="for f in $dir/d*/*.pem; do openssl x509 -noout -enddate -checkend 2592000 -in \"\$f\"; done"
scan="$vigil scan $dir --policy policies/certificates.yaml --trust-store $dir/trust-store.crt --fail-on none"

hyperfine --ignore-failure --warmup 1 --runs 10 --export-markdown bench/results-certs-vigil.md \
  --command-name "vigil scan (certificates pack, 17 controls, chain validation)" "$scan"
hyperfine --ignore-failure --runs 3 --export-markdown bench/results-certs-openssl.md \
  --command-name "openssl x509 -checkend loop" "$loop"
