#!/usr/bin/env bash
# Start/stop a throwaway, private PostgreSQL cluster for tests.
#
# Usage:
#   test/support/postgres.sh [start] [DIR]   # start (idempotent); prints DATABASE_URL=... on stdout
#   test/support/postgres.sh stop    [DIR]   # stop the server (data is kept)
#   test/support/postgres.sh status  [DIR]   # exit 0 if running (prints the URL), 3 if not
#   test/support/postgres.sh url     [DIR]   # print DATABASE_URL=... without starting anything
#   test/support/postgres.sh destroy [DIR]   # stop and delete the cluster directory
#
# Environment:
#   PGPORT        TCP port on 127.0.0.1 (default 55432)
#   PGTEST_DIR    cluster directory (default: ${TMPDIR:-/tmp}/insforge-mcp-pg-$PGPORT);
#                 a DIR argument takes precedence
#   PGTEST_BIN    directory holding initdb/pg_ctl (default: newest /usr/lib/postgresql/<ver>/bin)
#
# The cluster is NOT the system cluster: it lives in its own directory, listens only on
# 127.0.0.1:$PGPORT (no unix socket), and has superuser postgres/postgres with
# scram-sha-256 password auth over TCP. It is tuned for tests (fsync off).
#
# Only the DATABASE_URL line goes to stdout; everything else goes to stderr, so
#   eval "$(test/support/postgres.sh)"   or   url=$(test/support/postgres.sh | sed 's/^DATABASE_URL=//')
# both work.
set -euo pipefail

cmd="${1:-start}"
case "$cmd" in
  start | stop | status | url | destroy) ;;
  -h | --help | help)
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "postgres.sh: unknown command '$cmd' (expected start|stop|status|url|destroy)" >&2
    exit 2
    ;;
esac

port="${PGPORT:-55432}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "postgres.sh: invalid PGPORT '$port'" >&2
  exit 2
fi
dir="${2:-${PGTEST_DIR:-${TMPDIR:-/tmp}/insforge-mcp-pg-$port}}"
dir=$(realpath -m -- "$dir") # absolute: the server commands run from /
pgdata="$dir/data"
logfile="$dir/postgres.log"
su_user=postgres
su_password=postgres # URL-safe on purpose

log() { echo "postgres.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- binaries ---------------------------------------------------------------------------
find_bin() {
  if [[ -n "${PGTEST_BIN:-}" ]]; then
    [[ -x "$PGTEST_BIN/initdb" && -x "$PGTEST_BIN/pg_ctl" ]] || die "PGTEST_BIN=$PGTEST_BIN has no initdb/pg_ctl"
    echo "$PGTEST_BIN"
    return
  fi
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; fi
}

bin=$(find_bin)
if [[ -z "$bin" ]]; then
  [[ "$cmd" == start ]] || die "PostgreSQL is not installed (nothing to $cmd)"
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and we are not root; install the 'postgresql' apt package"
  log "installing postgresql from apt (one-time)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  bin=$(find_bin)
  [[ -n "$bin" ]] || die "postgresql installed but no /usr/lib/postgresql/<ver>/bin/initdb found"
fi

# --- who runs the server -------------------------------------------------------------------
# initdb/postgres refuse to run as root, so as root we run them as the 'postgres' OS user
# (created by the Debian package) or, failing that, a dedicated 'pgtest' system user.
as_owner=()
owner="$(id -un)"
if [[ $(id -u) -eq 0 ]]; then
  if id postgres >/dev/null 2>&1; then
    owner=postgres
  else
    owner=pgtest
    id "$owner" >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$owner"
  fi
  as_owner=(runuser -u "$owner" --)
fi
run() { (cd / && "${as_owner[@]}" "$@"); }

url="postgres://$su_user:$su_password@127.0.0.1:$port/postgres"

is_running() { [[ -f "$pgdata/PG_VERSION" ]] && run "$bin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; }

# Port recorded by the running postmaster (line 4 of postmaster.pid).
running_port() { sed -n '4p' "$pgdata/postmaster.pid" 2>/dev/null || true; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_running_port() {
  local p
  p=$(running_port)
  if [[ -n "$p" && "$p" != "$port" ]]; then
    die "the cluster in $dir is already running on port $p, not $port; run '$0 stop $dir' first or use PGPORT=$p"
  fi
}

# --- commands that don't start anything ------------------------------------------------------
case "$cmd" in
  url)
    echo "DATABASE_URL=$url"
    exit 0
    ;;
  status)
    if is_running; then
      check_running_port
      echo "DATABASE_URL=$url"
      exit 0
    fi
    log "not running ($dir)"
    exit 3
    ;;
  stop | destroy)
    if is_running; then
      if ! run "$bin/pg_ctl" stop -D "$pgdata" -m fast -w -t 30 >&2; then
        [[ "$cmd" == destroy ]] || die "could not stop the server in $dir"
        log "warning: could not stop the server; removing its directory anyway"
      fi
    else
      log "not running ($dir)"
    fi
    if [[ "$cmd" == destroy ]]; then
      rm -rf -- "$dir"
      rm -f -- "$dir.lock"
      log "removed $dir"
    fi
    exit 0
    ;;
esac

# --- start ------------------------------------------------------------------------------------
# Serialize concurrent starts of the same cluster.
mkdir -p -- "$(dirname -- "$dir")"
exec 9>"$dir.lock"
flock -w 60 9 || die "timed out waiting for lock $dir.lock"

if is_running; then
  check_running_port
  log "already running ($dir)"
  echo "DATABASE_URL=$url"
  exit 0
fi

port_in_use "$port" && die "port $port on 127.0.0.1 is already in use by another process; set PGPORT to a free port"

mkdir -p "$dir"
if [[ $(id -u) -eq 0 ]]; then chown "$owner:" "$dir"; fi
run test -w "$dir" -a -x "$dir" ||
  die "$dir is not writable by OS user '$owner' (is a parent directory private?); pass another DIR"

if [[ ! -f "$pgdata/PG_VERSION" ]]; then
  log "initializing cluster in $pgdata ($("$bin/initdb" --version))"
  rm -rf -- "$pgdata"
  pwfile="$dir/.pwfile"
  (umask 077 && printf '%s\n' "$su_password" >"$pwfile")
  if [[ $(id -u) -eq 0 ]]; then chown "$owner:" "$pwfile"; fi
  if ! run "$bin/initdb" -D "$pgdata" -U "$su_user" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f "$pwfile"
  echo "include_if_exists = 'test-overrides.conf'" >>"$pgdata/postgresql.conf"
fi

# Rewritten on every start so PGPORT changes take effect.
cat >"$pgdata/test-overrides.conf" <<EOF
# written by test/support/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
if [[ $(id -u) -eq 0 ]]; then chown "$owner:" "$pgdata/test-overrides.conf"; fi

log "starting on 127.0.0.1:$port (log: $logfile)"
# 9>&-: the postmaster must not inherit (and hold forever) the lock fd.
if ! run "$bin/pg_ctl" start -D "$pgdata" -l "$logfile" -w -t 30 >&2 9>&-; then
  tail -n 30 "$logfile" >&2 || true
  die "server failed to start"
fi

echo "DATABASE_URL=$url"
