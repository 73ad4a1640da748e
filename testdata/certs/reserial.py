#!/usr/bin/env python3
"""Re-serial a certificate: replace its serial number with any integer (negative, or longer than
the 20 octets RFC 5280 allows, which `openssl ca` and `openssl x509` refuse or cannot combine with
fixed dates) and sign the result again with the issuer's key, so the signature stays valid.

usage: reserial.py IN.pem SERIAL ISSUER_KEY.pem OUT.pem   (SERIAL: an integer, 0x for hex, may be negative)
Standard library and the openssl command only.
"""
import base64
import subprocess
import sys


def read(buf, pos):
    """One DER element at pos: (tag, header length, content length)."""
    tag = buf[pos]
    first = buf[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    length = int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
    return tag, 2 + n, length


def encode(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(size)]) + size
    return head + content


def integer(value):
    size = (value + (value < 0)).bit_length() // 8 + 1
    return encode(0x02, value.to_bytes(size, "big", signed=True))


def children(buf, start, end):
    out, pos = [], start
    while pos < end:
        tag, head, length = read(buf, pos)
        out.append(buf[pos : pos + head + length])
        pos += head + length
    return out


def load(path):
    """The DER bytes of the first certificate in a PEM file."""
    pem = open(path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def save(new_tbs, alg, key, dst):
    """Signs a to-be-signed certificate with the issuer's key (SHA-256) and writes it as PEM."""
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", key],
        input=new_tbs, capture_output=True, check=True,
    ).stdout
    cert = encode(0x30, new_tbs + alg + encode(0x03, b"\x00" + signature))
    text = base64.encodebytes(cert).decode().replace("\n", "")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    with open(dst, "w") as out:
        out.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")


def main():
    src, serial, key, dst = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], sys.argv[4]
    der = load(src)
    _, head, length = read(der, 0)
    tbs, alg, _sig = children(der, head, head + length)
    _, thead, tlen = read(tbs, 0)
    fields = children(tbs, thead, thead + tlen)
    # fields[0] is the [0] version, fields[1] the serial number.
    fields[1] = integer(serial)
    save(encode(0x30, b"".join(fields)), alg, key, dst)


if __name__ == "__main__":
    main()
