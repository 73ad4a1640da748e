#!/usr/bin/env bash
# A PostgreSQL server for trying the shared history on one machine, from Debian's postgresql
# package: a cluster in DIR, listening on 127.0.0.1 only, with a generated password.
#
# usage: local-postgres.sh start DIR [PORT]   (default port 55432)
#        local-postgres.sh stop DIR
#
# `start` writes the history's URL, password included, to DIR/url (readable by you alone) and
# prints how to use it:
#     export VIGIL_HISTORY="$(cat DIR/url)"
#     vigil scan ... --host-name web-01        # every run is stored on the server
#     vigil fleet report -o fleet.html
# It is idempotent: starting a running cluster only prints its URL again.
set -euo pipefail

usage() { sed -n '5,6p' "$0" | sed 's/^# //' >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
dir=$2
port=${3:-55432}

bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
    echo "local-postgres.sh: PostgreSQL not found: sudo apt-get install postgresql (or set PG_BIN)" >&2
    exit 2
fi

# initdb and postgres refuse to run as root: then the cluster belongs to the postgres user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case $action in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -x "$dir"; then
            echo "local-postgres.sh: the postgres user cannot reach $dir (a parent directory is closed to it): pick another directory" >&2
            exit 2
        fi
    fi
    if [ ! -d "$dir/data" ]; then
        password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
        umask 077
        printf '%s' "$password" >"$dir/password"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir/password"
        as_owner "$bin/initdb" -D "$dir/data" -U vigil --auth-local=trust \
            --auth-host=scram-sha-256 --pwfile="$dir/password" >"$dir/initdb.log"
        printf 'postgres://vigil:%s@127.0.0.1:%s/vigil\n' "$password" "$port" >"$dir/url"
        rm -f "$dir/password"
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir'" start
        as_owner "$bin/psql" -h "$dir" -p "$port" -U vigil -d postgres -qAt \
            -c "SELECT 1 FROM pg_database WHERE datname = 'vigil'" | grep -q 1 ||
            as_owner "$bin/createdb" -h "$dir" -p "$port" -U vigil vigil
    fi
    cat <<EOF
PostgreSQL is running on 127.0.0.1:$port (cluster in $dir/data).
The history's URL, with its password, is in $dir/url:
    export VIGIL_HISTORY="\$(cat $dir/url)"
Stop it with: $0 stop $dir
EOF
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -w -s -m fast stop || true
    fi
    ;;
*)
    usage
    ;;
esac
