"""What the benchmark summaries say about the machine and the code they measured: shared by the
report steps of bench/certs.sh, bench/run.sh and bench/scale.sh (they put bench/ on PYTHONPATH)."""

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


def commit(repo):
    """`git describe --always --dirty` of the repository at `repo`, or `?`."""
    try:
        out = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        return out or "?"
    except Exception:
        return "?"
