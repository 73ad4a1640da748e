#!/usr/bin/env bash
# Regenerates time/: self-signed certificates whose validity dates are encoded in the ways RFC 5280
# forbids but real issuers have written (a UTCTime without seconds or with a time-zone offset, a
# GeneralizedTime before 2050 or with fractional seconds). openssl writes none of them, so a
# certificate is made normally and re-dated by retime.py, signed again with its own key.
#
# Needs: openssl (3.x), python3 (standard library).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf time
mkdir -p time

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null

# redate OUT CN NOT_BEFORE NOT_AFTER (valid for a year around the tests' clock, 2030-01-15, but the
# last, which expired in 2021: its expiry is still judged)
redate() {
  openssl req -x509 -new -key "$work/key.pem" -sha256 -subj "/CN=$2" -days 30 \
    -addext "subjectAltName=DNS:$2" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=serverAuth" \
    -out "$work/base.pem" 2>/dev/null
  python3 "$here/retime.py" "$work/base.pem" "$3" "$4" "$work/key.pem" "time/$1"
}

redate utc-no-seconds.pem no-seconds.example.org utc:2912010000Z utc:3012010000Z
redate utc-offset.pem offset.example.org utc:291201000000+0100 utc:301201000000-0500
redate generalized-before-2050.pem generalized.example.org gen:20291201000000Z gen:20301201000000Z
redate generalized-fraction.pem fraction.example.org gen:20291201000000.25Z utc:301201000000Z
redate expired-utc-no-seconds.pem expired.example.org utc:2001010000Z utc:2101010000Z
