#!/usr/bin/env bash
# Builds one of the test-only server modules in tests/fixtures/NAME/ (NAME.c and a pgxs
# Makefile) with PostgreSQL 15's pgxs and caches it: aiven_gatekeeper (an emulation of Aiven's
# module, for tests/gatekeeper.rs) and test_seclabel (a security label provider, for
# tests/security_labels.rs). Prints the path to load with shared_preload_libraries (the .so
# without its suffix: an absolute path, so nothing is installed into the server's lib directory).
#
#   scripts/test-module.sh NAME                    build if missing or stale, print the module path
#   TEST_MODULE_FORCE=1 scripts/test-module.sh NAME   rebuild
#
# The cache is target/test-modules/NAME (TEST_MODULE_DIR overrides target/test-modules); a build
# is stale when the source, the Makefile or the server's version changed (stamp file). Needs pgxs
# (/usr/lib/postgresql/15/lib/pgxs, package postgresql-server-dev-15, which
# scripts/regression-db.sh installs pinned to the server's version) and a C compiler; without
# them it says what is missing and exits 3 (the test then says loudly that it was skipped).
# About 1 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR=15
NAME="${1:?usage: scripts/test-module.sh NAME (a directory of tests/fixtures/)}"
PG_CONFIG="${TEST_MODULE_PG_CONFIG:-/usr/lib/postgresql/$MAJOR/bin/pg_config}"
SRC="$ROOT/tests/fixtures/$NAME"
CACHE="${TEST_MODULE_DIR:-$ROOT/target/test-modules}/$NAME"

say() { echo "test-module: $*" >&2; }
cannot() { say "CANNOT BUILD THE TEST MODULE $NAME: $*"; exit 3; }

[ -f "$SRC/$NAME.c" ] && [ -f "$SRC/Makefile" ] || cannot "no $SRC/$NAME.c and Makefile"

[ -x "$PG_CONFIG" ] || cannot "no $PG_CONFIG (apt-get install postgresql-server-dev-$MAJOR)"
PGXS="$("$PG_CONFIG" --pgxs)"
[ -f "$PGXS" ] || cannot "pgxs is missing ($PGXS; apt-get install postgresql-server-dev-$MAJOR)"
[ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] \
  || cannot "the server headers are missing (apt-get install postgresql-server-dev-$MAJOR)"
command -v "${CC:-gcc}" >/dev/null 2>&1 || cannot "no C compiler (${CC:-gcc})"

STAMP="$("$PG_CONFIG" --version) $(cat "$SRC/$NAME.c" "$SRC/Makefile" | sha256sum | cut -d' ' -f1)"
if [ "${TEST_MODULE_FORCE:-0}" != 1 ] && [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] \
  && [ -f "$CACHE/$NAME.so" ]; then
  echo "$CACHE/$NAME"
  exit 0
fi

rm -rf "$CACHE"
mkdir -p "$CACHE/build"
cp "$SRC/$NAME.c" "$SRC/Makefile" "$CACHE/build/"
if ! make -s -C "$CACHE/build" PG_CONFIG="$PG_CONFIG" >"$CACHE/build.log" 2>&1; then
  cat "$CACHE/build.log" >&2
  cannot "the pgxs build failed (log above)"
fi
cp "$CACHE/build/$NAME.so" "$CACHE/"
# The server runs as `postgres` when the tests run as root: it must be able to read the module.
chmod 755 "$CACHE" && chmod 644 "$CACHE/$NAME.so"
echo "$STAMP" >"$CACHE/stamp"
say "built $CACHE/$NAME.so"
echo "$CACHE/$NAME"
