#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests and the examples.
#
#   bash scripts/postgres.sh start    start one (or reuse CENOTE_PG_URL), print its URL
#   bash scripts/postgres.sh stop     stop it and remove its files
#   bash scripts/postgres.sh status   say whether it runs, print its URL
#   bash scripts/postgres.sh url      print the URL only (for `export CENOTE_PG_URL=$(...)`)
#   bash scripts/postgres.sh ctl ARGS run pg_ctl ARGS on the cluster, as its owner
#                                     (the outage test: `ctl stop -m immediate`, `ctl start`)
#
# With CENOTE_PG_URL set, `start` uses that server: it only checks that it answers, and
# `stop` leaves it alone. Otherwise `start` finds the server binaries (`pg_ctl`/`initdb` on
# PATH, or /usr/lib/postgresql/*/bin), installs Debian's `postgresql` package with apt-get
# if there are none, creates a cluster in a temporary directory (trust authentication,
# loopback only, a free port, its unix socket in that directory), creates the database
# `cenote` and writes what the tests read into target/postgres/ (CENOTE_PG_STATE overrides):
#   url      the connection URL (postgresql://cenote@127.0.0.1:PORT/cenote)
#   datadir  the cluster's data directory
#   env      `export CENOTE_PG_URL=...` lines to source
# The server refuses to run as root: as root, the cluster belongs to the `postgres` user
# (created by the Debian package) or to a `cenote-pg` user made for it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${CENOTE_PG_STATE:-$ROOT/target/postgres}"
DB=cenote
PGUSER_NAME=cenote

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The directory holding pg_ctl, initdb, postgres (and usually pg_isready, createdb).
find_bindir() {
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    d="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}

install_server() {
  command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL server binaries and no apt-get: install PostgreSQL (pg_ctl, initdb) or set CENOTE_PG_URL"
  say "no PostgreSQL server binaries found: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q --no-install-recommends postgresql; then
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends postgresql
  fi
}

# Who owns and runs the cluster: ourselves, or (as root) an unprivileged user.
cluster_owner() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  if ! id cenote-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cenote-pg 2>/dev/null \
      || adduser --system --no-create-home --group cenote-pg >/dev/null
  fi
  echo cenote-pg
}

run_as() { # run_as OWNER CMD...
  local owner="$1"; shift
  if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    # From a directory the owner can read: initdb and pg_ctl fail in one it cannot (/root/...).
    (
      cd /tmp
      if command -v runuser >/dev/null 2>&1; then runuser -u "$owner" -- "$@"; else su -s /bin/sh "$owner" -c "$(printf '%q ' "$@")"; fi
    )
  else
    "$@"
  fi
}

port_free() { # nothing listens on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Whether the server at URL answers a connection (pg_isready or psql if we have them).
answers() {
  local url="$1" bindir
  bindir="$(find_bindir 2>/dev/null || true)"
  if [ -n "$bindir" ] && [ -x "$bindir/pg_isready" ]; then
    "$bindir/pg_isready" -q -t 5 -d "$url"
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 5 -d "$url"
  elif command -v psql >/dev/null 2>&1; then
    psql -X -q -c 'SELECT 1' "$url" >/dev/null
  else
    say "cannot check $url (no pg_isready or psql here): assuming it answers"
  fi
}

print_url() {
  local url="$1"
  echo "$url"
  say "server ready: $url"
  say "use it with: export CENOTE_PG_URL='$url'   (or: source $STATE/env)"
}

running() { # our cluster is up
  [ -f "$STATE/url" ] && [ -f "$STATE/datadir" ] && [ -f "$STATE/owner" ] || return 1
  local datadir owner bindir
  datadir="$(cat "$STATE/datadir")"; owner="$(cat "$STATE/owner")"; bindir="$(cat "$STATE/bindir")"
  run_as "$owner" "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

start() {
  if [ -n "${CENOTE_PG_URL:-}" ]; then
    answers "$CENOTE_PG_URL" || die "CENOTE_PG_URL=$CENOTE_PG_URL does not answer"
    print_url "$CENOTE_PG_URL"
    return
  fi
  if running; then
    say "already running (bash scripts/postgres.sh stop to stop it)"
    print_url "$(cat "$STATE/url")"
    return
  fi
  [ -d "$STATE" ] && stop_quietly
  local bindir owner tmp datadir port url tries
  bindir="$(find_bindir)" || { install_server; bindir="$(find_bindir)" || die "postgresql installed but no server binaries found"; }
  owner="$(cluster_owner)"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/cenote-pg.XXXXXX")"
  chmod 755 "$tmp"
  datadir="$tmp/data"
  if [ "$(id -u)" -eq 0 ]; then chown "$owner" "$tmp"; fi
  mkdir -p "$STATE"
  echo "$tmp" >"$STATE/tmpdir"
  echo "$datadir" >"$STATE/datadir"
  echo "$owner" >"$STATE/owner"
  echo "$bindir" >"$STATE/bindir"
  say "initdb in $datadir (binaries: $bindir, owner: $owner)"
  run_as "$owner" "$bindir/initdb" -D "$datadir" -U "$PGUSER_NAME" --auth=trust --encoding=UTF8 --no-locale >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
  # Settings in the cluster's config, so that a plain `pg_ctl start` (the outage test) reuses them.
  run_as "$owner" sh -c "echo \"include 'cenote.conf'\" >>'$datadir/postgresql.conf'"
  port=""
  for tries in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if ! port_free "$port"; then port=""; continue; fi
    run_as "$owner" sh -c "cat >'$datadir/cenote.conf'" <<EOF
# cenote's throwaway test cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
    if run_as "$owner" "$bindir/pg_ctl" -D "$datadir" -l "$tmp/server.log" -w -t 30 start >/dev/null; then
      break
    fi
    say "start on port $port failed (try $tries): $(tail -n 3 "$tmp/server.log" 2>/dev/null | tr '\n' ' ')"
    port=""
  done
  [ -n "$port" ] || die "could not start the server; log: $tmp/server.log"
  run_as "$owner" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$PGUSER_NAME" "$DB" \
    || die "createdb failed; log: $tmp/server.log"
  url="postgresql://$PGUSER_NAME@127.0.0.1:$port/$DB"
  echo "$url" >"$STATE/url"
  printf "export CENOTE_PG_URL='%s'\nexport CENOTE_PG_DATADIR='%s'\n" "$url" "$datadir" >"$STATE/env"
  print_url "$url"
}

stop_quietly() {
  local tmp datadir owner bindir
  tmp="$(cat "$STATE/tmpdir" 2>/dev/null || true)"
  datadir="$(cat "$STATE/datadir" 2>/dev/null || true)"
  owner="$(cat "$STATE/owner" 2>/dev/null || id -un)"
  bindir="$(cat "$STATE/bindir" 2>/dev/null || true)"
  if [ -n "$datadir" ] && [ -n "$bindir" ] && [ -f "$datadir/postmaster.pid" ]; then
    run_as "$owner" "$bindir/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || run_as "$owner" "$bindir/pg_ctl" -D "$datadir" -m immediate stop >/dev/null 2>&1 || true
  fi
  case "$tmp" in
    */cenote-pg.*) rm -rf "$tmp" ;;
  esac
  rm -rf "$STATE"
}

stop() {
  if [ ! -d "$STATE" ]; then
    say "nothing to stop (no $STATE)"
    return
  fi
  stop_quietly
  say "stopped and removed"
}

status() {
  if [ -n "${CENOTE_PG_URL:-}" ]; then
    if answers "$CENOTE_PG_URL"; then print_url "$CENOTE_PG_URL"; else die "CENOTE_PG_URL=$CENOTE_PG_URL does not answer"; fi
  elif running; then
    print_url "$(cat "$STATE/url")"
  else
    die "not running (bash scripts/postgres.sh start)"
  fi
}

ctl() {
  [ -f "$STATE/datadir" ] || die "no cluster of ours to control (bash scripts/postgres.sh start)"
  local datadir owner bindir
  datadir="$(cat "$STATE/datadir")"; owner="$(cat "$STATE/owner")"; bindir="$(cat "$STATE/bindir")"
  local tmp; tmp="$(cat "$STATE/tmpdir")"
  run_as "$owner" "$bindir/pg_ctl" -D "$datadir" -l "$tmp/server.log" "$@"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) if [ -n "${CENOTE_PG_URL:-}" ]; then echo "$CENOTE_PG_URL"; else cat "$STATE/url" 2>/dev/null || die "not running"; fi ;;
  ctl) shift; ctl "$@" ;;
  *) echo "usage: bash scripts/postgres.sh start|stop|status|url|ctl PG_CTL_ARGS..." >&2; exit 2 ;;
esac
