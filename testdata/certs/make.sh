#!/usr/bin/env bash
# Regenerates the certificate and key fixtures: one certificate per defect the `certificates` pack
# judges, good ones, chains, a 50-certificate bundle, private keys in every format, embedded PEM and
# broken input. The generated files are committed; run this only to change them.
#
# Dates are fixed (not relative to today) so that tests evaluated at 2030-01-15T00:00:00Z (`--at`)
# give the same verdicts in any year. Private CA keys live in a temporary directory and are thrown
# away; the keys under keys/ are throwaway fixtures that sign nothing.
#
# Needs: openssl (3.x), ssh-keygen, python3 (standard library; for reserial.py).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf ca good defects chain bundle keys embedded bad der
mkdir -p ca good defects chain bundle keys embedded bad der "$work/new"
touch "$work/index.txt"

cat >"$work/ca.cnf" <<'CNF'
[ ca ]
default_ca = testca
[ testca ]
dir = $ENV::WORK
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
[ anything ]
commonName = supplied
organizationName = optional
[ root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::NAME,DNS:www.$ENV::NAME
[ server_ec ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:$ENV::NAME,IP:192.0.2.10,email:ops@example.org,URI:https://$ENV::NAME/
[ wildcard ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.$ENV::NAME
[ no_san ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[ leaf_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::NAME
[ wrong_usage ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyCertSign,cRLSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::NAME
[ bad_extension ]
basicConstraints = DER:01:02:03
subjectAltName = DNS:$ENV::NAME
CNF
export WORK="$work" NAME=unused.example

# issue OUT ISSUER(root|intermediate|self|other) KEY CN START END EXTENSIONS [MD]
# EXTENSIONS "-" issues a version 1 certificate (no extensions).
issue() {
  local out=$1 issuer=$2 key=$3 cn=$4 start=$5 end=$6 ext=$7 md=${8:-sha256}
  openssl rand -hex 16 >"$work/serial"
  openssl req -new -key "$key" -subj "/O=Vigil Test/CN=$cn" -out "$work/req.csr"
  local args=(-config "$work/ca.cnf" -batch -notext -in "$work/req.csr" -out "$work/out.pem"
    -startdate "$start" -enddate "$end" -md "$md")
  [ "$ext" = - ] || args+=(-extfile "$work/ca.cnf" -extensions "$ext")
  case $issuer in
    self) args+=(-selfsign -keyfile "$key") ;;
    *) args+=(-cert "$work/$issuer.pem" -keyfile "$work/$issuer.key") ;;
  esac
  NAME=$cn openssl ca "${args[@]}" 2>"$work/ca.log" || { cat "$work/ca.log" >&2; exit 1; }
  openssl x509 -in "$work/out.pem" -out "$out"
}

key_rsa() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1" 2>/dev/null; }
key_ec() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$1"; }

# Certificate authorities: a root, an intermediate below it, an expired intermediate, and a root
# that no trust store holds.
key_rsa "$work/root.key" 2048
issue "$work/root.pem" self "$work/root.key" "Vigil Test Root CA" 20250101000000Z 20450101000000Z root
key_ec "$work/intermediate.key" P-384
issue "$work/intermediate.pem" root "$work/intermediate.key" "Vigil Test Intermediate CA" 20250101000000Z 20400101000000Z intermediate
cp "$work/intermediate.key" "$work/stale.key"
issue "$work/stale.pem" root "$work/stale.key" "Vigil Test Expired Intermediate CA" 20250101000000Z 20291231000000Z intermediate
key_rsa "$work/other.key" 2048
issue "$work/other.pem" self "$work/other.key" "Unknown Root CA" 20250101000000Z 20450101000000Z root
cp "$work/root.pem" ca/root.pem
cp "$work/intermediate.pem" ca/intermediate.pem

key_rsa "$work/leaf.key" 2048
leaf="$work/leaf.key"
# A good server certificate is valid 2029-06-01 to 2030-06-01 (365 days) around the test clock.
good_start=20290601000000Z good_end=20300601000000Z

# Good certificates.
issue good/server-rsa.pem root "$leaf" rsa.example.org $good_start $good_end server
key_ec "$work/p256.key" P-256
issue good/server-ec-p256.pem root "$work/p256.key" ec.example.org $good_start $good_end server_ec sha256
key_ec "$work/p384.key" P-384
issue good/server-ec-p384.pem root "$work/p384.key" ec384.example.org $good_start $good_end server_ec sha384
issue good/wildcard.pem root "$leaf" example.net $good_start $good_end wildcard

# Chains: leaf and intermediate in one file (validates against the root), an expired intermediate,
# a root nobody trusts.
issue "$work/chained.pem" intermediate "$leaf" shop.example.org $good_start $good_end server
cat "$work/chained.pem" "$work/intermediate.pem" >chain/fullchain.pem
issue "$work/stale-leaf.pem" stale "$leaf" old-ca.example.org $good_start $good_end server
cat "$work/stale-leaf.pem" "$work/stale.pem" >chain/expired-intermediate.pem
issue chain/unknown-issuer.pem other "$leaf" untrusted.example.org $good_start $good_end server

# One defect per certificate.
issue defects/expired.pem root "$leaf" expired.example.org 20281201000000Z 20291201000000Z server
issue defects/expires-in-17-days.pem root "$leaf" soon.example.org 20290201000000Z 20300201000000Z server
issue defects/expires-in-59-days.pem root "$leaf" later.example.org 20290315000000Z 20300315000000Z server
issue defects/not-yet-valid.pem root "$leaf" future.example.org 20300601000000Z 20310601000000Z server
key_rsa "$work/rsa1024.key" 1024
issue defects/rsa-1024.pem root "$work/rsa1024.key" small-rsa.example.org $good_start $good_end server
key_ec "$work/p224.key" P-224
issue defects/ec-p224.pem root "$work/p224.key" small-ec.example.org $good_start $good_end server_ec
issue defects/sha1-signature.pem root "$leaf" sha1.example.org $good_start $good_end server sha1
issue defects/md5-signature.pem root "$leaf" md5.example.org $good_start $good_end server md5
issue defects/no-san.pem root "$leaf" no-san.example.org $good_start $good_end no_san
issue defects/validity-730-days.pem root "$leaf" long.example.org 20290101000000Z 20310101000000Z server
issue defects/leaf-ca-true.pem root "$leaf" leaf-ca.example.org $good_start $good_end leaf_ca
issue defects/self-signed.pem self "$leaf" self.example.org $good_start $good_end server
issue defects/wrong-key-usage.pem root "$leaf" usage.example.org $good_start $good_end wrong_usage
issue defects/version-1.pem root "$leaf" v1.example.org $good_start $good_end -
issue "$work/base.pem" root "$leaf" serial.example.org $good_start $good_end server
python3 "$here/reserial.py" "$work/base.pem" -5 "$work/root.key" defects/serial-negative.pem
python3 "$here/reserial.py" "$work/base.pem" 0x7f0102030405060708090a0b0c0d0e0f1011121314 "$work/root.key" defects/serial-21-octets.pem

# A bundle of 50 certificates, as CA bundles and Java trust exports hold them.
: >bundle/bundle-50.pem
for i in $(seq -w 1 50); do
  issue "$work/b.pem" root "$leaf" "host$i.example.org" $good_start $good_end server
  cat "$work/b.pem" >>bundle/bundle-50.pem
done

# DER.
openssl x509 -in good/server-rsa.pem -outform DER -out der/server-rsa.der
openssl x509 -in ca/root.pem -outform DER -out der/root.cer

# Private keys: unencrypted in every format, and encrypted ones.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/k.pem" 2>/dev/null
openssl pkey -in "$work/k.pem" -traditional -out keys/rsa-pkcs1.key
openssl pkey -in "$work/k.pem" -out keys/rsa-pkcs8.pem
openssl pkcs8 -topk8 -nocrypt -in "$work/k.pem" -outform DER -out keys/rsa-pkcs8.der.key
openssl ecparam -name prime256v1 -genkey -noout -out keys/ec-sec1.key
openssl genpkey -algorithm ED25519 -out keys/ed25519-pkcs8.pem
ssh-keygen -q -t ed25519 -N '' -C fixture -f "$work/id_ed25519" && cp "$work/id_ed25519" keys/id_ed25519
ssh-keygen -q -t rsa -b 3072 -N 'fixture passphrase' -C fixture -f "$work/id_rsa" && cp "$work/id_rsa" keys/id_rsa_encrypted
openssl pkey -in "$work/k.pem" -aes-256-cbc -passout pass:fixture -out keys/rsa-pkcs8-encrypted.pem
openssl pkey -in "$work/k.pem" -traditional -aes128 -passout pass:fixture -out keys/rsa-pkcs1-encrypted.key
key_rsa "$work/k1024.pem" 1024
openssl pkey -in "$work/k1024.pem" -traditional -out keys/rsa-1024.key

# PEM inside other files: a kubeconfig (base64-wrapped PEM) and a YAML block scalar.
b64() { base64 -w0 <"$1"; }
cat >embedded/kubeconfig <<KUBE
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: https://192.0.2.1:6443
      certificate-authority-data: $(b64 ca/root.pem)
users:
  - name: admin
    user:
      client-certificate-data: $(b64 good/server-ec-p256.pem)
      client-key-data: $(b64 "$work/p256.key")
contexts: []
current-context: ""
KUBE
{
  printf 'ingress:\n  tls:\n    crt: |\n'
  sed 's/^/      /' defects/expired.pem
  printf '    name: expired\n'
} >embedded/values.yaml

# Broken input: each must give an `error` finding with a precise reason.
head -c 900 good/server-rsa.pem >bad/truncated.pem
sed '3s/^\(.\{10\}\)./\1*/' good/server-rsa.pem >bad/invalid-base64.pem
head -n 8 good/server-rsa.pem >bad/no-end.pem
printf 'not a certificate at all\n\x01\x02\x03' >bad/garbage.der
issue bad/bad-extension.pem root "$leaf" badext.example.org $good_start $good_end bad_extension
