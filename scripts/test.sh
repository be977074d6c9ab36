#!/usr/bin/env bash
# Set up, then run the test suite twice, side by side: the whole of it on embedded SQLite, and what
# touches a database on a real PostgreSQL server (Debian's package, installed if missing, started on
# a loopback port for this run only). The two runs share the 2 cores (each is mostly one busy thread): together they take about
# as long as one after the other took for one and a half. CI runs exactly this, through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/chromium.sh   # Debian's Chromium for the browser tests, installed if missing
./scripts/softhsm.sh    # Debian's SoftHSM2 for the HSM key tests, installed if missing
# axe-core (tests/package.json, pinned with its integrity hash in tests/package-lock.json): the
# accessibility checker the browser tests run in the pages; into tests/node_modules.
if command -v npm >/dev/null; then npm ci --prefix tests --no-audit --no-fund --loglevel=error; fi

echo "== lint and format (ruff, pyproject's [tool.ruff])"
.venv/bin/ruff check facetrust tests scripts
.venv/bin/ruff format --check facetrust tests scripts
echo "== types (mypy, pyproject's [tool.mypy])"
.venv/bin/mypy

pgdir=$(mktemp -d /tmp/facetrust-pg.XXXXXX)
pglog="$pgdir.log"
mvdir=$(mktemp -d /tmp/facetrust-milvus.XXXXXX)
pgpid=""
cleanup() {
    [ -n "$pgpid" ] && kill "$pgpid" 2>/dev/null || true
    ./scripts/postgres.sh stop "$pgdir"
    ./scripts/milvus.sh stop "$mvdir"
    rm -rf "$pgdir" "$pglog" "$mvdir"
}
trap cleanup EXIT
url=$(./scripts/postgres.sh start "$pgdir")
# A Milvus standalone server (its own virtualenv) for the gallery tests; both runs share it, each
# test using collections of its own.
FACETRUST_TEST_MILVUS_URI=$(./scripts/milvus.sh start "$mvdir")
export FACETRUST_TEST_MILVUS_URI

# PostgreSQL runs what touches a database through the service (-m "not unit and not browser"); SQLite
# runs everything. tests/conftest.py marks a test unit only if neither it nor its fixtures can reach a
# database, and the SQLite run fails a unit test that connects to one. The browser tests drive the
# pages, which are the same whatever the database; every call they make is an API route the api tests
# run on both. Run side by side on two cores, two browsers with real-time cameras starved each other
# (a capture stalled, a payment declined: a failure of the machine, not of the code).
echo "== test suite on PostgreSQL, all but the unit and browser tests (in the background; its report follows the SQLite one)"
FACETRUST_TEST_DATABASE_URL=$url .venv/bin/python -m pytest -p no:cacheprovider -m "not unit and not browser" "$@" >"$pglog" 2>&1 &
pgpid=$!

echo "== test suite on SQLite"
set +e
.venv/bin/python -m pytest "$@"
sqlite_status=$?
wait "$pgpid"
pg_status=$?
pgpid=""
set -e

echo "== test suite on PostgreSQL"
cat "$pglog"
echo "== SQLite: exit $sqlite_status; PostgreSQL: exit $pg_status"
[ "$sqlite_status" -eq 0 ] && [ "$pg_status" -eq 0 ]
