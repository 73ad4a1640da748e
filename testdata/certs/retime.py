#!/usr/bin/env python3
"""Re-date a certificate: replace its validity with times encoded exactly as given (a GeneralizedTime
before 2050, a UTCTime without seconds or with a time-zone offset, fractional seconds), which no
openssl command writes, and sign the result again with the issuer's key, so the signature stays
valid and only the encoding is odd.

usage: retime.py IN.pem NOT_BEFORE NOT_AFTER ISSUER_KEY.pem OUT.pem
  each time is utc:TEXT (a UTCTime) or gen:TEXT (a GeneralizedTime), TEXT written as-is.
Standard library and the openssl command only.
"""
import sys

from reserial import children, encode, load, read, save

TAGS = {"utc": 0x17, "gen": 0x18}


def time(spec):
    kind, text = spec.split(":", 1)
    return encode(TAGS[kind], text.encode("ascii"))


def main():
    src, not_before, not_after, key, dst = sys.argv[1:6]
    der = load(src)
    _, head, length = read(der, 0)
    tbs, alg, _sig = children(der, head, head + length)
    _, thead, tlen = read(tbs, 0)
    fields = children(tbs, thead, thead + tlen)
    # version, serial, signature, issuer, validity, ...
    fields[4] = encode(0x30, time(not_before) + time(not_after))
    save(encode(0x30, b"".join(fields)), alg, key, dst)


if __name__ == "__main__":
    main()
