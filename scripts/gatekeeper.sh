#!/usr/bin/env bash
# Builds the test-only emulation of Aiven's aiven_gatekeeper module
# (tests/fixtures/aiven_gatekeeper/) with PostgreSQL 15's pgxs and caches it, for
# tests/gatekeeper.rs. Prints the path to load with shared_preload_libraries (the .so without
# its suffix: an absolute path, so nothing is installed into the server's lib directory).
#
#   scripts/gatekeeper.sh                 build if missing or stale, print the module path
#   GATEKEEPER_FORCE=1 scripts/gatekeeper.sh   rebuild
#
# The cache is target/gatekeeper (GATEKEEPER_DIR overrides it); a build is stale when the
# source, the Makefile or the server's version changed (stamp file). Needs pgxs
# (/usr/lib/postgresql/15/lib/pgxs, package postgresql-server-dev-15, which
# scripts/regression-db.sh installs pinned to the server's version) and a C compiler; without
# them it says what is missing and exits 3 (the test then says loudly that it was skipped).
# About 1 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR=15
PG_CONFIG="${GATEKEEPER_PG_CONFIG:-/usr/lib/postgresql/$MAJOR/bin/pg_config}"
SRC="$ROOT/tests/fixtures/aiven_gatekeeper"
CACHE="${GATEKEEPER_DIR:-$ROOT/target/gatekeeper}"

say() { echo "gatekeeper: $*" >&2; }
cannot() { say "CANNOT BUILD THE aiven_gatekeeper EMULATION: $*"; exit 3; }

[ -x "$PG_CONFIG" ] || cannot "no $PG_CONFIG (apt-get install postgresql-server-dev-$MAJOR)"
PGXS="$("$PG_CONFIG" --pgxs)"
[ -f "$PGXS" ] || cannot "pgxs is missing ($PGXS; apt-get install postgresql-server-dev-$MAJOR)"
[ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] \
  || cannot "the server headers are missing (apt-get install postgresql-server-dev-$MAJOR)"
command -v "${CC:-gcc}" >/dev/null 2>&1 || cannot "no C compiler (${CC:-gcc})"

STAMP="$("$PG_CONFIG" --version) $(cat "$SRC/aiven_gatekeeper.c" "$SRC/Makefile" | sha256sum | cut -d' ' -f1)"
if [ "${GATEKEEPER_FORCE:-0}" != 1 ] && [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] \
  && [ -f "$CACHE/aiven_gatekeeper.so" ]; then
  echo "$CACHE/aiven_gatekeeper"
  exit 0
fi

rm -rf "$CACHE"
mkdir -p "$CACHE/build"
cp "$SRC/aiven_gatekeeper.c" "$SRC/Makefile" "$CACHE/build/"
if ! make -s -C "$CACHE/build" PG_CONFIG="$PG_CONFIG" >"$CACHE/build.log" 2>&1; then
  cat "$CACHE/build.log" >&2
  cannot "the pgxs build failed (log above)"
fi
cp "$CACHE/build/aiven_gatekeeper.so" "$CACHE/"
# The server runs as `postgres` when the tests run as root: it must be able to read the module.
chmod 755 "$CACHE" && chmod 644 "$CACHE/aiven_gatekeeper.so"
echo "$STAMP" >"$CACHE/stamp"
say "built $CACHE/aiven_gatekeeper.so"
echo "$CACHE/aiven_gatekeeper"
