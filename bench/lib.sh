# Shared by the benchmark scripts (sourced, not run): tool checks, the vigil binary, and the busy CPU
# time of the machine. The sourcing script sets `script` (its name, for messages) and `root`.

# The report steps import bench/machine.py.
export PYTHONPATH="$root/bench${PYTHONPATH:+:$PYTHONPATH}"

# Records a missing command with how to install it; `tools_ok` stops when any was missing.
missing=0
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "$script: \`$1\` not found. Install it with: $2" >&2
        missing=1
    fi
}
need_gnu_time() {
    [ -x /usr/bin/time ] ||
        { echo "$script: GNU time (/usr/bin/time) not found. Install it with: sudo apt-get install time" >&2; missing=1; }
}
need_vigil_build() {
    [ -n "${VIGIL_BIN:-}" ] || need cargo "https://rustup.rs (or set VIGIL_BIN to a built vigil binary)"
}
tools_ok() {
    [ "$missing" = 0 ] || exit 2
}

# Stops unless python3 can make the virtualenvs the peers are installed into.
need_venv() {
    python3 -c 'import venv, ensurepip' 2>/dev/null ||
        { echo "$script: python3 cannot create virtualenvs (sudo apt-get install python3-venv)" >&2; exit 2; }
}

# Sets `out` to OUT_DIR ($1, made when missing) as an absolute path, or, without one, to a
# temporary directory removed when the script exits.
output_dir() {
    if [ -n "${1:-}" ]; then
        mkdir -p "$1"
        out=$(cd "$1" && pwd)
    else
        out=$(mktemp -d)
        trap 'rm -rf -- "$out"' EXIT
    fi
}

# Sets `vigil` to VIGIL_BIN, or builds target/release/vigil; an absolute path either way.
vigil_binary() {
    if [ -n "${VIGIL_BIN:-}" ]; then
        vigil=$VIGIL_BIN
    else
        echo "== building vigil (cargo build --release)"
        (cd "$root" && cargo build --release --quiet)
        vigil=$root/target/release/vigil
    fi
    [ -x "$vigil" ] || { echo "$script: $vigil is not executable" >&2; exit 2; }
    vigil=$(cd "$(dirname "$vigil")" && pwd)/$(basename "$vigil")
}

# Busy (non-idle) CPU time of the whole machine, in clock ticks: compared, around a timing, with the
# CPU time hyperfine reports for the benchmarked commands, it shows how much other processes ran.
busy_ticks() {
    local _c u n s i w q sq st rest
    read -r _c u n s i w q sq st rest </proc/stat
    echo $((u + n + s + q + sq + st))
}

# pip_venv VENVS DIR PACKAGE VERSION: a virtualenv VENVS/DIR holding PACKAGE==VERSION, made once and
# reused while the version matches (the peers of the comparison scripts; pip is their only network
# use).
pip_venv() {
    local venvs=$1 dir=$1/$2 have=""
    if [ -x "$dir/bin/python" ]; then
        have=$("$dir/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$3" 2>/dev/null || true)
    fi
    if [ "$have" != "$4" ]; then
        echo "== installing $3 $4 into $dir (pip)" >&2
        rm -rf -- "$dir"
        mkdir -p "$venvs"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$3==$4" >&2 ||
            { echo "$(basename "$0"): pip could not install $3==$4 (network, or the Python package index unreachable?)" >&2; exit 2; }
    fi
}

# Sets `tree` to TREE_ROOT/tree-FILES, generating it with gen_scale_tree.py (seed 1) unless a complete
# one is there; refuses to delete a directory the generator did not make. Needs `tree_root`, `here`.
scale_tree() {
    local files=$1
    tree=$tree_root/tree-$files
    if [ ! -d "$tree" ] || ! grep -q '"complete": true' "$tree.manifest.json" 2>/dev/null; then
        [ ! -e "$tree" ] || grep -q "gen_scale_tree.py" "$tree.manifest.json" 2>/dev/null ||
            { echo "$script: $tree exists and was not made by bench/gen_scale_tree.py; pick another TREE_ROOT" >&2; exit 2; }
        rm -rf -- "$tree" "$tree.partial"
        echo "== generating $files files"
        python3 "$here/gen_scale_tree.py" "$tree" --files "$files" --seed 1
    fi
}
