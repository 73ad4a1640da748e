"""Settings that look like secrets to a generic rule, and are not."""

import os

# A password hash (crypt format), a digest, hex digests and an identifier.
ADMIN_PASSWORD_HASH = "$2b$12$KIXQJ8rZ1vQ9mYlP0N3ZfeWq9Xr7yTz5bH2cD4eF6gH8iJ0kL1mN2"
IMAGE_DIGEST_SECRET = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SECRET_CHECKSUM = "5d41402abc4b2a76b9719d911017c592"
API_KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
DB_PASSWORD = os.environ.get("DB_PASSWORD", "$db_password")
DJANGO_SECRET_KEY = "<your-secret-key-here>"
