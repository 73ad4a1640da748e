#!/usr/bin/env python3
"""Extract the `check: pattern:` regexes of a vigil policy pack, for ripgrep.

The secrets pack writes every pattern as a single-quoted YAML scalar on one line:

      pattern: '<regex>'

In a single-quoted YAML scalar a backslash is literal and '' stands for one quote, so the regex is
the text between the outer quotes with '' replaced by '. Only those lines are read (python3 stdlib
only; PyYAML is not needed). Any other `pattern:` line (double-quoted, plain, block scalar) is an
error rather than a silent mis-parse.

Usage:
  patterns.py POLICY.yaml            one regex per line (for reading)
  patterns.py --rg-args POLICY.yaml  shell-quoted `-e '(?:<regex>)'` arguments for ripgrep

With --rg-args each pattern is rewritten, without changing what it matches, so that ripgrep 13
(Debian's, built on regex 1.5) accepts all of them together:

- every pattern is wrapped in a non-capturing group: ripgrep 13 joins its -e patterns with a bare
  `|`, so an inline flag such as the `(?i)` that starts some patterns would otherwise leak into
  every pattern after it (BurntSushi/ripgrep#2480, fixed in ripgrep 14);
- named groups `(?P<name>...)` (or `(?<name>...)`) become non-capturing `(?:...)`: the joined regex would repeat the
  name `secret` (an error), and ripgrep does not use captures to count;
- `\"` becomes `"`: regex 1.5 rejects escaping a character that is not a metacharacter (newer
  regex versions, which vigil uses, accept it); `"` is literal either way.
- `\n` outside a character class becomes `$`: ripgrep searches line by line and refuses a pattern
  that names a line break; a header that must end its line (SEC-019) ends there at `$`.

vigil compiles each pattern on its own, so these rewrites are what makes both tools search for the
same thing.
"""

import re
import shlex
import sys

LINE = re.compile(r"^\s+pattern:\s*(.*?)\s*$")
SINGLE_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")


def patterns(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = LINE.match(line)
            if not m:
                continue
            q = SINGLE_QUOTED.match(m.group(1))
            if not q:
                sys.exit(f"{path}:{n}: pattern is not a one-line single-quoted YAML scalar: {m.group(1)}")
            out.append(q.group(1).replace("''", "'"))
    if not out:
        sys.exit(f"{path}: no `pattern:` lines found")
    return out


def for_ripgrep(p):
    """Rewrites one pattern as described above; escapes (`\\x`) are copied as they are."""
    out = []
    i = 0
    in_class = False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            if p[i + 1] == '"':
                out.append('"')
            elif p[i + 1] == "n" and not in_class:
                out.append("$")
            else:
                out.append(p[i : i + 2])
            i += 2
        elif c == "[" and not in_class:
            in_class = True
            out.append(c)
            i += 1
            # A `]` first in a class (after an optional `^`) is a literal.
            if p.startswith("^]", i):
                out.append("^]")
                i += 2
            elif p.startswith("]", i):
                out.append("]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
            i += 1
        elif (p.startswith("(?P<", i) or re.match(r"\(\?<[A-Za-z_]", p[i:])) and ">" in p[i:]:
            out.append("(?:")
            i = p.index(">", i) + 1
        else:
            out.append(c)
            i += 1
    return "(?:" + "".join(out) + ")"


def main(argv):
    rg = False
    if argv and argv[0] == "--rg-args":
        rg, argv = True, argv[1:]
    if len(argv) != 1:
        sys.exit(__doc__)
    pats = patterns(argv[0])
    if rg:
        print(" ".join(f"-e {shlex.quote(for_ripgrep(p))}" for p in pats))
    else:
        print("\n".join(pats))


if __name__ == "__main__":
    main(sys.argv[1:])
