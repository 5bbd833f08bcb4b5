#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: its own data directory and
# port, run as a non-root user, on 127.0.0.1 only.
#   scripts/pg-test-server.sh start DIR [PORT]  -> prints GT_TEST_POSTGRES=<url>
#   scripts/pg-test-server.sh stop DIR
# The server binaries are looked up on PATH, then in /usr/lib/postgresql/*/bin
# (Debian's packages). As root, the cluster runs as the `postgres` user (or
# `nobody`), which gets DIR.
set -euo pipefail
cmd=${1:?usage: pg-test-server.sh start|stop DIR [PORT]}
dir=${2:?usage: pg-test-server.sh start|stop DIR [PORT]}
port=${3:-55432}

bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local b
  for b in /usr/lib/postgresql/*/bin/"$1"; do
    if [ -x "$b" ]; then echo "$b"; return; fi
  done
  echo "pg-test-server: $1 not found (install PostgreSQL's server package)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    local user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    # runuser keeps no root privileges; the cluster files belong to $user.
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
      chown "$user" "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$(bin initdb)" -D "$dir/data" -U gt -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$(bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c max_connections=200" \
      start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "GT_TEST_POSTGRES=postgres://gt@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$(bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: pg-test-server.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
