#!/usr/bin/env bash
# Set up, then run the whole test suite twice: on embedded SQLite, and on a real PostgreSQL server
# (Debian's package, installed if missing, started on a loopback port for this run only).
# CI runs exactly this, through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/chromium.sh   # Debian's Chromium for the browser tests, installed if missing

echo "== test suite on SQLite"
.venv/bin/python -m pytest "$@"

echo "== test suite on PostgreSQL"
pgdir=$(mktemp -d /tmp/facetrust-pg.XXXXXX)
trap './scripts/postgres.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
url=$(./scripts/postgres.sh start "$pgdir")
FACETRUST_TEST_DATABASE_URL=$url .venv/bin/python -m pytest "$@"
