#!/usr/bin/env bash
# `make demo`: start a throw-away source and target cluster under target/demo, load a small
# sample installation into the source, run the real pg_migrate against them and print its report.
# Clusters are stopped at the end; their data stays in target/demo for inspection.
set -euo pipefail
source "$(dirname "$0")/clusters.sh"
DEMO="$ROOT/target/demo"
PSQL="$(command -v psql || true)"
[ -n "$PSQL" ] || { echo "demo: psql is needed to load the sample data (apt-get install postgresql-client)" >&2; exit 1; }

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
  --max-replication-lag 0 --stop-replication --replication-timeout 120
rc=$?
set -e
echo "exit code: $rc"
exit $rc
