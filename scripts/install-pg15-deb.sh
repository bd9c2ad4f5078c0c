#!/usr/bin/env bash
# The newest PostgreSQL 15 server Debian offers (its security updates: 15.20 stores a server-set
# column option, pg_attver, on every new column), unpacked into .pg/15-deb, never installed:
# the system's PostgreSQL 15 (the one the tests default to) stays as it is. tests/schema_fidelity.rs
# migrates from it to check that options a server sets for itself are left out.
#
# Only where apt-get exists; otherwise, or when the download fails, it says so and succeeds (the
# test then says SKIPPED). Idempotent: nothing is fetched when .pg/15-deb holds that version.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$repo_root/.pg/15-deb"

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    echo "install-pg15-deb: no apt-get/dpkg here; the test of a Debian security build of 15 is skipped"
    exit 0
fi
candidate=$(apt-cache policy postgresql-15 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    echo "install-pg15-deb: apt knows no postgresql-15 package; skipped"
    exit 0
fi
if [ -f "$dest/VERSION" ] && [ "$(cat "$dest/VERSION")" = "$candidate" ]; then
    echo "PostgreSQL 15 (Debian $candidate): already unpacked in $dest"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download runs as _apt where it can: the directory must be writable by it.
chmod 777 "$work"
if ! (cd "$work" && apt-get download -qq "postgresql-15=$candidate" >/dev/null 2>&1); then
    echo "install-pg15-deb: could not download postgresql-15=$candidate; skipped"
    exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
dpkg -x "$work"/postgresql-15_*.deb "$dest"
echo "$candidate" > "$dest/VERSION"
# The server runs as another user (postgres) than the one who unpacked it.
chmod -R a+rX "$dest"
echo "PostgreSQL 15 (Debian $candidate) unpacked in $dest"
