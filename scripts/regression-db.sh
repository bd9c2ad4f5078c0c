#!/usr/bin/env bash
# Builds PostgreSQL's own regression database (what pg_upgrade's test suite dumps before and after
# an upgrade: ~217 tests leaving ~970 relations, odd inheritance, partitions, publications, a
# transform, large objects...) and caches it as a stopped cluster, for tests/regression_db.rs.
#
#   scripts/regression-db.sh            build if missing, print the cache directory
#   scripts/regression-db.sh 18         the same, and the C modules for that major's server too
#                                       (.pg/18-full, from scripts/install-postgres.sh)
#   REGRESSION_DB_FORCE=1 scripts/regression-db.sh   rebuild
#
# The cache is target/regression-db (REGRESSION_DB_DIR overrides it):
#   data/    the cluster's data directory after the parallel schedule ran, owned by `postgres`;
#            tests copy it and start their own server on the copy (no pg_dump in between, so the
#            source is exactly what the regression tests left, e.g. inheritance children with
#            their own column order)
#   lib/<major>/  regress.so, refint.so, autoinc.so built for that major's server (15: the
#            system's; others: .pg/<major>-full when asked for). The regression tests create
#            their C functions by absolute path; once they ran, the paths are cut to the bare
#            file names (`pg_proc.probin` 'regress.so', as a relocatable installation has them),
#            and `dynamic_library_path` finds them: the cached cluster's points at lib/15, and a
#            target of another major is started with its own lib/<major> (tests/regression_db.rs)
#   src/     the modules' C sources, kept to build them for other majors later; regress.c gets
#            two compile fixes for newer headers (utils/array.h, which 16+ no longer pulls in, and
#            the spinlock-emulation constants 18 removed), used only by functions the regression
#            tests call and drop, not by what the database keeps
#   stamp    "<server package version> <lib dir> <layout>": a cache whose stamp differs is rebuilt
#   summary  pg_regress's last lines (how many tests passed)
#
# How (the facts that work on Debian bookworm):
#   - the source of the INSTALLED server: a deb-src entry (added to /etc/apt/sources.list.d when
#     missing) and `apt-get source postgresql-15=<installed version>`;
#   - `postgresql-server-dev-15` PINNED to the installed server's version (unpinned, installing
#     it upgrades the server and libpq) for pgxs and pg_regress;
#   - a pgxs build of src/test/regress/regress.c and contrib/spi refint.c, autoinc.c with
#     -DREFINT_VERBOSE (the triggers test expects its messages);
#   - pg_regress with the parallel schedule against a throw-away cluster (about 30 s).
# Installing packages needs root and Debian's registry; without them the script says what is
# missing and exits 3 (the test then says loudly that the corpus could not be built).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR=15
PGBIN="/usr/lib/postgresql/$MAJOR/bin"
PGXS_DIR="/usr/lib/postgresql/$MAJOR/lib/pgxs"
PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress"
CACHE="${REGRESSION_DB_DIR:-$ROOT/target/regression-db}"
LIB="$CACHE/lib"
BUILD="$CACHE/build"
MODSRC="$CACHE/src"

say() { echo "regression-db: $*" >&2; }
cannot() { say "CANNOT BUILD THE REGRESSION DATABASE: $*"; exit 3; }
is_root() { [ "$(id -u)" = 0 ]; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

[ -x "$PGBIN/postgres" ] || cannot "no PostgreSQL $MAJOR server in $PGBIN (apt-get install postgresql-$MAJOR)"
VERSION="$(dpkg-query -W -f='${Version}' "postgresql-$MAJOR" 2>/dev/null)" \
  || cannot "package postgresql-$MAJOR is not installed (dpkg-query)"
STAMP="$VERSION $LIB bare-probin"

# build_modules PG_CONFIG OUT: a pgxs build of the modules in src/ for the server of PG_CONFIG.
build_modules() {
  local pg_config="$1" out="$2" tmp
  tmp="$(mktemp -d)"
  cp "$MODSRC"/*.c "$tmp/"
  cat > "$tmp/Makefile" <<EOF
MODULES = regress refint autoinc
PG_CPPFLAGS = -DREFINT_VERBOSE
PG_CONFIG = $pg_config
PGXS := \$(shell \$(PG_CONFIG) --pgxs)
include \$(PGXS)
EOF
  make -s -C "$tmp" with_llvm=no >/dev/null 2>"$tmp/make.err" \
    || { cat "$tmp/make.err" >&2; rm -rf "$tmp"; return 1; }
  mkdir -p "$out"
  cp "$tmp"/regress.so "$tmp"/refint.so "$tmp"/autoinc.so "$out/"
  chmod -R a+rX "$out"
  rm -rf "$tmp"
}

# The modules for the other majors asked for (kept across runs: cheap to check, ~5 s to build).
other_majors() {
  local m pg_config
  for m in "$@"; do
    [ "$m" = "$MAJOR" ] && continue
    [ -f "$LIB/$m/regress.so" ] && continue
    pg_config="$ROOT/.pg/$m-full/bin/pg_config"
    [ -x "$pg_config" ] || cannot "no PostgreSQL $m build with pgxs in .pg/$m-full (scripts/install-postgres.sh $m)"
    "$pg_config" --pgxs >/dev/null || cannot "$pg_config has no pgxs"
    say "building regress.so, refint.so, autoinc.so for PostgreSQL $m"
    build_modules "$pg_config" "$LIB/$m" || cannot "the modules do not build for PostgreSQL $m"
  done
}

if [ "${REGRESSION_DB_FORCE:-0}" != 1 ] && [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] \
  && [ -f "$CACHE/data/PG_VERSION" ]; then
  other_majors "$@"
  echo "$CACHE"
  exit 0
fi

# --- packages: pinned server-dev (pgxs, pg_regress), a compiler, the server's source ---
dev_version="$(dpkg-query -W -f='${Version}' "postgresql-server-dev-$MAJOR" 2>/dev/null || true)"
if [ "$dev_version" != "$VERSION" ] || [ ! -x "$PG_REGRESS" ]; then
  is_root || cannot "postgresql-server-dev-$MAJOR=$VERSION is missing and installing it needs root"
  say "installing postgresql-server-dev-$MAJOR=$VERSION (pinned to the server's version)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || cannot "apt-get update failed (no network or registry?)"
  tools=(); command -v make >/dev/null || tools+=(make); command -v gcc >/dev/null || tools+=(gcc)
  command -v dpkg-source >/dev/null || tools+=(dpkg-dev)
  apt-get install -y -qq --no-install-recommends "postgresql-server-dev-$MAJOR=$VERSION" "${tools[@]}" >/dev/null \
    || cannot "apt-get install postgresql-server-dev-$MAJOR=$VERSION failed"
fi
for tool in make gcc; do command -v "$tool" >/dev/null || cannot "'$tool' is required"; done

SRC="$(ls -d "$BUILD"/postgresql-"$MAJOR"-*/ 2>/dev/null | head -1 || true)"
SRC="${SRC%/}"
if [ -z "$SRC" ] || [ ! -f "$SRC/src/test/regress/parallel_schedule" ]; then
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    is_root || cannot "no deb-src entry in /etc/apt and adding one needs root"
    say "adding a deb-src entry for bookworm (/etc/apt/sources.list.d/db-migrate-deb-src.sources)"
    cat > /etc/apt/sources.list.d/db-migrate-deb-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq || cannot "apt-get update failed (no network or registry?)"
  fi
  rm -rf "$BUILD"; mkdir -p "$BUILD"
  say "fetching the source of postgresql-$MAJOR=$VERSION"
  (cd "$BUILD" && apt-get source -qq -o APT::Sandbox::User=root "postgresql-$MAJOR=$VERSION" >/dev/null) \
    || { apt-get update -qq || true; (cd "$BUILD" && apt-get source -qq -o APT::Sandbox::User=root "postgresql-$MAJOR=$VERSION" >/dev/null); } \
    || cannot "apt-get source postgresql-$MAJOR=$VERSION failed (no deb-src for that version, or no network)"
  SRC="$(ls -d "$BUILD"/postgresql-"$MAJOR"-*/ | head -1)"; SRC="${SRC%/}"
fi
REGRESS="$SRC/src/test/regress"

# --- the C modules the tests load (pgxs; no LLVM bitcode, so clang is not needed) ---
say "building regress.so, refint.so, autoinc.so"
rm -rf "$MODSRC" "$LIB"; mkdir -p "$MODSRC" "$LIB"
cp "$REGRESS/regress.c" "$SRC/contrib/spi/refint.c" "$SRC/contrib/spi/autoinc.c" "$MODSRC/"
# Compile fixes for newer headers (see the header of this script); no-ops for 15.
sed -i 's|^#include "utils/builtins.h"|#include "utils/array.h"\n#include "utils/builtins.h"\n#ifndef NUM_SPINLOCK_SEMAPHORES\n#define NUM_SPINLOCK_SEMAPHORES 128\n#define NUM_ATOMICS_SEMAPHORES 64\n#endif|' \
  "$MODSRC/regress.c"
build_modules "$PGBIN/pg_config" "$LIB/$MAJOR" || cannot "the modules do not build for PostgreSQL $MAJOR"

# --- a throw-away cluster, the parallel schedule, then the stopped cluster is the cache ---
new="$CACHE/data.new"; out="$BUILD/results"
rm -rf "$new" "$out"; mkdir -p "$out"
if is_root; then
  p="$CACHE"; while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p="$(dirname "$p")"; done
  chown -R postgres "$BUILD" "$LIB" "$MODSRC"; chown postgres "$CACHE"
fi
chmod -R a+rX "$BUILD" "$LIB" "$MODSRC"
as_pg "$PGBIN/initdb" -D "$new" -U postgres -E UTF8 --locale=C -A trust >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
{
  echo "port = $port"
  echo "listen_addresses = ''"
  echo "unix_socket_directories = '$CACHE'"
  echo "fsync = off"
  echo "max_prepared_transactions = 2"
  echo "min_wal_size = 32MB"
  echo "max_wal_size = 64MB"
} >> "$new/postgresql.conf"
stop() { as_pg "$PGBIN/pg_ctl" -D "$new" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop EXIT
as_pg "$PGBIN/pg_ctl" -D "$new" -l "$BUILD/server.log" -w start >/dev/null
say "running the parallel schedule (pg_regress, about 30 s)"
set +e
(cd "$out" && as_pg "$PG_REGRESS" --inputdir="$REGRESS" --outputdir="$out" --bindir="$PGBIN" \
  --dlpath="$LIB/$MAJOR" --host="$CACHE" --port="$port" --max-concurrent-tests=20 \
  --schedule="$REGRESS/parallel_schedule") > "$BUILD/pg_regress.out" 2>&1
rc=$?
set -e
tail -n 4 "$BUILD/pg_regress.out" | tee "$CACHE/summary" >&2
db_exists="$(as_pg "$PGBIN/psql" -h "$CACHE" -p "$port" -U postgres -d postgres -XAtc \
  "SELECT count(*) FROM pg_database WHERE datname = 'regression'")"
[ "$db_exists" = 1 ] || cannot "pg_regress left no database 'regression' (see $BUILD/pg_regress.out)"
[ "$rc" = 0 ] || say "some regression tests failed (rc $rc, see $out/regression.diffs); the database is kept anyway"
# The C functions by bare file name, found through dynamic_library_path (see the header).
for db in $(as_pg "$PGBIN/psql" -h "$CACHE" -p "$port" -U postgres -d postgres -XAtc \
    "SELECT datname FROM pg_database WHERE datallowconn"); do
  as_pg "$PGBIN/psql" -h "$CACHE" -p "$port" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -c \
    "UPDATE pg_catalog.pg_proc SET probin = pg_catalog.substr(probin, pg_catalog.length('$LIB/$MAJOR/') + 1)
      WHERE pg_catalog.starts_with(probin, '$LIB/$MAJOR/')"
done
echo "dynamic_library_path = '$LIB/$MAJOR:\$libdir'" >> "$new/postgresql.conf"
as_pg "$PGBIN/psql" -h "$CACHE" -p "$port" -U postgres -d postgres -XAtqc "CHECKPOINT" -c "CHECKPOINT"
stop; trap - EXIT
rm -rf "$CACHE/data"; mv "$new" "$CACHE/data"
echo "$STAMP" > "$CACHE/stamp"
[ "${REGRESSION_DB_KEEP_SOURCE:-0}" = 1 ] || rm -rf "$BUILD"
say "cached in $CACHE/data ($(du -sh "$CACHE/data" | cut -f1))"
other_majors "$@"
echo "$CACHE"
