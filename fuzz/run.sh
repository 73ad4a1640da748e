#!/usr/bin/env bash
# Fuzzes vigil's readers with libFuzzer (cargo fuzz, on the nightly toolchain).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     # default: 600 seconds for each of every target
#
# Each target starts from a seed corpus taken from testdata/ (the bundled policies for the policy
# loader, the fixture roots for the host files) and runs for SECONDS, two targets at a time. A crash, a timeout (one input taking
# over 10 s) or an out-of-memory (over 2 GB) stops that target and leaves the input in
# fuzz/artifacts/TARGET/; fix the defect, then copy the input to fuzz/regressions/TARGET/ so
# `cargo test --test fuzz_regressions` keeps it fixed. The table at the end gives executions and
# findings per target.
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
all=(sshd nginx sysctl ini toml json env kubernetes yaml policy pem der host ssh tls suppressions cache results dockerfile terraform)
targets=("${@:-${all[@]}}")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# Seeds: every bundled file a target's reader would be given in a scan.
seed() {
    local target=$1 dir=corpus/$1
    mkdir -p "$dir"
    local -a find_args
    case $target in
        sshd) find_args=(-path '*testdata/ssh*' -type f) ;;
        nginx) find_args=(-path '*testdata/*nginx*' -type f) ;;
        sysctl) find_args=(-path '*testdata/*sysctl*' -type f) ;;
        ini) find_args=(\( -name '*.ini' -o -name '*.cfg' -o -name '*.cnf' \)) ;;
        toml) find_args=(-name '*.toml') ;;
        dockerfile) find_args=(\( -name 'Dockerfile*' -o -name 'Containerfile' -o -name '*.dockerfile' \)) ;;
        terraform) find_args=(-name '*.tf') ;;
        json) find_args=(-name '*.json' -size -200k) ;;
        env) find_args=(\( -name '*.env' -o -name '.env' -o -name '*.properties' -o -name 'login.defs' \)) ;;
        kubernetes | yaml) find_args=(\( -name '*.yaml' -o -name '*.yml' \)) ;;
        policy) find_args=(-name '*.yaml' -path '*polic*') ;;
        pem) find_args=(\( -name '*.pem' -o -name '*.crt' -o -name '*.key' -o -name '*.cer' \)) ;;
        der) find_args=(\( -name '*.der' -o -name '*.p8' \)) ;;
        suppressions) find_args=(-path '*testdata/suppressions*' -type f) ;;
        # Server answers recorded from OpenSSH and OpenSSL, the records of a verdict cache of
        # testdata/ssh, and small result documents of both schemas (one with its members sorted),
        # kept in regressions/.
        ssh | tls | cache | results) find_args=(-false) ;;
        host)
            # One seed per fixture root: its files in the harness's order, joined by NUL bytes.
            for root in ../testdata/roots/*/; do
                local out
                out="$dir/$(basename "$root")"
                : >"$out"
                for f in etc/passwd etc/shadow etc/group etc/login.defs var/lib/dpkg/status \
                    etc/fstab etc/security/limits.conf usr/lib/os-release; do
                    cat "$root$f" >>"$out" 2>/dev/null || true
                    printf '\0' >>"$out"
                done
            done
            cp -t "$dir" regressions/"$target"/* 2>/dev/null || true
            return ;;
    esac
    find ../testdata ../policies "${find_args[@]}" -size -8k -exec cp -t "$dir" {} + 2>/dev/null || true
    cp -t "$dir" regressions/"$target"/* 2>/dev/null || true
}

# No sanitizer: vigil's readers are safe Rust, so what the fuzzer hunts is panics, hangs and
# unbounded memory, which need none; without AddressSanitizer each execution is several times faster.
cargo +nightly fuzz build -O -s none
mkdir -p logs
run() {
    local t=$1
    seed "$t"
    mkdir -p "artifacts/$t"
    cargo +nightly fuzz run -O -s none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$t.log" 2>&1 || true
}
pending=("${targets[@]}")
while [ ${#pending[@]} -gt 0 ]; do
    run "${pending[0]}" &
    if [ ${#pending[@]} -gt 1 ]; then run "${pending[1]}" & fi
    wait
    pending=("${pending[@]:2}")
done

printf '%-12s %14s %8s %s\n' target executions crashes artifacts
for t in "${targets[@]}"; do
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    found=$(find "artifacts/$t" -type f | wc -l)
    printf '%-12s %14s %8s %s\n' "$t" "${execs:-?}" "$found" "$(find "artifacts/$t" -type f | head -3 | tr '\n' ' ')"
done
