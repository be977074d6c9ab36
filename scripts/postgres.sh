#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian's package) on a loopback port, for the test suite.
# Prints the SQLAlchemy URL to use. Usage: scripts/postgres.sh start|stop DIR
# fsync is off for tests (a throwaway database); PG_FSYNC=on gives the durable default, for benchmarks.
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
port=${PGPORT_TEST:-55432}

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir" -U facetrust --auth=trust >/dev/null
    fi
    as_pg "$bin/pg_ctl" -D "$dir" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off}" \
        -l "$dir/server.log" -w start >/dev/null
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U facetrust facetrust_test 2>/dev/null || true
    echo "postgresql+psycopg://facetrust@127.0.0.1:$port/facetrust_test"
    ;;
stop)
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
esac
