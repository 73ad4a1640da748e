#!/usr/bin/env python3
"""Generates the certificate benchmark tree.

N certificate files (default 10,000) in 100 directories (d00 ... d99), one leaf per file:

- leaf keys in roughly equal thirds RSA-2048, RSA-1024 and EC P-256, all leaves issued (SHA-256)
  by an RSA-2048 intermediate below an RSA-2048 root;
- every third file (i % 3 == 0) holds the leaf with its CA (the intermediate) appended, so the tree
  holds about 1.33 certificates per file (13,334 for 10,000 files);
- validity periods of 90, 365, 397 and 825 days (the last over the 398-day limit for TLS server
  certificates), placed so that expiry dates spread from 90 days before the clock to two years
  after it, and no certificate starts after the clock;
- about 5% of the leaves without a subjectAltName;
- no SHA-1 signed leaves: pyca/cryptography refuses to sign certificates with SHA-1 ("Hash
  algorithm 'sha1' not supported for signatures"), so that variant is left out.

The clock is fixed (CLOCK below, printed and written to OUT_DIR/manifest.json): judge the tree with
`vigil scan --at DATE` and `certs_pyca.py --at DATE` so that "expired" means the same thing whenever
the tree is judged. The manifest also records the counts the generator produced and the failures
the seven checks of certs_pyca.py should report.

OUT_DIR/trust-store.crt holds the root and the intermediate, so that every leaf's chain can be built
and its signatures verified (the costly path of vigil's chain validation).

Generating RSA keys is slow (a quarter of a second for RSA-2048), so leaves do not get a key each:
they draw from a pool of POOL keys per algorithm (20 RSA-2048, 20 RSA-1024, 20 EC P-256). Signing is
fast; 10,000 files take well under a minute. Everything but key material and EC signatures is
deterministic for a given N and SEED (names, serials, dates, key types, variants).

usage: gen_certs.py OUT_DIR [N] [SEED]       needs the `cryptography` package (pip install cryptography)
"""
import datetime
import json
import os
import random
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GENERATOR_VERSION = 2
CLOCK = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)  # the benchmark's "now"
DAY = datetime.timedelta(days=1)
POOL = 20  # keys per algorithm
KINDS = ("rsa-2048", "rsa-1024", "ec-p256")
LIFETIMES = (90, 365, 397, 825)  # days; 397 is the longest period both tools accept
EXPIRED_UP_TO = 90  # days before the clock
EXPIRES_UP_TO = 730  # days after the clock
NO_SAN_SHARE = 0.05
CHAIN_EVERY = 3  # files i with i % CHAIN_EVERY == 0 hold leaf + intermediate
DIRS = 100


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigil Bench"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def serial(rng):
    # Positive, 16 octets at most, with more than 64 random bits (RFC 5280, Baseline Requirements).
    return rng.getrandbits(120) | (1 << 120)


def ca(subject, key, issuer, issuer_key, path_length, rng):
    return (x509.CertificateBuilder()
            .subject_name(name(subject)).issuer_name(name(issuer))
            .public_key(key.public_key()).serial_number(serial(rng))
            .not_valid_before(CLOCK - 1000 * DAY).not_valid_after(CLOCK + 3000 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def new_key(kind):
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa-1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return ec.generate_private_key(ec.SECP256R1())


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__.rsplit("\n\n", 1)[1].strip())
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    rng = random.Random(seed)
    print(f"gen_certs.py: {count} files in {out}, clock {CLOCK.date()} (pass --at {CLOCK.date()})", file=sys.stderr)

    root_key = new_key("rsa-2048")
    root = ca("Bench Root CA", root_key, "Bench Root CA", root_key, None, rng)
    inter_key = new_key("rsa-2048")
    inter = ca("Bench Intermediate CA", inter_key, "Bench Root CA", root_key, 0, rng)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    inter_pem = pem(inter)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "trust-store.crt"), "wb") as f:
        f.write(pem(root) + inter_pem)
    pools = {kind: [new_key(kind) for _ in range(POOL)] for kind in KINDS}

    leaves = dict.fromkeys(KINDS, 0)
    without_san = over_398 = expired = expiring_30 = chain_files = 0
    for i in range(count):
        kind = rng.choice(KINDS)
        key = rng.choice(pools[kind])
        host = f"host{i:05d}.bench.example"
        lifetime = rng.choice(LIFETIMES)
        # notAfter in [clock - 90 d, clock + min(730 d, lifetime - 1 d)]: notBefore <= clock - 1 d.
        latest = min(EXPIRES_UP_TO, lifetime - 1) * 86400
        end = CLOCK + datetime.timedelta(seconds=rng.randint(-EXPIRED_UP_TO * 86400, latest))
        start = end - lifetime * DAY
        san = rng.random() >= NO_SAN_SHARE
        builder = (x509.CertificateBuilder()
                   .subject_name(name(host)).issuer_name(inter.subject)
                   .public_key(key.public_key()).serial_number(serial(rng))
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, kind != "ec-p256", False, False, False, False, False, False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        cert = builder.sign(inter_key, hashes.SHA256())
        with_chain = i % CHAIN_EVERY == 0
        directory = os.path.join(out, f"d{i % DIRS:02d}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{host}.pem"), "wb") as f:
            f.write(pem(cert) + (inter_pem if with_chain else b""))

        leaves[kind] += 1
        chain_files += with_chain
        without_san += not san
        over_398 += lifetime > 398
        expired += end < CLOCK
        expiring_30 += CLOCK <= end < CLOCK + 30 * DAY

    manifest = {
        "generator": "bench/gen_certs.py",
        "generator_version": GENERATOR_VERSION,
        "parameters": {"files": count, "seed": seed},
        "at": CLOCK.date().isoformat(),
        "files": count,
        "directories": min(count, DIRS),
        "chain_files": chain_files,
        "certificates": count + chain_files,
        "leaves_by_key": leaves,
        "leaves_without_san": without_san,
        "leaves_over_398_days": over_398,
        "leaves_expired": expired,
        "leaves_expiring_within_30_days": expiring_30,
        "leaves_sha1_signed": 0,
        "sha1_note": "pyca/cryptography refuses to sign with SHA-1; the tree has no SHA-1 signed certificates",
        "trust_store": {"file": "trust-store.crt", "certificates": 2},
        # What certs_pyca.py should report over the .pem files (the intermediate copies pass all).
        "expected_failures": {
            "key_size": leaves["rsa-1024"],
            "signature_hash": 0,
            "subject_alt_name": without_san,
            "lifetime": over_398,
            "ca_flag": 0,
            "self_signed": 0,
            "expiry": expired + expiring_30,
        },
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"gen_certs.py: {count} files, {count + chain_files} certificates ({chain_files} files with a chain), "
          f"clock {manifest['at']}; manifest: {os.path.join(out, 'manifest.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
