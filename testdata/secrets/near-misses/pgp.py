PGP_HEADER = "-----BEGIN PGP PRIVATE KEY BLOCK-----"


def is_private_key(line: str) -> bool:
    return line.strip() == "-----BEGIN PGP PRIVATE KEY BLOCK-----"
