"""Fixture: seeded fake GitHub tokens, one suppressed on its line, one not."""

FIXTURE_TOKEN = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"  # vigil:ignore SEC-003 revoked; kept to test the token parser
# vigil:ignore SEC-003 covers the next line only
PLACEHOLDER = None
LEAKED_TOKEN = "ghp_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"
