"""Django-style settings (fixture: seeded fake credentials)."""

DEBUG = False
# The AWS documentation example key is allow-listed and must not be reported.
EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_yFgDcEW7AKW3gc3FnJxFkQjVDZRucq2zyw8G"
ADMIN_PASSWORD = "changeme"  # a placeholder below the entropy floor: not reported
password = "Tr0ub4dor&3xK9q!Lm"
API_KEY = "H2DBog0NyJJRFDa7Tmp1XcOjy7E7JiT1"
SECRET_KEY = "${DJANGO_SECRET_KEY}"
