#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on 127.0.0.1 for the distributed Optuna test and prints the DSN.
#
#   eval "$(.ci/postgres.sh)"        # exports LSWAG_TEST_POSTGRES_URL in this shell
#   .ci/postgres.sh stop             # stops the server
#
# Installs PostgreSQL from Debian if it is missing (apt-get, needs root). Listens on loopback only, port
# $LSWAG_PG_PORT (default 55432), data in $LSWAG_PG_DIR (default /tmp/lswag-postgres), trust
# authentication for the local role "lswag", database "lswag_test". Idempotent: a running server is reused.
# Everything but the final `export ...` line goes to stderr.
set -euo pipefail

PORT="${LSWAG_PG_PORT:-55432}"
DATA="${LSWAG_PG_DIR:-/tmp/lswag-postgres}"
ROLE=lswag
# A test server: durability off (no fsync per commit), a crash loses the data, which is thrown away anyway.
FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
DB=lswag_test

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; fi
}

BIN="$(find_bin)"
if [ -z "$BIN" ]; then
    log "PostgreSQL not found: installing it from Debian (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2 && apt-get install -y --no-install-recommends postgresql >&2
    BIN="$(find_bin)"
    [ -n "$BIN" ] || { log "installed postgresql but found no /usr/lib/postgresql/*/bin/initdb"; exit 1; }
fi

# initdb and postgres refuse to run as root: run them as the 'postgres' user the package creates.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
    exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initialising $DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U "$ROLE" -A trust -E UTF8 >&2
fi

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting the server on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=200 $FAST" start >&2
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$ROLE" "$DB" >&2
fi

echo "export LSWAG_TEST_POSTGRES_URL=postgresql+psycopg2://$ROLE@127.0.0.1:$PORT/$DB"
