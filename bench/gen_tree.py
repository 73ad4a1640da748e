#!/usr/bin/env python3
"""Generate the synthetic tree that bench/run.sh scans: seeded, reproducible, python3 stdlib only.

    gen_tree.py OUT_DIR [--files N] [--size-mb MB] [--seed S]

Defaults: 100,000 files, 1024 MiB, seed 1. The same arguments on the same Python minor version give
a byte-identical tree; the manifest records a SHA-256 over every path and content to check it.

What the tree holds (see bench/README.md):
- projects of configs (YAML, JSON, TOML, INI, .env, sshd_config, nginx), source files (Python,
  JavaScript, Go, shell), Markdown, logs and a few binary files (a NUL byte in their first bytes);
- sizes drawn per kind from log-normal distributions (most files are a few KiB), plus about 0.2% of
  the files as MiB-sized logs that bring the total to the size target;
- hidden files and directories (.env.*, .github/workflows), which is why ripgrep runs with --hidden;
- seeded secrets in about 1% of the text files, one per line, in the formats the secrets pack
  detects, and "decoy" lines in about 2% of the config and source files: lines that the pack's
  regexes match but that vigil drops on purpose (placeholders such as ${DB_PASSWORD}, the
  documented AKIAIOSFODNN7EXAMPLE key, low-entropy values). ripgrep counts decoys; vigil does not.

Filler lines never contain a credential keyword (they are filtered when the line pools are built),
so the only matches in the tree are the seeded secrets and the decoys. The manifest, written next
to the tree as OUT_DIR.manifest.json (not inside it, so neither tool scans it), counts both and
states the findings vigil is expected to report per control and the number of lines ripgrep is
expected to count.

The tree is written to OUT_DIR.partial and renamed to OUT_DIR when complete; an existing OUT_DIR is
never overwritten (remove it first, as bench/run.sh does for trees it generated).
"""

import argparse
import base64
import hashlib
import json
import math
import os
import random
import re
import shutil
import string
import sys
import time

GENERATOR_VERSION = 3

# Unencrypted private keys from the repository's fixtures: real keys, as leaked ones are, so that
# the secrets pack decodes each one and judges it unencrypted (a random body would be an undecodable
# block, reported as an error rather than a failure).
KEY_FIXTURES = [
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata", "certs", "keys", name)
    for name in ("rsa-pkcs1.key", "ec-sec1.key", "id_ed25519", "rsa-pkcs8.pem")
]

WORDS = """
account action active address adapter agent alert alpha analytics archive array audit backend
backup balance batch beta billing blob bucket buffer build bundle cache calendar canary catalog
channel chart checkout client cluster codec column commit config consumer container content
context counter coupon cron cursor customer dashboard data database debug default delivery deploy
device digest domain draft driver edge email encoder endpoint engine entry event export feature
feed fetch field filter flag fleet format frame gateway graph group handler header health history
host image import index inventory invoice issue item job journal kernel label layout ledger limit
listener loader locale logger lookup mailer manifest mapper market media member merge message
metric migration mirror model module monitor mount network node notice object offset order origin
output owner package page parser partition patch payload payment peer pipeline plugin policy pool
portal preview printer probe process product profile project proxy publisher query queue quota
range reader record region registry release replica report request resolver resource response
retry review route router sample scanner schedule schema scope search segment sender server
service session shard shipment signal sink snapshot socket source span stage state status storage
store stream subject summary supplier switch sync table target task template tenant ticket timer
topic trace tracker transfer trigger upload usage user validator value vendor version viewer
volume warehouse webhook widget worker workflow writer zone
""".split()

LEVELS = ["INFO"] * 12 + ["DEBUG"] * 6 + ["WARN"] * 3 + ["ERROR"]
STATUSES = ["200"] * 20 + ["201", "204", "301", "302", "304", "400", "401", "403", "404", "404", "409", "429", "500", "502", "503"]
METHODS = ["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE", "PATCH", "HEAD"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "curl/8.5.0",
    "Go-http-client/2.0",
    "python-requests/2.32.3",
    "kube-probe/1.30",
]

# Pool lines matching this are dropped, so that filler never matches (or half-matches) a pattern of
# the secrets pack. Deliberately broader than the pack, and fixed here so that the tree does not
# change when the pack does.
FORBIDDEN = re.compile(
    r"(?i)password|passwd|pwd|secret|api_?key|access_?token|auth_?token|private|aws|"
    r"AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|_live_|AIza|eyJ|SG\.|npm_|"
    r"pypi-|AccountKey|sk-|T3BlbkFJ|hooks\.slack|://[^\s]*@"
)

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
PASSWORD_CHARS = ALNUM + "!@%^&*-_+=.?~"


# --------------------------------------------------------------------------------------------- #
# Filler line pools


def build_pools(rng):
    w = lambda: rng.choice(WORDS)
    num = lambda: str(rng.choice([rng.randrange(10), rng.randrange(100), rng.randrange(10000), rng.randrange(1 << 20)]))
    port = lambda: str(rng.choice([80, 443, 3000, 5432, 6379, 8000, 8080, 8443, 9090, 9200]))
    ident = lambda: "_".join(w() for _ in range(rng.choice([1, 1, 2, 2, 3])))
    camel = lambda: w() + "".join(x.capitalize() for x in (w() for _ in range(rng.choice([0, 1, 1, 2]))))
    cls = lambda: "".join(x.capitalize() for x in (w() for _ in range(rng.choice([1, 2, 2, 3]))))
    env_name = lambda: "_".join(w().upper() for _ in range(rng.choice([1, 2, 2, 3])))
    sentence = lambda: " ".join(w() for _ in range(rng.randint(4, 14))).capitalize() + "."
    words = lambda: " ".join(w() for _ in range(rng.randint(2, 6)))
    ver = lambda: f"{rng.randrange(4)}.{rng.randrange(30)}.{rng.randrange(12)}"
    hexs = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))
    ip = lambda: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    ts = lambda: (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    )
    typ = lambda: rng.choice(["string", "int", "int64", "bool", "[]byte", "time.Duration", "*" + cls(), "map[string]string"])
    value = lambda: rng.choice([w(), num(), "true", "false", f"{w()}-{w()}", f"/var/lib/{w()}", f"{w()}.internal", ver()])

    templates = {
        "yaml": [
            lambda: f"{ident()}:",
            lambda: f"  {ident()}: {value()}",
            lambda: f"  {ident()}: \"{words()}\"",
            lambda: f"    - name: {w()}-{w()}",
            lambda: f"      image: registry.example.com/{w()}/{w()}:{ver()}",
            lambda: f"      containerPort: {port()}",
            lambda: f"    replicas: {num()}",
            lambda: f"      {camel()}: {value()}",
            lambda: f"        - {w()}",
            lambda: f"# {sentence()}",
            lambda: f"  labels:\n    app.kubernetes.io/name: {w()}",
            lambda: f"    memory: {rng.choice([64, 128, 256, 512, 1024])}Mi",
            lambda: f"    cpu: {rng.choice([100, 250, 500, 1000])}m",
        ],
        "json": [
            lambda: f"  \"{camel()}\": \"{value()}\",",
            lambda: f"  \"{camel()}\": {num()},",
            lambda: f"  \"{camel()}\": {rng.choice(['true', 'false', 'null'])},",
            lambda: f"  \"{camel()}\": {{\"{w()}\": \"{w()}\", \"{w()}\": {num()}}},",
            lambda: f"  \"{camel()}\": [\"{w()}\", \"{w()}\", \"{w()}\"],",
            lambda: f"    \"{w()}\": \"^{ver()}\",",
            lambda: f"  \"description\": \"{sentence()}\",",
        ],
        "toml": [
            lambda: f"[{w()}]",
            lambda: f"[{w()}.{w()}]",
            lambda: f"{ident()} = \"{value()}\"",
            lambda: f"{ident()} = {num()}",
            lambda: f"{ident()} = [\"{w()}\", \"{w()}\"]",
            lambda: f"{w()} = {{ version = \"{ver()}\", features = [\"{w()}\"] }}",
            lambda: f"# {sentence()}",
        ],
        "ini": [
            lambda: f"[{w()}]",
            lambda: f"{ident()} = {value()}",
            lambda: f"{ident()}={num()}",
            lambda: f"; {sentence()}",
            lambda: f"{ident()} = {w()}.{w()}.example.com",
            lambda: "",
        ],
        "env": [
            lambda: f"{env_name()}={value()}",
            lambda: f"{env_name()}=\"{words()}\"",
            lambda: f"{env_name()}={num()}",
            lambda: f"# {sentence()}",
            lambda: f"{env_name()}=https://{w()}.example.com/{w()}",
        ],
        "sshd": [
            lambda: rng.choice(["PermitRootLogin no", "PermitRootLogin forced-commands-only",
                                "PasswordAuthentication no", "PubkeyAuthentication yes", "UsePAM yes",
                                "X11Forwarding no", "AllowTcpForwarding no", "LogLevel VERBOSE",
                                "KbdInteractiveAuthentication no", "PrintMotd no", "Subsystem sftp internal-sftp"]),
            lambda: f"Port {rng.choice([22, 22, 22, 2222])}",
            lambda: f"AllowUsers {w()} {w()}",
            lambda: f"ClientAliveInterval {rng.choice([60, 120, 300])}",
            lambda: f"MaxAuthTries {rng.randint(2, 6)}",
            lambda: "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
            lambda: "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
            lambda: f"# {sentence()}",
            lambda: f"Match User {w()}\n    ForceCommand /usr/local/bin/{w()}\n    ChrootDirectory /srv/{w()}",
        ],
        "nginx": [
            lambda: "server {",
            lambda: f"    listen {rng.choice(['80', '443 ssl', '8080', '[::]:443 ssl'])};",
            lambda: f"    server_name {w()}.example.com {w()}.example.org;",
            lambda: f"    location /{w()}/ {{\n        proxy_pass http://{w()}:{port()};\n    }}",
            lambda: "        proxy_set_header Host $host;",
            lambda: "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            lambda: "    ssl_protocols TLSv1.2 TLSv1.3;",
            lambda: f"    ssl_certificate /etc/nginx/tls/{w()}.crt;",
            lambda: f"    access_log /var/log/nginx/{w()}.access.log combined;",
            lambda: f"    client_max_body_size {rng.choice([1, 8, 16, 64])}m;",
            lambda: f"    # {sentence()}",
            lambda: "}",
        ],
        "python": [
            lambda: f"import {w()}",
            lambda: f"from {w()}.{w()} import {cls()}, {ident()}",
            lambda: f"def {ident()}({ident()}, {ident()}={num()}):",
            lambda: f"    {ident()} = {ident()}({ident()}, {num()})",
            lambda: f"    if {ident()} is None:\n        return {rng.choice(['None', '[]', '{}', 'False'])}",
            lambda: f"    for {w()} in self.{ident()}:",
            lambda: f"        self.{ident()}.append({w()})",
            lambda: f"    logger.{rng.choice(['info', 'debug', 'warning'])}(\"{words()}: %s\", {ident()})",
            lambda: f"class {cls()}({cls()}):",
            lambda: f"    \"\"\"{sentence()}\"\"\"",
            lambda: f"    # {sentence()}",
            lambda: f"    raise {cls()}Error(\"{words()}\")",
            lambda: f"    {ident()} = os.environ.get(\"{env_name()}\", \"{w()}\")",
            lambda: "",
        ],
        "js": [
            lambda: f"const {camel()} = require('{w()}');",
            lambda: f"import {{ {camel()}, {camel()} }} from './{w()}/{w()}';",
            lambda: f"export function {camel()}({camel()}, {camel()}) {{",
            lambda: f"  const {camel()} = await {camel()}.{camel()}({num()});",
            lambda: f"  if (!{camel()}) {{\n    throw new Error('{words()}');\n  }}",
            lambda: f"  return {camel()}.map(({w()}) => {w()}.{camel()});",
            lambda: f"  // {sentence()}",
            lambda: f"  {camel()}.{camel()} = {rng.choice(['null', 'true', 'false', '[]', num()])};",
            lambda: "}",
            lambda: f"export default {cls()};",
            lambda: "",
        ],
        "go": [
            lambda: f"\t\"{rng.choice(['github.com', 'golang.org/x', 'example.com'])}/{w()}/{w()}\"",
            lambda: f"func ({w()[0]} *{cls()}) {cls()}(ctx context.Context, {camel()} {typ()}) ({typ()}, error) {{",
            lambda: "\tif err != nil {",
            lambda: f"\t\treturn nil, fmt.Errorf(\"{words()}: %w\", err)",
            lambda: "\t}",
            lambda: f"\t{camel()} := {camel()}({camel()}, {num()})",
            lambda: f"// {cls()} {sentence().lower()}",
            lambda: f"type {cls()} struct {{\n\t{cls()} {typ()} `json:\"{camel()}\"`\n}}",
            lambda: f"\tdefer {camel()}.Close()",
            lambda: "}",
            lambda: "",
        ],
        "shell": [
            lambda: f"export {env_name()}={value()}",
            lambda: f"if [ -z \"${{{env_name()}:-}}\" ]; then\n  echo \"{words()}\" >&2\n  exit 1\nfi",
            lambda: f"{rng.choice(['kubectl apply -f', 'docker build -t', 'make', 'cp -r', 'rsync -a'])} {w()}/{w()}",
            lambda: f"# {sentence()}",
            lambda: f"for {w()} in $({w()} --list); do",
            lambda: f"  {w()} --{w()} \"${w()}\"",
            lambda: "done",
            lambda: "",
        ],
        "markdown": [
            lambda: f"## {words().title()}",
            lambda: sentence() + " " + sentence() + " " + sentence(),
            lambda: sentence(),
            lambda: f"- {sentence()}",
            lambda: f"1. {sentence()}",
            lambda: f"| `{w()}` | {words()} | {num()} |",
            lambda: f"```sh\n{w()} --{w()} {w()}/{w()}\n```",
            lambda: f"See [{words()}](https://docs.example.com/{w()}/{w()}).",
            lambda: "",
        ],
        "log": [
            lambda: f"{ts()} {rng.choice(LEVELS)} [{w()}] {words()} request_id={hexs(16)} duration_ms={rng.randrange(2000)}",
            lambda: f"{ts()} {rng.choice(LEVELS)} [{w()}.{w()}] {sentence()} {w()}={value()} {w()}={num()}",
            lambda: (
                f"{ip()} - - [{rng.randint(1, 28):02d}/{rng.choice(['Jan', 'Feb', 'Mar', 'Oct', 'Nov'])}/2024:"
                f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} +0000] "
                f"\"{rng.choice(METHODS)} /{w()}/{w()}?page={rng.randrange(50)} HTTP/1.1\" {rng.choice(STATUSES)} "
                f"{rng.randrange(100, 90000)} \"-\" \"{rng.choice(AGENTS)}\""
            ),
            lambda: f"{ts()} ERROR [{w()}] {cls()}Error: {words()}\n    at {cls()}.{camel()} ({w()}/{w()}.js:{rng.randrange(1, 900)}:{rng.randrange(1, 80)})",
        ],
    }
    pools = {}
    for kind, tpls in templates.items():
        size = 6000 if kind == "log" else 2500
        pool = []
        while len(pool) < size:
            line = rng.choice(tpls)()
            if not FORBIDDEN.search(line):
                pool.append(line)
        pools[kind] = pool
    return pools


# --------------------------------------------------------------------------------------------- #
# File kinds: share of files, size distribution (median bytes, log-normal sigma), where they go


KINDS = [
    # kind, weight, median, sigma, extensions, directories ({p} is one of the project's packages)
    ("yaml", 14.0, 1500, 0.8, [".yaml", ".yml"], ["deploy/k8s", "config", ".github/workflows", "charts/{p}/templates"]),
    ("json", 8.0, 2000, 1.0, [".json"], ["config", ".", "src/{p}/fixtures"]),
    ("toml", 4.0, 800, 0.6, [".toml"], [".", "config"]),
    ("ini", 4.0, 1000, 0.7, [".ini", ".cfg", ".conf"], ["config", "etc"]),
    ("env", 3.0, 400, 0.5, [""], [".", "config", "deploy"]),
    ("sshd", 2.0, 2500, 0.3, [""], ["etc/ssh"]),
    ("nginx", 3.0, 2000, 0.6, [".conf"], ["etc/nginx/conf.d", "deploy/nginx"]),
    ("python", 14.0, 5000, 0.9, [".py"], ["src/{p}", "tests", "scripts"]),
    ("js", 12.0, 5000, 1.0, [".js", ".mjs", ".ts"], ["web/src/{p}", "web/src", "lib"]),
    ("go", 10.0, 6000, 0.9, [".go"], ["internal/{p}", "cmd/{p}", "pkg/{p}"]),
    ("shell", 4.0, 1500, 0.7, [".sh"], ["scripts", "bin", "."]),
    ("markdown", 10.0, 4000, 0.9, [".md"], ["docs", ".", "docs/{p}"]),
    ("log", 11.5, 6000, 1.2, [".log"], ["logs", "var/log"]),
    ("binary", 0.5, 40000, 1.0, [".png", ".so", ".gz", ".jar", ".bin"], ["assets", "bin", "vendor/lib"]),
]
BIG_LOG_SHARE = 0.002  # of the files: MiB-sized logs that take the rest of the size budget
BIG_LOG_MAX = 48 << 20  # under vigil's default --max-file-size (64 MiB)
SMALL_MAX = 1 << 20
SECRET_FILE_RATE = 0.01
DECOY_FILE_RATE = 0.02
DECOY_KINDS = {"yaml", "json", "toml", "ini", "env", "python", "js", "go", "shell", "markdown"}

BINARY_HEADERS = {
    ".png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ".so": b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ".gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    ".jar": b"PK\x03\x04\x14\x00\x08\x08\x08\x00",
    ".bin": b"\x00\x01\x02\x03VIGILBENCH\x00",
}


# --------------------------------------------------------------------------------------------- #
# Seeded secrets and decoys


def rand(rng, chars, n):
    return "".join(rng.choices(chars, k=n))


def entropy(s):
    counts = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def b64url_json(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def pem_block(rng):
    # PKCS#1, SEC1, OpenSSH and PKCS#8 keys; no other pattern of the pack matches their text.
    with open(rng.choice(KEY_FIXTURES), encoding="ascii") as f:
        return f.read().splitlines()


def password(rng):
    while True:
        p = rand(rng, PASSWORD_CHARS, rng.randint(12, 24))
        if entropy(p) >= 3.3 and p[0].isalnum():
            return p


# Each secret type: (weight, key name, value generator, controls vigil must report for it).
# The key names decide whether SEC-012 (password assignments) also sees the line: for most token
# types it does and drops it through its allow-list (values starting with sk_live_, AIza, eyJ, ...),
# for the AWS secret key it keeps it, so that type is expected under SEC-002 and SEC-012.
SECRET_TYPES = {
    "aws_access_key_id": (8, "aws_access_key_id", lambda r: "AKIA" + rand(r, string.ascii_uppercase + "234567", 16), ["SEC-001"]),
    "aws_secret_access_key": (6, "aws_secret_access_key", lambda r: rand(r, B64, 40), ["SEC-002", "SEC-012"]),
    "github_pat_classic": (8, "github_token", lambda r: "ghp_" + rand(r, ALNUM, 36), ["SEC-003"]),
    "github_pat_fine_grained": (2, "github_token", lambda r: "github_pat_" + rand(r, ALNUM, 22) + "_" + rand(r, ALNUM, 59), ["SEC-004"]),
    "github_oauth": (2, "github_oauth", lambda r: "gho_" + rand(r, ALNUM, 36), ["SEC-005"]),
    "gitlab_pat": (6, "gitlab_token", lambda r: "glpat-" + rand(r, B64URL, 20), ["SEC-006"]),
    "slack_bot_token": (6, "slack_bot_token",
                        lambda r: f"xoxb-{rand(r, string.digits, 12)}-{rand(r, string.digits, 13)}-{rand(r, ALNUM, 24)}", ["SEC-007"]),
    "stripe_live_key": (6, "stripe_secret_key", lambda r: "sk_live_" + rand(r, ALNUM, r.randint(24, 40)), ["SEC-008"]),
    "google_api_key": (6, "google_maps_api_key", lambda r: "AIza" + rand(r, B64URL, 35), ["SEC-009"]),
    "private_key_pem": (6, "tls_key", pem_block, ["SEC-010"]),
    "jwt": (6, "auth_token", lambda r: (
        b64url_json({"alg": "HS256", "typ": "JWT"}) + "."
        + b64url_json({"sub": f"svc-{r.choice(WORDS)}", "iat": 1700000000 + r.randrange(10**7), "exp": 1900000000 + r.randrange(10**7)})
        + "." + rand(r, B64URL, 43)), ["SEC-011"]),
    "password_assignment": (14, None, password, ["SEC-012"]),
    "database_url": (10, "database_url", lambda r: (
        f"{r.choice(['postgres', 'postgresql', 'mysql', 'mongodb+srv', 'redis'])}://{r.choice(WORDS)}:"
        f"{rand(r, ALNUM, r.randint(12, 20))}@{r.choice(WORDS)}-db.internal:5432/{r.choice(WORDS)}"), ["SEC-013"]),
    "sendgrid_api_key": (2, "sendgrid_api_key", lambda r: "SG." + rand(r, B64URL, 22) + "." + rand(r, B64URL, 43), ["SEC-014"]),
    "npm_token": (2, "npm_token", lambda r: "npm_" + rand(r, ALNUM, 36), ["SEC-015"]),
    "pypi_token": (2, "pypi_token", lambda r: "pypi-AgEIcHlwaS5vcmc" + rand(r, B64URL, r.randint(50, 70)), ["SEC-016"]),
    "azure_storage_key": (2, "storage_connection_string", lambda r: (
        f"DefaultEndpointsProtocol=https;AccountName={r.choice(WORDS)}store;AccountKey={rand(r, B64, 86)}==;"
        "EndpointSuffix=core.windows.net"), ["SEC-017"]),
    "openai_api_key": (2, "openai_api_key", lambda r: (
        "sk-proj-" + rand(r, B64URL, r.randint(20, 30)) + "T3BlbkFJ" + rand(r, B64URL, r.randint(20, 30))), ["SEC-018"]),
}
PASSWORD_KEYS = ["db_password", "admin_password", "smtp_password", "redis_password", "ldap_bind_password", "client_secret"]

# Decoys: (key, value) lines that a pattern of the pack matches and vigil drops by design.
DECOYS = [
    ("db_password", "${DB_PASSWORD}"),          # SEC-012, allow ^\$\{
    ("api_key", "<your-api-key>"),              # SEC-012, allow ^<.*>$
    ("admin_password", "changeme"),             # SEC-012, allow list of placeholders
    ("secret_key", "xxxxxxxxxxxxxxxx"),         # SEC-012, allow xxxxx+
    ("smtp_password", "aaaaaaaaaaaa"),          # SEC-012, entropy 0 < 3.0
    ("auth_token", "%(auth_token)s"),           # SEC-012, allow ^%\(
    ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),  # SEC-001, allow EXAMPLE$
    ("redis_url", "redis://cache:${REDIS_PASSWORD}@cache.internal:6379/0"),  # SEC-013, allow ^\$\{
]


def camel_case(key):
    head, *rest = key.split("_")
    return head + "".join(x.capitalize() for x in rest)


def render(kind, key, value, rng):
    """One assignment line in the style of a file kind."""
    if kind == "env":
        return f"{key.upper()}={value}"
    if kind == "yaml":
        return f"{rng.choice(['', '  ', '    '])}{key}: {value}"
    if kind == "json":
        return f"  \"{key}\": \"{value}\","
    if kind == "toml":
        return f"{key} = \"{value}\""
    if kind == "ini":
        return f"{key} = {value}"
    if kind == "python":
        return f"{key.upper()} = \"{value}\""
    if kind == "js":
        return f"const {camel_case(key)} = '{value}';"
    if kind == "go":
        return f"var {camel_case(key)} = \"{value}\""
    if kind == "shell":
        return f"export {key.upper()}=\"{value}\""
    if kind in ("sshd", "nginx"):
        return f"# {key}: {value}"
    if kind == "markdown":
        return f"    export {key.upper()}={value}"
    if kind == "log":
        return f"2024-06-{rng.randint(1, 28):02d}T12:00:00.000Z DEBUG [config] loaded {key}={value}"
    raise ValueError(kind)


def secret_lines(kind, stype, rng):
    """The lines holding one seeded secret; exactly one of them is matched by the pack."""
    _, key, gen, _ = SECRET_TYPES[stype]
    value = gen(rng)
    if stype == "private_key_pem":
        if kind == "json":
            return ["  \"private_key\": \"" + "\\n".join(value) + "\\n\","]
        if kind == "yaml":
            return ["  tls.key: |"] + ["    " + v for v in value]
        return value
    if stype == "password_assignment":
        key = rng.choice(PASSWORD_KEYS)
    if stype == "npm_token" and kind in ("ini", "env", "shell"):
        return [f"//registry.npmjs.org/:_authToken={value}"]
    if stype == "jwt" and kind == "log":
        return [f"2024-06-{rng.randint(1, 28):02d}T12:00:00.000Z DEBUG [http] GET /api/v1/me Authorization: Bearer {value}"]
    return [render(kind, key, value, rng)]


# --------------------------------------------------------------------------------------------- #


HEADERS = {
    "yaml": ["---"],
    "json": ["{"],
    "python": ["#!/usr/bin/env python3", "import os", "import logging", "", "logger = logging.getLogger(__name__)", ""],
    "js": ["'use strict';", ""],
    "go": ["package main", "", "import (", "\t\"context\"", "\t\"fmt\"", ")", ""],
    "shell": ["#!/bin/sh", "set -eu", ""],
    "markdown": ["# Notes", ""],
    "sshd": ["# sshd_config (generated)"],
}
FOOTERS = {"json": ["  \"generated\": true", "}"]}


def lognormal_sizes(rng, n, median, sigma, lo, hi):
    return [int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma)))) for _ in range(n)]


def plan(rng, files, target):
    """Kind, size and location of every file, in generation order."""
    n_big = max(1, round(files * BIG_LOG_SHARE)) if files >= 10 else 0
    n_small = files - n_big
    weights = [k[1] for k in KINDS]
    kinds = rng.choices(range(len(KINDS)), weights=weights, k=n_small)
    sizes = [int(min(SMALL_MAX, max(64, rng.lognormvariate(math.log(KINDS[k][2]), KINDS[k][3])))) for k in kinds]
    small_total = sum(sizes)
    if n_big and small_total > 0.8 * target:
        scale = 0.6 * target / small_total
        sizes = [max(64, int(s * scale)) for s in sizes]
        small_total = sum(sizes)
    big_budget = max(0, target - small_total)
    raw = [rng.lognormvariate(0, 0.8) for _ in range(n_big)]
    big = [min(BIG_LOG_MAX, max(4096, int(big_budget * r / sum(raw)))) for r in raw] if n_big else []
    log_kind = [k[0] for k in KINDS].index("log")
    entries = [(k, s, False) for k, s in zip(kinds, sizes)] + [(log_kind, s, True) for s in big]
    rng.shuffle(entries)
    return entries


def generate(out, files, size_mb, seed):
    rng = random.Random(seed)
    t0 = time.time()
    target = size_mb << 20
    pools = build_pools(rng)
    avg_len = {k: sum(map(len, p)) / len(p) + 1 for k, p in pools.items()}
    entries = plan(rng, files, target)

    partial = out + ".partial"
    if os.path.exists(partial):
        shutil.rmtree(partial)
    os.makedirs(partial)

    per_project = 250
    n_projects = max(1, math.ceil(files / per_project))
    teams = [f"{w}-team" for w in rng.sample(WORDS, 12)]
    projects = []
    for i in range(n_projects):
        projects.append({
            "dir": f"{rng.choice(teams)}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:04d}",
            "packages": rng.sample(WORDS, 4),
            "count": 0,
        })

    digest = hashlib.sha256()
    made_dirs = set()
    stats = {"files": 0, "bytes": 0, "by_kind": {}, "big_logs": 0, "big_log_bytes": 0}
    seeded = {t: 0 for t in SECRET_TYPES}
    files_with_secrets = 0
    decoys = {f"{k}={v}": 0 for k, v in DECOYS}
    decoy_lines = 0
    expected = {}
    rg_lines = 0

    for idx, (ki, size, is_big) in enumerate(entries):
        kind, _, _, _, exts, dirs = KINDS[ki]
        proj = projects[idx % n_projects]
        proj["count"] += 1
        n = proj["count"]
        sub = rng.choice(dirs).replace("{p}", rng.choice(proj["packages"]))
        ext = rng.choice(exts)
        word = rng.choice(WORDS)
        if kind == "env":
            name = f".env.{word}{n}"
        elif kind == "sshd":
            name = f"sshd_config.{n}"
        elif is_big:
            sub, name = "logs", f"{word}-{n}-full.log"
        else:
            name = f"{word}_{n}{ext}"
        rel = os.path.normpath(os.path.join(proj["dir"], sub, name))
        d = os.path.dirname(rel)
        if d not in made_dirs:
            os.makedirs(os.path.join(partial, d), exist_ok=True)
            made_dirs.add(d)

        if kind == "binary":
            data = BINARY_HEADERS[ext] + rng.randbytes(max(0, size - len(BINARY_HEADERS[ext])))
        else:
            k = max(1, round(size / avg_len[kind]))
            body = rng.choices(pools[kind], k=k)
            inserts = []
            if rng.random() < SECRET_FILE_RATE:
                files_with_secrets += 1
                for _ in range(rng.choices([1, 2, 3], weights=[75, 18, 7])[0]):
                    stype = rng.choices(list(SECRET_TYPES), weights=[t[0] for t in SECRET_TYPES.values()])[0]
                    inserts.append(secret_lines(kind, stype, rng))
                    seeded[stype] += 1
                    # Private keys are judged by decoding them (SEC-010), not by a pattern that
                    # ripgrep could be given.
                    if stype != "private_key_pem":
                        rg_lines += 1
                    for c in SECRET_TYPES[stype][3]:
                        expected[c] = expected.get(c, 0) + 1
            if kind in DECOY_KINDS and rng.random() < DECOY_FILE_RATE:
                key, value = rng.choice(DECOYS)
                inserts.append([render(kind, key, value, rng)])
                decoys[f"{key}={value}"] += 1
                decoy_lines += 1
                rg_lines += 1
            # Positions in the original body, filled from the end: an insert never lands inside
            # another (a key block split by a second secret would no longer be a key).
            spots = sorted((rng.randrange(len(body) + 1) for _ in inserts), reverse=True)
            for at, lines in zip(spots, inserts):
                body[at:at] = lines
            text = "\n".join(HEADERS.get(kind, []) + body + FOOTERS.get(kind, [])) + "\n"
            data = text.encode()

        with open(os.path.join(partial, rel), "wb") as f:
            f.write(data)
        digest.update(rel.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        stats["files"] += 1
        stats["bytes"] += len(data)
        stats["by_kind"][kind] = stats["by_kind"].get(kind, 0) + 1
        if is_big:
            stats["big_logs"] += 1
            stats["big_log_bytes"] += len(data)
        if (idx + 1) % 10000 == 0:
            print(f"  {idx + 1} files, {stats['bytes'] / 2**20:.0f} MiB, {time.time() - t0:.0f} s", file=sys.stderr)

    os.rename(partial, out)
    manifest = {
        "generator": "bench/gen_tree.py",
        "generator_version": GENERATOR_VERSION,
        "python": sys.version.split()[0],
        "parameters": {"files": files, "size_mb": size_mb, "seed": seed},
        "tree": os.path.abspath(out),
        "files": stats["files"],
        "bytes": stats["bytes"],
        "directories": len(made_dirs),
        "files_by_kind": dict(sorted(stats["by_kind"].items())),
        "big_logs": {"files": stats["big_logs"], "bytes": stats["big_log_bytes"]},
        "binary_files": stats["by_kind"].get("binary", 0),
        "files_with_secrets": files_with_secrets,
        "seeded_secrets": sum(seeded.values()),
        "seeded_secrets_by_type": seeded,
        "decoy_lines": decoy_lines,
        "decoy_lines_by_kind": decoys,
        "expected_vigil_fail_findings": sum(expected.values()),
        "expected_vigil_fail_findings_by_control": dict(sorted(expected.items())),
        "expected_rg_matching_lines": rg_lines,
        "sha256": digest.hexdigest(),
        "seconds": round(time.time() - t0, 1),
    }
    with open(out + ".manifest.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="directory to create (must not exist)")
    ap.add_argument("--files", type=int, default=100_000, help="number of files (default 100000)")
    ap.add_argument("--size-mb", type=int, default=1024, help="total size target in MiB (default 1024)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    a = ap.parse_args()
    if a.files < 1 or a.size_mb < 1:
        ap.error("--files and --size-mb must be positive")
    out = os.path.normpath(a.out)
    if os.path.exists(out):
        ap.error(f"{out} exists; remove it first (the generator never writes into an existing tree)")
    m = generate(out, a.files, a.size_mb, a.seed)
    print(
        f"generated {out}: {m['files']} files, {m['bytes'] / 2**20:.0f} MiB, {m['seeded_secrets']} seeded secrets "
        f"in {m['files_with_secrets']} files, {m['decoy_lines']} decoys, {m['seconds']} s; manifest {out}.manifest.json",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
