#!/usr/bin/env python3
"""Generates the certificate benchmark tree: N certificate files (default 10,000) in 100
directories, mixed RSA-2048 and EC P-256 leaves issued by an RSA intermediate below a root, about
one file in ten holding a chain (leaf + intermediate), with expiry dates spread from expired to two
years out. Deterministic for a given seed apart from key material.

usage: gen_certs.py OUT_DIR [N] [SEED]       needs the `cryptography` package (pip install cryptography)
"""
import datetime
import os
import random
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigil Bench"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca(subject, key, issuer, issuer_key, path_length):
    return (x509.CertificateBuilder()
            .subject_name(name(subject)).issuer_name(name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - 1000 * DAY).not_valid_after(NOW + 3000 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = ca("Bench Root CA", root_key, "Bench Root CA", root_key, None)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = ca("Bench Intermediate CA", inter_key, "Bench Root CA", root_key, 0)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    os.makedirs(out, exist_ok=True)
    # The trust store holds the root and the intermediate, so that every leaf's chain is built and
    # its signatures verified (the costly path of validation).
    with open(os.path.join(out, "trust-store.crt"), "wb") as f:
        f.write(pem(root) + pem(inter))
    rsa_keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)]
    ec_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(8)]
    for i in range(count):
        key = rng.choice(rsa_keys) if rng.random() < 0.6 else rng.choice(ec_keys)
        host = f"host{i:05d}.bench.example"
        start = NOW - rng.randint(1, 700) * DAY
        end = start + rng.choice([90, 365, 397, 825]) * DAY
        usage = (x509.KeyUsage(True, False, isinstance(key, rsa.RSAPrivateKey), False, False, False, False, False, False))
        cert = (x509.CertificateBuilder()
                .subject_name(name(host)).issuer_name(inter.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(usage, critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .sign(inter_key, hashes.SHA256()))
        directory = os.path.join(out, f"d{i % 100:02d}")
        os.makedirs(directory, exist_ok=True)
        body = pem(cert) + (pem(inter) if i % 10 == 0 else b"")
        with open(os.path.join(directory, f"{host}.pem"), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    main()
