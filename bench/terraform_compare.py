#!/usr/bin/env python3
"""Compares the terraform pack's findings with Checkov's checks of the same requirements.

usage: terraform_compare.py --checks        print the Checkov check ids, comma-separated
       terraform_compare.py OUT_DIR TREE    read OUT_DIR/{vigil,checkov,hyperfine}.json, print Markdown

A failure is a (requirement, file, resource) triple: vigil names the resource by its Terraform
address (`aws_s3_bucket.logs`), Checkov the same, with `[0]` for a resource with `count`, which is
dropped, and without the `data.` and `module.` prefixes, which are dropped from vigil's. Checkov's checks that map to one control are merged (CKV_AWS_24 and CKV_AWS_25 are SSH and
RDP, one control in vigil).
"""
import json
import os
import re
import sys

# vigil control -> the Checkov checks of the same requirement.
REQUIREMENTS = {
    "TF-001": ["CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277"],
    "TF-002": ["CKV_AWS_20", "CKV_AWS_57"],
    "TF-003": ["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"],
    "TF-004": ["CKV_AWS_3"],
    "TF-005": ["CKV_AWS_16", "CKV_AWS_96"],
    "TF-006": ["CKV_AWS_17"],
    "TF-007": ["CKV_AWS_79"],
    "TF-008": ["CKV_AWS_103"],
    "TF-009": ["CKV_AWS_2"],
    "TF-010": ["CKV_AWS_36"],
    "TF-011": ["CKV_AWS_7"],
    "TF-012": ["CKV_AZURE_44", "CKV_AZURE_3"],
    "TF-013": ["CKV_GCP_2", "CKV_GCP_3"],
    "TF-014": ["CKV_GCP_29"],
    "TF-015": ["CKV_TF_1", "CKV_TF_2"],
    "TF-016": ["CKV_AZURE_9", "CKV_AZURE_10"],
    "TF-017": ["CKV_AWS_38", "CKV_AWS_39"],
    "TF-018": ["CKV_AWS_1", "CKV_AWS_62"],
}


def vigil_failures(path, tree):
    doc = json.load(open(path))
    failed, errors = {}, 0
    for f in doc["findings"]:
        if f["state"] == "error":
            errors += 1
        if f["state"] != "fail" or f["control"] not in REQUIREMENTS:
            continue
        # Checkov names a module call by its name and a data source without `data.`.
        resource = re.sub(r"^(module|data)\.", "", f["target"].get("element", ""))
        key = (f["control"], os.path.relpath(f["target"]["file"], tree), resource)
        failed[key] = f.get("observed", "")
    return failed, errors


def checkov_failures(path):
    doc = json.load(open(path))
    reports = doc if isinstance(doc, list) else [doc]
    control_of = {c: v for v, cs in REQUIREMENTS.items() for c in cs}
    failed, errors = set(), 0
    for report in reports:
        results = report.get("results", {})
        errors += len(results.get("parsing_errors", []))
        for r in results.get("failed_checks", []):
            control = control_of.get(r["check_id"])
            if control is None:
                continue
            resource = re.sub(r"\[[^\]]*\]$", "", r["resource"])
            resource = re.sub(r"^(module|data)\.", "", resource)
            failed.add((control, r["file_path"].lstrip("/"), resource))
    return failed, errors


def main():
    if sys.argv[1:] == ["--checks"]:
        print(",".join(c for cs in REQUIREMENTS.values() for c in cs))
        return
    out, tree = sys.argv[1], sys.argv[2]
    vigil, vigil_errors = vigil_failures(os.path.join(out, "vigil.json"), tree)
    checkov, checkov_errors = checkov_failures(os.path.join(out, "checkov.json"))
    both = set(vigil) & checkov
    print(f"# Terraform: vigil against Checkov\n\n{open(os.path.join(out, 'versions.txt')).read().strip()}\n")
    print("| control | Checkov checks | both fail | only vigil | only Checkov |")
    print("|---|---|---|---|---|")
    for control, checks in REQUIREMENTS.items():
        v = {k for k in vigil if k[0] == control}
        c = {k for k in checkov if k[0] == control}
        print(f"| {control} | {', '.join(checks)} | {len(v & c)} | {len(v - c)} | {len(c - v)} |")
    print(f"| all | | {len(both)} | {len(set(vigil) - checkov)} | {len(checkov - set(vigil))} |")
    print(f"\nErrors: vigil {vigil_errors}, Checkov {checkov_errors} (parsing errors).\n")
    for title, keys in (("Only vigil fails", sorted(set(vigil) - checkov)),
                        ("Only Checkov fails", sorted(checkov - set(vigil)))):
        if keys:
            print(f"{title}:\n")
            for control, file, resource in keys:
                observed = vigil.get((control, file, resource))
                print(f"- {control} `{file}` {resource}" + (f": `{observed}`" if observed else ""))
            print()
    runs = json.load(open(os.path.join(out, "hyperfine.json")))["results"]
    times = {r["command"]: r for r in runs}
    for name in ("vigil", "checkov"):
        r = times[name]
        print(f"- {name}: {r['mean']:.3f} s ± {r['stddev']:.3f} s ({len(r['times'])} runs)")
    ratio = times["checkov"]["mean"] / times["vigil"]["mean"]
    print(f"\nvigil is {ratio:.0f} times as fast as Checkov with these checks on this tree.")


if __name__ == "__main__":
    main()
