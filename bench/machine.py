"""What the benchmark summaries say about the machine and the code they measured: shared by the
report steps of bench/certs.sh, bench/run.sh and bench/scale.sh (they put bench/ on PYTHONPATH)."""

import os
import platform
import subprocess


def version(cmd):
    """The first line a command prints (`hyperfine --version`), or `?`."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
    except Exception:
        return "?"


def cpu():
    """The CPU model."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commit(repo=REPOSITORY):
    """`git describe --always` of the repository at `repo` (by default the one holding this file),
    with `-dirty` when a tracked file outside bench/results/ was changed: a benchmark's own earlier
    results do not make the code it measures dirty. `?` without git."""
    try:
        rev = subprocess.run(["git", "-C", repo, "describe", "--always"],
                             capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no",
                                  "--", ".", ":(exclude)bench/results"],
                                 capture_output=True, text=True).stdout.strip()
        return (rev + ("-dirty" if changed else "")) if rev else "?"
    except Exception:
        return "?"


def portable(command, tree):
    """`command` as a reader can run it anywhere: the repository's own paths relative to its root
    (commands run from there), the benchmarked tree as `TREE`. A tracked summary names no path of
    the machine that measured it."""
    return command.replace(tree, "TREE").replace(REPOSITORY + "/", "")
