#!/usr/bin/env bash
# `make package`: a Debian package and an RPM of the release binaries (pg_migrate, db-migrate),
# stripped, with the man page and pg_migrate's bash, zsh and fish completions, into
# target/package/. `--check` then proves them: the .deb unpacked into a scratch root (dpkg -x,
# no root needed and nothing installed on the machine) runs `pg_migrate --version` and `--help`
# from there, and the RPM's file list is printed (rpm -qlp).
#
# Why dpkg-deb and rpmbuild rather than cargo-deb / cargo-generate-rpm: they are the
# distributions' own packagers, a Debian package away (dpkg is always there; `rpm` is installed
# by .ci/run), where the cargo tools would be compiled at every CI run. Both take the same
# staged tree, so the two packages cannot differ in their contents. The man page and the
# completions are rendered by the release binary itself (`db-migrate docs`), from the same clap
# definitions as --help: no other build is needed (it reuses the release build of the demo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release"
OUT="$TARGET/package"
check=0
[ "${1:-}" = "--check" ] && check=1

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)"
ARCH_DEB="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
ARCH_RPM="$(uname -m)"
for b in pg_migrate db-migrate; do
  [ -x "$BIN/$b" ] || { echo "package: $BIN/$b missing: run cargo build --release first" >&2; exit 1; }
done
command -v dpkg-deb >/dev/null || { echo "package: dpkg-deb missing (apt-get install dpkg)" >&2; exit 1; }
command -v rpmbuild >/dev/null || { echo "package: rpmbuild missing (apt-get install rpm)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/stage"
install -d "$STAGE/usr/bin" "$STAGE/usr/share/man/man1" "$STAGE/usr/share/doc/db-migrate" \
  "$STAGE/usr/share/bash-completion/completions" "$STAGE/usr/share/zsh/vendor-completions" \
  "$STAGE/usr/share/fish/vendor_completions.d"
for b in pg_migrate db-migrate; do
  strip -o "$STAGE/usr/bin/$b" "$BIN/$b"
  chmod 0755 "$STAGE/usr/bin/$b"
done
"$BIN/db-migrate" docs --man "$WORK/man" --completions "$WORK/completions" >/dev/null
gzip -9n -c "$WORK/man/pg_migrate.1" >"$STAGE/usr/share/man/man1/pg_migrate.1.gz"
install -m 0644 "$WORK/completions/pg_migrate.bash" "$STAGE/usr/share/bash-completion/completions/pg_migrate"
install -m 0644 "$WORK/completions/_pg_migrate" "$STAGE/usr/share/zsh/vendor-completions/_pg_migrate"
install -m 0644 "$WORK/completions/pg_migrate.fish" "$STAGE/usr/share/fish/vendor_completions.d/pg_migrate.fish"
install -m 0644 "$ROOT/README.md" "$STAGE/usr/share/doc/db-migrate/README.md"
printf 'db-migrate %s\nLicense: Apache-2.0\n' "$VERSION" >"$STAGE/usr/share/doc/db-migrate/copyright"
chmod 0644 "$STAGE/usr/share/doc/db-migrate/copyright"

SUMMARY="Migrate whole PostgreSQL installations over the wire protocol"
mkdir -p "$OUT"
rm -f "$OUT"/*.deb "$OUT"/*.rpm

# Debian: the staged tree and a control file.
DEB="$WORK/deb"
cp -a "$STAGE" "$DEB"
install -d "$DEB/DEBIAN"
cat >"$DEB/DEBIAN/control" <<EOF
Package: db-migrate
Version: $VERSION
Architecture: $ARCH_DEB
Maintainer: db-migrate developers <db-migrate@localhost>
Depends: libc6 (>= 2.34), libgcc-s1
Section: database
Priority: optional
Installed-Size: $(du -sk "$STAGE" | cut -f1)
Description: $SUMMARY
 pg_migrate and db-migrate move roles, databases, schema and data (and an optional
 logical-replication tail) from one PostgreSQL server to another, speaking the wire protocol
 itself: no pg_dump or psql is run.
EOF
dpkg-deb --root-owner-group -Zxz --build "$DEB" "$OUT/db-migrate_${VERSION}_${ARCH_DEB}.deb" >/dev/null

# RPM: a spec whose %install copies the same staged tree.
RPMTOP="$WORK/rpm"
mkdir -p "$RPMTOP"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT}
cat >"$RPMTOP/SPECS/db-migrate.spec" <<EOF
Name: db-migrate
Version: $VERSION
Release: 1
Summary: $SUMMARY
License: Apache-2.0
# Already stripped; no debuginfo package, no build-id links.
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none

%description
pg_migrate and db-migrate move roles, databases, schema and data (and an optional
logical-replication tail) from one PostgreSQL server to another over the wire protocol.

%install
mkdir -p %{buildroot}
cp -a $STAGE/. %{buildroot}/

%files
%attr(0755,root,root) /usr/bin/pg_migrate
%attr(0755,root,root) /usr/bin/db-migrate
/usr/share/man/man1/pg_migrate.1.gz
/usr/share/bash-completion/completions/pg_migrate
/usr/share/zsh/vendor-completions/_pg_migrate
/usr/share/fish/vendor_completions.d/pg_migrate.fish
%doc /usr/share/doc/db-migrate/README.md
%license /usr/share/doc/db-migrate/copyright
EOF
rpmbuild --quiet -bb --define "_topdir $RPMTOP" --target "$ARCH_RPM" \
  "$RPMTOP/SPECS/db-migrate.spec" >/dev/null 2>"$WORK/rpmbuild.log" \
  || { cat "$WORK/rpmbuild.log" >&2; exit 1; }
cp "$RPMTOP"/RPMS/*/*.rpm "$OUT/"

for f in "$OUT"/*.deb "$OUT"/*.rpm; do
  echo "package: $f ($(stat -c %s "$f") bytes)"
done

[ "$check" = 1 ] || exit 0
# The .deb in a scratch root: its binary runs from there.
SCRATCH="$WORK/root"
dpkg -x "$OUT"/*.deb "$SCRATCH"
echo "package: the .deb's files:"
dpkg-deb -c "$OUT"/*.deb | awk '{print "  " $NF}'
"$SCRATCH/usr/bin/pg_migrate" --version
"$SCRATCH/usr/bin/pg_migrate" --help | grep -q -- "--metrics-listen" \
  || { echo "package: pg_migrate --help from the .deb lacks --metrics-listen" >&2; exit 1; }
"$SCRATCH/usr/bin/pg_migrate" --help | head -3
gzip -dc "$SCRATCH/usr/share/man/man1/pg_migrate.1.gz" | grep -q '^\.TH' \
  || { echo "package: the man page is not roff" >&2; exit 1; }
echo "package: the RPM's files:"
rpm -qlp "$OUT"/*.rpm | sed 's/^/  /'
echo "package: checked"
