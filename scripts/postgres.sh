#!/usr/bin/env bash
# A throwaway local PostgreSQL for tests and for trying the team store, with nothing running
# beforehand:
#
#   scripts/postgres.sh start DIR [PORT]   # prints postgresql://postgres:PW@127.0.0.1:PORT/neonhub
#   scripts/postgres.sh url DIR            # the same URL again, for a cluster started before
#   scripts/postgres.sh stop DIR
#
# Installs Debian's `postgresql` with apt-get when no server binaries are found (sudo when not
# root). The cluster lives in DIR/data, listens on 127.0.0.1:PORT (a free port when none is
# given) and on a unix socket in DIR, logs to DIR/postgres.log and has one database,
# `neonhub`. TCP logins need the superuser's password (scram-sha-256, random, kept in
# DIR/superuser.pw with mode 600); the socket trusts local users. initdb refuses to run as
# root, so as root the cluster belongs to the `postgres` user and DIR must be reachable by
# it. Every command is idempotent: `start` on a running cluster prints its URL again.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [PORT] | url DIR | stop DIR" >&2
  exit 2
}
[ $# -ge 2 ] || usage
cmd="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
port_arg="${3:-}"
db="neonhub"
data="$dir/data"

SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"

find_bindir() {
  # The newest installed server (Debian keeps each major version in its own folder).
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then
    echo "$found"
  elif command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  fi
}

bindir="$(find_bindir)"
if [ -z "$bindir" ]; then
  [ "$cmd" = "start" ] || { echo "no PostgreSQL installed, so nothing runs in $dir" >&2; exit 0; }
  echo "==> apt-get install postgresql" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null
  bindir="$(find_bindir)"
  [ -n "$bindir" ] || { echo "error: apt-get installed postgresql but no initdb was found" >&2; exit 1; }
fi

# As root, every server command runs as the postgres user (initdb and postgres refuse root).
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

print_url() {
  local port pw
  port="$(cat "$dir/port")"
  pw="$(cat "$dir/superuser.pw")"
  echo "postgresql://postgres:${pw}@127.0.0.1:${port}/${db}"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

init_cluster() {
  local port="$1" pwfile
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || { echo "error: no postgres user (install postgresql)" >&2; exit 1; }
    chown postgres: "$dir"
    chmod 700 "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "error: $dir: the postgres user cannot reach it (a parent folder is closed to" \
        "other users); use a folder under /tmp" >&2
      exit 1
    fi
  fi
  umask 077
  head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$dir/superuser.pw"
  echo "$port" >"$dir/port"
  pwfile="$dir/superuser.pw"
  [ "$(id -u)" = "0" ] && chown postgres: "$dir/superuser.pw" "$dir/port"
  # -N: no fsync during initdb (a fresh cluster); the server itself keeps fsync on.
  as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$pwfile" -N -E UTF8 \
    --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  cat >>"$data/postgresql.conf" <<CONF

# scripts/postgres.sh: a local cluster for tests and trials
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 100
CONF
}

case "$cmd" in
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      init_cluster "${port_arg:-$(free_port)}"
    elif [ -n "$port_arg" ] && [ "$port_arg" != "$(cat "$dir/port")" ]; then
      echo "error: the cluster in $dir listens on port $(cat "$dir/port"), not $port_arg" >&2
      exit 1
    fi
    if ! running; then
      as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start >/dev/null || {
        tail -n 20 "$dir/postgres.log" >&2
        exit 1
      }
    fi
    port="$(cat "$dir/port")"
    exists="$(as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'")"
    if [ "$exists" != "1" ]; then
      as_owner "$bindir/createdb" -h "$dir" -p "$port" -U postgres "$db"
    fi
    print_url
    ;;
  url)
    running || { echo "error: no cluster runs in $dir (start it first)" >&2; exit 1; }
    print_url
    ;;
  stop)
    if running; then
      as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  *)
    usage
    ;;
esac
