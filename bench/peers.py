#!/usr/bin/env python3
"""Scores vigil, Checkov and detect-secrets against a ground truth written by hand for the corpus in
testdata/ (see docs/peer-comparison.md). Run by bench/peers.sh, which leaves the tools' JSON outputs
in one directory:

  vigil-secrets.json    vigil scan testdata/secrets --policy policies/secrets.yaml --format json
  vigil-k8s.json        vigil scan (the manifest directories) --policy policies/kubernetes-pod-security.yaml
  detect-secrets.json   detect-secrets scan --all-files --no-verify testdata/secrets
  checkov-*.json        checkov -d DIR --framework kubernetes -o json, one file per directory
  versions.txt          one `tool version` per line

usage: peers.py OUT_DIR ROOT        prints Markdown (tables and per-item detail) on stdout

The ground truth below is read from the files themselves, never from a tool's output. Each entry
names a marker that must appear on its line: when a fixture changes under it, the script stops
instead of scoring against a stale truth. Python 3 standard library only.
"""
import glob
import json
import os
import sys
from collections import Counter, defaultdict

# --- secrets: ground truth ---------------------------------------------------------------------
SECRETS_DIR = "testdata/secrets"

# Every real seeded secret: file -> {line: (marker on that line, what it is)}.
SECRETS = {
    "testdata/secrets/app/.env": {
        3: ("AKIALACI", "AWS access key id"),
        4: ("AWS_SECRET_ACCESS_KEY=dTGj", "AWS secret access key"),
        5: ("S3cr3t-Pa55w0rd", "password in a PostgreSQL URL"),
        7: ("sk_live_A1gM", "Stripe live secret key"),
    },
    "testdata/secrets/app/config.yaml": {
        3: ("hooks.slack.com/services/TUV4", "Slack incoming-webhook URL"),
        4: ("xoxb-4464", "Slack bot token"),
        6: ("AIza3oIL", "Google API key"),
        8: ("SG.fK1n", "SendGrid API key"),
    },
    "testdata/secrets/app/main.go": {
        7: ('dbPassword := "q7Vd', "password assigned in Go source"),
    },
    "testdata/secrets/app/settings.py": {
        6: ("ghp_yFgD", "GitHub classic personal access token"),
        8: ('password = "Tr0ub', "password assigned in Python source"),
        9: ('API_KEY = "H2DB', "generic API key in Python source"),
    },
    "testdata/secrets/deploy/id_ed25519": {
        1: ("BEGIN OPENSSH PRIVATE KEY", "unencrypted OpenSSH ed25519 private key (cipher none)"),
    },
    "testdata/secrets/deploy/release-signing.asc": {
        1: ("BEGIN PGP PRIVATE KEY BLOCK", "armored OpenPGP secret key (no passphrase marker)"),
    },
    "testdata/secrets/deploy/tokens.txt": {
        2: ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMt", "JSON Web Token of a service account"),
        3: ("glpat-qIY3", "GitLab personal access token"),
        4: ("github_pat_OuLf", "GitHub fine-grained personal access token"),
        5: ("gho_BExM", "GitHub OAuth token"),
        6: ("npm_wHj4", "npm access token"),
        7: ("pypi-AgEIcHlwaS5vcmcyrDj", "PyPI API token"),
        8: ("AccountKey=CZWl", "Azure storage account key"),
        9: ("sk-proj-LsfS", "OpenAI project key"),
    },
    "testdata/secrets/deploy/services.txt": {
        2: ("xapp-1-A08A", "Slack app-level token"),
        3: ("sk-ant-api03-EMVb", "Anthropic API key"),
        4: ("hf_bKoB", "Hugging Face access token"),
        5: ("glrt-peGv", "GitLab runner token"),
        6: ("glptt-a23d", "GitLab pipeline trigger token"),
        7: ("dckr_pat_6LHj", "Docker Hub personal access token"),
        8: ("hvs.kfxa", "HashiCorp Vault service token"),
        9: (".atlasv1.6H_q", "HCP Terraform API token"),
        10: ("dop_v1_73ad", "DigitalOcean personal access token"),
        11: ("shpat_6514", "Shopify access token"),
        12: ("glsa_icip", "Grafana service account token"),
        13: ("dapifb64", "Databricks access token"),
        14: ("AGE-SECRET-KEY-10QQ", "age secret key"),
        15: ("Q~BgT9", "Microsoft Entra ID client secret"),
        16: ("PMAK-efa0", "Postman API key"),
        17: ("rubygems_1975", "RubyGems API key"),
        18: ("pul-d53e", "Pulumi access token"),
        19: ("lin_api_thgO", "Linear API key"),
        20: ("sntryu_8a9f", "Sentry user auth token"),
        21: ("NRAK-UE0C", "New Relic user API key"),
    },
}

# Key blocks are one item each: a reported line anywhere inside a block counts for the block (its
# first line), once. file -> (first line, last line, counts as a secret).
KEY_BLOCKS = {
    "testdata/secrets/deploy/id_ed25519": (1, 7, True),
    "testdata/secrets/deploy/release-signing.asc": (1, 5, True),
    "testdata/secrets/keys/id_rsa_encrypted": (1, 39, False),       # OpenSSH, cipher aes256-ctr
    "testdata/secrets/keys/rsa-pkcs1-encrypted.key": (1, 30, False),  # Proc-Type: 4,ENCRYPTED
}

# Lines that are negatives by name (every other line is a negative too); listed so that the detail
# says what a false alarm hit. The whole of near-misses/ is negative.
NEGATIVE_NOTES = {
    ("testdata/secrets/app/settings.py", 5): "AWS documentation example key id (AKIAIOSFODNN7EXAMPLE)",
    ("testdata/secrets/app/settings.py", 7): 'placeholder password "changeme"',
    ("testdata/secrets/app/settings.py", 10): "environment reference ${DJANGO_SECRET_KEY}",
    ("testdata/secrets/app/.env", 6): "environment reference ${REDIS_PASSWORD}",
    ("testdata/secrets/keys/id_rsa_encrypted", 1): "passphrase-encrypted OpenSSH key",
    ("testdata/secrets/keys/rsa-pkcs1-encrypted.key", 1): "passphrase-encrypted PKCS#1 key",
}

# --- Kubernetes: ground truth ------------------------------------------------------------------
# The common vocabulary of defect classes, in table order.
CLASSES = [
    ("privileged", "privileged: true"),
    ("host-network", "hostNetwork: true"),
    ("host-pid", "hostPID: true"),
    ("host-ipc", "hostIPC: true"),
    ("host-path", "a hostPath volume"),
    ("host-port", "a hostPort"),
    ("privilege-escalation", "allowPrivilegeEscalation not false"),
    ("run-as-non-root", "runAsNonRoot not true (effective: the container's, else the pod's)"),
    ("run-as-user-0", "runAsUser 0 (effective)"),
    ("drop-all", "capabilities.drop without ALL"),
    ("added-capabilities", "capabilities.add beyond the baseline set"),
    ("seccomp", "seccomp profile not RuntimeDefault/Localhost (effective)"),
    ("image-tag", "image tagged latest or untagged"),
    ("limits", "CPU or memory limit missing (containers and init containers)"),
    ("sysctls", "a sysctl outside the safe set"),
    ("proc-mount", "procMount other than Default"),
]
CLASS_IDS = [c for c, _ in CLASSES]

# Workload objects: (file, kind) -> {class: why}; an object with {} must have no defect. No file of the
# corpus holds two workload objects of one kind, and the script stops if one ever does.
K8S_TRUTH = {
    ("testdata/k8s/cronjob.yaml", "CronJob"): {
        "privilege-escalation": "container report sets no allowPrivilegeEscalation",
        "drop-all": "container report drops no capability",
        "seccomp": "container report sets Unconfined (line 20)",
        "image-tag": "image example/report has no tag",
        "limits": "container report has no resources",
    },
    ("testdata/k8s/hardened-deployment.yaml", "Deployment"): {},
    ("testdata/k8s/privileged-daemonset.yaml", "DaemonSet"): {
        "privileged": "line 34",
        "host-network": "line 14",
        "host-pid": "line 15",
        "host-ipc": "line 16",
        "host-path": "volume root, path / (line 24)",
        "host-port": "hostPort 9100 (line 32)",
        "privilege-escalation": "not set (and privileged)",
        "run-as-non-root": "set neither on the pod nor on the container",
        "drop-all": "no drop list",
        "added-capabilities": "SYS_ADMIN, NET_ADMIN (line 37)",
        "seccomp": "no profile on the pod or the container",
        "image-tag": "tag latest (line 29)",
        "limits": "no resources",
        "sysctls": "kernel.msgmax (line 19)",
        "proc-mount": "Unmasked (line 35)",
    },
    ("testdata/elements/k8s/deployment.yaml", "Deployment"): {
        "privileged": "container sidecar (line 38)",
        "privilege-escalation": "none of migrate, web, sidecar sets it",
    },
    ("testdata/elements/k8s/deployment.yaml", "Pod"): {
        "privilege-escalation": "ephemeral container debugger sets true (line 62)",
    },
    ("testdata/real/k8s/helm-rendered.yaml", "Deployment"): {
        "run-as-user-0": "container metrics overrides the pod's runAsUser with 0 (line 43)",
    },
    ("testdata/real/k8s/kubectl-get.yaml", "Pod"): {
        "privilege-escalation": "ephemeral container debugger sets none",
        "run-as-non-root": "ephemeral container debugger: the pod sets none, only container redis does",
        "drop-all": "ephemeral container debugger drops nothing",
        "seccomp": "ephemeral container debugger sets Unconfined (line 28)",
    },
}
# Files with no workload object to score: reported per tool, never scored.
K8S_NOT_SCORED = {
    "testdata/k8s/broken.yaml": "not valid YAML (line 10): no object to judge",
    "testdata/k8s/values.yaml": "Helm values, not a Kubernetes object",
}

VIGIL_K8S = {
    "K8S-001": "privileged", "K8S-002": "host-network", "K8S-003": "host-pid", "K8S-004": "host-ipc",
    "K8S-005": "host-path", "K8S-006": "host-port", "K8S-007": "privilege-escalation",
    "K8S-008": "run-as-non-root", "K8S-009": "added-capabilities", "K8S-010": "drop-all",
    "K8S-011": "seccomp", "K8S-012": "image-tag", "K8S-013": "limits", "K8S-014": "proc-mount",
    "K8S-015": "sysctls", "K8S-016": "run-as-user-0",
}
# Checkov checks scored, with a note where the check is narrower or wider than its class.
CHECKOV_K8S = {
    "CKV_K8S_16": ("privileged", ""),
    "CKV_K8S_19": ("host-network", ""),
    "CKV_K8S_17": ("host-pid", ""),
    "CKV_K8S_18": ("host-ipc", ""),
    "CKV_K8S_27": ("host-path", "only a hostPath of the Docker socket"),
    "CKV_K8S_26": ("host-port", ""),
    "CKV_K8S_20": ("privilege-escalation", ""),
    "CKV_K8S_23": ("run-as-non-root", "passes on runAsNonRoot or runAsUser > 0, pod or container"),
    "CKV_K8S_37": ("drop-all", ""),
    "CKV_K8S_28": ("drop-all", "NET_RAW not dropped (ALL or NET_RAW)"),
    "CKV_K8S_25": ("added-capabilities", "any added capability, baseline ones included"),
    "CKV_K8S_39": ("added-capabilities", "SYS_ADMIN only"),
    "CKV_K8S_31": ("seccomp", "pod-level RuntimeDefault, or every container's"),
    "CKV_K8S_14": ("image-tag", ""),
    "CKV_K8S_11": ("limits", "CPU"),
    "CKV_K8S_13": ("limits", "memory"),
}
# The closest Checkov check to runAsUser 0, scored only in the sensitivity line.
CHECKOV_HIGH_UID = "CKV_K8S_40"


def die(msg):
    print(f"peers.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path):
    with open(path) as f:
        return json.load(f)


def check_truth(root):
    """Stops when a fixture no longer holds what the truth says it holds."""
    for rel, lines in SECRETS.items():
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read().split("\n")
        for n, (marker, _) in lines.items():
            if n > len(text) or marker not in text[n - 1]:
                die(f"ground truth out of date: {rel}:{n} does not contain {marker!r}")
    for rel, (first, last, _) in KEY_BLOCKS.items():
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read().split("\n")
        if len(text) < last or "-----BEGIN" not in text[first - 1] or "-----END" not in text[last - 1]:
            die(f"ground truth out of date: {rel} lines {first}-{last} are not one key block")
    for (rel, kind) in K8S_TRUTH:
        text = open(os.path.join(root, rel), encoding="utf-8").read()
        if f"kind: {kind}" not in text:
            die(f"ground truth out of date: {rel} has no {kind}")
    on_disk = sorted(os.path.relpath(os.path.join(d, f), root)
                     for d, _, fs in os.walk(os.path.join(root, SECRETS_DIR)) for f in fs)
    return on_disk


# --- secrets scoring -----------------------------------------------------------------------------
def fold(rel, line):
    """A reported line inside a key block counts for the block's first line."""
    block = KEY_BLOCKS.get(rel)
    if block and block[0] <= line <= block[1]:
        return (rel, block[0])
    return (rel, line)


def truth_secret_items():
    return {(rel, n) for rel, lines in SECRETS.items() for n in lines}


def vigil_secret_lines(doc):
    out = defaultdict(set)
    for f in doc["findings"]:
        if f.get("state") != "fail":
            continue
        rel, line = (f.get("target") or {}).get("file"), (f.get("location") or {}).get("line")
        if rel and line:
            out[fold(rel, line)].add(f["control"])
    return out


def detect_secrets_lines(doc):
    out = defaultdict(set)
    for rel, hits in doc.get("results", {}).items():
        for h in hits:
            out[fold(os.path.normpath(rel), h["line_number"])].add(h["type"])
    return out


def score_secrets(reported, truth):
    got = set(reported)
    return {"tp": sorted(truth & got), "miss": sorted(truth - got), "fa": sorted(got - truth)}


# --- Kubernetes scoring --------------------------------------------------------------------------
_names = defaultdict(set)


def object_key(rel, kind, name):
    """Objects are keyed by file and kind; stops if a file ever holds two objects of one kind."""
    _names[(rel, kind)].add(name)
    if len(_names[(rel, kind)]) > 1:
        die(f"{rel} holds several {kind} objects ({', '.join(sorted(_names[(rel, kind)]))}): "
            "key the Kubernetes ground truth by name as well")
    return (rel, kind)


def vigil_k8s(doc):
    """(file, kind) -> {class: {control}}, and the files vigil reported an error for."""
    out, errors = defaultdict(lambda: defaultdict(set)), {}
    for f in doc["findings"]:
        t = f.get("target") or {}
        if f.get("state") == "error" and t.get("file"):
            errors[t["file"]] = f.get("message", "")
        if f.get("state") != "fail" or f["control"] not in VIGIL_K8S:
            continue
        parts = t["object"].split("/")
        out[object_key(t["file"], parts[0], parts[-1])][VIGIL_K8S[f["control"]]].add(f["control"])
    return out, errors


def checkov_k8s(docs, root):
    """(file, kind) -> {check_id}, every object Checkov evaluated, check names, parse errors, and
    the failures of graph checks (CKV2_*), which Checkov reports on Pods it derives from templates."""
    failed, seen, names, parse_errors, graph = defaultdict(set), set(), {}, [], Counter()
    for doc in docs:
        for d in (doc if isinstance(doc, list) else [doc]):
            results = d.get("results") or {}
            parse_errors += results.get("parsing_errors", [])
            for key in ("failed_checks", "passed_checks"):
                for c in results.get(key, []):
                    rel = os.path.normpath(c["file_path"].lstrip("/"))
                    if not os.path.exists(os.path.join(root, rel)):
                        die(f"cannot place Checkov's file path {c['file_path']!r} in the repository")
                    names[c["check_id"]] = c["check_name"]
                    if c["check_id"].startswith("CKV2_"):
                        graph[c["check_id"]] += key == "failed_checks"
                        continue
                    parts = c["resource"].split(".", 2)
                    obj = object_key(rel, parts[0], parts[-1])
                    seen.add(obj)
                    if key == "failed_checks":
                        failed[obj].add(c["check_id"])
    return failed, seen, names, parse_errors, graph


def score_k8s(reported):
    """reported: object -> set of classes. Only objects and classes of the vocabulary are scored."""
    truth = {(obj, c) for obj, cs in K8S_TRUTH.items() for c in cs}
    got = {(obj, c) for obj, cs in reported.items() for c in cs}
    return {"tp": sorted(truth & got), "miss": sorted(truth - got), "fa": sorted(got - truth)}


def obj_name(obj):
    rel, kind = obj
    return f"`{rel}` {kind}"


def main():
    if len(sys.argv) != 3:
        die("usage: peers.py OUT_DIR ROOT")
    out_dir, root = sys.argv[1], sys.argv[2]
    on_disk = check_truth(root)
    versions = open(os.path.join(out_dir, "versions.txt")).read().strip().splitlines()

    # secrets
    truth = truth_secret_items()
    vs = vigil_secret_lines(load(os.path.join(out_dir, "vigil-secrets.json")))
    ds = detect_secrets_lines(load(os.path.join(out_dir, "detect-secrets.json")))
    sec = {"vigil": score_secrets(vs, truth), "detect-secrets": score_secrets(ds, truth)}
    sec_rules = {"vigil": vs, "detect-secrets": ds}

    # Kubernetes
    vdoc = load(os.path.join(out_dir, "vigil-k8s.json"))
    vk, vigil_errors = vigil_k8s(vdoc)
    ck_docs = [load(p) for p in sorted(glob.glob(os.path.join(out_dir, "checkov-*.json")))]
    ck_failed, ck_seen, ck_names, ck_parse_errors, ck_graph = checkov_k8s(ck_docs, root)
    ck_classes = {obj: {CHECKOV_K8S[i][0] for i in ids if i in CHECKOV_K8S} for obj, ids in ck_failed.items()}
    k8s = {"vigil": score_k8s(vk), "Checkov": score_k8s(ck_classes)}
    # Sensitivity: CKV_K8S_40 (runAsUser >= 10000) read as the runAsUser 0 class as well.
    ck_alt = {obj: set(cs) | ({"run-as-user-0"} if CHECKOV_HIGH_UID in ck_failed.get(obj, ()) else set())
              for obj, cs in ck_classes.items()}
    ck_alt_score = score_k8s(ck_alt)

    p = print
    p("## Tools\n")
    for v in versions:
        p(f"- {v}")
    for name in ("vigil-secrets.json", "vigil-k8s.json"):
        for pol in load(os.path.join(out_dir, name)).get("policies", []):
            p(f"- vigil pack `{pol['source']}` {pol['version']} ({pol['controls']} controls)")
    p()
    p("## Results\n")
    p("| tool | secrets: true positives | secrets: misses | secrets: false alarms "
      "| Kubernetes: true positives | Kubernetes: misses | Kubernetes: false alarms |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    n = lambda s, k: str(len(s[k]))
    p(f"| vigil | {n(sec['vigil'], 'tp')} | {n(sec['vigil'], 'miss')} | {n(sec['vigil'], 'fa')} "
      f"| {n(k8s['vigil'], 'tp')} | {n(k8s['vigil'], 'miss')} | {n(k8s['vigil'], 'fa')} |")
    p(f"| detect-secrets | {n(sec['detect-secrets'], 'tp')} | {n(sec['detect-secrets'], 'miss')} "
      f"| {n(sec['detect-secrets'], 'fa')} | n/a | n/a | n/a |")
    p(f"| Checkov | n/a | n/a | n/a | {n(k8s['Checkov'], 'tp')} | {n(k8s['Checkov'], 'miss')} "
      f"| {n(k8s['Checkov'], 'fa')} |")
    p()
    p(f"Secrets: {len(truth)} real secrets (items) in {len(on_disk)} files under `{SECRETS_DIR}`; "
      f"Kubernetes: {sum(len(c) for c in K8S_TRUTH.values())} (object, defect class) pairs present "
      f"in {len(K8S_TRUTH)} workload objects.")
    p(f"With `{CHECKOV_HIGH_UID}` (runAsUser >= 10000) also read as the runAsUser 0 class, Checkov "
      f"would score {len(ck_alt_score['tp'])} true positives, {len(ck_alt_score['miss'])} misses and "
      f"{len(ck_alt_score['fa'])} false alarms.")
    p()

    # secrets detail
    p("## Secrets, item by item\n")
    p("| file:line | what | vigil | detect-secrets |")
    p("|---|---|---|---|")
    for rel, line in sorted(truth):
        what = SECRETS[rel][line][1]
        cells = []
        for tool in ("vigil", "detect-secrets"):
            rules = sec_rules[tool].get((rel, line))
            cells.append(", ".join(sorted(rules)) if rules else "**missed**")
        p(f"| `{rel}:{line}` | {what} | {cells[0]} | {cells[1]} |")
    p()
    for tool in ("vigil", "detect-secrets"):
        fa = sec[tool]["fa"]
        p(f"False alarms of {tool}: {len(fa)}" + (":" if fa else "."))
        for rel, line in fa:
            note = NEGATIVE_NOTES.get((rel, line), "near miss" if "/near-misses/" in rel else "no secret")
            p(f"- `{rel}:{line}` ({note}): {', '.join(sorted(sec_rules[tool][(rel, line)]))}")
        p()

    # Kubernetes detail
    p("## Kubernetes, object by object\n")
    p("Each cell: what the tool reported for the class (vigil control ids, Checkov check ids). "
      "TP = true positive, miss, FA = false alarm.\n")
    p("| object | class | present | vigil | Checkov |")
    p("|---|---|---|---|---|")
    ck_ids_by_class = lambda obj, c: sorted(i for i in ck_failed.get(obj, ()) if CHECKOV_K8S.get(i, ("",))[0] == c)
    objects = sorted(set(K8S_TRUTH) | set(vk) | set(ck_classes))
    for obj in objects:
        truth_cs = K8S_TRUTH.get(obj, {})
        for c in CLASS_IDS:
            v = sorted(vk.get(obj, {}).get(c, ()))
            k = ck_ids_by_class(obj, c)
            if c not in truth_cs and not v and not k:
                continue
            def cell(ids):
                if c in truth_cs:
                    return ("TP " + ", ".join(ids)) if ids else "**miss**"
                return "**FA** " + ", ".join(ids) if ids else ""
            p(f"| {obj_name(obj)} | {c} | {'yes: ' + truth_cs[c] if c in truth_cs else 'no'} "
              f"| {cell(v)} | {cell(k)} |")
    p()
    clean = [o for o, cs in K8S_TRUTH.items() if not cs]
    for o in clean:
        p(f"{obj_name(o)} has no defect of the vocabulary.")
    p()
    p("Objects each tool judged, and files it did not:\n")
    vigil_seen = {object_key(f["target"]["file"], f["target"]["object"].split("/")[0],
                             f["target"]["object"].split("/")[-1])
                  for f in vdoc["findings"] if (f.get("target") or {}).get("object")}
    for tool, seen in (("vigil", vigil_seen), ("Checkov", ck_seen)):
        missing = sorted(o for o in K8S_TRUTH if o not in seen)
        p(f"- {tool}: {len([o for o in K8S_TRUTH if o in seen])} of {len(K8S_TRUTH)} workload objects"
          + (f"; never saw {', '.join(obj_name(o) for o in missing)}" if missing else ""))
    for rel, why in sorted(K8S_NOT_SCORED.items()):
        v = vigil_errors.get(rel)
        ck = [e for e in ck_parse_errors if rel in str(e)]
        p(f"- `{rel}` ({why}): vigil {'reports an error (' + v.split(';')[0] + ')' if v else 'reports no error'}; "
          f"Checkov {'lists it as a parsing error' if ck else 'reports nothing about it'}")
    p()
    p("## Checkov checks outside the vocabulary (listed, not scored)\n")
    p("| check | title | objects failed |")
    p("|---|---|---:|")
    counts = Counter(i for ids in ck_failed.values() for i in ids if i not in CHECKOV_K8S)
    counts.update({i: n for i, n in ck_graph.items() if n})
    key = lambda i: (i.split("_")[0], int(i.rsplit("_", 1)[1]))
    for i in sorted(counts, key=key):
        p(f"| {i} | {ck_names.get(i, '')} | {counts[i]} |")
    p()
    p("## Checkov checks scored\n")
    p("| check | title | class | note |")
    p("|---|---|---|---|")
    for i in sorted(CHECKOV_K8S, key=key):
        c, note = CHECKOV_K8S[i]
        p(f"| {i} | {ck_names.get(i, '(not run)')} | {c} | {note} |")
    p()
    p("## vigil controls scored\n")
    titles = {c["id"]: c["title"] for c in vdoc["controls"]}
    p("| control | title | class |")
    p("|---|---|---|")
    for i in sorted(VIGIL_K8S):
        p(f"| {i} | {titles.get(i, '')} | {VIGIL_K8S[i]} |")


if __name__ == "__main__":
    main()
