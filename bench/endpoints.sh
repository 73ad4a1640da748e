#!/usr/bin/env bash
# Network endpoints against peers: wall time and peak memory of `vigil scan` probing 200 loopback TLS
# endpoints (tls-baseline pack) next to sslyze on the same 200, and 50 loopback SSH endpoints
# (ssh-baseline pack) next to ssh-audit on the same 50; then vigil's peak memory on 2,000 TLS
# inventory entries, to see whether it stays flat as the inventory grows.
#
# usage: bench/endpoints.sh [OUT_DIR]
#   OUT_DIR   keep the inputs and outputs there (default: a temporary directory, removed at the end):
#             the inventories and target lists, each tool's JSON (vigil-tls.json, sslyze-tls.json,
#             vigil-tls-big.json, vigil-ssh.json, ssh-audit-ssh.json), *.time (GNU time -v of that
#             run), hyperfine-*.json, server-cpu-*.txt (CPU seconds the servers spent per timed
#             run), ca.crt, commands.sh, versions.txt, meta.json, servers.json (port, configuration
#             and certificate of each TLS listener), summary.md (the Markdown printed on stdout)
# environment:
#   PEERS_VENV=dir            where the peers' virtualenvs live
#                             (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vigil-bench-peers)
#   SSLYZE_VERSION=6.3.1      sslyze release to install
#   SSH_AUDIT_VERSION=3.9.0   ssh-audit release to install
#   VIGIL_RUNS=10             hyperfine runs of vigil on the 200 TLS and the 50 SSH endpoints
#   BIG_RUNS=3                hyperfine runs of vigil on the 2,000 TLS entries
#   SSLYZE_RUNS=3             hyperfine runs of sslyze (over a minute each on 2 cores)
#   SSH_AUDIT_RUNS=5          hyperfine runs of ssh-audit
#   VIGIL_BIN=path            benchmark this binary instead of building target/release/vigil
#   (every hyperfine measurement follows 1 warmup run)
#
# The endpoints, all on 127.0.0.1 with ports the kernel picks:
# - 200 TLS listeners in one Python process (bench/endpoints_servers.py: the ssl module, a thread
#   per connection), six configurations (TLS 1.2+1.3 ECDHE-AEAD with HSTS; the same with DHE;
#   TLS 1.3 only; TLS 1.2 only with CBC and RSA key transport, client order; TLS 1.0-1.2 with CBC,
#   DHE and 3DES at OpenSSL security level 0; TLS 1.1-1.2 with CBC) times four certificates
#   (RSA-2048 and P-256, each CA-signed and self-signed), with renegotiation refused, allowed from
#   the server or allowed from the client, and an HTTP answer with or without
#   Strict-Transport-Security. Certificates are made with openssl in a temporary directory; the CA
#   is given to both tools (vigil --trust-store, sslyze --certinfo_ca_file).
# - 50 SSH endpoints: ten Debian /usr/sbin/sshd processes with five `Port`s each, in five
#   configurations (Debian's defaults; hardened algorithms; legacy SHA-1/CBC/MD5 with an RSA key
#   only; ECDSA key with CTR ciphers; RSA-2048 and Ed25519 keys with non-ETM MACs), temporary host
#   keys, UsePAM no. sshd needs /run/sshd, which the script creates: run it as root.
# - 2,000 TLS inventory entries: ten names for each of the 200 listeners (tls-NNN-K.vigil.test,
#   matched by the certificates' *.vigil.test), so that every entry is probed in full.
#
# Both sides use their default concurrency (vigil: 64 endpoints at once; sslyze: its own limits;
# ssh-audit: 32 threads with -T). sslyze runs the scan commands for the facts vigil collects:
# SSLv3, TLS 1.0, 1.1, 1.2 and 1.3 with every accepted suite, certificate information, fallback
# SCSV, renegotiation, compression and HTTP headers (HSTS), with the Mozilla compliance check off.
# ssh-audit runs with --skip-rate-test (its default connection-rate test opens many connections to
# estimate a DoS exposure, which vigil does not do). The servers run on the same cores as the tools.
#
# The first run installs sslyze and ssh-audit with pip, each into a virtualenv of its own; later
# runs reuse them while the versions match. pip is the only step that uses the network: every probe
# goes to 127.0.0.1. Prints Markdown on stdout, progress on stderr.
#
# Writes only under PEERS_VENV, OUT_DIR (or a temporary directory), a temporary work directory,
# /run/sshd (created when missing) and cargo's target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
venvs=${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-bench-peers}
sslyze_version=${SSLYZE_VERSION:-6.3.1}
ssh_audit_version=${SSH_AUDIT_VERSION:-3.9.0}
vigil_runs=${VIGIL_RUNS:-10}
big_runs=${BIG_RUNS:-3}
sslyze_runs=${SSLYZE_RUNS:-3}
ssh_audit_runs=${SSH_AUDIT_RUNS:-5}
tls_count=200
ssh_processes=10
ssh_ports_each=5
copies=10 # inventory entries per TLS listener in the large inventory
sshd=/usr/sbin/sshd
for n in "$vigil_runs" "$big_runs" "$sslyze_runs" "$ssh_audit_runs"; do
    case $n in '' | *[!0-9]* | 0 | 1) echo "endpoints.sh: the *_RUNS variables must be integers of 2 or more (got '$n')" >&2; exit 2 ;; esac
done

# --- tools ---------------------------------------------------------------------------------------
script=endpoints.sh
. "$here/lib.sh"
need python3 "sudo apt-get install python3"
need openssl "sudo apt-get install openssl"
need ssh-keygen "sudo apt-get install openssh-client"
need hyperfine "sudo apt-get install hyperfine   (or: cargo install --locked hyperfine)"
need_gnu_time
need_vigil_build
[ -x "$sshd" ] || { echo "endpoints.sh: $sshd not found. Install it with: sudo apt-get install openssh-server" >&2; missing=1; }
tools_ok
need_venv
mkdir -p /run/sshd 2>/dev/null ||
    { echo "endpoints.sh: cannot create /run/sshd, which sshd needs (run as root)" >&2; exit 2; }

work=$(mktemp -d)
server_pid=""
sshd_pids=()
out=""
out_is_temp=0
cleanup() {
    local pid
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    for pid in ${sshd_pids[@]+"${sshd_pids[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
    [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
    for pid in ${sshd_pids[@]+"${sshd_pids[@]}"}; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$work"
    [ "$out_is_temp" = 0 ] || rm -rf -- "$out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ $# -gt 0 ]; then
    out=$1
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
else
    out=$(mktemp -d)
    out_is_temp=1
fi

pip_venv "$venvs" sslyze sslyze "$sslyze_version"
pip_venv "$venvs" ssh-audit ssh-audit "$ssh_audit_version"
sslyze=$venvs/sslyze/bin/sslyze
ssh_audit=$venvs/ssh-audit/bin/ssh-audit

vigil_binary >&2

q() { printf '%q' "$1"; }

# --- certificates --------------------------------------------------------------------------------
echo "== certificates and keys (openssl, ssh-keygen) in $work" >&2
certs=$work/certs
mkdir -p "$certs"
san="subjectAltName=DNS:*.vigil.test,DNS:localhost,IP:127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/ca.key" -out "$certs/ca.crt" -days 3650 \
    -subj "/CN=vigil bench CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf '%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    "$san" >"$certs/leaf.ext"
for key in rsa2048 p256; do
    case $key in
    rsa2048) newkey=(-newkey rsa:2048) ;;
    p256) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    esac
    # CA-signed: the leaf, then the CA (the chain the server presents).
    openssl req "${newkey[@]}" -nodes -keyout "$certs/$key-ca.key" -out "$work/$key.csr" \
        -subj "/CN=tls.vigil.test" 2>/dev/null
    openssl x509 -req -in "$work/$key.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
        -set_serial "$((RANDOM * 32768 + RANDOM + 1))" -days 365 -extfile "$certs/leaf.ext" \
        -out "$work/$key-ca.leaf" 2>/dev/null
    cat "$work/$key-ca.leaf" "$certs/ca.crt" >"$certs/$key-ca.crt"
    # Self-signed.
    openssl req -x509 "${newkey[@]}" -nodes -keyout "$certs/$key-self.key" -out "$certs/$key-self.crt" \
        -days 365 -subj "/CN=tls.vigil.test" -addext "$san" 2>/dev/null
done
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$certs/ffdhe2048.pem" 2>/dev/null
cp "$certs/ca.crt" "$out/ca.crt"
ca=$out/ca.crt

keys=$work/ssh
mkdir -p "$keys"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$keys/ed25519"
ssh-keygen -q -t ecdsa -b 256 -N '' -C '' -f "$keys/ecdsa"
ssh-keygen -q -t rsa -b 3072 -N '' -C '' -f "$keys/rsa"
ssh-keygen -q -t rsa -b 2048 -N '' -C '' -f "$keys/rsa2048"

# --- TLS servers ---------------------------------------------------------------------------------
echo "== $tls_count TLS listeners (bench/endpoints_servers.py)" >&2
ready=$work/tls-ready.json
python3 "$here/endpoints_servers.py" serve "$certs" "$tls_count" "$ready" 2>"$work/tls-server.log" &
server_pid=$!
for _ in $(seq 600); do
    [ ! -s "$ready" ] || break
    kill -0 "$server_pid" 2>/dev/null ||
        { echo "endpoints.sh: the TLS server exited:" >&2; cat "$work/tls-server.log" >&2; exit 2; }
    sleep 0.1
done
[ -s "$ready" ] || { echo "endpoints.sh: the TLS server did not start within 60 s" >&2; exit 2; }
cp "$ready" "$out/servers.json"

# --- SSH servers ---------------------------------------------------------------------------------
ssh_count=$((ssh_processes * ssh_ports_each))
echo "== $ssh_count SSH endpoints ($ssh_processes sshd processes, $ssh_ports_each ports each)" >&2
python3 "$here/endpoints_servers.py" free-ports "$ssh_count" >"$work/ssh-ports"
mapfile -t ssh_ports <"$work/ssh-ports"
sshd_config() { # INDEX: the configuration-specific lines
    case $(($1 % 5)) in
    0) # Debian's defaults, three host keys
        printf 'HostKey %s\n' "$keys/ed25519" "$keys/ecdsa" "$keys/rsa" ;;
    1) # hardened
        printf 'HostKey %s\n' "$keys/ed25519" "$keys/rsa"
        echo "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"
        echo "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
        echo "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"
        echo "HostKeyAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256" ;;
    2) # legacy: SHA-1 key exchanges, CBC and 3DES, HMAC-MD5, ssh-rsa signatures
        printf 'HostKey %s\n' "$keys/rsa"
        echo "KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1"
        echo "Ciphers +3des-cbc,aes128-cbc,aes256-cbc"
        echo "MACs +hmac-md5,hmac-sha1-96"
        echo "HostKeyAlgorithms +ssh-rsa" ;;
    3) # ECDSA host key, NIST curves, CTR ciphers, non-ETM MACs with SHA-1
        printf 'HostKey %s\n' "$keys/ecdsa"
        echo "KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group-exchange-sha256"
        echo "Ciphers aes128-ctr,aes192-ctr,aes256-ctr"
        echo "MACs hmac-sha2-256,hmac-sha2-512,hmac-sha1" ;;
    4) # RSA-2048 and Ed25519 host keys, group14-sha256
        printf 'HostKey %s\n' "$keys/rsa2048" "$keys/ed25519"
        echo "KexAlgorithms curve25519-sha256,diffie-hellman-group14-sha256"
        echo "MACs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512" ;;
    esac
}
for i in $(seq 0 $((ssh_processes - 1))); do
    conf=$work/sshd-$i.conf
    {
        for j in $(seq 0 $((ssh_ports_each - 1))); do
            echo "Port ${ssh_ports[i * ssh_ports_each + j]}"
        done
        echo "ListenAddress 127.0.0.1"
        echo "PidFile $work/sshd-$i.pid"
        echo "UsePAM no"
        echo "PermitRootLogin no"
        echo "PasswordAuthentication no"
        echo "KbdInteractiveAuthentication no"
        echo "AuthorizedKeysFile none"
        echo "MaxStartups 1000"
        echo "LoginGraceTime 30"
        echo "LogLevel ERROR"
        sshd_config "$i"
    } >"$conf"
    "$sshd" -t -f "$conf" || { echo "endpoints.sh: sshd rejects $conf" >&2; exit 2; }
    "$sshd" -D -f "$conf" -E "$work/sshd-$i.log" &
    sshd_pids+=($!)
done
for port in "${ssh_ports[@]}"; do
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue 2; fi
        sleep 0.1
    done
    echo "endpoints.sh: nothing listens on 127.0.0.1:$port after 10 s (see $work/sshd-*.log)" >&2
    cat "$work"/sshd-*.log >&2
    exit 2
done

# --- inputs and commands -------------------------------------------------------------------------
python3 "$here/endpoints_servers.py" inputs "$ready" "$work/ssh-ports" "$out" "$copies"
big_count=$((tls_count * copies))
tls_policy=$root/policies/tls-baseline.yaml
ssh_policy=$root/policies/ssh-baseline.yaml

# vigil_tls INVENTORY OUTPUT, and the like: the command lines, as strings for hyperfine.
vigil_tls() {
    echo "$(q "$vigil") scan --targets $(q "$1") --policy $(q "$tls_policy") --trust-store $(q "$ca") --format json --output $(q "$2") --fail-on none"
}
sslyze_tls() {
    echo "$(q "$sslyze") --quiet --json_out=$(q "$1") --targets_in $(q "$out/sslyze-targets.txt") --certinfo_ca_file $(q "$ca") --mozilla_config disable --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo --fallback --reneg --compression --http_headers"
}
vigil_ssh() {
    echo "$(q "$vigil") scan --targets $(q "$out/ssh.yaml") --policy $(q "$ssh_policy") --format json --output $(q "$1") --fail-on none"
}
ssh_audit_ssh() { # ssh-audit writes its JSON on stdout
    echo "$(q "$ssh_audit") --skip-rate-test -j -T $(q "$out/ssh-audit-targets.txt") >$(q "$1")"
}
{
    echo "# inventories and target lists in $out; the endpoints exist only while bench/endpoints.sh runs"
    echo "# $tls_count TLS endpoints"
    vigil_tls "$out/tls-200.yaml" /dev/null
    sslyze_tls /dev/null
    echo "# $big_count TLS inventory entries ($copies names for each of the $tls_count listeners)"
    vigil_tls "$out/tls-big.yaml" /dev/null
    echo "# $ssh_count SSH endpoints"
    vigil_ssh /dev/null
    ssh_audit_ssh /dev/null
    echo "# before its timing, each ran once under /usr/bin/time -v with its JSON written to $out/NAME.json"
} >"$out/commands.sh"
{
    echo "vigil $("$vigil" --version | awk '{print $2}') (tree at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src policies 2>/dev/null || echo ', src/ or policies/ modified'))"
    echo "sslyze $("$venvs/sslyze/bin/python" -c 'import importlib.metadata as m; print(m.version("sslyze"))') (nassl $("$venvs/sslyze/bin/python" -c 'import importlib.metadata as m; print(m.version("nassl"))'))"
    echo "ssh-audit $("$venvs/ssh-audit/bin/python" -c 'import importlib.metadata as m; print(m.version("ssh-audit"))')"
    echo "OpenSSH server $("$sshd" -V 2>&1 | head -1)"
    echo "TLS servers: Python $(python3 -c 'import platform, ssl; print(platform.python_version(), "with", ssl.OPENSSL_VERSION)')"
} >"$out/versions.txt"
python3 - "$out/meta.json" <<EOF
import json, sys
json.dump({"tls_endpoints": $tls_count, "tls_big_endpoints": $big_count, "ssh_endpoints": $ssh_count,
           "cores": $(nproc), "date": "$(date -u +%Y-%m-%d)",
           "vigil_runs": $vigil_runs, "big_runs": $big_runs, "sslyze_runs": $sslyze_runs,
           "ssh_audit_runs": $ssh_audit_runs}, open(sys.argv[1], "w"))
EOF

# --- runs ----------------------------------------------------------------------------------------
# server_ticks PID...: CPU time of these processes, in clock ticks: user and system, with that of
# their reaped children (sshd forks one per connection; the TLS server's threads count as its own).
server_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        t=$(awk '{sub(/^.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$pid/stat")
        total=$((total + t))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# measure: one run of KEEP_COMMAND under GNU time -v (peak RSS; its JSON is kept), its exit code
# checked against EXIT_CODES; then TIMED_COMMAND (the same, writing its JSON to /dev/null) under
# hyperfine, 1 warmup run and RUNS runs, with the CPU time the servers (tls or ssh) spent meanwhile.
measure() { # NAME EXIT_CODES RUNS SERVERS KEEP_COMMAND TIMED_COMMAND
    local name=$1 codes=$2 runs=$3 servers=$4 keep=$5 timed=$6 rc=0 before after
    local pids=("$server_pid")
    [ "$servers" = tls ] || pids=("${sshd_pids[@]}")
    echo "== $name: one run under /usr/bin/time -v" >&2
    eval "/usr/bin/time -v -o $(q "$out/$name.time") $keep" >&2 || rc=$?
    case " $codes " in
    *" $rc "*) ;;
    *) echo "endpoints.sh: $name exited $rc (expected one of: $codes); see $out/$name.time" >&2; exit 2 ;;
    esac
    echo "== $name: hyperfine, 1 warmup + $runs runs" >&2
    before=$(server_ticks "${pids[@]}")
    hyperfine --warmup 1 --runs "$runs" --ignore-failure --output=pipe -n "$name" \
        --export-json "$out/hyperfine-$name.json" "$timed" >&2
    after=$(server_ticks "${pids[@]}")
    echo "$after $before $hz $((runs + 1))" |
        awk '{printf "%.3f\n", ($1 - $2) / $3 / $4}' >"$out/server-cpu-$name.txt"
}
# Exit codes: vigil with --fail-on none gives 1 only for an error finding (an endpoint it could not
# probe: the coverage lines of the summary count them); sslyze gives 0; ssh-audit gives 0 (good),
# 1 (connection error), 2 (warnings) or 3 (failures): the servers here have warnings and failures.
measure vigil-tls "0 1" "$vigil_runs" tls "$(vigil_tls "$out/tls-200.yaml" "$out/vigil-tls.json")" \
    "$(vigil_tls "$out/tls-200.yaml" /dev/null)"
measure sslyze-tls "0" "$sslyze_runs" tls "$(sslyze_tls "$out/sslyze-tls.json")" "$(sslyze_tls /dev/null)"
measure vigil-tls-big "0 1" "$big_runs" tls "$(vigil_tls "$out/tls-big.yaml" "$out/vigil-tls-big.json")" \
    "$(vigil_tls "$out/tls-big.yaml" /dev/null)"
measure vigil-ssh "0 1" "$vigil_runs" ssh "$(vigil_ssh "$out/vigil-ssh.json")" "$(vigil_ssh /dev/null)"
measure ssh-audit-ssh "0 1 2 3" "$ssh_audit_runs" ssh "$(ssh_audit_ssh "$out/ssh-audit-ssh.json")" \
    "$(ssh_audit_ssh /dev/null)"

# --- summary -------------------------------------------------------------------------------------
python3 "$here/endpoints_servers.py" summary "$out" | tee "$out/summary.md"
