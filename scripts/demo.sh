#!/usr/bin/env bash
# `make demo`: start a throw-away source and target cluster under target/demo, load a small
# sample installation into the source, run the real pg_migrate against them and print its report.
# Clusters are stopped at the end; their data stays in target/demo for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/target/demo"
MAJOR="${PG_VERSION:-15}"
BIN="${PG_BIN:-}"
if [ -z "$BIN" ]; then
  if [ -x "$ROOT/.pg/$MAJOR/bin/initdb" ]; then BIN="$ROOT/.pg/$MAJOR/bin"; else BIN="/usr/lib/postgresql/$MAJOR/bin"; fi
fi
[ -x "$BIN/initdb" ] || { echo "demo: no PostgreSQL $MAJOR server binaries in $BIN (install them or set PG_BIN)" >&2; exit 1; }
PSQL="$(command -v psql || true)"
[ -n "$PSQL" ] || { echo "demo: psql is needed to load the sample data (apt-get install postgresql-client)" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for side in source target; do
  [ -f "$DEMO/$side/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DEMO/$side" stop -m immediate >/dev/null 2>&1 || true
done
rm -rf "$DEMO"; mkdir -p "$DEMO"
[ "$(id -u)" = 0 ] && chown postgres "$DEMO" && chmod 755 "$ROOT/target" "$DEMO"
PW=demo-superuser-password
echo "$PW" > "$DEMO/pwfile"; [ "$(id -u)" = 0 ] && chown postgres "$DEMO/pwfile"

declare -A PORT
for side in source target; do
  PORT[$side]=$(free_port)
  as_pg "$BIN/initdb" -D "$DEMO/$side" -U postgres --pwfile="$DEMO/pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$DEMO/$side/postgresql.conf" <<CONF
port = ${PORT[$side]}
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DEMO'
wal_level = logical
fsync = off
CONF
  as_pg "$BIN/pg_ctl" -D "$DEMO/$side" -l "$DEMO/$side.log" -w start >/dev/null
done
cleanup() { for side in source target; do as_pg "$BIN/pg_ctl" -D "$DEMO/$side" stop -m fast >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

export PGPASSWORD="$PW"
"$PSQL" -q -h 127.0.0.1 -p "${PORT[source]}" -U postgres -d postgres -v ON_ERROR_STOP=1 -f scripts/demo-source.sql >/dev/null

SRC="postgres://postgres:$PW@127.0.0.1:${PORT[source]}/postgres"
TGT="postgres://postgres:$PW@127.0.0.1:${PORT[target]}/postgres"
unset PGPASSWORD
echo "== pg_migrate --validate"
"$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT" --validate || true
echo
echo "== pg_migrate (report on stderr, JSON in target/demo/result.json)"
set +e
"$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT" --json "$DEMO/result.json"
rc=$?
set -e
echo "exit code: $rc"
exit $rc
