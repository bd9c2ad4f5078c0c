# Shared by scripts/demo.sh and the benchmark scripts: start and stop throw-away clusters.
# Source it, then: start_cluster NAME DIR  -> sets PORT_<NAME>; stop_clusters at exit.
# Environment: PG_VERSION (default 15) or PG_BIN picks the server binaries.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR="${PG_VERSION:-15}"
BIN="${PG_BIN:-}"
if [ -z "$BIN" ]; then
  if [ -x "$ROOT/.pg/$MAJOR/bin/initdb" ]; then BIN="$ROOT/.pg/$MAJOR/bin"; else BIN="/usr/lib/postgresql/$MAJOR/bin"; fi
fi
[ -x "$BIN/initdb" ] || { echo "no PostgreSQL $MAJOR server binaries in $BIN (install them or set PG_BIN)" >&2; exit 1; }
SUPERUSER_PW="${SUPERUSER_PW:-local-superuser-password}"
STARTED_DIRS=()

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# remove_cluster DIR: stops the cluster in DIR if it runs, and deletes DIR.
remove_cluster() {
  [ -f "$1/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$1" stop -m immediate >/dev/null 2>&1
  rm -rf "$1"
}

# start_cluster NAME DIR [extra postgresql.conf lines...]
start_cluster() {
  local name="$1" dir="$2"; shift 2
  remove_cluster "$dir"; mkdir -p "$(dirname "$dir")"
  if [ "$(id -u)" = 0 ]; then
    local p; p="$(dirname "$dir")"
    while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p="$(dirname "$p")"; done
    chown postgres "$(dirname "$dir")"
  fi
  local pwfile; pwfile="$(dirname "$dir")/.pw-$name"
  echo "$SUPERUSER_PW" > "$pwfile"; [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
  local port; port="$(free_port)"
  as_pg "$BIN/initdb" -D "$dir" -U postgres --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$(dirname "$dir")'"
    echo "wal_level = logical"
    echo "max_wal_senders = 20"
    echo "max_replication_slots = 20"
    for line in "$@"; do echo "$line"; done
  } >> "$dir/postgresql.conf"
  as_pg "$BIN/pg_ctl" -D "$dir" -l "$dir.log" -w start >/dev/null
  STARTED_DIRS+=("$dir")
  printf -v "PORT_$name" '%s' "$port"
}

stop_clusters() {
  for dir in "${STARTED_DIRS[@]}"; do as_pg "$BIN/pg_ctl" -D "$dir" stop -m fast >/dev/null 2>&1 || true; done
}

# uri PORT [DB]
uri() { echo "postgres://postgres:$SUPERUSER_PW@127.0.0.1:$1/${2:-postgres}"; }
