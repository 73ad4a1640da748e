#!/usr/bin/env python3
"""Checks every certificate under a directory with pyca/cryptography, in one process: the baseline
that bench/certs.sh times against `vigil scan` with the certificates pack.

Walks DIR, loads every certificate of every `.pem` file (all PEM blocks) and applies seven checks to
each, then prints how many certificates it read and how many failed each check:

  key_size          RSA keys of at least 2048 bits, EC keys of at least 256 bits
  signature_hash    the signature does not use SHA-1 or MD5
  subject_alt_name  leaves (not CA) carry a subjectAltName
  lifetime          leaves are valid for at most 398 days (notAfter - notBefore)
  ca_flag           no leaf asserts CA:TRUE (a CA:TRUE certificate that names hosts in its
                    subjectAltName, or whose keyUsage does not allow keyCertSign, is a leaf)
  self_signed       the certificate is not self-signed (issuer == subject and its own key verifies
                    the signature)
  expiry            not expired at --at, and not expiring within 30 days of it

usage: certs_pyca.py DIR --at YYYY-MM-DD       needs the `cryptography` package (pip install cryptography)
"""
import argparse
import datetime
import os
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CHECKS = ("key_size", "signature_hash", "subject_alt_name", "lifetime", "ca_flag", "self_signed", "expiry")
MAX_LIFETIME = datetime.timedelta(days=398)
WARNING = datetime.timedelta(days=30)


def extension(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def key_size_ok(cert):
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= 2048
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size >= 256
    return True  # Ed25519, Ed448: fixed sizes


def signature_hash_ok(cert):
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return True
    return not isinstance(algorithm, (hashes.SHA1, hashes.MD5))


def self_signed(cert):
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False


def check(cert, at):
    """Yields (check, passed) for every check that applies to the certificate."""
    constraints = extension(cert, x509.BasicConstraints)
    is_ca = constraints is not None and constraints.ca
    san = extension(cert, x509.SubjectAlternativeName)
    yield "key_size", key_size_ok(cert)
    yield "signature_hash", signature_hash_ok(cert)
    if not is_ca:
        yield "subject_alt_name", san is not None
        yield "lifetime", cert.not_valid_after_utc - cert.not_valid_before_utc <= MAX_LIFETIME
    else:
        usage = extension(cert, x509.KeyUsage)
        names_hosts = san is not None and any(
            isinstance(n, (x509.DNSName, x509.IPAddress)) for n in san)
        yield "ca_flag", not (names_hosts or (usage is not None and not usage.key_cert_sign))
    yield "self_signed", not self_signed(cert)
    yield "expiry", cert.not_valid_after_utc - at >= WARNING  # also fails when already expired


def main():
    parser = argparse.ArgumentParser(description="Check every certificate in the .pem files under DIR.")
    parser.add_argument("dir", metavar="DIR")
    parser.add_argument("--at", required=True, metavar="YYYY-MM-DD",
                        help="judge expiry at midnight UTC of this date")
    args = parser.parse_args()
    at = datetime.datetime.strptime(args.at, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)

    files = certificates = unreadable = 0
    failed = dict.fromkeys(CHECKS, 0)
    judged = dict.fromkeys(CHECKS, 0)
    for dirpath, dirnames, filenames in os.walk(args.dir):
        dirnames.sort()
        for filename in sorted(filenames):
            if not filename.endswith(".pem"):
                continue
            path = os.path.join(dirpath, filename)
            files += 1
            try:
                with open(path, "rb") as f:
                    certs = x509.load_pem_x509_certificates(f.read())
            except (OSError, ValueError) as e:
                print(f"{path}: {e}", file=sys.stderr)
                unreadable += 1
                continue
            for cert in certs:
                certificates += 1
                for name, passed in check(cert, at):
                    judged[name] += 1
                    failed[name] += not passed

    print(f"files read: {files} ({unreadable} unreadable)")
    print(f"certificates read: {certificates}")
    for name in CHECKS:
        print(f"{name}: {failed[name]} failed of {judged[name]}")
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
