#!/usr/bin/env bash
# Host audit against peers: wall time and peak memory of `vigil scan --root /` with the
# linux-baseline pack next to Lynis (`lynis audit system`) and OpenSCAP (`oscap xccdf eval` with the
# SCAP Security Guide's Debian datastream), on the machine it runs on. It also keeps every tool's
# verdicts, from which docs/linux-baseline-peers.md compares the three control by control.
#
# usage: bench/host.sh [OUT_DIR]
#   OUT_DIR   keep the tools' outputs there (default: a temporary directory, removed at the end):
#             vigil.json; lynis-report.dat and lynis.log; oscap.xml, oscap-deb12.xml and
#             oscap-deb12-machine.xml (the `standard` profile on the three datastreams below),
#             oscap-rules-deb12.xml and oscap-rules-deb12-machine.xml (every SSG rule the pack
#             cites); *.time (GNU time -v of each run kept); hyperfine-*.json; versions.txt;
#             netns-sysctl.txt; summary.md (the tables printed on stdout)
# environment:
#   VIGIL_BIN=path    benchmark this binary instead of building target/release/vigil
#   VIGIL_RUNS=10     hyperfine runs of vigil (after 1 warmup run)
#   OSCAP_RUNS=10     hyperfine runs of each oscap command (after 1 warmup run)
#   LYNIS_RUNS=3      hyperfine runs of Lynis (about a minute each on 2 cores; no warmup run: the run
#                     measured with GNU time just before is one)
#   OSCAP_RULES=1     0 leaves out the two untimed oscap runs of every SSG rule the pack cites; they
#                     take minutes, nearly all of it in two rules that walk every local filesystem
#
# Installs what is missing with apt-get (Debian packages lynis, openscap-scanner, ssg-debian,
# hyperfine, time), the only step that uses the network. Every peer run happens inside an empty
# network namespace when the system allows one (a warning says so when it does not): Lynis would
# otherwise run `apt-get update` (test PKGS-7392, also skipped through a profile, below) and, unless
# its profile turns the upgrade check off (Debian's does), look its latest version up in DNS with
# `dig`, `host` or `drill`. vigil opens no socket and runs in the
# machine's own namespaces, which are the ones it audits (net.* sysctls belong to a network
# namespace). Run it as root: all three tools read less (/etc/shadow, /etc/gshadow) as another user.
# Prints Markdown on stdout, progress on stderr.
#
# Writes only under OUT_DIR (or a temporary directory), a temporary work directory, cargo's target/,
# and what apt-get installs. Lynis also writes and removes its PID file (/var/run/lynis.pid as root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
policy=policies/linux-baseline.yaml
ds=/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml
profile=xccdf_org.ssgproject.content_profile_standard
vigil_runs=${VIGIL_RUNS:-10}
oscap_runs=${OSCAP_RUNS:-10}
lynis_runs=${LYNIS_RUNS:-3}
oscap_rules=${OSCAP_RULES:-1}
for n in "$vigil_runs" "$oscap_runs" "$lynis_runs"; do
    case $n in '' | *[!0-9]* | 0 | 1) echo "host.sh: VIGIL_RUNS, OSCAP_RUNS and LYNIS_RUNS must be integers of 2 or more (got '$n')" >&2; exit 2 ;; esac
done
[ "$vigil_runs" -ge 10 ] || echo "host.sh: warning: VIGIL_RUNS=$vigil_runs; vigil's mean is noisy under 10 runs" >&2

# --- tools ---------------------------------------------------------------------------------------
script=host.sh
. "$here/lib.sh"

# Debian packages of the peers, installed only when the command (or the datastream) is missing.
pkgs=()
command -v lynis >/dev/null 2>&1 || pkgs+=(lynis)
command -v oscap >/dev/null 2>&1 || pkgs+=(openscap-scanner)
[ -r "$ds" ] || pkgs+=(ssg-debian)
command -v hyperfine >/dev/null 2>&1 || pkgs+=(hyperfine)
[ -x /usr/bin/time ] || pkgs+=(time)
if [ ${#pkgs[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 ||
        { echo "host.sh: missing ${pkgs[*]} and there is no apt-get (this benchmark expects Debian)" >&2; exit 2; }
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "== installing ${pkgs[*]} (apt-get)" >&2
    # A fresh container has no package lists: update them only when the install cannot find a package.
    DEBIAN_FRONTEND=noninteractive ${sudo[@]+"${sudo[@]}"} apt-get install -y -q "${pkgs[@]}" >&2 || {
        ${sudo[@]+"${sudo[@]}"} apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive ${sudo[@]+"${sudo[@]}"} apt-get install -y -q "${pkgs[@]}" >&2
    }
fi
need python3 "sudo apt-get install python3"
need lynis "sudo apt-get install lynis"
need oscap "sudo apt-get install openscap-scanner"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need_gnu_time
need_vigil_build
tools_ok
[ -r "$ds" ] || { echo "host.sh: $ds not found (sudo apt-get install ssg-debian)" >&2; exit 2; }
[ "$(id -u)" = 0 ] ||
    echo "host.sh: warning: not running as root; /etc/shadow and /etc/gshadow cannot be read, and the verdicts differ from a root audit" >&2

vigil_binary >&2

if [ $# -gt 0 ]; then
    out=$1
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    work=$(mktemp -d)
    trap 'rm -rf -- "$work"' EXIT
else
    out=$(mktemp -d)
    work=$(mktemp -d)
    trap 'rm -rf -- "$out" "$work"' EXIT
fi
q() { printf '%q' "$1"; }

# --- an empty network namespace for the peers ----------------------------------------------------
# As root, `unshare -n` makes the network namespace alone. `unshare -rn` (the way for another user)
# also makes a user namespace that maps only the caller's uid and gid: files of any other owner or
# group then show as nobody/nogroup (65534), so /etc/shadow's group `shadow` would read as nogroup
# and the peers' owner and group checks would judge something that is not on disk.
# Inside, the loopback interface is brought up (the namespace has no other): with no interface up,
# oscap 1.3.7 stops at once ("Probe at sd=.. (system_info) reported an error", exit 1).
netns_run=$work/netns-run
cat >"$netns_run" <<'SH'
#!/bin/sh
# Runs "$@" inside a fresh network namespace after bringing its loopback interface up.
if command -v ip >/dev/null 2>&1; then
    ip link set lo up
else
    python3 -c '
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0)))[1]  # SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP'
fi || { echo "netns-run: cannot bring the loopback interface up" >&2; exit 125; }
exec "$@"
SH
chmod +x "$netns_run"
offline=()
if command -v unshare >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && unshare -n "$netns_run" true 2>/dev/null; then
        offline=(unshare -n "$netns_run")
    elif unshare -rn "$netns_run" true 2>/dev/null; then
        offline=(unshare -rn "$netns_run")
        echo "host.sh: warning: the peers run under \`unshare -rn\`, where files not owned by the caller show as nobody/nogroup" >&2
    fi
fi
if [ ${#offline[@]} -eq 0 ]; then
    echo "host.sh: warning: cannot make a network namespace (unshare -n / unshare -rn refused); the peers run with the machine's network" >&2
    offline_note="none available: the peers ran with the machine's network"
else
    offline_note="\`${offline[0]} ${offline[1]}\` (loopback up, no other interface)"
fi
# A new network namespace has net.* sysctls of its own, which need not equal the machine's: Lynis'
# KRNL-6000 reads those, vigil the machine's. Record both views.
{
    echo "# net.ipv4 sysctls: machine's namespace | namespace the peers run in"
    for k in ip_forward conf/all/accept_source_route conf/all/accept_redirects conf/all/send_redirects \
        conf/all/log_martians conf/all/rp_filter tcp_syncookies icmp_echo_ignore_broadcasts; do
        a=$(cat "/proc/sys/net/ipv4/$k" 2>/dev/null || echo absent)
        b=$(${offline[@]+"${offline[@]}"} cat "/proc/sys/net/ipv4/$k" 2>/dev/null || echo absent)
        echo "net.ipv4.${k//\//.} $a | $b"
    done
} >"$out/netns-sysctl.txt"
if awk '!/^#/ && $2 != $4 {d = 1} END {exit !d}' "$out/netns-sysctl.txt"; then
    echo "host.sh: warning: net.ipv4 sysctls differ between the machine's network namespace and the peers' (see $out/netns-sysctl.txt)" >&2
fi

# --- Lynis profile -------------------------------------------------------------------------------
# Lynis always reads /etc/lynis/default.prf (and a custom.prf found in /etc/lynis, /usr/local/etc/lynis
# or the working directory); `--profile FILE` adds FILE to those, it does not replace them. So FILE
# only carries what changes: PKGS-7392 runs `apt-get update` (network, and it rewrites
# /var/lib/apt/lists) before `apt-get --dry-run upgrade`; the upgrade check is off in Debian's
# default.prf already and stays off. A copy of default.prf would make FILE-7524 check each of its
# files twice. Lynis runs from the work directory, which holds no custom.prf.
lynis_prf=$work/host-bench.prf
printf '%s\n' 'skip-test=PKGS-7392' 'skip-upgrade-test=yes' >"$lynis_prf"
mkdir -p "$work/lynis"

# --- OpenSCAP datastreams ------------------------------------------------------------------------
# ssg-debian ships no Debian 12 datastream; the Debian 11 one is the closest. On Debian 12 it judges
# nothing and says nothing: its platform check, the OVAL definition installed_OS_is_debian11,
# matches /etc/debian_version against ^11.[0-9]+$, so every rule comes out `notapplicable` (exit 0).
# The copies below (in the work directory; the installed file is never changed) are patched with sed:
#   deb12:          that pattern becomes ^1[12].[0-9]+$ (two places: the CPE OVAL and the main
#                   OVAL component), so that Debian 11 and 12 pass the platform check;
#   deb12-machine:  also the OVAL file objects /.dockerenv and /run/.containerenv point to paths that
#                   do not exist, so that the `machine` platform ("not a container") is true inside a
#                   Docker or Podman container; otherwise every rule gated on it (sysctl, partitions,
#                   mount options, auditing, time, some account rules) is `notapplicable` there.
grep -q '\^11\.\[0-9\]+\$' "$ds" ||
    { echo "host.sh: $ds has no ^11.[0-9]+\$ platform pattern to patch (another ssg-debian release?)" >&2; exit 2; }
ds12=$work/ssg-debian11-ds-deb12.xml
ds12m=$work/ssg-debian11-ds-deb12-machine.xml
sed 's/\^11\.\[0-9\]+\$/^1[12].[0-9]+$/' "$ds" >"$ds12"
sed -e 's|<unix:filepath datatype="string">/\.dockerenv</unix:filepath>|<unix:filepath datatype="string">/.dockerenv-ignored-by-bench</unix:filepath>|' \
    -e 's|<unix:filepath datatype="string">/run/\.containerenv</unix:filepath>|<unix:filepath datatype="string">/run/.containerenv-ignored-by-bench</unix:filepath>|' \
    "$ds12" >"$ds12m"
[ "$(grep -c '\^1\[12\]\.\[0-9\]+\$' "$ds12")" -ge 1 ] && ! grep -q '>/\.dockerenv<' "$ds12m" ||
    { echo "host.sh: patching the datastream copies failed" >&2; exit 2; }

# Every SSG rule the pack cites that the datastream has (the others are upstream ComplianceAsCode ids).
rules=()
for r in $(grep -o 'SSG: \[[^]]*\]' "$policy" | sed 's/^SSG: \[//; s/\]$//; s/,/ /g' | tr ' ' '\n' | grep . | sort -u); do
    grep -q "id=\"xccdf_org.ssgproject.content_rule_$r\"" "$ds" && rules+=("$r")
done
# The two that walk every local filesystem take minutes; they are not gated on `machine` (the same
# verdict on both copies), so the machine copy's run leaves them out.
walkers=" file_permissions_unauthorized_world_writable dir_perms_world_writable_sticky_bits "

# --- versions ------------------------------------------------------------------------------------
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
vigil_version=$("$vigil" --version | awk '{print $2}')
if [ -n "${VIGIL_BIN:-}" ]; then
    vigil_origin="VIGIL_BIN=$VIGIL_BIN"
else
    vigil_origin="built from the tree at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src/ modified')"
fi
pack_version=$(awk '/^version:/ {print $2; exit}' "$policy")
lynis_version=$(deb_version lynis)
oscap_version=$(oscap --version 2>/dev/null | awk 'NR == 1 {print $NF}')
ssg_version=$(deb_version ssg-debian)
{
    echo "vigil $vigil_version ($vigil_origin), pack linux-baseline $pack_version"
    echo "Lynis $lynis_version (Debian package lynis)"
    echo "OpenSCAP $oscap_version (Debian package openscap-scanner $(deb_version openscap-scanner)), ssg-debian $ssg_version"
    echo "hyperfine $(hyperfine --version | awk '{print $2}')"
    echo "peers' network namespace: $offline_note"
} >"$out/versions.txt"

# --- commands ------------------------------------------------------------------------------------
off=""
[ ${#offline[@]} -eq 0 ] || off="${offline[0]} ${offline[1]} $(q "${offline[2]}") "
vigil_cmd="$(q "$vigil") scan --root / --policy $policy --fail-on none --format json -o $(q "$out/vigil.json")"
lynis_args="audit system --quick --no-colors --profile $(q "$lynis_prf")"
lynis_cmd="cd $(q "$work/lynis") && ${off}lynis $lynis_args --log-file $(q "$work/lynis/lynis.log") --report-file $(q "$work/lynis/lynis-report.dat") </dev/null"
oscap_eval="oscap xccdf eval --profile $profile"
oscap_cmd="${off}$oscap_eval --results $(q "$out/oscap.xml") $(q "$ds")"
oscap12_cmd="${off}$oscap_eval --results $(q "$out/oscap-deb12.xml") $(q "$ds12")"
oscap12m_cmd="${off}$oscap_eval --results $(q "$out/oscap-deb12-machine.xml") $(q "$ds12m")"

# run NAME EXPECTED_CODES COMMAND: one run under GNU time (peak RSS in OUT/NAME.time), output to
# OUT/NAME.out; stops unless the exit code is one of EXPECTED_CODES ("0 2").
run() {
    local name=$1 ok=$2 cmd=$3 rc=0
    eval "/usr/bin/time -v -o $(q "$out/$name.time") sh -c $(q "$cmd")" >"$out/$name.out" 2>&1 || rc=$?
    case " $ok " in
        *" $rc "*) ;;
        *) echo "host.sh: $name exited $rc (see $out/$name.out)" >&2; exit 2 ;;
    esac
    echo "   $name: exit $rc, $(awk -F': ' '/Elapsed \(wall clock\)/ {print $2 " wall"} /Maximum resident set size/ {print $2 " KB peak RSS"}' "$out/$name.time" | paste -sd, -)" >&2
}

# --- verdict runs (also the peak-memory runs) ----------------------------------------------------
# vigil with --fail-on none exits 0 (1 only on an error finding); oscap exits 2 when a rule fails.
echo "== one run each under GNU time (peak RSS; these outputs are kept)" >&2
run vigil "0 1" "$vigil_cmd"
run lynis "0" "$lynis_cmd"
cp "$work/lynis/lynis-report.dat" "$work/lynis/lynis.log" "$out/"
run oscap "0 2" "$oscap_cmd"
run oscap-deb12 "0 2" "$oscap12_cmd"
run oscap-deb12-machine "0 2" "$oscap12m_cmd"
if [ "$oscap_rules" != 0 ]; then
    echo "== oscap on every SSG rule the pack cites (${#rules[@]}; untimed; the filesystem walks take minutes)" >&2
    all=() quick=()
    for r in "${rules[@]}"; do
        all+=(--rule "xccdf_org.ssgproject.content_rule_$r")
        case $walkers in *" $r "*) ;; *) quick+=(--rule "xccdf_org.ssgproject.content_rule_$r") ;; esac
    done
    run oscap-rules-deb12 "0 2" "${off}oscap xccdf eval ${all[*]} --results $(q "$out/oscap-rules-deb12.xml") $(q "$ds12")"
    run oscap-rules-deb12-machine "0 2" "${off}oscap xccdf eval ${quick[*]} --results $(q "$out/oscap-rules-deb12-machine.xml") $(q "$ds12m")"
fi

# --- timings -------------------------------------------------------------------------------------
# Each hyperfine call is bracketed by the machine's busy CPU time, to tell how much other processes
# ran meanwhile (lib.sh: busy_ticks).
# time_it NAME HYPERFINE_ARGS...: hyperfine -> OUT/hyperfine-NAME.json, busy ticks -> OUT/busy-NAME.txt
time_it() {
    local name=$1 t0 t1 b0 b1
    shift
    b0=$(busy_ticks)
    t0=$(date +%s.%N)
    hyperfine --output=null --style=basic --export-json "$out/hyperfine-$name.json" "$@" >&2
    b1=$(busy_ticks)
    t1=$(date +%s.%N)
    echo "$((b1 - b0)) $(getconf CLK_TCK) $t0 $t1" >"$out/busy-$name.txt"
}
echo "== hyperfine: vigil, 1 warmup + $vigil_runs runs" >&2
time_it vigil --warmup 1 --runs "$vigil_runs" -n vigil "$vigil_cmd"
echo "== hyperfine: oscap (3 datastreams), 1 warmup + $oscap_runs runs each" >&2
time_it oscap --warmup 1 --runs "$oscap_runs" --ignore-failure \
    -n oscap "$oscap_cmd" -n oscap-deb12 "$oscap12_cmd" -n oscap-deb12-machine "$oscap12m_cmd"
echo "== hyperfine: Lynis, $lynis_runs runs (about a minute each on 2 cores)" >&2
time_it lynis --runs "$lynis_runs" -n lynis "$lynis_cmd"

# --- report --------------------------------------------------------------------------------------
python3 - "$out" "$root" "$vigil_version" "$pack_version" "$lynis_version" "$oscap_version" "$ssg_version" \
    "$offline_note" "$policy" "$profile" "$vigil_origin" <<'PY' | tee "$out/summary.md"
import collections, json, os, platform, sys, time
import xml.etree.ElementTree as ET
from machine import cpu, version

out, root, vv, pv, lv, ov, sv, offline, policy, profile, origin = sys.argv[1:]
cores = os.cpu_count()
hf = {}
busy = {}
for group in ("vigil", "oscap", "lynis"):
    for r in json.load(open(f"{out}/hyperfine-{group}.json"))["results"]:
        hf[r["command"]] = (group, r)
    b, hz, t0, t1 = open(f"{out}/busy-{group}.txt").read().split()
    busy[group] = (int(b) / int(hz), float(t1) - float(t0))

def rss_kb(name):
    for line in open(f"{out}/{name}.time"):
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    return None

def oscap_counts(name):
    path = f"{out}/{name}.xml"
    if not os.path.exists(path):
        return None
    c = collections.Counter()
    for _, el in ET.iterparse(path):
        if el.tag.endswith("}rule-result"):
            for ch in el:
                if ch.tag.endswith("}result") and ch.text != "notselected":
                    c[ch.text] += 1
            el.clear()
    return c

# Codes the timed runs ended with: vigil 0, Lynis 0, oscap 0 or 2.
for name, (group, r) in hf.items():
    codes = set(r.get("exit_codes") or [])
    allowed = {0, 2} if group == "oscap" else {0, 1} if group == "vigil" else {0}
    if not codes <= allowed:
        sys.exit(f"host.sh: {name}: unexpected exit codes in the timed runs: {sorted(codes)}")

ds = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml"
rows = [
    ("vigil", f"{vv} (pack linux-baseline {pv})",
     f"`vigil scan --root / --policy {policy} --fail-on none --format json -o OUT/vigil.json`"),
    ("lynis", f"Lynis {lv}",
     "`lynis audit system --quick --no-colors --profile TMP/host-bench.prf --log-file TMP/lynis.log "
     "--report-file TMP/lynis-report.dat` (TMP/host-bench.prf: `skip-test=PKGS-7392`, `skip-upgrade-test=yes`)"),
    ("oscap", f"OpenSCAP {ov}, ssg-debian {sv}",
     f"`oscap xccdf eval --profile {profile} --results OUT/oscap.xml {ds}`"),
    ("oscap-deb12", f"OpenSCAP {ov}, ssg-debian {sv}",
     "same, on a copy of the datastream patched to accept Debian 12 (`--results OUT/oscap-deb12.xml`)"),
    ("oscap-deb12-machine", f"OpenSCAP {ov}, ssg-debian {sv}",
     "same, on a copy that also ignores `/.dockerenv` and `/run/.containerenv` (`--results OUT/oscap-deb12-machine.xml`)"),
]
base = hf["vigil"][1]["mean"]
base_rss = rss_kb("vigil")
def mib(kb):
    return f"{kb / 1024:.1f} MiB" if kb is not None else "?"
def secs(mean, sd):
    d = 3 if mean < 10 else 1
    return f"{mean:.{d}f} s ± {sd:.{d}f} s"

print(f"## Host audit: vigil, Lynis and OpenSCAP on this machine\n")
def os_name():
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip().strip('"')
                break
        else:
            name = "?"
    except OSError:
        name = "?"
    try:
        name += f" ({open('/etc/debian_version').read().strip()})"
    except OSError:
        pass
    return name

print(f"{time.strftime('%Y-%m-%d')}; {cores} cores ({cpu()}), kernel {platform.release()}; {os_name()}; "
      f"`/.dockerenv` {'exists' if os.path.exists('/.dockerenv') else 'absent'}; "
      f"vigil {origin}; {version(['hyperfine', '--version'])}; peers' network namespace: {offline}.\n")
print("| tool | version | command | runs | mean wall time ± sd | peak RSS | time ÷ vigil | RSS ÷ vigil |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for name, ver, cmd in rows:
    group, r = hf[name]
    rss = rss_kb(name)
    ratio = "1" if name == "vigil" else f"{r['mean'] / base:.0f}×" if r["mean"] / base >= 10 else f"{r['mean'] / base:.1f}×"
    rratio = "1" if name == "vigil" else (f"{rss / base_rss:.1f}×" if rss and base_rss else "?")
    print(f"| {name} | {ver} | {cmd} | {len(r['times'])} | {secs(r['mean'], r['stddev'])} | {mib(rss)} | {ratio} | {rratio} |")
print()
print("Peak RSS: GNU time's \"Maximum resident set size\" of one run, the largest single process of the run "
      "(Lynis is a shell script that runs many short-lived commands; oscap and vigil are one process each).")
for group, (b, wall) in busy.items():
    ours = sum((r["user"] + r["system"]) * (len(r["times"]) + (1 if group != "lynis" else 0))
               for g, r in hf.values() if g == group)
    other = 100 * max(0.0, b - ours) / (wall * cores) if wall > 0 else 0.0
    print(f"- {group} timing: other processes used {other:.1f}% of the machine's CPU time meanwhile")
    if other > 3:
        print(f"host.sh: warning: other processes used {other:.1f}% of the CPU during the {group} timing; rerun on a quiet machine",
              file=sys.stderr)

# What each tool judged.
print("\n### Verdicts of the kept runs\n")
doc = json.load(open(f"{out}/vigil.json"))
s = doc["summary"]["by_state"]
print(f"- vigil: {doc['summary']['total']} controls: " + ", ".join(f"{n} {k}" for k, n in sorted(s.items())))
rep = open(f"{out}/lynis-report.dat", errors="replace").read().splitlines()
def field(key):
    return [l.split("=", 1)[1] for l in rep if l.startswith(key + "=")]
executed = (field("tests_executed") or [""])[0].strip("|").split("|")
skipped = (field("tests_skipped") or [""])[0].strip("|").split("|")
warn = [l for l in rep if l.startswith("warning[]=")]
sugg = [l for l in rep if l.startswith("suggestion[]=")]
print(f"- Lynis: {len([t for t in executed if t])} tests executed, {len([t for t in skipped if t])} skipped, "
      f"warnings: {len(warn)}, suggestions: {len(sugg)}, hardening index {(field('hardening_index') or ['?'])[0]}")
for name in ("oscap", "oscap-deb12", "oscap-deb12-machine", "oscap-rules-deb12", "oscap-rules-deb12-machine"):
    c = oscap_counts(name)
    if c is not None:
        print(f"- {name}.xml: {sum(c.values())} rules selected: " + ", ".join(f"{n} {k}" for k, n in sorted(c.items())))
if (oscap_counts("oscap") or {}).keys() == {"notapplicable"}:
    print("\nThe installed Debian 11 datastream judged nothing on this machine: every rule is `notapplicable`, "
          "and oscap exited 0 all the same.")
PY
[ $# -eq 0 ] || echo "== outputs in $out" >&2
