#!/usr/bin/env bash
# CI entry point: install what a fresh machine lacks, then run exactly README's test command.
set -euxo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v psql >/dev/null || need+=(postgresql-client-15)
command -v npm >/dev/null || need+=(npm)
dpkg -s libclang1-14 >/dev/null 2>&1 || need+=(libclang1-14 libclang-common-14-dev)
# PostGIS and pg_partman for tests/extensions.rs (built for Debian's PostgreSQL 15).
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
dpkg -s postgresql-15-partman >/dev/null 2>&1 || need+=(postgresql-15-partman)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# Other PostgreSQL majors for the cross-version tests (also done by `make test` itself).
bash scripts/install-postgres.sh 12 13 16 17 18
# PostgreSQL's regression database for tests/regression_db.rs (deb-src, postgresql-server-dev-15
# pinned to the server's version, a pgxs build, pg_regress; cached in target/regression-db).
bash scripts/regression-db.sh
export DB_MIGRATE_REQUIRE_REGRESSION_DB=1
