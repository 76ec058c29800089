#!/usr/bin/env bash
# The README's test command: unit, integration and doc tests of the whole workspace, with a
# real PostgreSQL for the PostgreSQL tests.
#
# The server comes from scripts/postgres.sh (CENOTE_PG_URL if set, else a throwaway cluster,
# installed if need be) and is stopped on exit, unless it was already running before. If no
# server can be had, the PostgreSQL tests say they were skipped, except under CI=true, where
# this script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=scripts/postgres.sh
STATE="${CENOTE_PG_STATE:-$PWD/target/postgres}"

stop_ours=false
if [ -z "${CENOTE_PG_URL:-}" ] && ! bash "$PG" status >/dev/null 2>&1; then
  stop_ours=true
fi
cleanup() {
  if $stop_ours; then bash "$PG" stop || true; fi
}
trap cleanup EXIT

if url="$(bash "$PG" start)"; then
  export CENOTE_PG_URL="$url"
  if [ -f "$STATE/datadir" ] && [ -z "${CENOTE_PG_DATADIR:-}" ]; then
    CENOTE_PG_DATADIR="$(cat "$STATE/datadir")"
    export CENOTE_PG_DATADIR
  fi
  echo "test.sh: PostgreSQL tests run against $CENOTE_PG_URL" >&2
elif [ "${CI:-}" = true ]; then
  echo "test.sh: no PostgreSQL server (see above); under CI=true that is a failure" >&2
  exit 1
else
  echo "test.sh: no PostgreSQL server (see above): the PostgreSQL tests will be skipped" >&2
fi

cargo test --workspace "$@"
