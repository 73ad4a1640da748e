#!/usr/bin/env python3
"""Generate the tree that bench/scale.sh scans: a seeded monorepo / config store, python3 stdlib only.

    gen_scale_tree.py OUT_DIR --files N [--seed S] [--jobs J]

Defaults: seed 1, one job per core. The same arguments on the same Python minor version give a
byte-identical tree whatever the number of jobs: every directory is generated from its own random
stream, derived from the seed and the directory's index. The manifest records a SHA-256 over every
path and content to check it.

What the tree holds (see bench/README-scale.md), as shares of the files:
- 25% YAML: Kubernetes manifests (Deployments, Pods, CronJobs, StatefulSets, Jobs, DaemonSets with
  1-3 containers, some with a Service or a ConfigMap), plain YAML configs, CI workflows;
- 10% JSON, 5% TOML / INI / .env / .properties;
- 7% host configurations under `hosts/<host>/etc/`: sshd_config with sshd_config.d/*.conf drop-ins
  (3%), sysctl.conf with sysctl.d/*.conf (2%), nginx.conf with conf.d/*.conf (2%);
- 3% certificates and keys (.crt, .pem chains, .key): PEM text copied from the repository's fixtures
  (testdata/certs/good, defects and keys), so every one of them parses;
- 40% source code (Python, JavaScript/TypeScript, Go, shell) and Markdown, 10% logs.
Every file of a format vigil parses is valid for that format (no duplicate keys, balanced blocks).
Sizes are log-normal per kind, most files between 200 B and 8 KiB; 100 to 1,000 files per
directory except in the small host directories. About 1% of the text files carry a seeded secret in
a format the secrets pack detects (as bench/gen_tree.py seeds them, with real key PEM text for
private keys), and about 2% of the config and source files carry a decoy that the pack drops.

The tree is written to OUT_DIR.partial and renamed to OUT_DIR when complete; the manifest
OUT_DIR.manifest.json (next to the tree, so that neither tool scans it) is written first with
"complete": false. An existing OUT_DIR is never overwritten, and a leftover OUT_DIR.partial is only
removed when the manifest says this generator wrote it.
"""

import argparse
import base64
import hashlib
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import string
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import gen_tree  # noqa: E402  (word lists, filler line pools, secret formats and decoys)
from gen_tree import ALNUM, DECOYS, FORBIDDEN, PASSWORD_KEYS, SECRET_TYPES, WORDS, camel_case  # noqa: E402

GENERATOR = "bench/gen_scale_tree.py"
GENERATOR_VERSION = 4
REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "testdata", "certs")

# Fine kinds: (kind, percent of the files, directory class, median bytes, log-normal sigma).
# Host kinds (sshd, sysctl, nginx) have no size distribution: their size follows from their content.
KINDS = [
    ("k8s", 19.0, "k8s", 1800, 0.6),
    ("yaml", 4.0, "config", 1200, 0.8),
    ("ci", 2.0, "ci", 1500, 0.5),
    ("json", 10.0, "config", 1500, 0.9),
    ("toml", 1.5, "config", 900, 0.6),
    ("ini", 1.2, "config", 900, 0.6),
    ("env", 1.0, "config", 400, 0.5),
    ("properties", 1.3, "config", 1000, 0.6),
    ("sshd", 3.0, "hosts", 0, 0),
    ("sysctl", 2.0, "hosts", 0, 0),
    ("nginx", 2.0, "hosts", 0, 0),
    ("pem", 3.0, "tls", 0, 0),
    ("python", 11.0, "python", 2200, 0.9),
    ("js", 10.0, "js", 2200, 0.9),
    ("go", 9.0, "go", 2500, 0.9),
    ("shell", 3.0, "shell", 1000, 0.7),
    ("markdown", 7.0, "docs", 2000, 0.9),
    ("log", 10.0, "logs", 2500, 1.1),
]
KIND = {k[0]: k for k in KINDS}
# The categories of the brief, for the manifest.
CATEGORY = {
    "k8s": "yaml", "yaml": "yaml", "ci": "yaml", "json": "json",
    "toml": "toml/ini/env/properties", "ini": "toml/ini/env/properties", "env": "toml/ini/env/properties",
    "properties": "toml/ini/env/properties", "sshd": "sshd", "sysctl": "sysctl", "nginx": "nginx",
    "pem": "certificate/key", "python": "source/markdown", "js": "source/markdown", "go": "source/markdown",
    "shell": "source/markdown", "markdown": "source/markdown", "log": "log",
}
SUBDIRS = {
    "k8s": ["deploy/k8s", "deploy/k8s/{env}", "k8s/base", "k8s/overlays/{env}", "manifests"],
    "config": ["config", "config/{env}", "settings", "conf"],
    "ci": [".github/workflows"],
    "python": ["src/{pkg}", "{pkg}", "tests"],
    "js": ["web/src/{pkg}", "src/{pkg}", "lib"],
    "go": ["internal/{pkg}", "pkg/{pkg}", "cmd/{pkg}"],
    "shell": ["scripts", "bin", "tools"],
    "docs": ["docs", "docs/{pkg}", "adr"],
    "logs": ["logs", "var/log/{pkg}"],
    "tls": ["tls", "certs", "pki/{env}", "secrets/tls"],
}
ENVS = ["dev", "staging", "prod", "qa", "eu-west", "us-east"]
DIR_MEDIAN, DIR_SIGMA, DIR_MIN, DIR_MAX = 300, 0.5, 100, 1000
STRUCT_MAX = 64 << 10  # structured files are cut at this size
LINE_MAX = 1 << 20  # line-based files (source, Markdown, logs) at this one
LINE_KINDS = {"python", "js", "go", "shell", "markdown", "log"}
SECRET_FILE_RATE = 0.01
DECOY_FILE_RATE = 0.02
DECOY_KINDS = {"k8s", "yaml", "ci", "json", "toml", "ini", "env", "properties", "python", "js", "go", "shell", "markdown"}
NO_PEM_KINDS = {"ini", "env", "properties", "sshd", "sysctl", "nginx", "log"}
SEC010 = re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY(?: BLOCK)?-----")


# --------------------------------------------------------------------------------------------- #
# Fixtures


def encrypted_key(pem):
    """Whether a PEM private key is protected by a passphrase: a legacy `Proc-Type` header, PKCS#8
    `ENCRYPTED PRIVATE KEY`, or an OpenSSH key whose cipher is not `none`."""
    if "ENCRYPTED" in pem:
        return True
    if "OPENSSH PRIVATE KEY" in pem:
        body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
        blob = base64.b64decode(body)
        magic = b"openssh-key-v1\x00"
        n = int.from_bytes(blob[len(magic):len(magic) + 4], "big")
        return blob[len(magic) + 4:len(magic) + 4 + n] != b"none"
    return False


def load_fixtures():
    """Certificate and key PEM text from testdata/certs: (name, text) lists."""
    def pems(sub):
        d = os.path.join(FIXTURES, sub)
        out = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if data.startswith(b"-----BEGIN "):  # PEM only (keys/ also holds a DER key)
                out.append((f"{sub}/{name}", data.decode("ascii")))
        return out
    good, defects, keys = pems("good"), pems("defects"), pems("keys")
    if not (good and defects and keys):
        sys.exit(f"gen_scale_tree.py: certificate fixtures not found under {FIXTURES}")
    # Unencrypted keys the secrets pack reports (SEC-010 decodes each key: a passphrase-protected
    # one passes): the seeded private-key secrets use them.
    plain_keys = [(n, t) for n, t in keys if SEC010.search(t) and not encrypted_key(t)]
    return {"good": good, "defects": defects, "keys": keys, "plain_keys": plain_keys}


# --------------------------------------------------------------------------------------------- #
# Shared pools, built once from the seed (before the worker processes fork)

P = None  # the pools


def build(seed):
    global P
    if P is not None and P["seed"] == seed:
        return P
    rng = random.Random(f"pools:{seed}")
    w = lambda: rng.choice(WORDS)
    ver = lambda: f"{rng.randrange(4)}.{rng.randrange(30)}.{rng.randrange(12)}"
    num = lambda: str(rng.choice([rng.randrange(10), rng.randrange(100), rng.randrange(10000)]))
    scalar = lambda: rng.choice([
        w(), num(), "true", "false", f"{w()}-{w()}", f"/var/lib/{w()}", f"{w()}.internal", f"{w()}.example.com",
        f"{rng.choice([5, 10, 30, 60, 300])}s", ver(), f"https://{w()}.example.com/{w()}",
    ])
    pools = gen_tree.build_pools(random.Random(f"lines:{seed}"))  # source, Markdown, log lines

    def clean(lines):
        return [ln for ln in lines if not FORBIDDEN.search(ln)]

    # Plain YAML: a section body (2-space indent, keys unique within the body).
    def yaml_body():
        keys = rng.sample(WORDS, rng.randint(2, 8))
        out = []
        for k in keys:
            r = rng.random()
            if r < 0.7:
                out.append(f"  {k}: {scalar()}")
            elif r < 0.85:
                out.append(f"  {k}:")
                out += [f"    - {w()}-{w()}" for _ in range(rng.randint(1, 4))]
            else:
                out.append(f"  {k}:")
                out += [f"    {kk}: {scalar()}" for kk in rng.sample(WORDS, rng.randint(1, 4))]
        return "\n".join(out)

    def toml_value():
        return rng.choice([f"\"{scalar()}\"", num(), "true", "false", f"[\"{w()}\", \"{w()}\"]"])

    def json_value(depth=0):
        r = rng.random()
        if depth < 2 and r < 0.25:
            return {k: json_value(depth + 1) for k in rng.sample(WORDS, rng.randint(1, 5))}
        if depth < 2 and r < 0.4:
            return [rng.choice([w(), rng.randrange(1000)]) for _ in range(rng.randint(1, 5))]
        return rng.choice([w(), f"{w()}-{w()}", rng.randrange(100000), True, False, None, ver(), f"https://{w()}.example.com"])

    def json_member_value():
        text = json.dumps(json_value(), indent=2)
        return text.replace("\n", "\n  ")

    env_name = lambda: "_".join(w().upper() for _ in range(rng.choice([1, 2, 2, 3])))
    P = {
        "seed": seed,
        "yaml_bodies": clean(yaml_body() for _ in range(3000)),
        "toml_bodies": clean("\n".join(f"{k} = {toml_value()}" for k in rng.sample(WORDS, rng.randint(2, 8))) for _ in range(2000)),
        "ini_bodies": clean("\n".join(
            [f"; {w()} {w()} {w()}"] * (rng.random() < 0.3) + [f"{k} = {scalar()}" for k in rng.sample(WORDS, rng.randint(2, 8))])
            for _ in range(2000)),
        "json_values": clean(json_member_value() for _ in range(3000)),
        "env_lines": clean(rng.choice([
            f"{env_name()}={scalar()}", f"{env_name()}={num()}", f"# {w()} {w()} {w()}",
            f"{env_name()}=\"{w()} {w()}\"", f"{env_name()}=https://{w()}.example.com/{w()}"]) for _ in range(2000)),
        "properties_lines": clean(rng.choice([
            f"{w()}.{w()}.{w()}={scalar()}", f"{w()}.{w()}={num()}", f"# {w()} {w()} {w()} {w()}",
            f"{w()}.{w()}.enabled={rng.choice(['true', 'false'])}", f"{w()}.{w()}.url=https://{w()}.example.com/{w()}",
            f"logging.level.com.example.{w()}={rng.choice(['INFO', 'DEBUG', 'WARN'])}"]) for _ in range(2000)),
        "ci_steps": clean(ci_step(rng) for _ in range(1000)),
        "configmap_lines": clean(f"  {k}: \"{scalar()}\"" for k in WORDS),
        "lines": {k: pools[k] for k in ("python", "js", "go", "shell", "markdown", "log")},
        "containers": [container(rng) for _ in range(1500)],
        "fixtures": load_fixtures(),
    }
    P["avg_line"] = {k: sum(map(len, v)) / len(v) + 1 for k, v in P["lines"].items()}
    P["indented"] = {}
    return P


def ci_step(rng):
    w = lambda: rng.choice(WORDS)
    return rng.choice([
        "      - uses: actions/checkout@v4",
        f"      - uses: actions/setup-{rng.choice(['go', 'node', 'python', 'java'])}@v5\n        with:\n"
        f"          {rng.choice(['go-version', 'node-version', 'python-version'])}: \"{rng.randrange(1, 22)}.{rng.randrange(12)}\"",
        f"      - name: {w()} {w()}\n        run: make {w()}",
        f"      - name: {w()}\n        run: |\n          ./scripts/{w()}.sh --{w()}\n          ./scripts/{w()}.sh",
        f"      - uses: actions/cache@v4\n        with:\n          path: ~/.cache/{w()}\n          key: {w()}-{rng.randrange(10**6)}",
        f"      - name: {w()} {w()} {w()}\n        run: {rng.choice(['go test ./...', 'npm test', 'pytest -q', 'cargo test'])}\n"
        f"        env:\n          {w().upper()}_{w().upper()}: \"{w()}\"",
    ])


def container(rng):
    """One container as YAML list-item lines at indent 0, its name as @NAME@."""
    w = lambda: rng.choice(WORDS)
    profile = rng.choices(["hardened", "partial", "weak"], weights=[45, 35, 20])[0]
    port = rng.choice([80, 3000, 5000, 8000, 8080, 8443, 9090])
    tag = "latest" if profile == "weak" and rng.random() < 0.4 else f"{rng.randrange(4)}.{rng.randrange(30)}.{rng.randrange(12)}"
    out = ["- name: @NAME@", f"  image: registry.example.com/{w()}/{w()}:{tag}"]
    if rng.random() < 0.5:
        out.append(f"  imagePullPolicy: {rng.choice(['IfNotPresent', 'Always'])}")
    if rng.random() < 0.4:
        out.append(f"  args: [\"--port={port}\", \"--log-level={rng.choice(['info', 'debug', 'warn'])}\"]")
    out += ["  ports:", f"    - name: {rng.choice(['http', 'grpc', 'metrics'])}", f"      containerPort: {port}", "      protocol: TCP"]
    if profile == "weak" and rng.random() < 0.3:
        out.append(f"      hostPort: {port}")
    if rng.random() < 0.7:
        out.append("  env:")
        for name in rng.sample(WORDS, rng.randint(1, 5)):
            out += [f"    - name: {name.upper()}_{w().upper()}", f"      value: \"{rng.choice([w(), str(rng.randrange(1000)), 'true'])}\""]
    if profile != "weak" or rng.random() < 0.3:
        out += ["  resources:", "    requests:", f"      cpu: {rng.choice([50, 100, 250])}m", f"      memory: {rng.choice([64, 128, 256])}Mi"]
        if profile == "hardened" or rng.random() < 0.5:
            out += ["    limits:", f"      cpu: {rng.choice([500, 1000, 2000])}m", f"      memory: {rng.choice([256, 512, 1024])}Mi"]
    sc = []
    if profile == "hardened":
        sc = ["    runAsNonRoot: true", f"    runAsUser: {rng.choice([1000, 10001, 65532])}", "    allowPrivilegeEscalation: false",
              "    readOnlyRootFilesystem: true", "    capabilities:", "      drop: [\"ALL\"]", "    seccompProfile:", "      type: RuntimeDefault"]
    elif profile == "partial":
        sc = ["    runAsNonRoot: true"] * (rng.random() < 0.6) + ["    allowPrivilegeEscalation: false"] * (rng.random() < 0.5)
        if rng.random() < 0.4:
            sc += ["    capabilities:", "      drop:", "        - ALL"]
    else:
        r = rng.random()
        if r < 0.3:
            sc = ["    privileged: true"]
        elif r < 0.6:
            sc = ["    allowPrivilegeEscalation: true", "    capabilities:", f"      add: [\"{rng.choice(['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW', 'SYS_PTRACE'])}\"]"]
        elif r < 0.7:
            sc = ["    runAsUser: 0", "    procMount: Unmasked"]
        elif r < 0.85:
            sc = ["    seccompProfile:", "      type: Unconfined"]
    if sc:
        out += ["  securityContext:"] + sc
    if rng.random() < 0.6:
        out += ["  readinessProbe:", "    httpGet:", f"      path: /{rng.choice(['healthz', 'ready', 'status'])}", f"      port: {port}",
                f"    periodSeconds: {rng.choice([5, 10, 15])}"]
    mounts = rng.sample(["data", "config", "tmp"], rng.randint(0, 3))
    if mounts:
        out.append("  volumeMounts:")
        paths = {"data": f"/var/lib/{w()}", "config": f"/etc/{w()}", "tmp": "/tmp"}
        for m in mounts:
            out += [f"    - name: {m}", f"      mountPath: {paths[m]}"] + ["      readOnly: true"] * (m == "config")
    return out


def containers_at(indent):
    """The container pool re-indented for a list at `indent` spaces."""
    got = P["indented"].get(indent)
    if got is None:
        pad = " " * indent
        got = P["indented"][indent] = ["\n".join(pad + ln for ln in c) for c in P["containers"]]
    return got


# --------------------------------------------------------------------------------------------- #
# Seeded secrets and decoys (formats and expected controls from bench/gen_tree.py)


def draw_secret(rng, kind):
    """(stype, key, value, controls) of one seeded secret allowed in `kind`; a PEM value is a list."""
    types = [t for t in SECRET_TYPES if not (t == "private_key_pem" and kind in NO_PEM_KINDS)]
    stype = rng.choices(types, weights=[SECRET_TYPES[t][0] for t in types])[0]
    _, key, gen, controls = SECRET_TYPES[stype]
    if stype == "private_key_pem":
        name, text = rng.choice(P["fixtures"]["plain_keys"])
        value = text.strip("\n").split("\n")
    else:
        value = gen(rng)
    if stype == "password_assignment":
        key = rng.choice(PASSWORD_KEYS)
    return stype, key, value, controls


def unique_keys(items):
    """Suffix repeated keys (_2, _3) so that no mapping gets a duplicate key."""
    seen = {}
    out = []
    for key, value in items:
        n = seen.get(key, 0) + 1
        seen[key] = n
        out.append((key if n == 1 else f"{key}_{n}", value))
    return out


def assignment(kind, key, value, rng):
    """Lines assigning `value` (a string, or PEM lines) to `key` in the style of a text kind."""
    pem = isinstance(value, list)
    if kind == "python":
        return [f"{key.upper()} = \"\"\"{value[0]}", *value[1:], "\"\"\""] if pem else [f"{key.upper()} = \"{value}\""]
    if kind == "js":
        return [f"const {camel_case(key)} = `{value[0]}", *value[1:], "`;"] if pem else [f"const {camel_case(key)} = '{value}';"]
    if kind == "go":
        return [f"var {camel_case(key)} = `{value[0]}", *value[1:], "`"] if pem else [f"var {camel_case(key)} = \"{value}\""]
    if kind == "shell":
        return [f"cat > {key}.pem <<'EOF'", *value, "EOF"] if pem else [f"export {key.upper()}=\"{value}\""]
    if kind == "markdown":
        return ["```", *value, "```"] if pem else [f"    export {key.upper()}={value}"]
    if kind == "log":
        if key == "auth_token" and str(value).startswith("eyJ"):
            return [f"2024-06-{rng.randint(1, 28):02d}T12:00:00.000Z DEBUG [http] GET /api/v1/me Authorization: Bearer {value}"]
        return [f"2024-06-{rng.randint(1, 28):02d}T12:00:00.000Z DEBUG [config] loaded {key}={value}"]
    if kind == "env":
        return [f"{key.upper()}={value}"]
    if kind in ("ini", "toml"):
        return [f"{key} = {value}"] if kind == "ini" else ([f"{key} = \"\"\"", *value, "\"\"\""] if pem else [f"{key} = \"{value}\""])
    if kind == "properties":
        return [f"{key}={value}"]
    if kind in ("sshd", "sysctl", "nginx"):
        return [f"# {key}: {value}"]
    raise ValueError(kind)


def yaml_entry(key, value, indent):
    pad = " " * indent
    if isinstance(value, list):
        return [f"{pad}{key}: |", *(pad + "  " + v for v in value)]
    return [f"{pad}{key}: \"{value}\""]


# --------------------------------------------------------------------------------------------- #
# File contents, per kind. Each takes the unit's rng, a target size and the (key, value) pairs to
# embed (seeded secrets and decoys), and returns text.


def distinct(rng, n, taken=()):
    """n distinct mapping keys, none of them in `taken`."""
    words = [w for w in WORDS if w not in taken] if taken else WORDS
    if n <= len(words):
        return rng.sample(words, n)
    return words + [f"{w}_{i}" for i, w in enumerate(rng.choices(words, k=n - len(words)))]


def fill(parts, size, gen):
    """Appends gen() to parts until their length reaches size."""
    n = sum(map(len, parts)) + len(parts)
    while n < size:
        p = gen()
        parts.append(p)
        n += len(p) + 1


def splice(rng, body, kind, extra):
    """Inserts the assignments of `extra` between lines of `body`, never inside one another."""
    if not extra:
        return body
    at = sorted(rng.randrange(len(body) + 1) for _ in extra)
    out, prev = [], 0
    for pos, (key, value) in zip(at, extra):
        out += body[prev:pos]
        out += assignment(kind, key, value, rng)
        prev = pos
    return out + body[prev:]


def text_lines(rng, kind, size, extra):
    """Source, Markdown and logs: filler lines from bench/gen_tree.py's pools."""
    head = gen_tree.HEADERS.get(kind, [])
    pool = P["lines"][kind]
    body = rng.choices(pool, k=max(1, round(size / P["avg_line"][kind])))
    return "\n".join(head + splice(rng, body, kind, extra)) + "\n"


def k8s_manifest(rng, size, extra, ctx):
    w = lambda: rng.choice(WORDS)
    app = f"{w()}-{w()}"
    ns = ctx["namespace"]
    kind = rng.choices(["Deployment", "Pod", "CronJob", "StatefulSet", "Job", "DaemonSet"], weights=[45, 15, 15, 12, 6, 7])[0]
    api = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Pod": "v1", "CronJob": "batch/v1", "Job": "batch/v1"}[kind]
    weak = rng.random() < 0.15
    labels = [f"app.kubernetes.io/name: {app}", f"app.kubernetes.io/part-of: {ctx['project']}"]
    doc = [f"apiVersion: {api}", f"kind: {kind}", "metadata:", f"  name: {app}", f"  namespace: {ns}", "  labels:"]
    doc += ["    " + lb for lb in labels]
    if kind == "Pod":
        pod = 2
        doc.append("spec:")
    elif kind == "CronJob":
        pod = 10
        doc += ["spec:", f"  schedule: \"{rng.randrange(60)} {rng.randrange(24)} * * *\"", f"  concurrencyPolicy: {rng.choice(['Forbid', 'Replace'])}",
                "  jobTemplate:", "    spec:", "      template:", "        spec:"]
    elif kind == "Job":
        pod = 6
        doc += ["spec:", f"  backoffLimit: {rng.randint(1, 6)}", "  template:", "    spec:"]
    else:
        pod = 6
        doc.append("spec:")
        if kind != "DaemonSet":
            doc.append(f"  replicas: {rng.choice([1, 2, 3, 3, 5])}")
        if kind == "StatefulSet":
            doc.append(f"  serviceName: {app}")
        doc += ["  selector:", "    matchLabels:", f"      app.kubernetes.io/name: {app}", "  template:", "    metadata:", "      labels:",
                f"        app.kubernetes.io/name: {app}", "    spec:"]
    p = " " * pod
    if kind in ("CronJob", "Job"):
        doc.append(f"{p}restartPolicy: {rng.choice(['OnFailure', 'Never'])}")
    doc.append(f"{p}serviceAccountName: {app}")
    if not weak and rng.random() < 0.6:
        doc += [f"{p}securityContext:", f"{p}  runAsNonRoot: true", f"{p}  seccompProfile:", f"{p}    type: RuntimeDefault"]
    elif weak:
        flag = rng.choice(["hostNetwork", "hostPID", "hostIPC"])
        doc.append(f"{p}{flag}: true")
        if rng.random() < 0.3:
            doc += [f"{p}securityContext:", f"{p}  sysctls:", f"{p}    - name: {rng.choice(['kernel.msgmax', 'net.core.somaxconn', 'kernel.shm_rmid_forced'])}",
                    f"{p}      value: \"{rng.randrange(1, 65536)}\""]
    doc.append(f"{p}containers:")
    names = rng.sample(WORDS, 3)
    n = rng.choices([1, 2, 3], weights=[65, 25, 10])[0]
    pool = containers_at(pod + 2)
    for i in range(n):
        doc.append(rng.choice(pool).replace("@NAME@", names[i], 1))
    doc += [f"{p}volumes:", f"{p}  - name: data", f"{p}    emptyDir: {{}}", f"{p}  - name: config", f"{p}    configMap:",
            f"{p}      name: {app}-config", f"{p}  - name: tmp", f"{p}    emptyDir:", f"{p}      medium: Memory"]
    if weak and rng.random() < 0.5:
        doc += [f"{p}  - name: host-logs", f"{p}    hostPath:", f"{p}      path: /var/log", f"{p}      type: Directory"]
    docs = ["\n".join(doc)]
    if kind in ("Deployment", "StatefulSet") and rng.random() < 0.5:
        port = rng.choice([80, 8080, 9090])
        docs.append("\n".join([
            "apiVersion: v1", "kind: Service", "metadata:", f"  name: {app}", f"  namespace: {ns}", "spec:",
            "  selector:", f"    app.kubernetes.io/name: {app}", "  ports:", f"    - port: {port}", f"      targetPort: {port}"]))
    used = sum(map(len, docs))
    if extra or used < size:
        # A ConfigMap holds the seeded values and pads the file to its size.
        cm = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {app}-config", f"  namespace: {ns}", "data:"]
        for key, value in extra:
            cm += yaml_entry(key, value, 2)
        lines = P["configmap_lines"]
        k = max(0, min(len(lines), round((size - used) / 24)))
        cm += rng.sample(lines, k)
        docs.append("\n".join(cm))
    return "---\n" + "\n---\n".join(docs) + "\n"


def plain_yaml(rng, size, extra, ctx):
    w = lambda: rng.choice(WORDS)
    head = [f"# {w()} {w()} configuration for {ctx['project']}", f"name: {w()}-{w()}", f"version: {rng.randrange(1, 9)}"]
    parts = []
    for key, value in extra:
        parts.append("\n".join(yaml_entry(key, value, 0)))
    bodies = P["yaml_bodies"]
    fill(parts, size - sum(map(len, head)), lambda: rng.choice(bodies))
    names = distinct(rng, len(parts), {"name", "version"})
    out = head + [parts[i] if i < len(extra) else f"{names[i]}:\n{parts[i]}" for i in range(len(parts))]
    return "\n".join(out) + "\n"


def ci_workflow(rng, size, extra, ctx):
    w = lambda: rng.choice(WORDS)
    out = [f"name: {w()}", "on:", "  push:", "    branches: [main]", "  pull_request:"]
    if extra:
        out.append("env:")
        for key, value in extra:
            out += yaml_entry(key, value, 2)
    out.append("jobs:")
    steps = P["ci_steps"]
    jobs = rng.sample(WORDS, 6)
    total = sum(map(len, out))
    j = 0
    while j < len(jobs) and (j == 0 or total < size):
        job = [f"  {jobs[j]}:", f"    runs-on: {rng.choice(['ubuntu-latest', 'ubuntu-24.04', 'self-hosted'])}", "    steps:"]
        job += rng.sample(steps, rng.randint(2, 8))
        out += job
        total += sum(map(len, job))
        j += 1
    return "\n".join(out) + "\n"


def json_doc(rng, size, extra, ctx):
    members = [f"  \"name\": \"{ctx['project']}\"", f"  \"version\": \"{rng.randrange(4)}.{rng.randrange(30)}.{rng.randrange(12)}\""]
    for key, value in extra:
        v = "\n".join(value) + "\n" if isinstance(value, list) else value
        members.append(f"  \"{key}\": {json.dumps(v)}")
    vals = []
    fill(vals, size - sum(map(len, members)), lambda: rng.choice(P["json_values"]))
    names = distinct(rng, len(vals), {"name", "version"})
    members += [f"  \"{names[i]}\": {v}" for i, v in enumerate(vals)]
    return "{\n" + ",\n".join(members) + "\n}\n"


def sectioned(rng, size, extra, kind):
    """TOML and INI: root assignments (TOML) or a first section (INI), then [sections]."""
    w = lambda: rng.choice(WORDS)
    if kind == "toml":
        out = [f"# {w()} {w()} settings", f"title = \"{w()} {w()}\"", f"revision = {rng.randrange(100)}"]
    else:
        out = [f"; {w()} {w()} settings", "[main]", f"name = {w()}-{w()}"]
    for key, value in extra:
        out += assignment(kind, key, value, rng)
    bodies = P["toml_bodies" if kind == "toml" else "ini_bodies"]
    parts = []
    fill(parts, size - sum(map(len, out)), lambda: rng.choice(bodies))
    names = distinct(rng, len(parts), {"main", "title", "revision"})
    for name, body in zip(names, parts):
        out += ["", f"[{name}]", body]
    return "\n".join(out) + "\n"


def keyvalue_lines(rng, size, extra, kind):
    pool = P["env_lines" if kind == "env" else "properties_lines"]
    body = rng.choices(pool, k=max(1, round(size / 30)))
    return "\n".join(splice(rng, body, kind, extra)) + "\n"


# --------------------------------------------------------------------------------------------- #
# Host configurations


SSHD_STOCK = """# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.
"""
SSHD_COMMENTED = [
    "#Port 22", "#AddressFamily any", "#ListenAddress 0.0.0.0", "#ListenAddress ::", "#HostKey /etc/ssh/ssh_host_rsa_key",
    "#HostKey /etc/ssh/ssh_host_ecdsa_key", "#HostKey /etc/ssh/ssh_host_ed25519_key", "#RekeyLimit default none",
    "#SyslogFacility AUTH", "#LogLevel INFO", "#LoginGraceTime 2m", "#StrictModes yes",
    "#AuthorizedKeysFile     .ssh/authorized_keys .ssh/authorized_keys2", "#AuthorizedPrincipalsFile none",
    "#AuthorizedKeysCommand none", "#AuthorizedKeysCommandUser nobody", "#IgnoreUserKnownHosts no",
    "#KerberosAuthentication no", "#KerberosOrLocalPasswd yes", "#KerberosTicketCleanup yes", "#GSSAPIAuthentication no",
    "#GSSAPICleanupCredentials yes", "#GatewayPorts no", "#X11DisplayOffset 10",
    "#X11UseLocalhost yes", "#PermitTTY yes", "#PrintLastLog yes", "#TCPKeepAlive yes", "#UseDNS no", "#PidFile /run/sshd.pid",
    "#MaxStartups 10:30:100", "#PermitTunnel no", "#ChrootDirectory none", "#VersionAddendum none",
]
SSHD_PROFILES = {
    "hardened": [
        ("LogLevel", ["VERBOSE"]), ("LoginGraceTime", ["30s", "60"]), ("PermitRootLogin", ["no"]), ("StrictModes", ["yes"]),
        ("MaxAuthTries", ["3", "4"]), ("PubkeyAuthentication", ["yes"]),
        ("HostbasedAuthentication", ["no"]), ("IgnoreRhosts", ["yes"]), ("PasswordAuthentication", ["no"]),
        ("PermitEmptyPasswords", ["no"]), ("KbdInteractiveAuthentication", ["no"]), ("UsePAM", ["yes"]),
        ("AllowTcpForwarding", ["no"]), ("X11Forwarding", ["no"]),
        ("PermitUserEnvironment", ["no"]), ("ClientAliveInterval", ["300", "120"]), ("ClientAliveCountMax", ["2", "0"]),
        ("Banner", ["/etc/issue.net"]),
    ],
    "stock": [
        ("KbdInteractiveAuthentication", ["no"]), ("UsePAM", ["yes"]), ("X11Forwarding", ["yes"]), ("PrintMotd", ["no"]),
        ("AcceptEnv", ["LANG LC_*"]),
    ],
    "weak": [
        ("LogLevel", ["INFO", "QUIET"]), ("PermitRootLogin", ["yes", "without-password"]), ("MaxAuthTries", ["6", "10"]),
        ("PasswordAuthentication", ["yes"]), ("PermitEmptyPasswords", ["no", "yes"]), ("HostbasedAuthentication", ["no", "yes"]),
        ("X11Forwarding", ["yes"]), ("PermitUserEnvironment", ["yes", "no"]), ("UsePAM", ["yes"]), ("ClientAliveInterval", ["0"]),
        ("Ciphers", ["aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,3des-cbc"]), ("MACs", ["hmac-sha1,hmac-md5,hmac-sha2-256"]),
    ],
}
SSHD_DROPINS = {
    "10-crypto": [
        "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr",
        "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-512,hmac-sha2-256",
        "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512",
    ],
    "20-auth": ["PermitRootLogin no", "PasswordAuthentication no", "AuthenticationMethods publickey", "MaxAuthTries 3"],
    "50-cloud-init": ["PasswordAuthentication yes"],
    "60-forwarding": ["AllowTcpForwarding no", "X11Forwarding no", "PermitTunnel no"],
    "70-users": None,  # AllowGroups / AllowUsers, generated
    "80-sftp": ["Match Group sftp-only", "    ForceCommand internal-sftp",
                "    ChrootDirectory /srv/sftp/%u", "    AllowTcpForwarding no"],
    "90-banner": ["Banner /etc/issue.net", "PrintMotd no"],
}


def sshd_files(rng, n):
    """n files: sshd_config and n - 1 drop-ins under sshd_config.d/ (read in place through Include)."""
    w = lambda: rng.choice(WORDS)
    dropins = sorted(rng.sample(sorted(SSHD_DROPINS), n - 1))
    profile = rng.choices(["hardened", "stock", "weak"], weights=[40, 40, 20])[0]
    main = [SSHD_STOCK]
    if dropins:
        main.append("Include sshd_config.d/*.conf\n")
    main += [SSHD_COMMENTED[i] for i in sorted(rng.sample(range(len(SSHD_COMMENTED)), rng.randint(8, len(SSHD_COMMENTED))))]
    main.append("")
    if rng.random() < 0.3:
        main.append(f"Port {rng.choice([22, 2222, 22022])}")
    for key, values in SSHD_PROFILES[profile]:
        if rng.random() < 0.9:
            main.append(f"{key} {rng.choice(values)}")
    main.append("Subsystem sftp /usr/lib/openssh/sftp-server")
    if rng.random() < 0.25:
        main += ["", f"Match User {w()}-deploy", "    PasswordAuthentication no", f"    ForceCommand /usr/local/bin/{w()}"]
    out = [("sshd_config", "\n".join(main) + "\n")]
    for d in dropins:
        body = SSHD_DROPINS[d] or [f"AllowGroups {w()}-admins {w()}-ops", f"DenyUsers {w()}"]
        out.append((f"sshd_config.d/{d}.conf", f"# {d}: managed by configuration management\n" + "\n".join(body) + "\n"))
    return out


SYSCTL_STOCK = """#
# /etc/sysctl.conf - Configuration file for setting system variables
# See /etc/sysctl.d/ for additional system variables.
# See sysctl.conf (5) for information.
#

#kernel.domainname = example.com

# Uncomment the following to stop low-level messages on console
#kernel.printk = 3 4 1 3

###################################################################
# Functions previously found in netbase
#

# Uncomment the next two lines to enable Spoof protection (reverse-path filter)
# Turn on Source Address Verification in all interfaces to
# prevent some spoofing attacks
#net.ipv4.conf.default.rp_filter=1
#net.ipv4.conf.all.rp_filter=1
"""
SYSCTL_HARDENED = [
    ("net.ipv4.ip_forward", "0"), ("net.ipv4.conf.all.accept_redirects", "0"), ("net.ipv4.conf.default.accept_redirects", "0"),
    ("net.ipv4.conf.all.send_redirects", "0"), ("net.ipv4.conf.default.send_redirects", "0"),
    ("net.ipv4.conf.all.accept_source_route", "0"), ("net.ipv4.conf.default.accept_source_route", "0"),
    ("net.ipv4.conf.all.rp_filter", "1"), ("net.ipv4.conf.all.log_martians", "1"), ("net.ipv4.icmp_echo_ignore_broadcasts", "1"),
    ("net.ipv4.icmp_ignore_bogus_error_responses", "1"), ("net.ipv4.tcp_syncookies", "1"), ("net.ipv6.conf.all.accept_ra", "0"),
    ("net.ipv6.conf.all.accept_redirects", "0"), ("kernel.randomize_va_space", "2"), ("kernel.kptr_restrict", "2"),
    ("kernel.dmesg_restrict", "1"), ("kernel.yama.ptrace_scope", "1"), ("kernel.unprivileged_bpf_disabled", "1"),
    ("net.core.bpf_jit_harden", "2"), ("fs.suid_dumpable", "0"), ("fs.protected_hardlinks", "1"), ("fs.protected_symlinks", "1"),
]
SYSCTL_WEAK = {
    "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.accept_redirects": "1", "net.ipv4.conf.all.send_redirects": "1",
    "net.ipv4.conf.all.rp_filter": "0", "kernel.randomize_va_space": "0", "kernel.kptr_restrict": "0", "fs.suid_dumpable": "2",
    "kernel.yama.ptrace_scope": "0", "net.ipv4.tcp_syncookies": "0",
}
SYSCTL_TUNING = [
    ("vm.swappiness", ["1", "10", "60"]), ("vm.max_map_count", ["262144", "524288"]), ("net.core.somaxconn", ["1024", "4096", "65535"]),
    ("net.ipv4.tcp_fin_timeout", ["15", "30"]), ("net.ipv4.ip_local_port_range", ["1024 65000", "32768 60999"]),
    ("fs.file-max", ["2097152", "9223372036854775807"]), ("fs.inotify.max_user_watches", ["524288", "1048576"]),
    ("net.core.rmem_max", ["16777216"]), ("net.core.wmem_max", ["16777216"]), ("kernel.pid_max", ["4194304"]),
    ("net.bridge.bridge-nf-call-iptables", ["1"]), ("net.netfilter.nf_conntrack_max", ["262144", "1048576"]),
]
SYSCTL_DROPINS = ["10-network-security", "10-kernel-hardening", "50-tuning", "60-kubernetes", "70-conntrack", "99-local"]


def sysctl_files(rng, n):
    """n files: sysctl.conf and n - 1 drop-ins under sysctl.d/ (merged as one root)."""
    weak = rng.random() < 0.25
    settings = [(k, SYSCTL_WEAK.get(k, v) if weak and rng.random() < 0.5 else v) for k, v in SYSCTL_HARDENED if rng.random() < 0.7]
    settings += [(k, rng.choice(vs)) for k, vs in rng.sample(SYSCTL_TUNING, rng.randint(2, 8))]
    rng.shuffle(settings)
    names = sorted(rng.sample(SYSCTL_DROPINS, n - 1))
    groups = [[] for _ in range(n)]
    for i, s in enumerate(settings):
        groups[i % n].append(s)
    render = lambda group: "\n".join(f"{k} = {v}" for k, v in group)
    out = [("sysctl.conf", SYSCTL_STOCK + ("\n" + render(groups[0]) if groups[0] else "") + "\n")]
    for name, group in zip(names, groups[1:]):
        out.append((f"sysctl.d/{name}.conf", f"# {name}: managed by configuration management\n" + render(group) + "\n"))
    return out


NGINX_TLS = {
    "hardened": ["ssl_protocols TLSv1.2 TLSv1.3;",
                 "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384;",
                 "ssl_prefer_server_ciphers on;", "server_tokens off;"],
    "modern": ["ssl_protocols TLSv1.3;", "server_tokens off;"],
    "legacy": ["ssl_protocols TLSv1 TLSv1.1 TLSv1.2;", "ssl_ciphers HIGH:!aNULL:!MD5;"],
    "weak": ["ssl_protocols SSLv3 TLSv1 TLSv1.1 TLSv1.2;", "ssl_ciphers ALL:!aNULL:RC4+RSA:+HIGH:+MEDIUM:+LOW:+EXP;", "server_tokens on;"],
}


def nginx_server(rng, host, ind):
    w = lambda: rng.choice(WORDS)
    p, q = " " * ind, " " * (ind + 4)
    name = f"{w()}.{host}.example.com"
    if rng.random() < 0.3:
        return [f"{p}server {{", f"{q}listen 80;", f"{q}server_name {name};", f"{q}return 301 https://$host$request_uri;", f"{p}}}"]
    out = [f"{p}server {{", f"{q}listen 443 ssl;", f"{q}listen [::]:443 ssl;", f"{q}http2 on;", f"{q}server_name {name};",
           f"{q}ssl_certificate /etc/nginx/tls/{name}.crt;", f"{q}ssl_certificate_key /etc/nginx/tls/{name}.key;"]
    if rng.random() < 0.6:
        out.append(f"{q}add_header Strict-Transport-Security \"max-age={rng.choice([31536000, 63072000, 86400])}; includeSubDomains\" always;")
    if rng.random() < 0.3:
        out += [q + d for d in rng.choice(list(NGINX_TLS.values()))]
    for loc in rng.sample(WORDS, rng.randint(1, 4)):
        out += [f"{q}location /{loc}/ {{", f"{q}    proxy_pass http://{w()}-backend:{rng.choice([8080, 9000, 3000])};",
                f"{q}    proxy_set_header Host $host;", f"{q}    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                f"{q}    proxy_read_timeout {rng.choice([30, 60, 300])}s;", f"{q}}}"]
    if rng.random() < 0.4:
        out += [f"{q}location ~* \\.(?:css|js|png|svg)$ {{", f"{q}    expires 7d;", f"{q}    root /srv/{w()}/static;", f"{q}}}"]
    out.append(f"{p}}}")
    return out


def nginx_files(rng, n, host):
    """n files: nginx/nginx.conf and n - 1 files under nginx/conf.d/ (each judged on its own)."""
    w = lambda: rng.choice(WORDS)
    tls = rng.choices(list(NGINX_TLS), weights=[40, 15, 30, 15])[0]
    main = ["user www-data;", "worker_processes auto;", "pid /run/nginx.pid;", "include /etc/nginx/modules-enabled/*.conf;", "",
            "events {", f"    worker_connections {rng.choice([768, 1024, 4096])};", "}", "", "http {", "    sendfile on;",
            "    tcp_nopush on;", "    types_hash_max_size 2048;",
            # The MIME types inline: an `include` of a mime.types the tree does not hold would make
            # every nginx.conf an error (vigil reads includes, and a missing one fails closed).
            "    types {", "        text/html html htm;", "        text/css css;", "        application/javascript js;",
            "        application/json json;", "        image/png png;", "        image/svg+xml svg;", "    }",
            "    default_type application/octet-stream;", "",
            "    log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '",
            "                    '$status $body_bytes_sent \"$http_referer\" $request_time';",
            "    access_log /var/log/nginx/access.log main;", "    error_log /var/log/nginx/error.log;", "    gzip on;", ""]
    main += ["    " + d for d in NGINX_TLS[tls]]
    if n == 1:
        main.append("")
        for _ in range(rng.randint(1, 2)):
            main += nginx_server(rng, host, 4)
    main += ["", "    include /etc/nginx/conf.d/*.conf;", "}"]
    out = [("nginx.conf", "\n".join(main) + "\n")]
    for i in range(n - 1):
        body = [f"# {w()} {w()}: managed by configuration management"]
        if rng.random() < 0.3:
            body += ["upstream " + f"{w()}-backend {{", f"    server 10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}:8080;",
                     f"    server 10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}:8080 backup;", "}", ""]
        for _ in range(rng.randint(1, 3)):
            body += nginx_server(rng, host, 0)
        out.append((f"conf.d/{i + 1:02d}-{w()}.conf", "\n".join(body) + "\n"))
    return out


# --------------------------------------------------------------------------------------------- #
# Plan: kinds per file, grouped into directories ("units"); every unit has its own random stream


def exact_counts(n):
    """Files per kind: the shares of KINDS, rounded by largest remainder so that they sum to n."""
    raw = [(k[0], n * k[1] / 100) for k in KINDS]
    counts = {k: int(v) for k, v in raw}
    rest = n - sum(counts.values())
    for k, _ in sorted(raw, key=lambda kv: (-(kv[1] - int(kv[1])), kv[0]))[:rest]:
        counts[k] += 1
    return counts


def split_groups(rng, total, extra_weights):
    """Splits `total` files into groups of 1 + k files, k drawn with `extra_weights` (k = 0, 1, ...)."""
    out = []
    while total > 0:
        k = rng.choices(range(len(extra_weights)), weights=extra_weights)[0]
        out.append(min(total, 1 + k))
        total -= out[-1]
    return out


def plan(files, seed):
    rng = random.Random(f"plan:{seed}")
    counts = exact_counts(files)
    # Bulk directories: the files of each class shuffled and cut into directories of 100-1000.
    classes = {}
    for kind, _, cls, _, _ in KINDS:
        if cls != "hosts":
            classes.setdefault(cls, []).extend([kind] * counts[kind])
    units = []
    for cls in sorted(classes):
        kinds = classes[cls]
        rng.shuffle(kinds)
        i = 0
        while i < len(kinds):
            size = int(min(DIR_MAX, max(DIR_MIN, rng.lognormvariate(math.log(DIR_MEDIAN), DIR_SIGMA))))
            if len(kinds) - i - size < DIR_MIN // 2:
                size = len(kinds) - i  # no tiny last directory
            units.append({"class": cls, "kinds": kinds[i:i + size]})
            i += size
    rng.shuffle(units)
    # Hosts: sshd_config + 0-3 drop-ins, sysctl.conf + 0-3 drop-ins, nginx.conf + 0-4 conf.d files.
    ssh = split_groups(rng, counts["sshd"], [35, 30, 20, 15])
    sysctl = split_groups(rng, counts["sysctl"], [40, 30, 20, 10])
    nginx = split_groups(rng, counts["nginx"], [10, 35, 30, 15, 10])
    hosts = []
    for i in range(max(len(ssh), len(sysctl), len(nginx))):
        hosts.append({"class": "hosts", "ssh": ssh[i] if i < len(ssh) else 0, "sysctl": sysctl[i] if i < len(sysctl) else 0,
                      "nginx": nginx[i] if i < len(nginx) else 0})
    # Projects: about 10 bulk directories each (in components of 1-4 directories), hosts spread evenly.
    teams = [f"{w}-team" for w in rng.sample(WORDS, 12)]
    n_projects = max(1, round(len(units) / 10))
    projects = [{"dir": f"{rng.choice(teams)}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:04d}",
                 "namespace": f"{rng.choice(WORDS)}-{rng.choice(ENVS)}"} for i in range(n_projects)]
    used = set()
    comp, comp_left, pi = None, 0, -1
    for u in units:
        if comp_left == 0:
            pi = (pi + 1) % n_projects
            comp = f"{projects[pi]['dir']}/{rng.choice(WORDS)}-{rng.choice(WORDS)}"
            comp_left = rng.randint(1, 4)
        comp_left -= 1
        sub = rng.choice(SUBDIRS[u["class"]]).replace("{env}", rng.choice(ENVS)).replace("{pkg}", rng.choice(WORDS))
        d = f"{comp}/{sub}"
        n = 2
        while d in used:
            d, n = f"{comp}/{sub}-{n}", n + 1
        used.add(d)
        u["dir"], u["project"], u["namespace"] = d, projects[pi]["dir"].split("/")[1], projects[pi]["namespace"]
    for i, h in enumerate(hosts):
        proj = projects[i % n_projects]
        role = rng.choice(["web", "api", "db", "cache", "worker", "bastion", "edge", "batch"])
        h["dir"] = f"{proj['dir']}/infra/hosts/{rng.choice(WORDS)}-{role}-{i:05d}/etc"
        h["host"] = f"{role}-{i:05d}"
    all_units = units + hosts
    for i, u in enumerate(all_units):
        u["index"] = i
    return counts, all_units


# --------------------------------------------------------------------------------------------- #
# Writing one unit (in a worker process)


def new_stats():
    return {"files": 0, "bytes": 0, "page_bytes": 0, "dirs": 0, "by_kind": {}, "seeded": {t: 0 for t in SECRET_TYPES}, "files_with_secrets": 0,
            "decoys": 0, "expected": {}, "pem": {"crt": 0, "chain": 0, "key": 0, "certificates": 0, "keys": 0},
            "pem_fixtures": {}}


def write_unit(job):
    root, seed, u = job
    rng = random.Random(f"unit:{seed}:{u['index']}")
    stats = new_stats()
    digest = hashlib.sha256()
    base = os.path.join(root, u["dir"])
    made = set()

    def put(rel, text, kind):
        path = os.path.join(base, rel)
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        data = text.encode()
        with open(path, "wb") as f:
            f.write(data)
        digest.update(f"{u['dir']}/{rel}".encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        stats["files"] += 1
        stats["bytes"] += len(data)
        stats["page_bytes"] += -(-len(data) // 4096) * 4096
        stats["by_kind"][kind] = stats["by_kind"].get(kind, 0) + 1

    def extras(kind):
        """Seeded secrets and decoys for one text file, as (key, value) pairs, counted."""
        out = []
        if rng.random() < SECRET_FILE_RATE:
            stats["files_with_secrets"] += 1
            for _ in range(rng.choices([1, 2, 3], weights=[75, 18, 7])[0]):
                stype, key, value, controls = draw_secret(rng, kind)
                out.append((key, value))
                stats["seeded"][stype] += 1
                for c in controls:
                    stats["expected"][c] = stats["expected"].get(c, 0) + 1
        if kind in DECOY_KINDS and rng.random() < DECOY_FILE_RATE:
            out.append(rng.choice(DECOYS))
            stats["decoys"] += 1
        return unique_keys(out)

    if u["class"] == "hosts":
        groups = []
        if u["ssh"]:
            groups += [("ssh/" + rel, text, "sshd") for rel, text in sshd_files(rng, u["ssh"])]
        if u["sysctl"]:
            groups += [(rel, text, "sysctl") for rel, text in sysctl_files(rng, u["sysctl"])]
        if u["nginx"]:
            groups += [("nginx/" + rel, text, "nginx") for rel, text in nginx_files(rng, u["nginx"], u["host"])]
        for rel, text, kind in groups:
            ex = extras(kind)
            if ex:
                text += "\n".join(ln for k, v in ex for ln in assignment(kind, k, v, rng)) + "\n"
            put(rel, text, kind)
        stats["dirs"] = len(made)
        return stats, digest.digest()

    ctx = {"project": u["project"], "namespace": u["namespace"]}
    fx = P["fixtures"]
    certs = fx["good"] * 3 + fx["defects"]
    for n, kind in enumerate(u["kinds"], 1):
        _, _, _, median, sigma = KIND[kind]
        word = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"
        if kind == "pem":
            r = rng.random()
            if r < 0.45:
                (fname, text), ext, what = rng.choice(certs), ".crt", "crt"
                parts = [(fname, text)]
            elif r < 0.75:
                parts, ext, what = rng.sample(certs, rng.randint(2, 3)), ".pem", "chain"
            else:
                parts, ext, what = [rng.choice(fx["keys"])], ".key", "key"
            text = "".join(t if t.endswith("\n") else t + "\n" for _, t in parts)
            stats["pem"][what] += 1
            for fname, t in parts:
                stats["pem_fixtures"][fname] = stats["pem_fixtures"].get(fname, 0) + 1
                if "PRIVATE KEY" in t:
                    stats["pem"]["keys"] += 1
                else:
                    stats["pem"]["certificates"] += 1
                # SEC-010 fails an unencrypted key; a passphrase-protected one passes.
                if SEC010.search(t) and not encrypted_key(t):
                    stats["expected"]["SEC-010"] = stats["expected"].get("SEC-010", 0) + 1
            put(f"{word}-{n}{ext}", text, kind)
            continue
        size = int(min(LINE_MAX if kind in LINE_KINDS else STRUCT_MAX,
                       max(120, rng.lognormvariate(math.log(median), sigma))))
        ex = extras(kind)
        if kind == "k8s":
            name, text = f"{word}-{n}.{rng.choice(['yaml', 'yaml', 'yml'])}", k8s_manifest(rng, size, ex, ctx)
        elif kind == "yaml":
            name, text = f"{word}-{n}.{rng.choice(['yaml', 'yml'])}", plain_yaml(rng, size, ex, ctx)
        elif kind == "ci":
            name, text = f"{word}-{n}.yml", ci_workflow(rng, size, ex, ctx)
        elif kind == "json":
            name, text = f"{word}-{n}.json", json_doc(rng, size, ex, ctx)
        elif kind in ("toml", "ini"):
            ext = ".toml" if kind == "toml" else rng.choice([".ini", ".cfg"])
            name, text = f"{word}-{n}{ext}", sectioned(rng, size, ex, kind)
        elif kind == "env":
            name, text = f".env.{rng.choice(WORDS)}{n}", keyvalue_lines(rng, size, ex, kind)
        elif kind == "properties":
            name, text = f"{word}-{n}.properties", keyvalue_lines(rng, size, ex, kind)
        else:
            ext = {"python": ".py", "go": ".go", "shell": ".sh", "markdown": ".md", "log": ".log"}.get(kind) or rng.choice([".js", ".ts", ".mjs"])
            name, text = f"{word.replace('-', '_')}_{n}{ext}", text_lines(rng, kind, size, ex)
        put(name, text, kind)
    stats["dirs"] = len(made)
    return stats, digest.digest()


def merge(total, s):
    for k in ("files", "bytes", "page_bytes", "dirs", "files_with_secrets", "decoys"):
        total[k] += s[k]
    for k in ("by_kind", "seeded", "expected", "pem", "pem_fixtures"):
        for kk, v in s[k].items():
            total[k][kk] = total[k].get(kk, 0) + v


# --------------------------------------------------------------------------------------------- #


def read_manifest(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def generate(out, files, seed, jobs):
    t0 = time.time()
    out = os.path.abspath(out)
    manifest_path = out + ".manifest.json"
    partial = out + ".partial"
    if os.path.exists(partial):
        m = read_manifest(manifest_path)
        if not (m and m.get("generator") == GENERATOR and m.get("tree") == out):
            sys.exit(f"gen_scale_tree.py: {partial} exists and {manifest_path} does not say {GENERATOR} wrote it; remove it yourself")
        shutil.rmtree(partial)
    base = {"generator": GENERATOR, "generator_version": GENERATOR_VERSION, "gen_tree_version": gen_tree.GENERATOR_VERSION,
            "python": sys.version.split()[0], "parameters": {"files": files, "seed": seed}, "tree": out}
    with open(manifest_path, "w") as f:
        json.dump({**base, "complete": False}, f, indent=2)
        f.write("\n")

    build(seed)
    counts, units = plan(files, seed)
    os.makedirs(partial)
    total = new_stats()
    digests = []
    work = ((partial, seed, u) for u in units)
    done, next_report = 0, 100_000
    if jobs > 1:
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=build, initargs=(seed,))
        results = pool.imap(write_unit, work, chunksize=4)
    else:
        pool, results = None, map(write_unit, work)
    for stats, d in results:
        merge(total, stats)
        digests.append(d)
        done = total["files"]
        if done >= next_report:
            print(f"  {done} files, {total['bytes'] / 2**20:.0f} MiB, {time.time() - t0:.0f} s", file=sys.stderr)
            next_report += 100_000
    if pool:
        pool.close()
        pool.join()
    assert total["files"] == files, (total["files"], files)
    os.rename(partial, out)

    by_kind = dict(sorted(total["by_kind"].items()))
    by_category = {}
    for k, v in by_kind.items():
        by_category[CATEGORY[k]] = by_category.get(CATEGORY[k], 0) + v
    hosts = [u for u in units if u["class"] == "hosts"]
    manifest = {
        **base,
        "complete": True,
        "files": total["files"],
        "bytes": total["bytes"],
        "bytes_in_4k_pages": total["page_bytes"],
        "directories_with_files": total["dirs"],
        "bulk_directories": len(units) - len(hosts),
        "hosts": len(hosts),
        "files_by_category": dict(sorted(by_category.items(), key=lambda kv: -kv[1])),
        "files_by_kind": by_kind,
        "host_configs": {
            "sshd_config": sum(1 for u in hosts if u["ssh"]), "sshd_dropins": sum(max(0, u["ssh"] - 1) for u in hosts),
            "sysctl_conf": sum(1 for u in hosts if u["sysctl"]), "sysctl_dropins": sum(max(0, u["sysctl"] - 1) for u in hosts),
            "nginx_conf": sum(1 for u in hosts if u["nginx"]), "nginx_confd": sum(max(0, u["nginx"] - 1) for u in hosts),
        },
        "pem_files": {"crt": total["pem"]["crt"], "chain_pem": total["pem"]["chain"], "key": total["pem"]["key"],
                      "certificates": total["pem"]["certificates"], "private_keys": total["pem"]["keys"]},
        "pem_fixtures_used": dict(sorted(total["pem_fixtures"].items())),
        "files_with_secrets": total["files_with_secrets"],
        "seeded_secrets": sum(total["seeded"].values()),
        "seeded_secrets_by_type": total["seeded"],
        "decoy_lines": total["decoys"],
        "expected_vigil_secret_findings": sum(total["expected"].values()),
        "expected_vigil_secret_findings_by_control": dict(sorted(total["expected"].items())),
        "sha256": hashlib.sha256(b"".join(digests)).hexdigest(),
        "jobs": jobs,
        "seconds": round(time.time() - t0, 1),
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="directory to create (must not exist)")
    ap.add_argument("--files", type=int, required=True, help="number of files")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: one per core); the tree does not depend on it")
    a = ap.parse_args()
    if a.files < 1 or a.jobs < 1:
        ap.error("--files and --jobs must be positive")
    out = os.path.normpath(a.out)
    if os.path.exists(out):
        ap.error(f"{out} exists; remove it first (the generator never writes into an existing tree)")
    m = generate(out, a.files, a.seed, a.jobs)
    print(
        f"generated {out}: {m['files']} files, {m['bytes'] / 2**20:.0f} MiB, {m['seeded_secrets']} seeded secrets "
        f"in {m['files_with_secrets']} files, {m['decoy_lines']} decoys, {m['seconds']} s; manifest {out}.manifest.json",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
